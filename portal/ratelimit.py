"""The portal's one rate limiter (docs/architecture.md#rate-limits).

Every limit of the portal's own is counted here, in Django's default cache (Redis in
production, shared by every process; LocMem in the tests), keyed by a scope (what is limited:
`annex_lookup`, `counter_call`, …) and a key (whose: a user, a client address, a device
account, a facility). allauth's log-in, sign-up and password-reset limits stay allauth's own
(ACCOUNT_RATE_LIMITS, a public setting), counted in the same cache.

Rates are strings: COUNT/PERIOD, the period a unit (`s`, `m`, `h`, `d`) with an optional
multiplier, several joined by commas, all of which must allow a hit: `"5/h"`, `"30/m"`,
`"2/5m"`, `"5/h,20/d"`. The rates of a scope are `RATE_LIMITS[scope]` in the settings, else
`DEFAULT_RATES[scope]` (`rates_for`).

Each rate counts in windows of its period, a sliding window approximated: the count of the
current window plus the previous window's, weighted by how much of it the sliding window
still covers. A hit is one atomic increment of the current window's counter (`cache.add`,
then `cache.incr`): two simultaneous hits count two, never one and never none, so parallel
requests never pass more than the limit. A refused hit is given back (it spends nothing, and
a flood does not prolong its own refusal); so is a hit the caller gives back with
`Decision.refund()` — how "failures only" limits count (a wrong password keeps its hit, a
right one gives it back).

    decision = limit("annex_lookup", user.pk, rates_for("annex_lookup"))
    if not decision: ...decision.retry_after...
    hit("counter_call", key, rates)        # raises RateLimited(retry_after) instead
    peek(scope, key, rates)                # would a hit pass? counts nothing
    @rate_limited("public_list_csv", key="ip")   # a view: 429 page with Retry-After

`now` (seconds since the epoch) may be passed to every function; the tests move it instead
of sleeping. The counters' keys are named after their window, so a window that has passed is
never read again whatever the cache's expiry does; keys expire after two periods."""

import contextlib
import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EPSILON = 1e-9  # floating-point slack: a weighted count of exactly the limit is within it
_RATE = re.compile(r"([0-9]+)/([0-9]*)([smhd])")

# The portal's scopes and their rates unless RATE_LIMITS says otherwise (docs/architecture.md
# lists what each counts and per what).
DEFAULT_RATES = {
    "annex_lookup": "30/h",  # per user: 併設 partner look-ups
    "session_request": "5/h,20/d",  # per client address: 説明会 requests (public)
    "officer_authentication": "5/5m",  # failures per officer: officers' commands
    "counter_call": "120/m",  # per device account and endpoint: the counter API
    "counter_login": "5/5m",  # failures per login ID: the counter API's token
    "facility_link_user": "5/24h",  # wrong guesses per user: linking to a facility
    "facility_link_address": "20/24h",  # wrong guesses per client address
    "facility_link_facility": "10/24h",  # wrong 口座番号下4桁 per facility
    "public_list_csv": "60/h",  # per client address: the public list's CSV (public)
}


class InvalidRate(ValueError):
    """A rate string that does not parse."""


@dataclass(frozen=True)
class Rate:
    limit: int  # hits allowed …
    period: int  # … per this many seconds

    def __str__(self) -> str:
        return f"{self.limit}/{self.period}s"


@lru_cache(maxsize=128)
def parse_rates(text: str) -> tuple[Rate, ...]:
    """The rates of a string such as "5/h,20/d"; InvalidRate says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRate(f"rate limit {text!r}: empty; write COUNT/PERIOD, e.g. '5/h'")
    rates = []
    for part in text.split(","):
        match = _RATE.fullmatch(part.strip())
        if match is None:
            raise InvalidRate(
                f"rate limit {text!r}: {part.strip()!r} is not COUNT/PERIOD (the period a unit "
                "s, m, h or d with an optional multiplier: '5/h', '30/m', '2/5m', '20/d'; "
                "several joined by commas: '5/h,20/d'; no '/ip' or '/key' suffix, the caller "
                "gives the key)")
        count, multiplier, unit = match.groups()
        if int(count) < 1 or multiplier.startswith("0") or len(count) > 9:
            raise InvalidRate(f"rate limit {text!r}: {part.strip()!r} must allow at least one "
                              "hit in a period of at least one unit")
        rates.append(Rate(int(count), int(multiplier or 1) * UNITS[unit]))
    return tuple(rates)


def rates_for(scope: str) -> str:
    """The rates of one of the portal's scopes: RATE_LIMITS[scope], else the default."""
    configured = getattr(settings, "RATE_LIMITS", {}) or {}
    return configured.get(scope) or DEFAULT_RATES[scope]


def clock() -> float:
    return time.time()


@dataclass
class Decision:
    """What a hit was told. True when allowed. `retry_after`: seconds until a hit would pass
    (0 when this one did). `exhausted`: the rate this hit used up (nothing is left of it
    after this one) or the one that refused it; None while every rate has room."""

    allowed: bool
    retry_after: int = 0
    exhausted: Rate | None = None
    _spent: list[str] = field(default_factory=list, repr=False)

    def __bool__(self) -> bool:
        return self.allowed

    def refund(self) -> None:
        """Give the hit back (once): it no longer counts."""
        for cache_key in self._spent:
            with contextlib.suppress(ValueError):  # the counter expired meanwhile
                cache.decr(cache_key)
        self._spent = []


class RateLimited(Exception):
    def __init__(self, scope: str, retry_after: int):
        super().__init__(f"rate limited: {scope}, retry after {retry_after}s")
        self.scope, self.retry_after = scope, retry_after


@dataclass(frozen=True)
class _Window:
    rate: Rate
    current_key: str
    previous_key: str
    elapsed: float  # seconds into the current window

    @property
    def weight(self) -> float:
        """How much of the previous window the sliding window still covers."""
        return (self.rate.period - self.elapsed) / self.rate.period

    def estimate(self, current: int, previous: int) -> float:
        return current + previous * self.weight

    def over(self, current: int, previous: int) -> bool:
        return self.estimate(current, previous) > self.rate.limit + _EPSILON

    def retry_after(self, current: int, previous: int) -> int:
        """Seconds until one more hit passes, with `current` and `previous` counted and no
        other hit meanwhile."""
        limit, period = self.rate.limit, self.rate.period
        left = period - self.elapsed  # of the current window
        if current + 1 <= limit and previous:
            wait = left - (limit - current - 1) * period / previous
            if wait < left:
                return max(1, math.ceil(wait - _EPSILON))
        # In the next window the current one is the previous, weighted down as time passes.
        wait = left + max(0.0, period * (1 - (limit - 1) / current)) if current else left
        return max(1, math.ceil(wait - _EPSILON))


def _windows(scope: str, key, rates: str, now: float | None) -> list[_Window]:
    if not scope or not re.fullmatch(r"[a-z0-9_.:-]+", scope):
        raise ValueError(f"rate limit scope {scope!r}: lower-case letters, digits, _ . : -")
    now = clock() if now is None else now
    # The key is hashed: no address or login ID is written into the cache's key names.
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:32]
    windows = []
    for rate in parse_rates(rates):
        index = int(now // rate.period)
        prefix = f"rl:{scope}:{digest}:{rate.period}:"
        windows.append(_Window(rate, f"{prefix}{index}", f"{prefix}{index - 1}",
                               now - index * rate.period))
    return windows


def _increment(cache_key: str, timeout: int) -> int:
    """One more in a counter, atomically; the count after it."""
    while True:
        if cache.add(cache_key, 1, timeout=timeout):
            return 1
        with contextlib.suppress(ValueError):  # expired between add and incr: once more
            return cache.incr(cache_key)


def limit(scope: str, key, rates: str, *, now: float | None = None) -> Decision:
    """Count one hit of `key` in `scope` against every rate of `rates`; a refused hit is
    given back at once."""
    windows = _windows(scope, key, rates, now)
    previous = cache.get_many([w.previous_key for w in windows])
    spent, refused, exhausted, retry_after = [], None, None, 0
    for window in windows:
        current = _increment(window.current_key, 2 * window.rate.period + 60)
        spent.append(window.current_key)
        before = previous.get(window.previous_key, 0)
        if window.over(current, before):
            wait = window.retry_after(current - 1, before)
            if wait >= retry_after:
                refused, retry_after = window.rate, wait
        elif exhausted is None and window.over(current + 1, before):
            exhausted = window.rate
    decision = Decision(True, 0, exhausted, spent)
    if refused is not None:
        decision.refund()
        return Decision(False, retry_after, refused)
    return decision


def hit(scope: str, key, rates: str, *, now: float | None = None) -> Decision:
    """As `limit`, raising RateLimited when refused."""
    decision = limit(scope, key, rates, now=now)
    if not decision:
        raise RateLimited(scope, decision.retry_after)
    return decision


def peek(scope: str, key, rates: str, *, now: float | None = None) -> Decision:
    """Whether a hit would pass now, counting nothing."""
    windows = _windows(scope, key, rates, now)
    counts = cache.get_many([k for w in windows for k in (w.current_key, w.previous_key)])
    refused, retry_after = None, 0
    for window in windows:
        current = counts.get(window.current_key, 0)
        before = counts.get(window.previous_key, 0)
        if window.over(current + 1, before):
            wait = window.retry_after(current, before)
            if wait >= retry_after:
                refused, retry_after = window.rate, wait
    return Decision(refused is None, retry_after, refused)


# ---------------------------------------------------------------- views


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as allauth's limits see it (ALLAUTH_TRUSTED_PROXY_COUNT): one
    address for every limit and the facility-link log. None when the proxy headers are not
    what they should be."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter().get_client_ip(request)
    except PermissionDenied:
        return None


def request_key(request: HttpRequest, key: str | Callable) -> str:
    """What a view's limit counts per: "ip" (the client address), "user" (the signed-in
    user, else the address), or a function of the request."""
    if callable(key):
        return str(key(request))
    user = getattr(request, "user", None)
    if key == "user" and user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    if key in ("ip", "user"):
        return f"ip:{client_ip(request) or '-'}"
    raise ValueError(f"rate limit key {key!r}: 'ip', 'user' or a function of the request")


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    """The 429 page (templates/429.html), with Retry-After."""
    response = render(request, "429.html", {"retry_after": retry_after,
                                            "minutes": max(1, math.ceil(retry_after / 60))},
                      status=429)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited(scope: str, *, key: str | Callable = "ip",
                 methods: tuple[str, ...] | None = None) -> Callable:
    """A view limited by the scope's rates (`rates_for`), per `key` (see `request_key`),
    for the requests of `methods` (every one when None); beyond them, the 429 page."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if methods is None or request.method in methods:
                decision = limit(scope, request_key(request, key), rates_for(scope))
                if not decision:
                    return too_many_requests(request, decision.retry_after)
            return view(request, *args, **kwargs)

        return limited

    return decorate

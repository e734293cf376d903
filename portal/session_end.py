"""A session that ended while someone was working is said as such, and what they were typing
comes back after they log in again (docs/decisions.md D1.6).

`SessionEndedNotice` (a middleware) leaves a marker cookie in the browser of a signed-in user
(signed, holding the user's id; gone when the browser closes or the user logs out). A request
that carries the marker but is no longer signed in had its session ended by the portal (idle,
expired, ended elsewhere): when it is sent to log in, the log-in page says why, `next` is the
page the user was on, and the fields of a form posted then are kept in the new session —
never a password, a bank account, a code or a token (`is_secret`), nor a value holding twelve
digits in a row (what a 個人番号 looks like). After log-in, the first
visit of that page by the same user gives them to the page's form (`portal.forms.
NormalizedForm` reads `kept_input()`), which says that it shows them again; nothing is
submitted on the user's behalf."""

import contextvars
import re
import time
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

SIGNED_IN_COOKIE = "portal_signed_in"
_SALT = "portal.session_end"
KEPT_KEY = "portal_kept_input"
KEPT_SECONDS = 60 * 60  # what was typed is given back within the hour, not later
MAX_FIELDS = 60
MAX_CHARS = 20_000

ENDED = ("一定時間操作がなかったため（またはログインの有効期限が切れたため）、ログアウトしました。"
         "もう一度ログインしてください。")
KEPT = ("ログインすると元の画面に戻り、入力中だった内容（パスワード・口座番号・確認コードなどを除く）"
        "をもう一度表示します。")

# A field whose name holds one of these is never kept: passwords, bank accounts, the linking
# code and the last four digits, one-time codes, signed tokens and files.
_SECRET_PARTS = ("password", "account", "kigo", "bango", "last4", "code", "secret", "token",
                 "csrf", "confirmation", "otp", "file", "receipt", "invoice")


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_PARTS)


# Twelve digits in a row, in any width, with or without separators between groups of four:
# what an individual number (個人番号) looks like. A value holding one is never kept, whatever
# its field (a note, a name field misused).
_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{4}[\s-]?\d{4}[\s-]?\d{4}(?!\d)")


def holds_twelve_digits(value: str) -> bool:
    return bool(_TWELVE_DIGITS.search(unicodedata.normalize("NFKC", value)))


@dataclass
class Kept:
    """What was typed, field name → values, for the forms of one page."""

    data: dict[str, list[str]]
    used: bool = field(default=False)


_kept: contextvars.ContextVar[Kept | None] = contextvars.ContextVar(KEPT_KEY, default=None)


def kept_input() -> Kept | None:
    """The typed fields given back to the page being rendered (None: nothing to give)."""
    return _kept.get()


def _keepable(request: HttpRequest) -> dict[str, list[str]]:
    kept, total = {}, 0
    for name, values in request.POST.lists():
        if is_secret(name) or len(kept) >= MAX_FIELDS:
            continue
        values = [v for v in values if isinstance(v, str) and not holds_twelve_digits(v)]
        size = len(name) + sum(len(v) for v in values)
        if not values or total + size > MAX_CHARS:
            continue
        kept[name], total = values, total + size
    return kept


def _signed_in_user_id(request: HttpRequest) -> str | None:
    try:
        return request.get_signed_cookie(SIGNED_IN_COOKIE, salt=_SALT)
    except (KeyError, signing.BadSignature):
        return None


def _login_path() -> str:
    return urlsplit(resolve_url(settings.LOGIN_URL)).path


def _was_on(request: HttpRequest) -> str:
    """The page the user was on: the form's page (its Referer, when it is this site's), else
    the address posted to."""
    referer = request.META.get("HTTP_REFERER", "")
    if request.method == "POST" and referer and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.get_full_path()


def _is_navigation(request: HttpRequest) -> bool:
    """A page the user opened or a form they sent, not a script's request in the background
    (a live estimate, a poll): that one must not spend the notice on an answer nobody reads."""
    return request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"


class SessionEndedNotice:
    """Placed after the session, authentication and message middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        marker = _signed_in_user_id(request)
        ended = marker is not None and not request.user.is_authenticated
        token = self._give_back(request)
        try:
            response = self.get_response(request)
        finally:
            if token is not None:
                _kept.reset(token)
        if request.user.is_authenticated:
            if marker != str(request.user.pk):
                response.set_signed_cookie(
                    SIGNED_IN_COOKIE, str(request.user.pk), salt=_SALT, httponly=True,
                    secure=settings.SESSION_COOKIE_SECURE, samesite="Lax")
        elif SIGNED_IN_COOKIE in request.COOKIES:
            if ended and _is_navigation(request) and self._sent_to_log_in(response):
                self._say_why(request, response, marker)
            elif not ended:  # the user logged out in this request
                response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")
        return response

    @staticmethod
    def _sent_to_log_in(response: HttpResponse) -> bool:
        return (response.status_code in (301, 302, 303)
                and urlsplit(response.get("Location", "")).path == _login_path())

    @staticmethod
    def _say_why(request: HttpRequest, response: HttpResponse, user_id: str) -> None:
        page = _was_on(request)
        kept = _keepable(request) if request.method == "POST" else {}
        if kept:
            request.session[KEPT_KEY] = {"path": urlsplit(page).path, "user": user_id,
                                         "at": time.time(), "data": kept}
        messages.warning(request, ENDED + (KEPT if kept else ""))
        response["Location"] = f"{_login_path()}?{urlencode({REDIRECT_FIELD_NAME: page})}"
        response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")

    @staticmethod
    def _give_back(request: HttpRequest):
        """After log-in, the first visit of the kept page by the same user gives its fields
        to the page's forms (once)."""
        if request.method != "GET" or not request.user.is_authenticated:
            return None
        kept = request.session.get(KEPT_KEY)
        if not kept or kept.get("path") != request.path:
            return None
        del request.session[KEPT_KEY]
        if (kept.get("user") != str(request.user.pk)
                or time.time() - kept.get("at", 0) > KEPT_SECONDS):
            return None
        return _kept.set(Kept(kept.get("data") or {}))

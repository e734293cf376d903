"""The portal's one rate limiter (portal/ratelimit.py): rate strings, windows, combined rates,
retry_after, atomic counting (threads; the Redis cache of production as well as LocMem) and the
end of a window on a clock the test moves (`now`, never a sleep); then each place that uses it,
through its page, its API or its service, refused by the limiter's count."""

import threading
import uuid
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.checks import run_checks
from django.core.management.base import CommandError
from django.urls import reverse

from portal import ratelimit
from portal.ratelimit import InvalidRate, Rate, hit, limit, parse_rates, peek, rates_for

HOUR = 3600
T0 = 1_000_000 * HOUR  # the start of an hour (and of a minute, and of a 5-minute window)


# ---------------------------------------------------------------- rate strings


@pytest.mark.parametrize(("text", "rates"), [
    ("5/h", (Rate(5, 3600),)),
    ("30/m", (Rate(30, 60),)),
    ("20/d", (Rate(20, 86400),)),
    ("10/s", (Rate(10, 1),)),
    ("2/5m", (Rate(2, 300),)),
    ("5/24h", (Rate(5, 86400),)),
    ("5/h,20/d", (Rate(5, 3600), Rate(20, 86400))),
    (" 5/h , 20/d ", (Rate(5, 3600), Rate(20, 86400))),
])
def test_rate_strings_parse(text, rates):
    assert parse_rates(text) == rates


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"),
    ("   ", "empty"),
    ("5", "is not COUNT/PERIOD"),
    ("5/w", "is not COUNT/PERIOD"),
    ("5/hour", "is not COUNT/PERIOD"),
    ("five/h", "is not COUNT/PERIOD"),
    ("-1/h", "is not COUNT/PERIOD"),
    ("5/h/ip", "no '/ip' or '/key' suffix"),  # allauth's form: the caller gives the key
    ("5/h,", "'' is not COUNT/PERIOD"),
    ("5/h;20/d", "is not COUNT/PERIOD"),
    ("0/h", "at least one hit"),
    ("5/0m", "at least one"),
    ("9999999999/m", "at least one"),
])
def test_bad_rate_strings_are_refused_with_what_is_wrong(text, says):
    with pytest.raises(InvalidRate, match="rate limit") as error:
        parse_rates(text)
    assert says in str(error.value)
    assert isinstance(error.value, ValueError)


def test_a_scope_takes_its_setting_else_the_default(settings):
    settings.RATE_LIMITS = {"annex_lookup": "3/h"}
    assert rates_for("annex_lookup") == "3/h"
    assert rates_for("session_request") == ratelimit.DEFAULT_RATES["session_request"]
    for rates in ratelimit.DEFAULT_RATES.values():
        assert parse_rates(rates)


def test_manage_py_check_refuses_an_unknown_scope_and_a_bad_rate(settings):
    settings.RATE_LIMITS = {"annex_lookups": "3/h", "session_request": "5/h/ip",
                            "counter_call": "300/m"}
    errors = {error.id: error.msg for error in run_checks()
              if error.id in ("portal.E010", "portal.E011")}
    assert "annex_lookups" in errors["portal.E010"]
    assert "session_request" in errors["portal.E011"] and "/ip" in errors["portal.E011"]
    assert len(errors) == 2  # counter_call is fine


def test_a_bad_scope_is_refused():
    with pytest.raises(ValueError, match="scope"):
        limit("Annex Lookup", 1, "5/h", now=T0)


# ---------------------------------------------------------------- one window


def test_a_window_allows_its_count_then_refuses_with_the_wait():
    outcomes = [limit("t", "k", "5/h", now=T0 + i) for i in range(7)]
    assert [bool(o) for o in outcomes] == [True] * 5 + [False] * 2
    assert [o.retry_after for o in outcomes[:5]] == [0] * 5
    assert outcomes[3].exhausted is None and outcomes[4].exhausted == Rate(5, 3600)
    # Refused at T0+5: the rest of the hour, then a fifth of the next (the previous hour's
    # five weigh 4/5 of the sliding window after that).
    assert outcomes[5].retry_after == (HOUR - 5) + HOUR // 5
    assert outcomes[5].exhausted == Rate(5, 3600)


def test_retry_after_is_exactly_when_a_hit_passes_again():
    for _ in range(5):
        assert limit("t", "k", "5/h", now=T0 + 100)
    refused = limit("t", "k", "5/h", now=T0 + 200)
    assert not refused
    back = T0 + 200 + refused.retry_after
    assert not peek("t", "k", "5/h", now=back - 2)
    assert not limit("t", "k", "5/h", now=back - 2)
    assert limit("t", "k", "5/h", now=back)


def test_keys_and_scopes_count_apart():
    assert limit("t", "a", "1/h", now=T0)
    assert not limit("t", "a", "1/h", now=T0)
    assert limit("t", "b", "1/h", now=T0)
    assert limit("u", "a", "1/h", now=T0)


def test_a_refused_hit_counts_nothing():
    """A flood beyond the limit does not prolong its own refusal."""
    for _ in range(3):
        assert limit("t", "k", "3/m", now=T0)
    waits = {limit("t", "k", "3/m", now=T0 + 1).retry_after for _ in range(100)}
    assert waits == {59 + 20}  # the same wait, however many were refused
    assert limit("t", "k", "3/m", now=T0 + 60 + 60).allowed


def test_the_previous_window_weighs_as_the_sliding_window_still_covers_it():
    for _ in range(5):
        assert limit("t", "k", "5/h", now=T0 + HOUR - 1)  # the end of one hour
    # Half-way through the next hour, the five weigh 2.5: two more pass, not a third.
    half = T0 + HOUR + HOUR // 2
    assert [bool(limit("t", "k", "5/h", now=half)) for _ in range(3)] == [True, True, False]


def test_everything_is_forgotten_after_two_windows():
    for _ in range(5):
        limit("t", "k", "5/h", now=T0 + HOUR - 1)
    assert not limit("t", "k", "5/h", now=T0 + HOUR)
    later = T0 + 3 * HOUR
    assert all(limit("t", "k", "5/h", now=later) for _ in range(5))
    assert not limit("t", "k", "5/h", now=later)


# ---------------------------------------------------------------- combined rates


def test_every_rate_of_a_combination_must_allow_a_hit():
    rates = "2/m,3/h"
    assert limit("t", "k", rates, now=T0) and limit("t", "k", rates, now=T0 + 1)
    minute = limit("t", "k", rates, now=T0 + 2)
    assert not minute and minute.exhausted == Rate(2, 60)
    # The minute's: the rest of it, then half the next (where the two weigh one).
    assert minute.retry_after == 58 + 30
    assert limit("t", "k", rates, now=T0 + 180)  # two minutes on: the third of the hour
    hour = limit("t", "k", rates, now=T0 + 400)  # the minutes are clear, the hour is not
    assert not hour and hour.exhausted == Rate(3, 3600)
    assert hour.retry_after > 3000  # the hour's wait, the longer one
    # The refused hit spent nothing of the minute either.
    assert peek("t", "k", "1/m", now=T0 + 400)


# ---------------------------------------------------------------- refunds and peeks


def test_a_refund_gives_the_hit_back_once():
    first = limit("t", "k", "2/h", now=T0)
    assert limit("t", "k", "2/h", now=T0)
    assert not peek("t", "k", "2/h", now=T0)
    first.refund()
    first.refund()  # once only
    assert peek("t", "k", "2/h", now=T0)
    assert limit("t", "k", "2/h", now=T0)
    assert not limit("t", "k", "2/h", now=T0)


def test_peek_counts_nothing():
    for _ in range(10):
        assert peek("t", "k", "1/h", now=T0)
    assert limit("t", "k", "1/h", now=T0)
    looked = peek("t", "k", "1/h", now=T0)
    assert not looked and looked.retry_after == limit("t", "k", "1/h", now=T0).retry_after


def test_hit_raises_with_the_wait():
    hit("t", "k", "1/m", now=T0)
    with pytest.raises(ratelimit.RateLimited) as error:
        hit("t", "k", "1/m", now=T0 + 30)
    assert (error.value.scope, error.value.retry_after) == ("t", 30 + 60)


# ---------------------------------------------------------------- atomic counting


def _hammer(rates: str, threads: int = 8, each: int = 50) -> list[bool]:
    barrier, results, lock = threading.Barrier(threads), [], threading.Lock()

    def run():
        barrier.wait()
        mine = [bool(limit("atomic", "k", rates, now=T0)) for _ in range(each)]
        with lock:
            results.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return results


def test_parallel_hits_pass_exactly_the_limit():
    results = _hammer("150/h")
    assert (results.count(True), results.count(False)) == (150, 400 - 150)


def test_parallel_hits_are_each_counted():
    assert all(_hammer("100000/h"))
    assert not peek("atomic", "k", "400/h", now=T0)  # 400 counted, none lost
    assert peek("atomic", "k", "401/h", now=T0)


@pytest.fixture
def redis_cache(settings):
    """The cache of production (Redis), a key prefix of this test's own."""
    from tests.conftest import services_required

    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith("redis"):
        if services_required():
            pytest.fail("the limiter is tested on Redis: set CELERY_BROKER_URL in CI")
        pytest.skip("no Redis (CELERY_BROKER_URL)")
    prefix = f"ratelimit-test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": url, "KEY_PREFIX": prefix}}
    yield caches["default"]
    client = caches["default"]._cache.get_client(write=True)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_parallel_hits_on_redis_pass_exactly_the_limit(redis_cache):
    assert type(redis_cache).__name__ == "RedisCache"
    results = _hammer("150/h")
    assert (results.count(True), results.count(False)) == (150, 250)
    assert not peek("atomic", "k", "150/h", now=T0)
    refused = limit("atomic", "k", "150/h", now=T0 + 10)
    assert refused.retry_after == (HOUR - 10) + round(HOUR * (1 - 149 / 150))


# ---------------------------------------------------------------- each place that uses it


def _limited_after(scope: str, key) -> bool:
    """Whether the limiter's own count (not something else) refuses the scope's next hit."""
    return not peek(scope, key, rates_for(scope))


@pytest.mark.django_db
def test_the_annex_lookup_is_limited_per_user(client, settings):
    from tests.factories import FacilityFactory, make_staff

    settings.RATE_LIMITS = {"annex_lookup": "1/h"}
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    client.force_login(user)
    url = reverse("obligation:annex", args=[facility.pk])
    data = {"partner_code": "契9999999", "role": "main"}
    assert client.post(url, data).status_code == 200
    assert _limited_after("annex_lookup", user.pk)
    refused = client.post(url, data)
    assert refused.status_code == 429 and "短時間に多くの照会" in refused.content.decode()


@pytest.mark.django_db
def test_the_session_request_is_limited_per_client_address(client, settings):
    from tests.obligation.test_session_request import URL, session_form

    settings.RATE_LIMITS = {"session_request": "1/h"}
    assert client.post(URL, {**session_form(), "submit": "1"},
                       REMOTE_ADDR="203.0.113.9").status_code == 302
    assert _limited_after("session_request", "203.0.113.9")
    refused = client.post(URL, {**session_form(), "submit": "1"}, REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 429 and "短時間に多くの申込" in refused.content.decode()
    assert client.post(URL, {**session_form(), "submit": "1"},
                       REMOTE_ADDR="198.51.100.1").status_code == 302


@pytest.mark.django_db
def test_the_officers_authentication_is_limited_per_officer(settings):
    from portal import roles
    from portal.officers import LIMITED, WRONG, authenticated_officer
    from tests.factories import make_admin

    settings.RATE_LIMITS = {"officer_authentication": "1/5m"}
    officer = make_admin(roles.PAYOUT_OFFICER)
    with pytest.raises(CommandError, match=WRONG):
        authenticated_officer(officer.email, StringIO("guess\n000000\n"), command="payout")
    assert _limited_after("officer_authentication", officer.pk)
    with pytest.raises(CommandError, match=LIMITED):
        authenticated_officer(officer.email, StringIO(""), command="payout")


@pytest.mark.django_db
def test_the_counter_api_is_limited_per_device_account_and_login_id(client, settings):
    from tests.cardreader.test_api import call, device_accounts, log_in

    settings.RATE_LIMITS = {"counter_call": "1/m", "counter_login": "1/5m"}
    _, [(account, password), (other, other_password)] = device_accounts()
    token = log_in(client, account, password)
    assert call(client, "challenge", token=token).status_code == 200
    assert _limited_after("counter_call", f"{account.pk}:challenge")
    refused = call(client, "challenge", token=token)
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    assert "秒ほど待って" in refused.json()["message"]
    # Log-ins: failures only, per login ID.
    assert call(client, "token", {"login_id": other.login_id, "password": "x"}).status_code == 401
    assert _limited_after("counter_login", other.login_id)
    right = call(client, "token", {"login_id": other.login_id, "password": other_password})
    assert right.status_code == 429


@pytest.mark.django_db
def test_facility_link_guesses_are_limited_per_user_address_and_facility(settings):
    from facilities import services
    from portal.errors import ServiceError
    from tests.factories import FacilityFactory, UserFactory

    settings.RATE_LIMITS = {"facility_link_user": "1/24h", "facility_link_address": "2/24h",
                            "facility_link_facility": "3/24h"}
    facility = FacilityFactory(kind="judo", account_last4="0987")
    guesser = UserFactory()

    def guess(user, last4="1111", ip="203.0.113.5"):
        return services.request_facility_link(user=user, code=facility.code,
                                              account_last4=last4, ip_address=ip)

    with pytest.raises(ServiceError, match="確認できませんでした"):
        guess(guesser)
    assert _limited_after("facility_link_user", guesser.pk)
    with pytest.raises(ServiceError, match="一時的に停止"):
        guess(guesser, "0987")
    # Right digits spend nothing; wrong ones from another account count at the address.
    assert guess(UserFactory(), "0987").state == "pending"
    with pytest.raises(ServiceError, match="確認できませんでした"):
        guess(UserFactory())
    assert _limited_after("facility_link_address", "203.0.113.5")
    with pytest.raises(ServiceError, match="一時的に停止"):
        guess(UserFactory())
    with pytest.raises(ServiceError, match="確認できませんでした"):
        guess(UserFactory(), ip="198.51.100.1")
    assert _limited_after("facility_link_facility", facility.pk)
    with pytest.raises(ServiceError, match="一時的に停止"):
        guess(UserFactory(), "0987", ip="198.51.100.2")


@pytest.mark.django_db
def test_the_public_list_csv_is_limited_per_client_address(client, settings):
    settings.RATE_LIMITS = {"public_list_csv": "2/h"}
    url = reverse("public:csv")
    assert [client.get(url, REMOTE_ADDR="203.0.113.9").status_code for _ in range(2)] == [200,
                                                                                          200]
    refused = client.get(url, REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 2 * HOUR
    assert "しばらくしてからお試しください" in refused.content.decode()
    assert _limited_after("public_list_csv", "ip:203.0.113.9")
    assert client.get(url, REMOTE_ADDR="198.51.100.1").status_code == 200
    # The list page itself is not limited.
    assert client.get(reverse("public:list"), REMOTE_ADDR="203.0.113.9").status_code == 200

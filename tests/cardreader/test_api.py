"""The counter's JSON API through HTTP: a device account's token, the one-time challenge, the
confirmation in PIN and face mode with exactly the qualification's keys, each refusal as
{error, message} with its status, the rate limits, a malformed or huge body never a 500, one
log row per call, and no 12-digit number in any stored row or log line.

The helpers here are shared by the other counter tests (test_counting, test_registry)."""

import base64
import json
import re
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardreader.models import (
    Challenge,
    Confirmation,
    DeviceToken,
    InsuredPerson,
    RevocationList,
    TrustedIssuer,
)
from eligibility.models import MonthlyStatistic
from facilities import services as facility_services
from facilities.models import DeviceAccount, UsageApplication
from tests.cardreader.pki import authority, card_certificate, revocation_list
from tests.conftest import TWELVE_DIGITS
from tests.factories import accepted_facility

pytestmark = pytest.mark.django_db

QUALIFICATION_KEYS = {"insurer_number", "symbol", "number", "branch", "name", "name_kana",
                      "birth_date", "copay_ratio", "valid_from", "valid_to", "status", "lost_on"}
FAR = date.today() + timedelta(days=3 * 365)


# ---------------------------------------------------------------- helpers (shared)


def trust(ca=None, *, revoked=()) -> TrustedIssuer:
    """The CA trusted, with a current CRL revoking `revoked` (a CA without one confirms no
    card: cardreader/README.md)."""
    ca = ca or authority()
    issuer = TrustedIssuer(name="テスト用JPKI", certificate_pem=ca.pem)
    issuer.full_clean()
    issuer.save()
    load_crl(issuer, ca, revoked=revoked)
    return issuer


def load_crl(issuer: TrustedIssuer, ca=None, *, revoked=(), **options) -> RevocationList:
    """A CRL of the CA kept for the trusted row as the upload keeps it (verified first)."""
    from cardreader.certificates import load_issuer, read_revocation_list, verify_revocation_list

    der = revocation_list(revoked, issuer=ca or authority(), **options)
    described = verify_revocation_list(
        read_revocation_list(der), [(issuer, load_issuer(issuer.certificate_pem))],
        now=timezone.now())
    return RevocationList.objects.create(
        issuer=issuer, compressed=described.compressed, fingerprint=described.fingerprint,
        this_update=described.this_update, next_update=described.next_update,
        revoked_count=described.revoked_count)


def register(card, **overrides) -> InsuredPerson:
    values = {"issuer": card.issuer, "serial": str(card.serial), "insurer_number": "06132013",
              "symbol": "東京", "number": "1234", "branch": "01", "name": "山田 太郎",
              "name_kana": "ヤマダ タロウ", "birth_date": date(1980, 4, 1), "copay_ratio": 30,
              "valid_from": date(2020, 4, 1), "valid_to": None, "lost_on": None}
    values.update(overrides)
    return InsuredPerson.objects.create(**values)


def device_accounts(kind: str = "clinic", devices: int = 2):
    """A facility whose 利用開始申請 was accepted: its device accounts with their passwords."""
    facility, staff, admin = accepted_facility(kind=kind, devices=devices)
    accounts = []
    for account in DeviceAccount.objects.filter(facility=facility).order_by("number"):
        issued = facility_services.issue_device_credentials(account=account, actor=staff)
        accounts.append((account, issued.password))
    return facility, accounts


def call(client, name: str, body=None, token: str | None = None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
    return client.post(reverse(f"counter:{name}"), data, content_type="application/json",
                       **headers, **extra)


def log_in(client, account, password) -> str:
    response = call(client, "token", {"login_id": account.login_id, "password": password})
    assert response.status_code == 200, response.json()
    return response.json()["token"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def confirm_pin(client, token: str, card, **extra):
    challenge = base64.b64decode(call(client, "challenge", token=token).json()["challenge"])
    return call(client, "confirm", {"certificate": b64(card.der), "mode": "pin",
                                    "challenge": b64(challenge),
                                    "signature": b64(card.sign(challenge)), **extra}, token)


def confirm_face(client, token: str, card, **extra):
    return call(client, "confirm", {"certificate": b64(card.der), "mode": "face", **extra}, token)


def this_month() -> MonthlyStatistic | None:
    return MonthlyStatistic.objects.filter(month=timezone.localdate().replace(day=1)).first()


def stored_twelve_digit_numbers() -> list[str]:
    """Every value of every table with a run of 12 digits, but the hashes of secrets
    (passwords, activation codes, sessions, authenticators), random by construction."""
    hashes = {"password", "password_hash", "activation_code_hash", "session_data", "data"}
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                found += [f"{table}.{column}={value}" for column, value in zip(columns, row,
                                                                               strict=True)
                          if column not in hashes and TWELVE_DIGITS.search(str(value))]
    return found


@pytest.fixture
def counter(client):
    """A clinic with two device accounts (the first logged in), the test CA trusted and one
    registered card."""
    facility, accounts = device_accounts()
    trust()
    card = card_certificate(1001, not_after=FAR)
    register(card)
    token = log_in(client, *accounts[0])
    return {"facility": facility, "accounts": accounts, "token": token, "card": card,
            "client": client}


# ---------------------------------------------------------------- tokens


def test_a_device_account_gets_a_token_for_about_fifteen_minutes(client):
    _, accounts = device_accounts()
    response = call(client, "token", {"login_id": accounts[0][0].login_id,
                                      "password": accounts[0][1]})
    assert response.status_code == 200
    assert set(response.json()) == {"token", "expires_at"}
    expires = timezone.datetime.fromisoformat(response.json()["expires_at"])
    assert timedelta(minutes=14) < expires - timezone.now() <= timedelta(minutes=15)
    assert response["Cache-Control"] == "no-store"
    stored = DeviceToken.objects.get()
    assert response.json()["token"] not in stored.digest


def test_a_wrong_password_and_an_unknown_id_are_refused_alike(client):
    _, accounts = device_accounts()
    wrong = call(client, "token", {"login_id": accounts[0][0].login_id, "password": "x" * 12})
    unknown = call(client, "token", {"login_id": "0000000000-01", "password": accounts[0][1]})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_credentials"


def test_an_ended_device_account_is_refused(client):
    _, accounts = device_accounts()
    account, password = accounts[0]
    DeviceAccount.objects.filter(pk=account.pk).update(is_active=False, ended_at=timezone.now())
    response = call(client, "token", {"login_id": account.login_id, "password": password})
    assert (response.status_code, response.json()["error"]) == (403, "account_inactive")


def _end_facility(facility):
    UsageApplication.objects.create(
        facility=facility, kind="change", state="accepted", end_action="end",
        planned_end_date=timezone.localdate() - timedelta(days=1), contact_name="担当",
        founder_name="開設", phone="03-0000-0000", email="end@example.jp",
        decided_at=timezone.now())


def test_the_device_account_of_an_ended_facility_is_refused_and_its_token_stops(client):
    facility, accounts = device_accounts()
    token = log_in(client, *accounts[0])
    _end_facility(facility)
    response = call(client, "token", {"login_id": accounts[0][0].login_id,
                                      "password": accounts[0][1]})
    assert (response.status_code, response.json()["error"]) == (403, "facility_ended")
    assert "終了" in response.json()["message"]
    response = call(client, "challenge", token=token)
    assert (response.status_code, response.json()["error"]) == (403, "facility_ended")


def test_an_expired_token_is_refused(counter):
    DeviceToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = call(counter["client"], "challenge", token=counter["token"])
    assert (response.status_code, response.json()["error"]) == (401, "token_expired")
    response = confirm_face(counter["client"], counter["token"], counter["card"])
    assert (response.status_code, response.json()["error"]) == (401, "token_expired")


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic abc", "Bearer nope",
                                    "Bearer " + "x" * 300])
def test_a_missing_or_unknown_token_is_refused(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(reverse("counter:challenge"), "{}", content_type="application/json",
                           **extra)
    assert response.status_code == 401
    assert response.json()["error"] in ("token_missing", "token_invalid")


# ---------------------------------------------------------------- the confirmation


def test_pin_mode_answers_the_qualification_and_nothing_else(counter):
    response = confirm_pin(counter["client"], counter["token"], counter["card"])
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert set(answer) == {"qualification", "certificate"}
    assert set(answer["qualification"]) == QUALIFICATION_KEYS
    assert answer["qualification"] == {
        "insurer_number": "06132013", "symbol": "東京", "number": "1234", "branch": "01",
        "name": "山田 太郎", "name_kana": "ヤマダ タロウ", "birth_date": "1980-04-01",
        "copay_ratio": 30, "valid_from": "2020-04-01", "valid_to": None, "status": "有効",
        "lost_on": None}
    assert answer["certificate"] == {"not_after": FAR.isoformat()}
    assert response["Cache-Control"] == "no-store"
    statistic = this_month()
    assert (statistic.counter_usage_count, statistic.counter_card_users) == (1, 1)


def test_face_mode_needs_no_challenge(counter):
    response = confirm_face(counter["client"], counter["token"], counter["card"])
    assert response.status_code == 200
    assert response.json()["qualification"]["status"] == "有効"


def test_a_sejutsu_gets_the_same_keys_and_nothing_more(client):
    _, accounts = device_accounts(kind="judo")
    trust()
    card = card_certificate(1002, not_after=FAR)
    register(card)
    response = confirm_pin(client, log_in(client, *accounts[0]), card)
    assert response.status_code == 200
    assert set(response.json()) == {"qualification", "certificate"}
    assert set(response.json()["qualification"]) == QUALIFICATION_KEYS


def test_a_bad_signature_in_pin_mode_is_refused_and_not_counted(counter):
    client, token, card = counter["client"], counter["token"], counter["card"]
    challenge = base64.b64decode(call(client, "challenge", token=token).json()["challenge"])
    response = call(client, "confirm", {"certificate": b64(card.der), "mode": "pin",
                                        "challenge": b64(challenge),
                                        "signature": b64(card.sign(b"other"))}, token)
    assert (response.status_code, response.json()["error"]) == (403, "signature_invalid")
    assert this_month() is None or this_month().counter_usage_count == 0


def test_pin_mode_without_a_signature_is_a_bad_request(counter):
    response = call(counter["client"], "confirm", {"certificate": b64(counter["card"].der),
                                                   "mode": "pin"}, counter["token"])
    assert (response.status_code, response.json()["error"]) == (400, "signature_required")


def test_a_reused_challenge_is_refused(counter):
    client, token, card = counter["client"], counter["token"], counter["card"]
    challenge = base64.b64decode(call(client, "challenge", token=token).json()["challenge"])
    body = {"certificate": b64(card.der), "mode": "pin", "challenge": b64(challenge),
            "signature": b64(card.sign(challenge))}
    assert call(client, "confirm", body, token).status_code == 200
    response = call(client, "confirm", body, token)
    assert (response.status_code, response.json()["error"]) == (403, "challenge_used")
    assert this_month().counter_usage_count == 1


def test_a_challenge_spent_by_a_failed_confirmation_cannot_be_used_again(counter):
    client, token, card = counter["client"], counter["token"], counter["card"]
    challenge = base64.b64decode(call(client, "challenge", token=token).json()["challenge"])
    body = {"certificate": b64(card.der), "mode": "pin", "challenge": b64(challenge)}
    assert call(client, "confirm", {**body, "signature": b64(b"\x00" * 256)},
                token).status_code == 403
    response = call(client, "confirm", {**body, "signature": b64(card.sign(challenge))}, token)
    assert response.json()["error"] == "challenge_used"


def test_an_expired_challenge_is_refused(counter):
    client, token, card = counter["client"], counter["token"], counter["card"]
    response = call(client, "challenge", token=token)
    expires = timezone.datetime.fromisoformat(response.json()["expires_at"])
    assert timedelta(seconds=110) < expires - timezone.now() <= timedelta(seconds=120)
    challenge = base64.b64decode(response.json()["challenge"])
    assert len(challenge) == 32
    Challenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = call(client, "confirm", {"certificate": b64(card.der), "mode": "pin",
                                        "challenge": b64(challenge),
                                        "signature": b64(card.sign(challenge))}, token)
    assert (response.status_code, response.json()["error"]) == (403, "challenge_expired")


def test_a_challenge_of_another_device_account_or_made_up_is_refused(counter):
    client, card = counter["client"], counter["card"]
    other_token = log_in(client, *counter["accounts"][1])
    challenge = base64.b64decode(call(client, "challenge", token=other_token).json()["challenge"])
    for candidate in (challenge, bytes(32)):
        response = call(client, "confirm", {"certificate": b64(card.der), "mode": "pin",
                                            "challenge": b64(candidate),
                                            "signature": b64(card.sign(candidate))},
                        counter["token"])
        assert (response.status_code, response.json()["error"]) == (403, "challenge_invalid")


def test_a_certificate_of_another_ca_is_refused(counter):
    card = card_certificate(1003, not_after=FAR, issuer=authority("Other Authentication CA"))
    register(card)
    response = confirm_face(counter["client"], counter["token"], card)
    assert (response.status_code, response.json()["error"]) == (403, "certificate_untrusted")


def test_a_ca_switched_off_is_trusted_no_more(counter):
    TrustedIssuer.objects.update(is_active=False)
    response = confirm_face(counter["client"], counter["token"], counter["card"])
    assert response.json()["error"] == "certificate_untrusted"


def test_expired_two_months_ago_is_accepted_with_the_grace_end(counter):
    today = timezone.localdate()
    card = card_certificate(1004, not_after=today - relativedelta(months=2))
    register(card)
    response = confirm_pin(counter["client"], counter["token"], card)
    assert response.status_code == 200
    certificate = response.json()["certificate"]
    expires = today - relativedelta(months=2)
    assert certificate["not_after"] == expires.isoformat()
    assert certificate["grace_until"] == (expires + relativedelta(months=3)).isoformat()
    assert "切れています" in certificate["warning"]
    assert this_month().counter_usage_count == 1


def test_expired_four_months_ago_is_refused(counter):
    card = card_certificate(1005, not_after=timezone.localdate() - relativedelta(months=4))
    register(card)
    response = confirm_pin(counter["client"], counter["token"], card)
    assert (response.status_code, response.json()["error"]) == (403, "certificate_expired")
    assert this_month() is None or this_month().counter_usage_count == 0


def test_expiring_in_two_months_is_accepted_with_the_renewal_warning(counter):
    card = card_certificate(1006, not_after=timezone.localdate() + relativedelta(months=2))
    register(card)
    response = confirm_face(counter["client"], counter["token"], card)
    assert response.status_code == 200
    certificate = response.json()["certificate"]
    assert set(certificate) == {"not_after", "warning"}
    assert "3か月を切っています" in certificate["warning"]


def test_a_card_not_in_the_registry_is_not_found(counter):
    response = confirm_face(counter["client"], counter["token"],
                            card_certificate(1007, not_after=FAR))
    assert (response.status_code, response.json()["error"]) == (404, "not_registered")


def test_a_lost_qualification_is_answered_as_lost_and_not_counted(counter):
    InsuredPerson.objects.update(lost_on=timezone.localdate())
    response = confirm_face(counter["client"], counter["token"], counter["card"])
    assert response.status_code == 200
    qualification = response.json()["qualification"]
    assert (qualification["status"], qualification["lost_on"]) == (
        "資格喪失", timezone.localdate().isoformat())
    assert this_month() is None or this_month().counter_usage_count == 0
    assert Confirmation.objects.filter(endpoint="confirm").get().outcome == "lost"


def test_the_same_request_sent_again_is_answered_but_counted_once(counter):
    client, token, card = counter["client"], counter["token"], counter["card"]
    first = confirm_face(client, token, card, request=7)
    again = confirm_face(client, token, card, request=7)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert (this_month().counter_usage_count, this_month().counter_card_users) == (1, 1)
    # A new check of the same card the same day: answered, counted nothing (docs/domain.md §8).
    assert confirm_face(client, token, card, request=8).status_code == 200
    assert (this_month().counter_usage_count, this_month().counter_card_users) == (1, 1)


# ---------------------------------------------------------------- rate limits


def test_calls_are_rate_limited_per_device_account(counter, settings):
    settings.RATE_LIMITS = {"counter_call": "3/m"}
    client = counter["client"]
    statuses = [call(client, "challenge", token=counter["token"]).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = call(client, "challenge", token=counter["token"])
    assert limited.json()["error"] == "rate_limited"
    # Until the window has moved enough (a sliding window, approximated): at most two.
    assert 1 <= int(limited["Retry-After"]) <= 2 * 60
    other = log_in(client, *counter["accounts"][1])
    assert call(client, "challenge", token=other).status_code == 200


def test_failed_log_ins_are_limited_per_login_id(client, settings):
    settings.RATE_LIMITS = {"counter_login": "3/5m"}
    _, accounts = device_accounts()
    (account, password), (other, other_password) = accounts
    for _ in range(3):
        assert call(client, "token", {"login_id": account.login_id,
                                      "password": "wrong-password"}).status_code == 401
    response = call(client, "token", {"login_id": account.login_id, "password": password})
    assert (response.status_code, response.json()["error"]) == (429, "rate_limited")
    assert "Retry-After" in response
    assert call(client, "token", {"login_id": other.login_id,
                                  "password": other_password}).status_code == 200


# ---------------------------------------------------------------- malformed requests


@pytest.mark.parametrize(("body", "content_type"), [
    ("not json", "application/json"),
    ("[1, 2]", "application/json"),
    ('{"mode": "face"', "application/json"),
    ('{"mode": NaN}', "application/json"),
    ("[" * 5000 + "]" * 5000, "application/json"),
    ('{"certificate": "' + "A" * 20_000 + '", "mode": "face"}', "application/json"),
    ('{"certificate": "%%%", "mode": "face"}', "application/json"),
    ('{"certificate": "QUJD", "mode": "face"}', "application/json"),  # base64 of "ABC"
    ('{"certificate": 12, "mode": "face"}', "application/json"),
    ('{"certificate": "QUJD", "mode": "fingerprint"}', "application/json"),
    ('{"certificate": "QUJD", "mode": "face", "extra": 1}', "application/json"),
    ('{"certificate": "QUJD", "mode": "face", "request": -1}', "application/json"),
    ('{"certificate": "QUJD", "mode": "face", "request": true}', "application/json"),
    ('{"certificate": "QUJD", "mode": "face", "request": 99999999999}', "application/json"),
    ('{"certificate": "QUJD", "mode": "face", "request": "' + "9" * 5000 + '"}',
     "application/json"),
    ('{"certificate": "QUJD", "mode": "face", "challenge": "QUJD"}', "application/json"),
    ("\xff\xfe", "application/json"),
    ("mode=face", "application/x-www-form-urlencoded"),
    ('{"mode": "face"}', "text/plain"),
])
def test_a_malformed_confirmation_is_a_bad_request(counter, body, content_type):
    response = counter["client"].post(reverse("counter:confirm"), body.encode("utf-8", "replace"),
                                      content_type=content_type,
                                      HTTP_AUTHORIZATION=f"Bearer {counter['token']}")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "message"}


@pytest.mark.parametrize("body", [
    {}, {"login_id": "x"}, {"login_id": "a\x00b", "password": "p"},
    {"login_id": "x" * 21, "password": "p"}, {"login_id": 1, "password": "p"},
    {"login_id": "x", "password": "p" * 201}, {"login_id": "x", "password": "p", "pin": "1"},
])
def test_a_malformed_log_in_is_a_bad_request(client, body):
    response = call(client, "token", body)
    assert response.status_code == 400
    assert response.json()["error"] in ("field_invalid", "field_unknown")


def test_a_huge_body_is_refused_before_it_is_read(counter):
    response = counter["client"].post(reverse("counter:token"), b"{" + b" " * 3_000_000 + b"}",
                                      content_type="application/json")
    assert (response.status_code, response.json()["error"]) == (400, "body_too_large")


def test_only_post_is_answered(client):
    for name in ("token", "challenge", "confirm"):
        response = client.get(reverse(f"counter:{name}"))
        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert response.json()["error"] == "method_not_allowed"


def test_the_api_is_csrf_exempt(client, counter):
    csrf_client = type(client)(enforce_csrf_checks=True)
    response = confirm_face(csrf_client, counter["token"], counter["card"])
    assert response.status_code == 200


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
_FIELDS = st.fixed_dictionaries({}, optional={
    "certificate": st.one_of(st.text(max_size=50), st.binary(max_size=300).map(b64), _JSON),
    "mode": st.one_of(st.sampled_from(["pin", "face", "PIN", ""]), _JSON),
    "challenge": st.one_of(st.binary(max_size=40).map(b64), _JSON),
    "signature": st.one_of(st.binary(max_size=300).map(b64), _JSON),
    "request": st.one_of(st.integers(min_value=-2**70, max_value=2**70), _JSON),
    "login_id": _JSON, "password": _JSON})


@FUZZ
@given(name=st.sampled_from(["token", "challenge", "confirm"]),
       body=st.one_of(_FIELDS.map(json.dumps), _JSON.map(json.dumps), st.binary(max_size=500)))
def test_no_body_is_ever_a_server_error(counter, name, body):
    calls = Confirmation.objects.count()
    response = call(counter["client"], name, body, counter["token"])
    assert response.status_code in (200, 400, 401, 403, 404, 429), response.content
    assert response["Content-Type"] == "application/json"
    assert Confirmation.objects.count() == calls + 1


# ---------------------------------------------------------------- the log: rows and lines


def test_every_call_writes_one_row_with_the_outcome_and_the_hash_only(counter, caplog):
    client, token, card = counter["client"], counter["token"], counter["card"]
    before = Confirmation.objects.count()
    confirm_pin(client, token, card)  # a challenge and a confirmation
    confirm_face(client, token, card_certificate(1008, not_after=FAR))  # not registered
    call(client, "confirm", "broken", token)
    call(client, "token", {"login_id": "nobody", "password": "x"})
    rows = list(Confirmation.objects.order_by("pk")[before:])
    assert [(row.endpoint, row.outcome, row.http_status) for row in rows] == [
        ("challenge", "ok", 200), ("confirm", "valid", 200),
        ("confirm", "not_registered", 404), ("confirm", "json_invalid", 400),
        ("token", "invalid_credentials", 401)]
    valid, unknown = rows[1], rows[2]
    assert valid.counted and valid.mode == "pin" and len(valid.serial_hash) == 52
    assert unknown.serial_hash and unknown.serial_hash != valid.serial_hash
    assert valid.facility == counter["facility"]
    assert rows[4].device_account is None
    lines = [record.getMessage() for record in caplog.records if record.name == "cardreader"]
    assert any(valid.serial_hash in line and "outcome=valid" in line for line in lines)
    text = "\n".join(lines)
    for personal in ("山田", "ヤマダ", "1980", "06132013", str(card.serial)):
        assert personal not in text


def test_no_twelve_digit_number_is_stored_or_logged(counter):
    """A card whose serial has 12 digits (it could be mistaken for a 個人番号) and one with
    more: neither the registry, the log rows, the statistics nor the log lines hold a
    12-digit number (the log lines are checked by tests/conftest.py after every test)."""
    client, token = counter["client"], counter["token"]
    twelve = card_certificate(123456789012, not_after=FAR)
    response = confirm_pin(client, token, twelve)
    assert (response.status_code, response.json()["error"]) == (404, "not_registered")
    longer = card_certificate(1234567890123, not_after=FAR)
    register(longer)
    assert confirm_pin(client, token, longer).status_code == 200
    assert confirm_face(client, token, counter["card"]).status_code == 200
    assert Confirmation.objects.filter(endpoint="confirm").count() == 3
    assert stored_twelve_digit_numbers() == []


def test_the_hash_is_keyed_by_the_secret_key(counter, settings):
    from cardreader.services import serial_hash

    card = counter["card"]
    first = serial_hash(card.issuer, card.serial)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert serial_hash(card.issuer, card.serial) != first
    assert re.fullmatch(r"[a-z2-7]{52}", first)


def test_a_check_id_never_looks_like_an_individual_number_in_a_request_log():
    """The counter page's check ids travel in URLs (and so in Django's request log lines):
    letters only, so no run of twelve digits can appear in them."""
    from cardreader.counter import CHECK_ID_LENGTH, new_check_id

    ids = {new_check_id() for _ in range(2000)}

    assert len(ids) == 2000
    assert all(len(i) == CHECK_ID_LENGTH and i.isalpha() and i.islower() for i in ids)
    assert not any(TWELVE_DIGITS.search(f"Forbidden: /api/counter/checks/{i}/confirm")
                   for i in ids)


@pytest.mark.django_db
def test_the_counter_form_names_an_ended_device_account_in_words(client):
    """The account chosen was ended after the page was shown: the error says so, next to the
    field, without the account's database number."""
    from tests.factories import make_staff

    facility, accounts = device_accounts()
    account, _ = accounts[0]
    client.force_login(make_staff(facility))
    account.is_active = False
    account.save(update_fields=["is_active"])
    response = client.post(reverse("cardreader:counter", args=[facility.pk]),
                           {"device_account": account.pk, "mode": "pin"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "選んだ端末は使えなくなりました。一覧から選び直してください。" in body
    assert f"{account.pk} は候補にありません" not in body

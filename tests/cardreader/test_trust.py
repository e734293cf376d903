"""What the counter trusts (docs/decisions.md D8.2, D8.3): only a CA valid now with cA=TRUE and
KeyUsage keyCertSign (checked when an administrator adds it, and again at each
confirmation); a card certificate that is no CA and may sign (digitalSignature); a card not
on its CA's current CRL, the CRL uploaded by システム管理 and verified with the CA's key,
and no card at all of a CA without a usable CRL (fail closed). And the counter's own rules:
the failed-password limit counted atomically, a check completed only in the mode it was
started with."""

import zlib
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cardreader import counter, services
from cardreader.certificates import (
    CertificateRefused,
    RevocationState,
    check_card_usage,
    check_revocation,
    fingerprint,
    load_issuer,
    parse_card_certificate,
    verify_issued_by,
)
from cardreader.models import Confirmation, RevocationList, TrustedIssuer
from portal import roles
from portal.errors import NotPermitted, ServiceError
from tests.cardreader.pki import (
    authority,
    card_certificate,
    key_usage,
    make_authority,
    revocation_list,
)
from tests.cardreader.test_api import (
    FAR,
    b64,
    call,
    confirm_face,
    confirm_pin,
    device_accounts,
    load_crl,
    log_in,
    register,
    this_month,
    trust,
)
from tests.concurrency import run_in_parallel
from tests.factories import login_admin, make_admin

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 6, 15, 3, 0, tzinfo=UTC)
EXPIRED_2015 = dict(not_before=date(2005, 1, 1), not_after=date(2015, 1, 1))


def parsed(card):
    return parse_card_certificate(card.der)


def pairs(*authorities):
    return [(ca, ca.certificate) for ca in authorities]


@pytest.fixture
def counter_client(client):
    """A clinic's device account logged in, the test CA trusted with an empty CRL."""
    facility, accounts = device_accounts()
    trust()
    return {"client": client, "facility": facility, "accounts": accounts,
            "token": log_in(client, *accounts[0])}


@pytest.fixture
def system_admin(client):
    user = make_admin(roles.SYSTEM_ADMIN)
    login_admin(client, user)
    return user


def trusted_without_checks(ca, name="古いCA") -> TrustedIssuer:
    """A row as one saved before the rules (no clean): an expired or non-CA certificate."""
    certificate = ca.certificate
    return TrustedIssuer.objects.create(
        name=name, certificate_pem=ca.pem, subject=certificate.subject.rfc4514_string(),
        fingerprint=fingerprint(certificate.fingerprint(hashes.SHA256())),
        not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc)


# ---------------------------------------------------------------- 1. the CA


def test_a_ca_that_expired_in_2015_confirms_no_card(counter_client):
    """The audit's case: a CA expired in 2015, trusted anyway (saved before the rule), with
    a card certificate it signed (valid today) — refused, not counted."""
    old = make_authority("Expired Authentication CA", **EXPIRED_2015)
    row = trusted_without_checks(old)
    card = card_certificate(6001, not_after=FAR, issuer=old)
    register(card)
    RevocationList.objects.create(
        issuer=row, compressed=zlib.compress(revocation_list(issuer=old)), fingerprint="00:" * 31 + "00",
        this_update=timezone.now() - timedelta(minutes=1),
        next_update=timezone.now() + timedelta(days=1), revoked_count=0)
    response = confirm_face(counter_client["client"], counter_client["token"], card)
    assert (response.status_code, response.json()["error"]) == (403, "certificate_untrusted")
    assert "有効期間外" in response.json()["message"]
    assert this_month() is None


def test_an_expired_or_not_yet_valid_ca_verifies_nothing():
    old = make_authority("Expired Authentication CA", **EXPIRED_2015)
    card = parsed(card_certificate(6002, not_after=date(2030, 1, 1), issuer=old))
    with pytest.raises(CertificateRefused) as refused:
        verify_issued_by(card, pairs(old), now=NOW)
    assert refused.value.code == "certificate_untrusted"
    future = make_authority("Future Authentication CA", not_before=date(2030, 1, 1),
                            not_after=date(2050, 1, 1))
    card = parsed(card_certificate(6003, not_after=date(2035, 1, 1), issuer=future))
    with pytest.raises(CertificateRefused):
        verify_issued_by(card, pairs(future), now=NOW)
    # Valid at the instant asked about: trusted.
    assert verify_issued_by(card, pairs(future), now=datetime(2031, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("kind", ["no basic constraints", "cA=FALSE", "no key usage",
                                  "no keyCertSign"])
def test_a_ca_certificate_that_is_no_ca_verifies_nothing(kind):
    options = {"no basic constraints": {"ca": None}, "cA=FALSE": {"ca": False},
               "no key usage": {"usage": None},
               "no keyCertSign": {"usage": key_usage(digital_signature=True, crl_sign=True)},
               }[kind]
    ca = make_authority(f"Odd CA {kind}", **options)
    card = parsed(card_certificate(6004, not_after=date(2030, 1, 1), issuer=ca))
    with pytest.raises(CertificateRefused):
        verify_issued_by(card, pairs(ca), now=NOW)
    with pytest.raises(CertificateRefused) as refused:
        load_issuer(ca.pem)
    assert refused.value.code == "issuer_not_ca"


@pytest.mark.parametrize(("options", "words"), [
    (EXPIRED_2015, "有効期限が切れています"),
    ({"not_before": date(2090, 1, 1), "not_after": date(2095, 1, 1)}, "まだ始まっていません"),
    ({"usage": key_usage(digital_signature=True)}, "keyCertSign"),
    ({"ca": None}, "cA=TRUE"),
])
def test_the_admin_refuses_an_expired_or_non_ca_certificate_next_to_the_field(
        client, system_admin, options, words):
    ca = make_authority("Refused CA", **options)
    response = client.post(reverse("admin:cardreader_trustedissuer_add"),
                           {"name": "x", "certificate_pem": ca.pem, "is_active": "on"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert words in " ".join(errors["certificate_pem"])
    assert not TrustedIssuer.objects.exists()


def test_an_expired_ca_still_trusted_can_be_switched_off_but_not_kept_on(client, system_admin):
    row = trusted_without_checks(make_authority("Expired Authentication CA", **EXPIRED_2015))
    url = reverse("admin:cardreader_trustedissuer_change", args=[row.pk])
    kept = client.post(url, {"name": row.name, "certificate_pem": row.certificate_pem,
                             "is_active": "on"})
    assert kept.status_code == 200 and "有効期限が切れています" in kept.content.decode()
    off = client.post(url, {"name": row.name, "certificate_pem": row.certificate_pem})
    assert off.status_code == 302
    row.refresh_from_db()
    assert not row.is_active
    listing = client.get(reverse("admin:cardreader_trustedissuer_changelist")).content.decode()
    assert "期限切れ（このCAのカードは確認できません）" in listing


# ---------------------------------------------------------------- 2. the card certificate


@pytest.mark.parametrize("options", [
    {"ca": True},  # the audit's case: a CA certificate presented as a card
    {"usage": None},
    {"usage": key_usage(key_cert_sign=True)},
])
def test_a_card_certificate_that_is_a_ca_or_cannot_sign_is_refused(counter_client, options):
    card = card_certificate(6010, not_after=FAR, **options)
    register(card)
    with pytest.raises(CertificateRefused) as refused:
        check_card_usage(parsed(card))
    assert refused.value.code == "certificate_unsuitable"
    response = confirm_pin(counter_client["client"], counter_client["token"], card)
    assert (response.status_code, response.json()["error"]) == (403, "certificate_unsuitable")
    assert this_month() is None


def test_a_card_certificate_with_ca_false_and_digital_signature_is_accepted(counter_client):
    card = card_certificate(6011, not_after=FAR, ca=False)
    register(card)
    check_card_usage(parsed(card))
    assert confirm_face(counter_client["client"], counter_client["token"],
                        card).status_code == 200


# ---------------------------------------------------------------- 3. revocation


def test_a_card_on_its_cas_crl_is_refused_with_the_reason(client):
    _, accounts = device_accounts()
    trust(revoked=[6020])
    revoked, other = card_certificate(6020, not_after=FAR), card_certificate(6021, not_after=FAR)
    register(revoked)
    register(other)
    token = log_in(client, *accounts[0])
    response = confirm_pin(client, token, revoked)
    assert (response.status_code, response.json()["error"]) == (403, "certificate_revoked")
    assert "失効しています" in response.json()["message"]
    assert this_month() is None
    assert confirm_face(client, token, other).status_code == 200


def test_the_newest_crl_of_the_ca_is_the_one_checked(counter_client):
    client, token = counter_client["client"], counter_client["token"]
    issuer = TrustedIssuer.objects.get()
    card = card_certificate(6022, not_after=FAR)
    register(card)
    assert confirm_face(client, token, card).status_code == 200
    load_crl(issuer, revoked=[6022], this_update=timezone.now())
    assert confirm_face(client, token, card).json()["error"] == "certificate_revoked"


def test_a_ca_without_a_crl_confirms_no_card(client):
    _, accounts = device_accounts()
    trust()
    RevocationList.objects.all().delete()
    card = card_certificate(6023, not_after=FAR)
    register(card)
    response = confirm_face(client, log_in(client, *accounts[0]), card)
    assert (response.status_code, response.json()["error"]) == (503, "revocation_unavailable")
    assert "保険証または資格確認書" in response.json()["message"]
    assert Confirmation.objects.get(endpoint="confirm").outcome == "revocation_unavailable"


def test_a_crl_past_its_next_update_is_used_for_the_grace_then_nothing_is_confirmed(settings):
    settings.COUNTER_CRL_GRACE_HOURS = 48
    card = parsed(card_certificate(6024, not_after=date(2030, 1, 1)))
    next_update = NOW - timedelta(hours=1)
    stale = RevocationState(revoked=frozenset({6024}), next_update=next_update)
    with pytest.raises(CertificateRefused) as refused:  # still refuses what it lists
        check_revocation(card, stale, now=NOW, grace=timedelta(hours=48))
    assert refused.value.code == "certificate_revoked"
    fresh_card = parsed(card_certificate(6025, not_after=date(2030, 1, 1)))
    check_revocation(fresh_card, stale, now=next_update + timedelta(hours=48),
                     grace=timedelta(hours=48))
    with pytest.raises(CertificateRefused) as refused:
        check_revocation(fresh_card, stale, now=next_update + timedelta(hours=48, seconds=1),
                         grace=timedelta(hours=48))
    assert refused.value.code == "revocation_unavailable"


def test_a_stale_crl_past_the_grace_stops_confirmations_and_is_flagged(client, settings):
    settings.COUNTER_CRL_GRACE_HOURS = 1
    _, accounts = device_accounts()
    issuer = trust()
    RevocationList.objects.update(this_update=timezone.now() - timedelta(days=3),
                                  next_update=timezone.now() - timedelta(hours=2))
    card = card_certificate(6026, not_after=FAR)
    register(card)
    response = confirm_face(client, log_in(client, *accounts[0]), card)
    assert response.json()["error"] == "revocation_unavailable"
    login_admin(client, make_admin(roles.VIEWER))
    listing = client.get(reverse("admin:cardreader_revocationlist_changelist")).content.decode()
    assert "期限切れ（このCAのカードは確認できません" in listing
    issuers = client.get(reverse("admin:cardreader_trustedissuer_changelist")).content.decode()
    assert "期限切れ" in issuers and issuer.name in issuers


# ---------------------------------------------------------------- 3. the CRL upload


def upload_crl(client, data: bytes, name: str = "ca.crl"):
    return client.post(reverse("admin:cardreader_revocationlist_add"),
                       {"file": SimpleUploadedFile(name, data)})


def test_system_admin_uploads_a_crl_its_ca_is_found_by_the_signature(
        client, system_admin, django_capture_on_commit_callbacks):
    issuer = TrustedIssuer(name="JPKI", certificate_pem=authority().pem)
    issuer.full_clean()
    issuer.save()
    other = make_admin(roles.SYSTEM_ADMIN)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_crl(client, revocation_list([6030, 6031], pem=True))
    assert response.status_code == 302, response.content.decode()[:2000]
    row = RevocationList.objects.get()
    assert (row.issuer, row.revoked_count, row.uploaded_by) == (issuer, 2, system_admin)
    assert row.next_update > timezone.now()
    [message] = [m for m in mail.outbox if "失効リスト" in m.subject]
    assert set(message.to) == {system_admin.email, other.email}
    page = client.get(reverse("admin:cardreader_revocationlist_change", args=[row.pk]))
    assert page.status_code == 200 and "使用中" in page.content.decode()


@pytest.mark.parametrize(("case", "words"), [
    ("garbage", "読み取れませんでした"),
    ("empty", "ファイル"),
    ("forged", "署名を確認できませんでした"),
    ("untrusted ca", "署名を確認できませんでした"),
    ("expired", "次回更新予定日"),
    ("future", "未来"),
    ("delta", "差分CRL"),
])
def test_a_crl_that_cannot_be_trusted_is_refused_next_to_the_field(
        client, system_admin, case, words):
    trust()
    before = RevocationList.objects.count()
    now = timezone.now()
    data = {
        "garbage": lambda: b"\x30\x82garbage" * 10,
        "empty": lambda: b"",
        "forged": lambda: revocation_list(signer=make_authority("x", key_index=2).key),
        "untrusted ca": lambda: revocation_list(issuer=authority("Other Authentication CA")),
        "expired": lambda: revocation_list(this_update=now - timedelta(days=3),
                                           next_update=now - timedelta(days=1)),
        "future": lambda: revocation_list(this_update=now + timedelta(days=1)),
        "delta": lambda: revocation_list(delta=True),
    }[case]()
    response = upload_crl(client, data)
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors.get("file", []))
    assert RevocationList.objects.count() == before


def test_a_crl_older_than_the_current_one_or_the_same_again_is_refused(client, system_admin):
    trust()
    older = revocation_list(this_update=timezone.now() - timedelta(hours=2))
    assert "古いか同じ" in " ".join(upload_crl(client, older).context["form"].errors["file"])
    newer = revocation_list(this_update=timezone.now() + timedelta(minutes=1))
    assert upload_crl(client, newer).status_code == 302
    again = upload_crl(client, newer)
    assert "すでに登録" in " ".join(again.context["form"].errors["file"])
    assert RevocationList.objects.count() == 2


def test_uploading_a_crl_needs_its_permission(client):
    trust()
    viewer = make_admin(roles.VIEWER)
    with pytest.raises(NotPermitted):
        services.load_revocation_list(data=revocation_list(), actor=viewer)
    login_admin(client, viewer)
    assert upload_crl(client, revocation_list()).status_code == 403
    assert RevocationList.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_crl_uploaded_twice_at_the_same_moment_is_kept_once(postgres, migration_data):
    trust()
    actor = make_admin(roles.SYSTEM_ADMIN)
    data = revocation_list([6040], this_update=timezone.now())
    outcomes = run_in_parallel([
        lambda: services.load_revocation_list(data=data, actor=actor) for _ in range(4)])
    kept = [o for o in outcomes if isinstance(o, RevocationList)]
    refused = [o for o in outcomes if isinstance(o, ServiceError)]
    assert len(kept) == 1 and len(refused) == 3, outcomes
    assert RevocationList.objects.count() == 2  # trust()'s and this one


# ---------------------------------------------------------------- 4. the failed-password limit


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_are_evaluated_no_more_than_the_limit(
        postgres, migration_data, settings):
    """The audit's case: 20 wrong passwords at once against a limit of 5 — exactly 5 are
    checked (401), the others refused unchecked (429); then the right one is refused too."""
    from django.test import Client

    settings.RATE_LIMITS = {"counter_login": "5/5m"}
    _, accounts = device_accounts(devices=1)
    account, password = accounts[0]

    def wrong():
        return call(Client(), "token", {"login_id": account.login_id,
                                        "password": "wrong-password"}).status_code

    statuses = run_in_parallel([wrong for _ in range(20)])
    assert sorted(statuses) == [401] * 5 + [429] * 15, statuses
    assert Confirmation.objects.filter(outcome="invalid_credentials").count() == 5
    right = call(Client(), "token", {"login_id": account.login_id, "password": password})
    assert right.status_code == 429


def test_a_successful_log_in_takes_no_place_in_the_failure_count(client, settings):
    settings.RATE_LIMITS = {"counter_login": "2/5m"}
    _, accounts = device_accounts(devices=1)
    account, password = accounts[0]
    for _ in range(4):
        assert call(client, "token", {"login_id": account.login_id,
                                      "password": password}).status_code == 200
    statuses = [call(client, "token", {"login_id": account.login_id,
                                       "password": "wrong"}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


# ---------------------------------------------------------------- 5. a check keeps its mode


def start_and_pick_up(facility, account, mode: str) -> str:
    check = counter.start_check(facility=facility, device_account_id=account.pk, mode=mode)
    assert counter.next_check(device_account=account).id == check.id
    return check.id


def confirm_check(client, token, check_id, body):
    return client.post(reverse("counter_checks:confirm", args=[check_id]), body,
                       content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_check_started_with_the_pin_cannot_be_completed_by_face(counter_client):
    """The audit's case: the counter page asked for 暗証番号; the agent answers 目視 with the
    public certificate alone — refused, nothing counted, the page says why."""
    client, token, facility = (counter_client["client"], counter_client["token"],
                               counter_client["facility"])
    account = counter_client["accounts"][0][0]
    card = card_certificate(6050, not_after=FAR)
    register(card)
    check_id = start_and_pick_up(facility, account, "pin")
    response = confirm_check(client, token, check_id, {"certificate": b64(card.der),
                                                       "mode": "face"})
    assert (response.status_code, response.json()["error"]) == (403, "mode_mismatch")
    assert this_month() is None
    shown = counter.check_for(facility=facility, check_id=check_id)
    assert shown.state == "failed" and "暗証番号" in shown.error_message
    assert Confirmation.objects.filter(outcome="mode_mismatch").count() == 1


def test_a_finished_check_is_never_completed_again(counter_client):
    client, token, facility = (counter_client["client"], counter_client["token"],
                               counter_client["facility"])
    account = counter_client["accounts"][0][0]
    first, second = card_certificate(6051, not_after=FAR), card_certificate(6052, not_after=FAR)
    register(first)
    register(second, name="別人 次郎")
    check_id = start_and_pick_up(facility, account, "face")
    assert confirm_check(client, token, check_id, {"certificate": b64(first.der),
                                                   "mode": "face"}).status_code == 200
    again = confirm_check(client, token, check_id, {"certificate": b64(second.der),
                                                    "mode": "face"})
    assert (again.status_code, again.json()["error"]) == (404, "check_gone")
    shown = counter.check_for(facility=facility, check_id=check_id)
    assert shown.answer["qualification"]["name"] == "山田 太郎"


def test_a_check_in_its_own_mode_completes(counter_client):
    client, token, facility = (counter_client["client"], counter_client["token"],
                               counter_client["facility"])
    account = counter_client["accounts"][0][0]
    card = card_certificate(6053, not_after=FAR)
    register(card)
    check_id = start_and_pick_up(facility, account, "pin")
    challenge = services.issue_challenge(device_account=account).challenge
    response = confirm_check(client, token, check_id, {
        "certificate": b64(card.der), "mode": "pin", "challenge": b64(challenge),
        "signature": b64(card.sign(challenge))})
    assert response.status_code == 200
    assert counter.check_for(facility=facility, check_id=check_id).state == "done"

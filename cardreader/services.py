"""Writes of the counter (docs/domain.md §8): device tokens, one-time challenges, the confirmation
of a card's insurance qualification, its counting into the facility's monthly statistics, and
the registry's 資格喪失.

`confirm_qualification` is the one function a confirmation goes through — the JSON API calls
it, and so may a counter page or a local agent. Every call of the API (this module's
functions, or `record_call` for a request refused before them) writes one `Confirmation` row
and one log line, with the keyed hash of the certificate and nothing else about the person.
"""

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from eligibility.services import count_confirmation, lock_counter_month
from facilities.models import DeviceAccount, UsageStatus
from facilities.selectors import usage_status
from portal.errors import NotPermitted, ServiceError
from portal.wareki import to_wareki

from .certificates import (
    CertificateRefused,
    check_card_usage,
    check_revocation,
    check_validity,
    load_issuer,
    parse_card_certificate,
    read_revocation_list,
    verify_challenge_signature,
    verify_issued_by,
    verify_revocation_list,
)
from .models import (
    CardUse,
    Challenge,
    Confirmation,
    DeviceToken,
    Endpoint,
    InsuredPerson,
    Mode,
    RevocationList,
    TrustedIssuer,
)
from .selectors import (
    STATUS_VALID,
    counter_settings,
    current_revocation_list,
    insured_person_for,
    qualification_answer,
    revocation_state,
    trusted_issuers_named,
)

logger = logging.getLogger("cardreader")

CHALLENGE_BYTES = 32


class CounterRefused(ServiceError):
    """A refusal of the counter: `code` (the API's `error`), a Japanese `message` and the
    HTTP status the API answers with."""

    def __init__(self, code: str, message: str, status: int = 403):
        super().__init__(message)
        self.code = code
        self.status = status
        self.device_account: DeviceAccount | None = None  # when known
        self.recorded = False  # its Confirmation row is written already


# ---------------------------------------------------------------- hashes


def _base32(digest: bytes) -> str:
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def serial_hash(issuer: str, serial: int) -> str:
    """The keyed hash of a card certificate (its issuer's RFC 4514 name and its serial):
    HMAC-SHA256 with a key derived from SECRET_KEY (Django's salted_hmac), base32. The one
    trace of a card the portal keeps (the log, the monthly distinct users); changing
    SECRET_KEY starts new hashes."""
    value = f"{len(issuer)}:{issuer}:{serial}"
    return _base32(salted_hmac("cardreader.certificate", value, algorithm="sha256").digest())


def secret_digest(secret: str | bytes) -> str:
    """How a random token or challenge is kept: its SHA-256 (they are random, so no key and
    no slow hash are needed)."""
    data = secret.encode("utf-8") if isinstance(secret, str) else secret
    return _base32(hashlib.sha256(data).digest())


# ---------------------------------------------------------------- the log


def record_call(*, endpoint: str, outcome: str, http_status: int,
                device_account: DeviceAccount | None = None, mode: str = "",
                serial_hash: str = "", client_request: int | None = None,
                counted: bool = False, now: datetime | None = None,
                today: date | None = None) -> Confirmation:
    """One row and one log line for one call of the counter API."""
    now = now or timezone.now()
    row = Confirmation.objects.create(
        endpoint=endpoint, device_account=device_account,
        facility_id=device_account.facility_id if device_account else None,
        at=now, day=today or timezone.localdate(now), mode=mode, outcome=outcome,
        http_status=http_status, serial_hash=serial_hash, client_request=client_request,
        counted=counted)
    logger.info("counter %s outcome=%s status=%s device=%s facility=%s serial_hash=%s counted=%s",
                endpoint, outcome, http_status, row.device_account_id or "-",
                row.facility_id or "-", serial_hash or "-", counted)
    return row


# ---------------------------------------------------------------- device accounts


def _check_account(account: DeviceAccount, now: datetime) -> None:
    """A device account may use the counter while it is active and its facility's use of
    the app has not ended."""
    if not account.is_active or (account.ended_at is not None and account.ended_at <= now):
        raise CounterRefused("account_inactive",
                             "この資格確認アカウントは利用終了しています。施設の担当者にお問い合わせください。")
    if usage_status(account.facility, timezone.localdate(now)) == UsageStatus.ENDED:
        raise CounterRefused("facility_ended",
                             "この施設はマイナ資格確認アプリの利用を終了しています。")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    device_account: DeviceAccount


INVALID_CREDENTIALS = "IDまたはパスワードが正しくありません。ユーザ設定情報のPDFをご確認ください。"


def issue_token(*, login_id: str, password: str, now: datetime | None = None) -> IssuedToken:
    """A short-lived bearer token for a device account's ID and password (those of its
    「ユーザ設定情報」 PDF). Refused (401) for a wrong ID or password, the same way for both;
    (403) for an account that ended or whose facility ended its use of the app."""
    now = now or timezone.now()
    account = (DeviceAccount.objects.select_related("facility").filter(login_id=login_id).first()
               if login_id else None)
    try:
        if account is None:
            make_password(password)  # the same hashing work as for a known ID
            raise CounterRefused("invalid_credentials", INVALID_CREDENTIALS, 401)
        if not account.password_hash or not check_password(password, account.password_hash):
            raise CounterRefused("invalid_credentials", INVALID_CREDENTIALS, 401)
        _check_account(account, now)
    except CounterRefused as refused:
        record_call(endpoint=Endpoint.TOKEN, outcome=refused.code, http_status=refused.status,
                    device_account=account, now=now)
        refused.recorded = True
        raise
    token = secrets.token_urlsafe(32)
    expires_at = now + counter_settings().token_lifetime
    with transaction.atomic():
        DeviceToken.objects.filter(device_account=account, expires_at__lte=now).delete()
        DeviceToken.objects.create(device_account=account, digest=secret_digest(token),
                                   created_at=now, expires_at=expires_at)
        record_call(endpoint=Endpoint.TOKEN, outcome="ok", http_status=200,
                    device_account=account, now=now)
    return IssuedToken(token, expires_at, account)


def device_account_for_token(token: str, *, now: datetime | None = None) -> DeviceAccount:
    """The device account a bearer token stands for, still allowed to use the counter."""
    now = now or timezone.now()
    row = (DeviceToken.objects.select_related("device_account__facility")
           .filter(digest=secret_digest(token)).first() if token else None)
    if row is None:
        raise CounterRefused("token_invalid",
                             "認証トークンが正しくありません。ログインし直してください。", 401)
    try:
        if row.expires_at <= now:
            raise CounterRefused("token_expired",
                                 "認証トークンの有効期限が切れました。ログインし直してください。", 401)
        _check_account(row.device_account, now)
    except CounterRefused as refused:
        refused.device_account = row.device_account
        raise
    return row.device_account


# ---------------------------------------------------------------- challenges (PIN mode)


@dataclass(frozen=True)
class IssuedChallenge:
    challenge: bytes
    expires_at: datetime


def issue_challenge(*, device_account: DeviceAccount, now: datetime | None = None) -> IssuedChallenge:
    """32 random bytes for the card to sign, usable once by this device account, briefly."""
    now = now or timezone.now()
    try:
        _check_account(device_account, now)
    except CounterRefused as refused:
        record_call(endpoint=Endpoint.CHALLENGE, outcome=refused.code,
                    http_status=refused.status, device_account=device_account, now=now)
        refused.recorded = True
        raise
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    expires_at = now + counter_settings().challenge_lifetime
    with transaction.atomic():
        # Spent ones are kept a day, so that a late answer is told "used" or "expired".
        Challenge.objects.filter(device_account=device_account,
                                 expires_at__lt=now - timedelta(days=1)).delete()
        Challenge.objects.create(device_account=device_account, digest=secret_digest(challenge),
                                 created_at=now, expires_at=expires_at)
        record_call(endpoint=Endpoint.CHALLENGE, outcome="ok", http_status=200,
                    device_account=device_account, now=now)
    return IssuedChallenge(challenge, expires_at)


def _consume_challenge(device_account: DeviceAccount, challenge: bytes, now: datetime) -> None:
    """Mark the challenge used (once: a single UPDATE decides between parallel uses)."""
    digest = secret_digest(challenge)
    used = Challenge.objects.filter(device_account=device_account, digest=digest,
                                    used_at__isnull=True, expires_at__gt=now).update(used_at=now)
    if used == 1:
        return
    row = Challenge.objects.filter(digest=digest, device_account=device_account).first()
    if row is None:
        raise CounterRefused("challenge_invalid",
                             "チャレンジが正しくありません。読み取りをやり直してください。")
    if row.used_at is not None:
        raise CounterRefused("challenge_used",
                             "このチャレンジは使用済みです。読み取りをやり直してください。")
    raise CounterRefused("challenge_expired",
                         "チャレンジの有効期限が切れました。読み取りをやり直してください。")


# ---------------------------------------------------------------- confirmation


@dataclass(frozen=True)
class Confirmed:
    """A confirmation's answer (`answer` is exactly what the API returns) and what it did."""

    answer: dict
    outcome: str  # "valid" (counted), "repeat" (sent again, not counted again), "lost"
    counted: bool
    new_user: bool


_CERTIFICATE_STATUS = {"certificate_malformed": 400,
                       # The portal cannot tell (no current CRL): not the card's fault.
                       "revocation_unavailable": 503}


def _certificate_answer(validity) -> dict:
    answer: dict = {"not_after": validity.expires_on.isoformat()}
    if validity.state == "expiring":
        answer["warning"] = (
            f"電子証明書の有効期限（{to_wareki(validity.expires_on)}）まで3か月を切っています。"
            "市区町村の窓口で更新の手続きを行うようご案内ください。")
    elif validity.state == "grace":
        answer["warning"] = (
            f"電子証明書の有効期限（{to_wareki(validity.expires_on)}）が切れています。"
            f"{to_wareki(validity.grace_until)}までは保険証として利用できます。"
            "市区町村の窓口で更新の手続きを行うようご案内ください。")
        answer["grace_until"] = validity.grace_until.isoformat()
    return answer


def confirm_qualification(*, device_account: DeviceAccount, certificate: bytes, mode: str,
                          challenge: bytes | None = None, signature: bytes | None = None,
                          client_request: int | None = None, today: date | None = None,
                          now: datetime | None = None) -> Confirmed:
    """Confirm the insurance qualification of the card whose authentication certificate
    (DER) was read, for a device account, and count it.

    PIN mode: the card signed `challenge` (issued to this device account by
    `issue_challenge`, unused, unexpired; spent by this call whatever its outcome) with its
    authentication key. Face mode (目視): no challenge, no signature. The certificate must be
    issued by an active TrustedIssuer valid at `now`, be no CA and may sign
    (certificates.check_card_usage), be valid on `today` (certificates.check_validity) and
    not be on its CA's current CRL (fail closed without one: check_revocation); its issuer
    and serial must be in the registry. A valid (有効) qualification is counted into the
    facility's month of `today` (default: the local date) once per facility and day
    (docs/domain.md §8): the same card confirmed again at the facility that day, from any device account, is
    answered again but counted nothing (outcome "repeat"). Raises CounterRefused (recorded)
    otherwise."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    hashed = ""
    try:
        if mode not in Mode.values:
            raise CounterRefused("mode_invalid", "確認方法（mode）は pin か face を指定してください。", 400)
        if mode == Mode.PIN and (not challenge or not signature):
            raise CounterRefused("signature_required",
                                 "暗証番号による確認には、チャレンジとカードの署名が必要です。", 400)
        if mode == Mode.FACE and (challenge or signature):
            raise CounterRefused("signature_unexpected",
                                 "目視による確認では、チャレンジと署名は送らないでください。", 400)
        _check_account(device_account, now)
        try:
            card = parse_card_certificate(certificate)
            hashed = serial_hash(card.issuer, card.serial)
            if mode == Mode.PIN:
                _consume_challenge(device_account, challenge, now)
            issuer_id = verify_issued_by(card, trusted_issuers_named(card.issuer), now=now)
            check_card_usage(card)
            if mode == Mode.PIN:
                verify_challenge_signature(card, challenge, signature)
            validity = check_validity(card, today=today, tz=timezone.get_default_timezone())
            check_revocation(card, revocation_state(issuer_id), now=now,
                             grace=counter_settings().crl_grace)
        except CertificateRefused as refused:
            raise CounterRefused(refused.code, refused.message,
                                 _CERTIFICATE_STATUS.get(refused.code, 403)) from None
        person = insured_person_for(issuer=card.issuer, serial=card.serial)
        if person is None:
            raise CounterRefused(
                "not_registered",
                "このカードの資格情報が見つかりませんでした。保険証または資格確認書で確認してください。", 404)
    except CounterRefused as refused:
        record_call(endpoint=Endpoint.CONFIRM, outcome=refused.code, http_status=refused.status,
                    device_account=device_account, mode=mode if mode in Mode.values else "",
                    serial_hash=hashed, client_request=client_request, now=now, today=today)
        refused.recorded = True
        raise
    answer = {"qualification": qualification_answer(person, today=today),
              "certificate": _certificate_answer(validity)}
    counted = new_user = False
    with transaction.atomic():
        if answer["qualification"]["status"] == STATUS_VALID:
            # The month's row is locked first: confirmations of one facility's month (so of
            # its day) are counted one at a time, and the first of a card's day counts.
            lock_counter_month(facility_id=device_account.facility_id, day=today)
            repeat = Confirmation.objects.filter(
                facility_id=device_account.facility_id, day=today, serial_hash=hashed,
                counted=True).exists()
            if repeat:
                outcome = "repeat"
            else:
                new_user = count_card_use(facility_id=device_account.facility_id, day=today,
                                          user_hash=hashed)
                counted, outcome = True, "valid"
        else:
            outcome = "lost"
        record_call(endpoint=Endpoint.CONFIRM, outcome=outcome, http_status=200,
                    device_account=device_account, mode=mode, serial_hash=hashed,
                    client_request=client_request, counted=counted, now=now, today=today)
    return Confirmed(answer, outcome, counted, new_user)


# ---------------------------------------------------------------- counting (§5.2, §6.3)


def count_card_use(*, facility_id: int, day: date, user_hash: str) -> bool:
    """One confirmation of a valid qualification, counted by the eligibility app into the
    counter's figures of the facility's month (provisional until the month's statistics are
    imported, docs/domain.md §8): 利用件数 + 1 and, for a card not yet seen at the facility that
    month, 利用人数 + 1. The month is locked by `lock_counter_month` in the caller's
    transaction. Returns whether the card user was new for the month."""
    month = day.replace(day=1)
    new_user = not CardUse.objects.filter(facility_id=facility_id, month=month,
                                          user_hash=user_hash).exists()
    if new_user:
        CardUse.objects.create(facility_id=facility_id, month=month, user_hash=user_hash)
    count_confirmation(facility_id=facility_id, day=day, new_user=new_user)
    return new_user


# ---------------------------------------------------------------- revocation lists


def load_revocation_list(*, data: bytes, actor, now: datetime | None = None) -> RevocationList:
    """Keep a CRL uploaded by システム管理: read (DER or PEM), signed by a trusted CA's key
    (the CA is found by the CRL's issuer name), nextUpdate not yet passed, and newer than the
    CA's current CRL. The CA's rows are locked meanwhile, so two uploads at once are decided
    one after the other. The other システム管理 members are told by e-mail."""
    if not actor.has_perm("cardreader.add_revocationlist"):
        raise NotPermitted("失効リストを登録する権限がありません。")
    now = now or timezone.now()
    try:
        crl = read_revocation_list(data)
        subject = crl.issuer.rfc4514_string()
        with transaction.atomic():
            issuers = list(TrustedIssuer.objects.select_for_update()
                           .filter(subject=subject).order_by("pk"))
            candidates = []
            for row in issuers:
                try:
                    candidates.append((row, load_issuer(row.certificate_pem)))
                except CertificateRefused:
                    continue
            described = verify_revocation_list(crl, candidates, now=now)
            issuer = described.issuer
            if RevocationList.objects.filter(fingerprint=described.fingerprint).exists():
                raise ServiceError("この失効リストはすでに登録されています。", "file")
            current = current_revocation_list(issuer.pk)
            if current is not None and described.this_update <= current.this_update:
                raise ServiceError(
                    "登録済みの失効リスト（発行日時 "
                    f"{timezone.localtime(current.this_update):%Y-%m-%d %H:%M}）"
                    "より古いか同じ発行日時のものです。より新しい失効リストを選んでください。",
                    "file")
            row = RevocationList.objects.create(
                issuer=issuer, compressed=described.compressed, fingerprint=described.fingerprint,
                this_update=described.this_update, next_update=described.next_update,
                revoked_count=described.revoked_count, uploaded_by=actor)
            _tell_system_admins(row, actor)
    except CertificateRefused as refused:
        raise ServiceError(refused.message, "file") from None
    logger.info("revocation list %s of issuer %s loaded by user %s (%s revoked)", row.pk,
                issuer.pk, actor.pk, row.revoked_count)
    return row


def _tell_system_admins(row: RevocationList, actor) -> None:
    from django.contrib.auth import get_user_model

    from portal.notifications import notify
    from portal.roles import SYSTEM_ADMIN

    addresses = (get_user_model().objects.filter(is_active=True, is_staff=True)
                 .filter(groups__name=SYSTEM_ADMIN).values_list("email", flat=True).distinct())
    notify(to=[*addresses, actor.email], name="revocation_list_loaded",
           context={"row": row, "actor": actor})


# ---------------------------------------------------------------- the registry


def mark_lost(*, person: InsuredPerson, lost_on: date, actor) -> InsuredPerson:
    """Record the 資格喪失日 (the first day without the qualification) of a registry row."""
    if not actor.has_perm("cardreader.change_insuredperson"):
        raise NotPermitted("被保険者台帳を変更する権限がありません。")
    if lost_on < person.valid_from:
        raise ServiceError(
            f"資格喪失日は資格の有効開始日（{to_wareki(person.valid_from)}）以降の日付を入力してください。",
            "lost_on")
    with transaction.atomic():
        person = InsuredPerson.objects.select_for_update().get(pk=person.pk)
        person.lost_on = lost_on
        person._history_user = actor
        person.save(update_fields=["lost_on", "updated_at"])
    logger.info("registry row %s marked lost by user %s", person.pk, actor.pk)
    return person

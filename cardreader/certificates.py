"""A card's authentication certificate (利用者証明用電子証明書) checked with `cryptography`:
pure functions of (certificate, trusted CA certificates, today) — no database, no clock.

Validity (docs/domain.md §8), by the portal's local date `today`:
- The certificate's expiry date E is the last local day it covers to its end:
  E = local date of (notAfter + 1 second) − 1 day. A JPKI certificate ends at 23:59:59 JST,
  so E is the date printed on it; one ending at any other moment (the test PKI's 23:59 UTC
  is 08:59 JST the next morning) counts as expired from the start of that last, partial
  day — never valid for longer than it says.
- today ≤ E: valid. From E − 3 calendar months (inclusive) to E it is valid with the renewal
  warning ("expires within 3 months").
- E < today ≤ E + 3 calendar months: expired but accepted as an insurance card, with
  `grace_until` = E + 3 months (the last day it is accepted).
- today > E + 3 months: refused.
Calendar months are `dateutil.relativedelta`, which keeps the day of the month and clamps it
to the month's last day: E 2024-11-30 → grace until 2025-02-28; E 2024-05-31 → warning
from 2024-02-29.
- Before its first day (the local date of notBefore) a certificate is refused.

What a certificate must be (docs/decisions.md D8.2, D8.3):
- A trusted CA: basicConstraints cA=TRUE, KeyUsage keyCertSign, and valid at the instant of
  the check (notBefore ≤ now ≤ notAfter): an expired CA's card certificates are not trusted.
- A card certificate: not a CA (basicConstraints absent or cA=FALSE) and a KeyUsage with
  digitalSignature, as the JPKI 利用者証明用電子証明書 has.
- Not revoked: its serial is not on its CA's current CRL (a CRL whose signature that CA's
  key verifies, and whose nextUpdate has not passed, or passed less than a grace ago).
"""

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from dateutil.relativedelta import relativedelta

GRACE = relativedelta(months=3)
WARNING_BEFORE = relativedelta(months=3)
MAX_CERTIFICATE_BYTES = 8 * 1024
MAX_PEM_CHARACTERS = 64 * 1024
MAX_CRL_BYTES = 20 * 1024 * 1024
CLOCK_SKEW = timedelta(minutes=10)  # a CRL's thisUpdate may be this far ahead of our clock


class CertificateRefused(Exception):
    """The certificate (or its signature) is not accepted; `code` for the API, `message`
    in Japanese for the counter."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CardCertificate:
    """What the counter reads of a card's certificate (parsed once, every field checked)."""

    certificate: x509.Certificate
    issuer: str  # RFC 4514
    serial: int
    not_before: datetime
    not_after: datetime


def parse_card_certificate(der: bytes) -> CardCertificate:
    """DER → the certificate, or CertificateRefused("certificate_malformed")."""
    if not der or len(der) > MAX_CERTIFICATE_BYTES:
        raise CertificateRefused("certificate_malformed", "カードの電子証明書を読み取れませんでした。")
    try:
        certificate = x509.load_der_x509_certificate(der)
        # Read every field now: a malformed one raises here, not in a later step.
        parsed = CardCertificate(
            certificate=certificate,
            issuer=certificate.issuer.rfc4514_string(),
            serial=certificate.serial_number,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
        )
        certificate.public_key()
        len(certificate.extensions)  # a malformed or repeated extension raises here
    except Exception:  # noqa: BLE001 - any parse failure is one refusal, never a 500
        raise CertificateRefused("certificate_malformed",
                                 "カードの電子証明書を読み取れませんでした。") from None
    return parsed


# ---------------------------------------------------------------- the issuing CA


@dataclass(frozen=True)
class IssuerDescription:
    pem: str
    subject: str
    fingerprint: str  # SHA-256, colon-separated upper-case hex pairs
    not_before: datetime
    not_after: datetime


def load_issuer(pem: str) -> x509.Certificate:
    """One CA certificate from its PEM text, or CertificateRefused (Japanese message)."""
    text = (pem or "").strip()
    if not text:
        raise CertificateRefused("issuer_malformed", "CA証明書（PEM）を貼り付けてください。")
    if len(text) > MAX_PEM_CHARACTERS or text.count("-----BEGIN CERTIFICATE-----") != 1:
        raise CertificateRefused(
            "issuer_malformed",
            "CA証明書は「-----BEGIN CERTIFICATE-----」で始まるPEMを1つだけ貼り付けてください。")
    try:
        certificate = x509.load_pem_x509_certificate(text.encode("ascii"))
        certificate.subject.rfc4514_string()
        certificate.public_key()
    except Exception:  # noqa: BLE001 - any parse failure is one message
        raise CertificateRefused(
            "issuer_malformed", "CA証明書（PEM）を読み取れませんでした。"
            "「-----BEGIN CERTIFICATE-----」から「-----END CERTIFICATE-----」までを"
            "そのまま貼り付けてください。") from None
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        constraints = None
    except Exception:  # noqa: BLE001 - a malformed extension is one message too
        raise CertificateRefused("issuer_malformed", "CA証明書の拡張領域を読み取れませんでした。") from None
    if constraints is None or not constraints.value.ca:
        raise CertificateRefused(
            "issuer_not_ca", "この証明書はCA証明書ではありません（基本制約 cA=TRUE がありません）。"
            "カードの電子証明書を発行したCAの証明書を登録してください。")
    usage = _key_usage(certificate)
    if usage is None or not usage.key_cert_sign:
        raise CertificateRefused(
            "issuer_not_ca", "この証明書は証明書の発行に使えません（鍵用途 keyCertSign がありません）。"
            "カードの電子証明書を発行したCAの証明書を登録してください。")
    return certificate


def _key_usage(certificate: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    except Exception:  # noqa: BLE001 - a malformed extension is no usage at all
        return None


def _basic_constraints(certificate: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def check_issuer_validity(certificate: x509.Certificate, now: datetime) -> None:
    """The CA certificate's own validity at the instant `now` (CertificateRefused)."""
    if now < certificate.not_valid_before_utc:
        raise CertificateRefused(
            "issuer_not_yet_valid",
            "このCA証明書の有効期間はまだ始まっていません"
            f"（開始 {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC）。")
    if now > certificate.not_valid_after_utc:
        raise CertificateRefused(
            "issuer_expired",
            "このCA証明書は有効期限が切れています"
            f"（{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC まで）。"
            "有効期間内のCA証明書を登録してください。")


def describe_issuer(pem: str) -> IssuerDescription:
    certificate = load_issuer(pem)
    digest = certificate.fingerprint(hashes.SHA256())
    return IssuerDescription(
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        subject=certificate.subject.rfc4514_string(),
        fingerprint=fingerprint(digest),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def fingerprint(digest: bytes) -> str:
    """Colon-separated upper-case hex pairs (never a run of 12 digits)."""
    return ":".join(f"{byte:02X}" for byte in digest)


Issuer = TypeVar("Issuer")


def verify_issued_by(card: CardCertificate, issuers: Iterable[tuple[Issuer, x509.Certificate]],
                     *, now: datetime) -> Issuer:
    """The trusted CA (the first of each pair given) whose name is the card certificate's
    issuer, whose key signed it, that is a CA (cA=TRUE, keyCertSign) and that is valid at
    `now`; CertificateRefused("certificate_untrusted") when none is."""
    expired = False
    for found, issuer in issuers:
        try:
            card.certificate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        constraints, usage = _basic_constraints(issuer), _key_usage(issuer)
        if constraints is None or not constraints.ca or usage is None or not usage.key_cert_sign:
            continue
        try:
            check_issuer_validity(issuer, now)
        except CertificateRefused:
            expired = True
            continue
        return found
    if expired:
        raise CertificateRefused(
            "certificate_untrusted",
            "カードの電子証明書を確認できませんでした（発行元CAの証明書が有効期間外です）。")
    raise CertificateRefused(
        "certificate_untrusted",
        "カードの電子証明書を確認できませんでした（登録された発行元の証明書ではありません）。")


# ---------------------------------------------------------------- what a card certificate is


def check_card_usage(card: CardCertificate) -> None:
    """A card's authentication certificate is no CA (basicConstraints absent or cA=FALSE)
    and may sign (KeyUsage with digitalSignature, as the JPKI 利用者証明用電子証明書);
    CertificateRefused("certificate_unsuitable") otherwise."""
    constraints = _basic_constraints(card.certificate)
    usage = _key_usage(card.certificate)
    if (constraints is not None and constraints.ca) or usage is None or not usage.digital_signature:
        raise CertificateRefused(
            "certificate_unsuitable",
            "この証明書はマイナンバーカードの利用者証明用電子証明書として使えません"
            "（CA証明書であるか、署名用の鍵用途がありません）。")


# ---------------------------------------------------------------- validity


@dataclass(frozen=True)
class Validity:
    state: str  # "valid" | "expiring" (renewal warning) | "grace" (expired, still accepted)
    expires_on: date  # E, the last day the certificate covers
    warning_from: date
    grace_until: date


def expiry_date(card: CardCertificate, tz: tzinfo) -> date:
    """E: the last local day the certificate covers to its end (see the module's notes)."""
    return (card.not_after + timedelta(seconds=1)).astimezone(tz).date() - timedelta(days=1)


def first_day(card: CardCertificate, tz: tzinfo) -> date:
    return card.not_before.astimezone(tz).date()


def check_validity(card: CardCertificate, *, today: date, tz: tzinfo) -> Validity:
    expires_on = expiry_date(card, tz)
    warning_from = expires_on - WARNING_BEFORE
    grace_until = expires_on + GRACE
    if today < first_day(card, tz):
        raise CertificateRefused("certificate_not_yet_valid",
                                 "カードの電子証明書の有効期間がまだ始まっていません。")
    if today > grace_until:
        raise CertificateRefused(
            "certificate_expired",
            "カードの電子証明書の有効期限が切れて3か月を過ぎているため、保険証として利用できません。"
            "市区町村の窓口で電子証明書の更新を行うようご案内ください。")
    if today > expires_on:
        state = "grace"
    elif today >= warning_from:
        state = "expiring"
    else:
        state = "valid"
    return Validity(state, expires_on, warning_from, grace_until)


# ---------------------------------------------------------------- PIN mode


def verify_challenge_signature(card: CardCertificate, challenge: bytes, signature: bytes) -> None:
    """The card's authentication key signed the challenge (RSA PKCS#1 v1.5 over SHA-256 of
    the challenge bytes), or CertificateRefused("signature_invalid")."""
    key = card.certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not signature:
        raise CertificateRefused("signature_invalid", "カードの署名を確認できませんでした。")
    try:
        key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise CertificateRefused(
            "signature_invalid",
            "カードの署名を確認できませんでした。もう一度カードを読み取ってください。") from None


# ---------------------------------------------------------------- revocation (CRL)


@dataclass(frozen=True)
class RevocationListDescription:
    """A CRL read and verified: its DER compressed (as kept: a DER's UTCTime dates are runs
    of 12 digits, which no stored value may hold), the CA whose key signed it (the first of
    the pair given to `verify_revocation_list`), its dates and how many it revokes."""

    compressed: bytes
    issuer: object
    fingerprint: str
    this_update: datetime
    next_update: datetime
    revoked_count: int


def read_revocation_list(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from its DER or PEM bytes (CertificateRefused "crl_malformed")."""
    if not data:
        raise CertificateRefused("crl_malformed", "失効リスト（CRL）のファイルを選んでください。")
    if len(data) > MAX_CRL_BYTES:
        raise CertificateRefused(
            "crl_malformed",
            f"失効リストのファイルが大きすぎます（{MAX_CRL_BYTES // (1024 * 1024)}MBまで）。")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data.strip())
        else:
            crl = x509.load_der_x509_crl(data)
        crl.issuer.rfc4514_string()
        len(crl.extensions)
        crl.last_update_utc  # noqa: B018 - read now: a malformed field raises here
        for revoked in crl:
            revoked.serial_number  # noqa: B018
    except Exception:  # noqa: BLE001 - any parse failure is one message
        raise CertificateRefused(
            "crl_malformed",
            "失効リスト（CRL）として読み取れませんでした。CAが公開しているCRLのファイル"
            "（DER または PEM）をそのまま選んでください。") from None
    try:
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
    except x509.ExtensionNotFound:
        pass
    else:
        raise CertificateRefused("crl_malformed",
                                 "差分CRL（delta CRL）は登録できません。完全なCRLを選んでください。")
    return crl


def verify_revocation_list(crl: x509.CertificateRevocationList,
                           issuers: Iterable[tuple[Issuer, x509.Certificate]], *,
                           now: datetime) -> RevocationListDescription:
    """The CRL signed by one of the CAs given (its name, its key, its KeyUsage cRLSign), with
    a nextUpdate not yet passed and a thisUpdate not in the future; CertificateRefused
    otherwise."""
    signer = None
    for found, issuer in issuers:
        if issuer.subject != crl.issuer:
            continue
        try:
            valid = crl.is_signature_valid(issuer.public_key())
        except (TypeError, ValueError):
            valid = False
        usage = _key_usage(issuer)
        if valid and usage is not None and usage.crl_sign:
            signer = found
            break
    if signer is None:
        raise CertificateRefused(
            "crl_untrusted",
            "この失効リストは、登録された発行元CAの署名を確認できませんでした。"
            "先に発行元CAを「信頼する発行元CA」に登録してください。")
    this_update, next_update = crl.last_update_utc, crl.next_update_utc
    if next_update is None:
        raise CertificateRefused("crl_malformed",
                                 "次回更新予定日（nextUpdate）のない失効リストは登録できません。")
    if this_update > now + CLOCK_SKEW:
        raise CertificateRefused("crl_not_yet_valid",
                                 "この失効リストの発行日時（thisUpdate）が未来になっています。")
    if next_update <= now:
        raise CertificateRefused(
            "crl_expired",
            f"この失効リストは次回更新予定日（{next_update:%Y-%m-%d %H:%M} UTC）を過ぎています。"
            "CAが公開している最新の失効リストを取得して登録してください。")
    der = crl.public_bytes(serialization.Encoding.DER)
    return RevocationListDescription(
        compressed=zlib.compress(der, 6), issuer=signer,
        fingerprint=fingerprint(_sha256(der)),
        this_update=this_update, next_update=next_update, revoked_count=len(crl))


def _sha256(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def revoked_serials(compressed: bytes) -> frozenset[int]:
    """The serial numbers a stored (already verified, compressed) CRL revokes."""
    crl = x509.load_der_x509_crl(zlib.decompress(compressed))
    return frozenset(revoked.serial_number for revoked in crl)


@dataclass(frozen=True)
class RevocationState:
    """What the portal holds about one CA's revocations: its current CRL's serials and
    nextUpdate, or nothing (`revoked` None: no CRL loaded)."""

    revoked: frozenset[int] | None
    next_update: datetime | None


REVOCATION_UNAVAILABLE = (
    "電子証明書の失効情報を確認できないため、マイナンバーカードでの資格確認ができません"
    "（ポータルの失効リストが更新されていません）。保険証または資格確認書で確認してください。")


def check_revocation(card: CardCertificate, state: RevocationState, *, now: datetime,
                     grace: timedelta) -> None:
    """Refuses a card certificate on its CA's current CRL ("certificate_revoked"), and any
    card when that CA has no CRL or its CRL is past nextUpdate by more than `grace`
    ("revocation_unavailable": fail closed). Within the grace the stale CRL still refuses
    what it lists."""
    if state.revoked is None or state.next_update is None or now > state.next_update + grace:
        raise CertificateRefused("revocation_unavailable", REVOCATION_UNAVAILABLE)
    if card.serial in state.revoked:
        raise CertificateRefused(
            "certificate_revoked",
            "このカードの電子証明書は失効しています（紛失・再発行などで失効の届出があった"
            "カードです）。保険証として利用できません。保険証または資格確認書で確認し、"
            "市区町村の窓口にご案内ください。")

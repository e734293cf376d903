"""A card's authentication certificate (利用者証明用電子証明書) checked with `cryptography`:
pure functions of (certificate, trusted CA certificates, today) — no database, no clock.

Validity (DOMAIN §8), by the portal's local date `today`:
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
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from dateutil.relativedelta import relativedelta

GRACE = relativedelta(months=3)
WARNING_BEFORE = relativedelta(months=3)
MAX_CERTIFICATE_BYTES = 8 * 1024
MAX_PEM_CHARACTERS = 64 * 1024


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
    return certificate


def describe_issuer(pem: str) -> IssuerDescription:
    certificate = load_issuer(pem)
    digest = certificate.fingerprint(hashes.SHA256())
    return IssuerDescription(
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        subject=certificate.subject.rfc4514_string(),
        fingerprint=":".join(f"{byte:02X}" for byte in digest),
        not_after=certificate.not_valid_after_utc,
    )


def verify_issued_by(card: CardCertificate, issuers: Iterable[x509.Certificate]) -> x509.Certificate:
    """The trusted CA whose name is the card certificate's issuer and whose key signed it;
    CertificateRefused("certificate_untrusted") when none is."""
    for issuer in issuers:
        try:
            card.certificate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return issuer
    raise CertificateRefused(
        "certificate_untrusted",
        "カードの電子証明書を確認できませんでした（登録された発行元の証明書ではありません）。")


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

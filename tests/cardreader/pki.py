"""A test public-key infrastructure made with `cryptography`: an issuing CA standing in for
the JPKI one (cA=TRUE, KeyUsage keyCertSign and cRLSign), My Number card certificates for
authentication (利用者証明用電子証明書: KeyUsage digitalSignature) with their RSA keys, with
the validity the test wants, and the CA's revocation lists (CRLs). Nothing here is a real
certificate."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CA_NAME = "JPKI Test User Authentication CA"


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey = field(repr=False)

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class CardCertificate:
    """A card's authentication certificate (DER, as EF 000A holds it) and its private key
    (as the card holds it: never leaves the emulated card but to sign)."""

    der: bytes
    key: rsa.RSAPrivateKey = field(repr=False)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def issuer(self) -> str:
        return self.certificate.issuer.rfc4514_string()

    def sign(self, data: bytes) -> bytes:
        """What the card's authentication key does with a challenge (RSA PKCS#1 v1.5, SHA-256)."""
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _at(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@cache
def _key(bits: int, index: int) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: a few are made once and reused (index picks one)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False,
              crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=key_cert_sign, crl_sign=crl_sign, encipher_only=False,
                         decipher_only=False)


CA_USAGE = key_usage(key_cert_sign=True, crl_sign=True)
CARD_USAGE = key_usage(digital_signature=True)


def make_authority(name: str = CA_NAME, *, not_before: date = date(2020, 1, 1),
                   not_after: date = date(2040, 1, 1), ca: bool | None = True,
                   usage: x509.KeyUsage | None = CA_USAGE, key_index: int | None = None,
                   ) -> Authority:
    """A self-signed CA as the test asks: `ca=None` leaves basicConstraints out, `usage=None`
    the KeyUsage. The same name and key as `authority(name)` unless `key_index` is given."""
    key = _key(2048, sum(name.encode()) % 3 if key_index is None else key_index)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI Test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(_at(not_before)).not_valid_after(_at(not_after))
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return Authority(builder.sign(key, hashes.SHA256()), key)


@cache
def authority(name: str = CA_NAME) -> Authority:
    return make_authority(name)


def card_certificate(serial: int, *, not_after: date, not_before: date | None = None,
                     issuer: Authority | None = None, key_index: int = 0,
                     ca: bool | None = None,
                     usage: x509.KeyUsage | None = CARD_USAGE) -> CardCertificate:
    """A card's authentication certificate valid until `not_after` (end of that day is not
    modelled: the certificate is valid through `not_after`). As a JPKI one: no
    basicConstraints and KeyUsage digitalSignature; `ca=` adds basicConstraints, `usage=`
    another KeyUsage (None: none)."""
    issuer = issuer or authority()
    key = _key(2048, 3 + key_index % 4)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(_at(not_before or not_after - timedelta(days=5 * 365)))
        .not_valid_after(_at(not_after) + timedelta(hours=23, minutes=59))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                                        critical=True)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    certificate = builder.sign(issuer.key, hashes.SHA256())
    return CardCertificate(certificate.public_bytes(serialization.Encoding.DER), key)


def revocation_list(revoked: Iterable[int] = (), *, issuer: Authority | None = None,
                    this_update: datetime | None = None, next_update: datetime | None = None,
                    signer: rsa.RSAPrivateKey | None = None, delta: bool = False,
                    pem: bool = False) -> bytes:
    """The CA's CRL (DER, or PEM) revoking these serials: issued now and valid a day by
    default; `signer` signs it with another key (a forgery)."""
    issuer = issuer or authority()
    this_update = this_update or datetime.now(UTC) - timedelta(minutes=1)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.certificate.subject)
               .last_update(this_update)
               .next_update(next_update or this_update + timedelta(days=1))
               .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False))
    if delta:
        builder = builder.add_extension(x509.DeltaCRLIndicator(1), critical=True)
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(this_update - timedelta(days=1)).build())
    crl = builder.sign(signer or issuer.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM if pem else serialization.Encoding.DER)

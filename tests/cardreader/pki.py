"""A test public-key infrastructure made with `cryptography`: an issuing CA standing in for
the JPKI one, and My Number card certificates for authentication (利用者証明用電子証明書)
with their RSA keys, with the validity the test wants. Nothing here is a real certificate."""

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


@cache
def authority(name: str = CA_NAME) -> Authority:
    key = _key(2048, sum(name.encode()) % 3)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI Test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(_at(date(2020, 1, 1))).not_valid_after(_at(date(2040, 1, 1)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


def card_certificate(serial: int, *, not_after: date, not_before: date | None = None,
                     issuer: Authority | None = None, key_index: int = 0) -> CardCertificate:
    """A card's authentication certificate valid until `not_after` (end of that day is not
    modelled: the certificate is valid through `not_after`)."""
    issuer = issuer or authority()
    key = _key(2048, 3 + key_index % 4)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(_at(not_before or not_after - timedelta(days=5 * 365)))
        .not_valid_after(_at(not_after) + timedelta(hours=23, minutes=59))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )
    return CardCertificate(certificate.public_bytes(serialization.Encoding.DER), key)

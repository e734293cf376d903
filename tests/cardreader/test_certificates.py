"""A card's authentication certificate checked by cardreader/certificates.py: parsed, issued by
a trusted CA (name and signature), valid by the portal's local date with the 3-month renewal
warning and the 3-month grace after expiry (docs/domain.md §8) — each edge on its exact day — and
the PIN-mode signature over the challenge."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from cardreader.certificates import (
    CertificateRefused,
    check_validity,
    describe_issuer,
    expiry_date,
    load_issuer,
    parse_card_certificate,
    verify_challenge_signature,
    verify_issued_by,
)
from tests.cardreader.pki import (
    CA_NAME,
    CA_USAGE,
    Authority,
    authority,
    card_certificate,
)

TOKYO = ZoneInfo("Asia/Tokyo")


def parsed(card):
    return parse_card_certificate(card.der)


def ending_at(instant: datetime, *, serial: int = 7001):
    """A card certificate whose notAfter is exactly `instant` (the test PKI's own end at
    23:59 UTC; a JPKI one ends 23:59:59 JST)."""
    ca = authority()
    key = card_certificate(serial, not_after=date(2030, 1, 1)).key
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]))
        .issuer_name(ca.certificate.subject).public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(instant - timedelta(days=5 * 365)).not_valid_after(instant)
        .sign(ca.key, hashes.SHA256())
    )
    return parse_card_certificate(certificate.public_bytes(serialization.Encoding.DER))


def validity(expires_on: date, today: date):
    return check_validity(parsed(card_certificate(8001, not_after=expires_on)), today=today,
                          tz=TOKYO)


# ---------------------------------------------------------------- the expiry date E


def test_the_test_pki_certificate_expires_on_the_day_it_was_made_for():
    card = parsed(card_certificate(8001, not_after=date(2024, 9, 15)))
    assert expiry_date(card, TOKYO) == date(2024, 9, 15)


@pytest.mark.parametrize(("not_after", "expires_on"), [
    # JPKI: 23:59:59 JST is 14:59:59 UTC — valid through that day.
    (datetime(2024, 9, 15, 14, 59, 59, tzinfo=UTC), date(2024, 9, 15)),
    # Through 00:00:00 JST of the 16th: the 15th is still covered to its end.
    (datetime(2024, 9, 15, 15, 0, 0, tzinfo=UTC), date(2024, 9, 15)),
    # 08:59 JST on the 16th (the test PKI's 23:59 UTC): the 16th is not covered to its end.
    (datetime(2024, 9, 15, 23, 59, 0, tzinfo=UTC), date(2024, 9, 15)),
    # One second short of the end of the 15th (JST): the 15th is not covered to its end.
    (datetime(2024, 9, 15, 14, 59, 58, tzinfo=UTC), date(2024, 9, 14)),
])
def test_the_expiry_date_is_the_last_local_day_the_certificate_covers(not_after, expires_on):
    assert expiry_date(ending_at(not_after), TOKYO) == expires_on


def test_the_expiry_date_is_read_in_the_portals_time_zone_not_utc():
    card = ending_at(datetime.combine(date(2024, 9, 15), time(23, 59, 59), tzinfo=TOKYO))
    assert expiry_date(card, TOKYO) == date(2024, 9, 15)
    assert expiry_date(card, UTC) == date(2024, 9, 14)  # 14:59:59 UTC: the 15th is not over


# ---------------------------------------------------------------- validity by today's date


def test_expired_two_months_ago_is_accepted_with_the_grace_end_date():
    result = validity(date(2024, 4, 15), today=date(2024, 6, 15))
    assert (result.state, result.grace_until) == ("grace", date(2024, 7, 15))


def test_expired_four_months_ago_is_refused():
    with pytest.raises(CertificateRefused) as refused:
        validity(date(2024, 2, 15), today=date(2024, 6, 15))
    assert refused.value.code == "certificate_expired"
    assert "3か月を過ぎている" in refused.value.message


def test_expiring_in_two_months_is_accepted_with_the_renewal_warning():
    result = validity(date(2024, 8, 15), today=date(2024, 6, 15))
    assert result.state == "expiring"
    assert result.expires_on == date(2024, 8, 15)


@pytest.mark.parametrize(("today", "state"), [
    (date(2024, 6, 14), "valid"),  # the day before E − 3 months: no warning yet
    (date(2024, 6, 15), "expiring"),  # E − 3 months: the warning starts
    (date(2024, 9, 15), "expiring"),  # E: the last valid day
    (date(2024, 9, 16), "grace"),  # the day after E: expired, accepted
    (date(2024, 12, 15), "grace"),  # E + 3 months: the last day accepted
    (date(2024, 12, 16), "refused"),  # and the day after: refused
])
def test_each_edge_on_its_exact_day(today, state):
    expires_on = date(2024, 9, 15)
    if state == "refused":
        with pytest.raises(CertificateRefused):
            validity(expires_on, today=today)
        return
    result = validity(expires_on, today=today)
    assert result.state == state
    assert (result.warning_from, result.grace_until) == (date(2024, 6, 15), date(2024, 12, 15))


@pytest.mark.parametrize(("expires_on", "last_accepted"), [
    (date(2024, 11, 30), date(2025, 2, 28)),  # no 30 February: the month's last day
    (date(2023, 11, 30), date(2024, 2, 29)),  # a leap year
    (date(2024, 8, 31), date(2024, 11, 30)),
    (date(2024, 12, 31), date(2025, 3, 31)),
])
def test_the_grace_period_is_three_calendar_months_clamped_to_the_months_end(
        expires_on, last_accepted):
    assert validity(expires_on, today=last_accepted).grace_until == last_accepted
    with pytest.raises(CertificateRefused):
        validity(expires_on, today=last_accepted + timedelta(days=1))


def test_the_warning_starts_three_calendar_months_before_clamped_to_the_months_end():
    assert validity(date(2024, 5, 31), today=date(2024, 2, 29)).state == "expiring"
    assert validity(date(2024, 5, 31), today=date(2024, 2, 28)).state == "valid"


def test_a_certificate_not_yet_valid_is_refused():
    card = parsed(card_certificate(8002, not_after=date(2030, 1, 1),
                                   not_before=date(2024, 6, 16)))
    with pytest.raises(CertificateRefused) as refused:
        check_validity(card, today=date(2024, 6, 15), tz=TOKYO)
    assert refused.value.code == "certificate_not_yet_valid"
    assert check_validity(card, today=date(2024, 6, 16), tz=TOKYO).state == "valid"


# ---------------------------------------------------------------- the issuing CA


NOW = datetime(2024, 6, 15, 3, 0, tzinfo=UTC)


def trusted(*authorities):
    return [(ca.certificate, ca.certificate) for ca in authorities]


def test_a_certificate_of_the_trusted_ca_is_verified():
    card = parsed(card_certificate(8003, not_after=date(2030, 1, 1)))
    assert verify_issued_by(card, trusted(authority()), now=NOW) == authority().certificate


def test_a_certificate_of_another_ca_is_refused():
    other = authority("Some Other Authentication CA")
    card = parsed(card_certificate(8004, not_after=date(2030, 1, 1), issuer=other))
    with pytest.raises(CertificateRefused) as refused:
        verify_issued_by(card, trusted(authority()), now=NOW)
    assert refused.value.code == "certificate_untrusted"


def test_a_ca_of_the_same_name_with_another_key_is_refused():
    """An impostor CA named like the trusted one: the name matches, the signature does not."""
    key = card_certificate(8005, not_after=date(2030, 1, 1), key_index=2).key
    subject = authority().certificate.subject
    impostor = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(99)
                .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
                .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(CA_USAGE, critical=True)
                .sign(key, hashes.SHA256()))
    card = parsed(card_certificate(8006, not_after=date(2030, 1, 1),
                                   issuer=Authority(impostor, key)))
    assert card.issuer == authority().certificate.subject.rfc4514_string()
    with pytest.raises(CertificateRefused):
        verify_issued_by(card, trusted(authority()), now=NOW)
    assert verify_issued_by(card, [*trusted(authority()), (impostor, impostor)],
                            now=NOW) == impostor


def test_no_trusted_ca_at_all_refuses():
    with pytest.raises(CertificateRefused):
        verify_issued_by(parsed(card_certificate(8007, not_after=date(2030, 1, 1))), [],
                         now=NOW)


@pytest.mark.parametrize("der", [b"", b"\x30\x03\x02\x01\x01", b"not a certificate" * 10,
                                 b"\x30" * (9 * 1024)])
def test_a_malformed_certificate_is_refused(der):
    with pytest.raises(CertificateRefused) as refused:
        parse_card_certificate(der)
    assert refused.value.code == "certificate_malformed"


def test_the_issuer_pem_is_described_by_its_own_content():
    described = describe_issuer(authority().pem)
    assert described.subject == f"CN={CA_NAME},O=JPKI Test,C=JP"
    assert len(described.fingerprint.split(":")) == 32
    assert described.not_after.year == 2040


@pytest.mark.parametrize("pem", [
    "", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    authority().pem + authority("Second CA").pem,
    "長" * 70_000,
])
def test_an_issuer_that_is_no_single_pem_certificate_is_refused(pem):
    with pytest.raises(CertificateRefused):
        load_issuer(pem)


def test_a_card_certificate_is_no_issuer():
    pem = card_certificate(8008, not_after=date(2030, 1, 1)).certificate.public_bytes(
        serialization.Encoding.PEM).decode()
    with pytest.raises(CertificateRefused) as refused:
        load_issuer(pem)
    assert refused.value.code == "issuer_not_ca"


# ---------------------------------------------------------------- PIN mode: the signature


def test_the_cards_signature_of_the_challenge_is_verified():
    card = card_certificate(8009, not_after=date(2030, 1, 1))
    challenge = bytes(range(32))
    verify_challenge_signature(parsed(card), challenge, card.sign(challenge))


@pytest.mark.parametrize("how", ["another challenge", "another card", "garbage", "empty",
                                 "one bit flipped"])
def test_a_bad_signature_is_refused(how):
    card = card_certificate(8010, not_after=date(2030, 1, 1))
    challenge = bytes(range(32))
    signature = {
        "another challenge": lambda: card.sign(bytes(32)),
        "another card": lambda: card_certificate(8011, not_after=date(2030, 1, 1),
                                                 key_index=1).sign(challenge),
        "garbage": lambda: b"\x01" * 256,
        "empty": lambda: b"",
        "one bit flipped": lambda: bytes([card.sign(challenge)[0] ^ 1]) + card.sign(challenge)[1:],
    }[how]()
    with pytest.raises(CertificateRefused) as refused:
        verify_challenge_signature(parsed(card), challenge, signature)
    assert refused.value.code == "signature_invalid"

"""The reader side over the real PC/SC stack: pyscard → pcscd → vpcd → our emulated JPKI card
(see conftest.py). What the card receives is checked on the card itself, not only on what the
reader side says it sent."""

import os
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from cardreader import apdu
from cardreader.reader import (
    CardError,
    CardRemoved,
    InvalidPin,
    NoCard,
    NoReader,
    NotMyNumberCard,
    PinLocked,
    WrongPin,
    list_readers,
    read_card,
    wait_for_card,
)
from tests.cardreader.jpki_card import OTHER_READER, READER, TEST_PIN
from tests.cardreader.pki import card_certificate

WRONG_PIN = "0000"
CHALLENGE = bytes(range(32))


def read(pin=None, challenge=None, **options):
    return read_card(READER, pin=pin, challenge=challenge, timeout=5, **options)


def test_lists_the_two_virtual_readers(pcscd):
    assert {READER, OTHER_READER} <= set(list_readers())


def test_face_check_reads_the_certificate(jpki_card):
    reading = read()

    assert reading.mode == "face"
    assert reading.certificate == jpki_card.certificate.der
    assert reading.signature is None
    assert not [command for command in jpki_card.received if command[1] == 0x20]  # no VERIFY


def test_reads_the_certificate_header_first_then_chunks_of_at_most_255_bytes(jpki_card):
    read()

    reads = [command for command in jpki_card.received if command[:2] == b"\x00\xb0"]
    offsets = [int.from_bytes(command[2:4], "big") for command in reads]
    lengths = [command[4] for command in reads]
    assert (offsets[0], lengths[0]) == (0, 4)
    assert max(lengths) <= 255
    assert offsets == [sum(lengths[:index]) for index in range(len(reads))]
    assert sum(lengths) == len(jpki_card.certificate.der)


def test_pin_mode_returns_the_cards_signature_of_the_challenge(jpki_card):
    reading = read(pin=TEST_PIN, challenge=CHALLENGE)

    assert reading.mode == "pin"
    assert reading.certificate == jpki_card.certificate.der
    jpki_card.certificate.certificate.public_key().verify(
        reading.signature, CHALLENGE, padding.PKCS1v15(), hashes.SHA256())


def test_a_signature_of_another_challenge_does_not_verify(jpki_card):
    from cryptography.exceptions import InvalidSignature

    reading = read(pin=TEST_PIN, challenge=CHALLENGE)

    with pytest.raises(InvalidSignature):
        jpki_card.certificate.certificate.public_key().verify(
            reading.signature, b"another challenge", padding.PKCS1v15(), hashes.SHA256())


def test_wrong_pin_shows_the_tries_left_then_locks(jpki_card):
    with pytest.raises(WrongPin) as first:
        read(pin=WRONG_PIN, challenge=CHALLENGE)
    with pytest.raises(WrongPin) as second:
        read(pin=WRONG_PIN, challenge=CHALLENGE)
    with pytest.raises(PinLocked) as third:
        read(pin=WRONG_PIN, challenge=CHALLENGE)

    assert (first.value.tries_left, second.value.tries_left) == (2, 1)
    assert "2回" in first.value.message and "1回" in second.value.message
    assert third.value.code == "pin_locked" and "目視確認" in third.value.message


def test_a_locked_pin_stays_locked_with_the_right_pin_and_on_another_reading(card_slot):
    card = card_slot.insert()
    for _ in range(3):
        with pytest.raises(CardError):
            read(pin=WRONG_PIN, challenge=CHALLENGE)

    with pytest.raises(PinLocked):
        read(pin=TEST_PIN, challenge=CHALLENGE)
    card_slot.remove()
    card_slot.put_back(card)
    with pytest.raises(PinLocked):
        read(pin=TEST_PIN, challenge=CHALLENGE)
    assert read().certificate == card.certificate.der  # the face check still reads it


def test_the_right_pin_after_a_wrong_one_reads_the_card(jpki_card):
    with pytest.raises(WrongPin):
        read(pin=WRONG_PIN, challenge=CHALLENGE)

    assert read(pin=TEST_PIN, challenge=CHALLENGE).signature
    assert jpki_card.tries_left == 3


def test_a_card_without_the_jpki_application_is_not_a_my_number_card(card_slot):
    card = card_slot.insert(jpki=False)

    with pytest.raises(NotMyNumberCard) as refused:
        read()

    assert refused.value.code == "not_my_number_card"
    assert card.received == [apdu.select_jpki_ap()]  # nothing sent after the refusal


def test_no_card_on_the_reader_times_out(pcscd):
    started = time.monotonic()
    with pytest.raises(NoCard) as waited:
        read_card(OTHER_READER, pin=None, challenge=None, timeout=0.5)

    assert 0.5 <= time.monotonic() - started < 5
    assert waited.value.code == "no_card" and "置いてください" in waited.value.message
    with pytest.raises(NoCard):
        wait_for_card(OTHER_READER, timeout=0)


def test_wait_for_card_returns_once_a_card_is_on_the_reader(jpki_card):
    wait_for_card(READER, timeout=5)


def test_an_unknown_reader_is_reported_by_name(pcscd):
    with pytest.raises(NoReader) as missing:
        read_card("No Such Reader 00 00", pin=None, challenge=None, timeout=0)

    assert missing.value.code == "no_reader"
    assert "No Such Reader 00 00" in missing.value.message


def test_a_card_taken_off_in_the_middle_of_reading(card_slot):
    card = card_slot.insert(remove_after_reads=2)

    with pytest.raises(CardRemoved) as removed:
        read()

    assert card.removed_mid_read
    assert removed.value.code == "card_removed" and "置き直して" in removed.value.message


@pytest.mark.parametrize("at_once", [False, True], ids=["later", "at-once"])
def test_a_card_put_on_the_reader_after_one_was_taken_off_mid_read_is_read(card_slot, at_once):
    """At once: within one of pcscd's polls, so that pcscd never sees the slot empty."""
    card_slot.insert(remove_after_reads=2)
    with pytest.raises(CardRemoved):
        read()
    card_slot.remove(wait=not at_once)

    card = card_slot.insert(card_certificate(1002, not_after=date.today() + timedelta(days=900)))
    assert read().certificate == card.certificate.der


@pytest.mark.parametrize("pin", ["12345", "123", "12a4", "１２３４", "", " 1234", "1234\n"])
def test_a_pin_that_is_not_four_digits_is_refused_before_any_apdu(jpki_card, pin):
    sent = []

    with pytest.raises(InvalidPin) as refused:
        read_card(READER, pin=pin, challenge=CHALLENGE, timeout=5, on_apdu=sent.append)

    assert refused.value.code == "invalid_pin" and "4桁" in refused.value.message
    assert sent == [] and jpki_card.received == []
    assert jpki_card.tries_left == 3


def test_only_the_jpki_application_and_its_three_files_are_ever_selected(jpki_card):
    """docs/domain.md §8: the 12-digit individual number lives in another application (券面事項入力
    補助AP); no APDU may select it, nor any application or file but the JPKI ones read here."""
    sent = []
    read(on_apdu=sent.append)
    read(pin=TEST_PIN, challenge=CHALLENGE, on_apdu=sent.append)
    with pytest.raises(WrongPin):
        read(pin=WRONG_PIN, challenge=CHALLENGE, on_apdu=sent.append)

    allowed_selects = {apdu.select_jpki_ap()} | {apdu.select_ef(ef) for ef in apdu.FILES}
    for commands in (sent, jpki_card.received):
        selects = [command for command in commands if command[:2] == b"\x00\xa4"]
        assert selects and set(selects) <= allowed_selects
        assert {command[:2] for command in commands} <= {
            b"\x00\xa4", b"\x00\xb0", b"\x00\x20", b"\x80\x2a"}
    # The audit is what the card received, the PIN of each VERIFY masked.
    assert sent == [apdu.masked(command) for command in jpki_card.received]
    assert apdu.verify_pin(TEST_PIN) in jpki_card.received
    assert all(TEST_PIN.encode() not in command for command in sent)


def test_neither_the_pin_nor_the_certificate_reaches_the_logs(jpki_card, caplog):
    read(pin=TEST_PIN, challenge=CHALLENGE)
    with pytest.raises(WrongPin):
        read(pin=WRONG_PIN, challenge=CHALLENGE)
    reading = read()

    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "card read on" in text  # the reads are logged...
    assert TEST_PIN not in text and WRONG_PIN not in text  # ...without what was typed
    assert reading.certificate.hex() not in text.lower()
    assert str(jpki_card.certificate.serial) not in text
    assert "certificate" not in repr(reading) and TEST_PIN not in repr(reading)


def test_no_pc_sc_service_is_reported_as_reader_unavailable(pcscd, tmp_path):
    """pcscd not running, as pcsc-lite's client sees it: its socket is not there."""
    script = ("from cardreader.reader import CardError, list_readers\n"
              "try:\n    list_readers()\n"
              "except CardError as error:\n    print(error.code, error.message)\n")
    environment = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}

    result = subprocess.run([sys.executable, "-c", script], env=environment, text=True,
                            capture_output=True, timeout=30, check=True)

    assert result.stdout.startswith("reader_unavailable ")
    assert "PC/SC" in result.stdout and "Traceback" not in result.stderr


def test_pin_mode_needs_a_challenge():
    with pytest.raises(ValueError):
        read_card(READER, pin=TEST_PIN, challenge=None)


@pytest.mark.parametrize(("sw", "error", "tries_left"), [
    (0x63C2, WrongPin, 2), (0x63C1, WrongPin, 1), (0x63C0, PinLocked, None),
    (0x6983, PinLocked, None), (0x6984, PinLocked, None),
])
def test_verify_status_words(sw, error, tries_left):
    with pytest.raises(error) as raised:
        apdu.check_verify(apdu.Response(b"", sw))

    assert getattr(raised.value, "tries_left", None) == tries_left


def test_select_of_the_application_not_found_means_not_a_my_number_card():
    with pytest.raises(NotMyNumberCard):
        apdu.check_select_ap(apdu.Response(b"", 0x6A82))

"""The reader side (runs on the facility's PC): reads a My Number card's user authentication
certificate (利用者証明用電子証明書) over PC/SC with pyscard and, in PIN mode, has the card
sign the portal's one-time challenge (docs/domain.md §8).

    list_readers() -> list[str]
    wait_for_card(reader_name, *, timeout) -> None
    read_card(reader_name, *, pin, challenge, timeout=..., on_apdu=None) -> CardReading

Every failure is a `CardError` (see `cardreader.apdu`) with a `code` and a Japanese `message`
for the counter; pyscard's own errors never escape. The APDUs sent are only those of
`cardreader.apdu`: the JPKI application and its three authentication files, nothing else.
Neither the PIN nor the certificate is ever logged; `on_apdu` sees each command as sent, the
PIN digits of a VERIFY masked.

No Django here: this module runs where the reader is, next to a small agent or the `counter`
command, and pyscard is its only dependency (imported lazily enough that the portal can import
the error classes without it).
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from cardreader import apdu
from cardreader.apdu import (
    CardError,
    CardProtocolError,
    CardRemoved,
    InvalidPin,
    NoCard,
    NoReader,
    NotMyNumberCard,
    PinLocked,
    ReaderUnavailable,
    WrongPin,
)

try:
    from smartcard import scard
except ImportError:  # the portal may import the error classes on a machine without pyscard
    scard = None

__all__ = [
    "CardError", "CardInUse", "CardProtocolError", "CardReading", "CardRemoved", "InvalidPin",
    "NoCard", "NoReader", "NotMyNumberCard", "PinLocked", "ReaderUnavailable", "WrongPin",
    "list_readers", "read_card", "wait_for_card",
]

logger = logging.getLogger(__name__)

# How long read_card waits for a card to be put on the reader, by default (seconds).
DEFAULT_WAIT = 10.0


class CardInUse(CardError):
    code = "card_in_use"
    message = "カードが他のソフトウェアで使用中です。そのソフトウェアを閉じてから、もう一度お試しください。"


@dataclass(frozen=True)
class CardReading:
    """What the reader side sends to the portal. `signature` is the card's RSA PKCS#1 v1.5
    signature over the SHA-256 DigestInfo of the challenge (PIN mode only)."""

    certificate: bytes = field(repr=False)
    signature: bytes | None = field(repr=False)
    mode: Literal["pin", "face"]


# ------------------------------------------------------------------------------ the API
def list_readers() -> list[str]:
    with _context() as context:
        return _readers(context)


def wait_for_card(reader_name: str, *, timeout: float) -> None:
    """Returns once a card is on `reader_name`; `NoCard` after `timeout` seconds without one."""
    with _context() as context:
        _wait_for_card(context, reader_name, timeout)


def read_card(reader_name: str, *, pin: str | None, challenge: bytes | None,
              timeout: float = DEFAULT_WAIT,
              on_apdu: Callable[[bytes], None] | None = None) -> CardReading:
    """Reads the card on `reader_name` (waiting up to `timeout` seconds for one).

    Face-check mode (目視, `pin=None`): the certificate only. PIN mode: the certificate, then
    VERIFY of the 4-digit PIN and the card's signature of `challenge`. A PIN that is not four
    ASCII digits is refused (`InvalidPin`) before anything reaches the reader: callers
    normalise what staff typed (full-width digits) first."""
    if pin is not None:
        apdu.check_pin(pin)
        if not challenge:
            raise ValueError("PIN mode signs the portal's challenge: a challenge is required")
    elif challenge is not None:
        raise ValueError("face-check mode signs nothing: no challenge")
    mode: Literal["pin", "face"] = "face" if pin is None else "pin"
    try:
        with _context() as context:
            _wait_for_card(context, reader_name, timeout)
            with _connection(context, reader_name, on_apdu) as card:
                card.send(apdu.select_jpki_ap(), apdu.check_select_ap)
                certificate = _read_certificate(card)
                signature = None
                if pin is not None:
                    card.send(apdu.select_ef(apdu.EF_AUTH_PIN), apdu.check_ok)
                    card.send(apdu.verify_pin(pin), apdu.check_verify)
                    card.send(apdu.select_ef(apdu.EF_AUTH_KEY), apdu.check_ok)
                    signature = card.send(
                        apdu.compute_digital_signature(apdu.sha256_digest_info(challenge)),
                        apdu.check_ok)
                    if not signature:
                        raise CardProtocolError()
    except CardError as error:
        logger.info("card read failed on %s (%s mode): %s", reader_name, mode, error.code)
        raise
    logger.info("card read on %s (%s mode)", reader_name, mode)
    return CardReading(certificate=certificate, signature=signature, mode=mode)


# ------------------------------------------------------------------------- the card's files
def _read_certificate(card: "_Card") -> bytes:
    """EF 000A in READ BINARY chunks: the DER header first (for the length), then the rest."""
    card.send(apdu.select_ef(apdu.EF_AUTH_CERTIFICATE), apdu.check_ok)
    header = card.send(apdu.read_binary(0, apdu.CERTIFICATE_HEADER_LENGTH), apdu.check_ok)
    total = apdu.certificate_length(header)
    if total > 0x7FFF:
        raise CardProtocolError()
    data = bytearray(header)
    while len(data) < total:
        chunk = card.send(apdu.read_binary(len(data), min(apdu.MAX_CHUNK, total - len(data))),
                          apdu.check_ok)
        if not chunk:
            raise CardProtocolError()
        data += chunk
    return bytes(data[:total])


# ------------------------------------------------------------------------------- PC/SC
def _pcsc():
    if scard is None:
        raise ReaderUnavailable("カードリーダーを使うためのソフトウェア（pyscard）が入っていません。"
                                "システムの管理者に連絡してください。")
    return scard


def _call(function: str, *arguments):
    """A pyscard call; its own exceptions (pyscard raises SystemError on a stale handle, for
    one) become a `CardError` like every other failure."""
    try:
        return getattr(_pcsc(), function)(*arguments)
    except Exception as error:  # noqa: BLE001 - pyscard's own errors never reach the counter
        logger.warning("PC/SC %s raised %s", function, type(error).__name__)
        raise CardError() from error


def _quietly(function: str, *arguments) -> None:
    """Releasing what was taken: its failure must not hide the error being reported."""
    try:
        getattr(_pcsc(), function)(*arguments)
    except Exception as error:  # noqa: BLE001 - release only
        logger.warning("PC/SC %s raised %s", function, type(error).__name__)


def _unavailable_codes() -> set[int]:
    pcsc = _pcsc()
    return {pcsc.SCARD_E_NO_SERVICE, pcsc.SCARD_E_SERVICE_STOPPED, pcsc.SCARD_F_COMM_ERROR}


def _removed_codes() -> set[int]:
    pcsc = _pcsc()
    return {pcsc.SCARD_W_REMOVED_CARD, pcsc.SCARD_E_NO_SMARTCARD, pcsc.SCARD_W_RESET_CARD,
            pcsc.SCARD_E_NOT_TRANSACTED, pcsc.SCARD_W_UNPOWERED_CARD,
            pcsc.SCARD_W_UNRESPONSIVE_CARD, pcsc.SCARD_E_INVALID_HANDLE}


def _no_reader(reader_name: str) -> NoReader:
    return NoReader(f"カードリーダー「{reader_name}」が見つかりません。"
                    "カードリーダーがパソコンにつながっているか確認してください。")


@contextmanager
def _context() -> Iterator[int]:
    pcsc = _pcsc()
    hresult, context = _call("SCardEstablishContext", pcsc.SCARD_SCOPE_USER)
    if hresult != pcsc.SCARD_S_SUCCESS:
        logger.warning("PC/SC unavailable: %s", _describe(hresult))
        raise ReaderUnavailable()
    try:
        yield context
    finally:
        _quietly("SCardReleaseContext", context)


def _readers(context: int) -> list[str]:
    pcsc = _pcsc()
    hresult, readers = _call("SCardListReaders", context, [])
    if hresult == pcsc.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if hresult != pcsc.SCARD_S_SUCCESS:
        logger.warning("PC/SC could not list readers: %s", _describe(hresult))
        raise ReaderUnavailable()
    return list(readers)


def _wait_for_card(context: int, reader_name: str, timeout: float) -> None:
    pcsc = _pcsc()
    readers = _readers(context)
    if not readers:
        raise NoReader()
    if reader_name not in readers:
        raise _no_reader(reader_name)
    deadline = time.monotonic() + max(timeout, 0.0)
    known = pcsc.SCARD_STATE_UNAWARE
    mute = False
    while True:
        # The first call (state unaware) returns at once with the reader's state; the next
        # ones block in pcscd until that state changes or the time is up.
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        hresult, states = _call("SCardGetStatusChange", context, remaining,
                                [(reader_name, known)])
        if hresult == pcsc.SCARD_E_TIMEOUT:
            break
        if hresult in (pcsc.SCARD_E_UNKNOWN_READER, pcsc.SCARD_E_READER_UNAVAILABLE):
            raise _no_reader(reader_name)
        if hresult in _unavailable_codes():
            raise ReaderUnavailable()
        if hresult != pcsc.SCARD_S_SUCCESS:
            logger.warning("PC/SC status change failed: %s", _describe(hresult))
            raise CardError()
        _, event_state, _atr = states[0]
        if event_state & (pcsc.SCARD_STATE_UNKNOWN | pcsc.SCARD_STATE_UNAVAILABLE):
            raise _no_reader(reader_name)
        mute = bool(event_state & pcsc.SCARD_STATE_MUTE)
        if event_state & pcsc.SCARD_STATE_PRESENT and not mute:
            return
        known = event_state & ~pcsc.SCARD_STATE_CHANGED
        if time.monotonic() >= deadline:
            break
    if mute:
        raise CardProtocolError("カードが応答しません。カードの向きを確かめて置き直してください。")
    raise NoCard()


class _Card:
    """One connected card: sends an APDU, reports it to the audit hook, checks the answer."""

    def __init__(self, reader_name: str, handle: int, protocol: int,
                 on_apdu: Callable[[bytes], None] | None):
        pcsc = _pcsc()
        self.reader_name = reader_name
        self.handle = handle
        self.pci = pcsc.SCARD_PCI_T0 if protocol == pcsc.SCARD_PROTOCOL_T0 else pcsc.SCARD_PCI_T1
        self.on_apdu = on_apdu

    def send(self, command: bytes, check: Callable[[apdu.Response], None]) -> bytes:
        pcsc = _pcsc()
        if self.on_apdu is not None:
            self.on_apdu(apdu.masked(command))
        hresult, raw = _call("SCardTransmit", self.handle, self.pci, list(command))
        if hresult in _removed_codes():
            raise CardRemoved()
        if hresult in _unavailable_codes():
            raise ReaderUnavailable()
        if hresult in (pcsc.SCARD_E_UNKNOWN_READER, pcsc.SCARD_E_READER_UNAVAILABLE):
            raise _no_reader(self.reader_name)  # the reader itself was unplugged
        if hresult != pcsc.SCARD_S_SUCCESS:
            logger.warning("PC/SC transmit failed: %s", _describe(hresult))
            raise CardError()
        if len(raw) < 2:
            # No status word at all: the card went away during the command (vpcd, for one,
            # then reports success with an empty answer).
            raise CardRemoved()
        response = apdu.Response.parse(bytes(raw))
        check(response)
        return response.data


@contextmanager
def _connection(context: int, reader_name: str,
                on_apdu: Callable[[bytes], None] | None) -> Iterator[_Card]:
    pcsc = _pcsc()
    hresult, handle, protocol = _call("SCardConnect", context, reader_name,
                                      pcsc.SCARD_SHARE_SHARED,
                                      pcsc.SCARD_PROTOCOL_T0 | pcsc.SCARD_PROTOCOL_T1)
    if hresult in (pcsc.SCARD_E_NO_SMARTCARD, pcsc.SCARD_W_REMOVED_CARD):
        raise NoCard()
    if hresult == pcsc.SCARD_E_SHARING_VIOLATION:
        raise CardInUse()
    if hresult in _unavailable_codes():
        raise ReaderUnavailable()
    if hresult in (pcsc.SCARD_E_UNKNOWN_READER, pcsc.SCARD_E_READER_UNAVAILABLE):
        raise _no_reader(reader_name)
    if hresult != pcsc.SCARD_S_SUCCESS:
        logger.warning("PC/SC connect failed: %s", _describe(hresult))
        raise CardError()
    # Reset when done: the PIN verified for this read must not stay verified for another
    # program. A card that went away is left alone (resetting it fails, and pcscd then marks
    # the slot empty behind its own poller's back: a card put back at once went unseen).
    disposition = pcsc.SCARD_RESET_CARD
    try:
        # One transaction: no other program's APDU comes between our SELECT and our reads.
        hresult = _call("SCardBeginTransaction", handle)
        if hresult in _removed_codes():
            disposition = pcsc.SCARD_LEAVE_CARD
            raise CardRemoved()
        if hresult != pcsc.SCARD_S_SUCCESS:
            raise CardInUse()
        try:
            yield _Card(reader_name, handle, protocol, on_apdu)
        except CardRemoved:
            disposition = pcsc.SCARD_LEAVE_CARD
            raise
        finally:
            _quietly("SCardEndTransaction", handle, pcsc.SCARD_LEAVE_CARD)
    finally:
        _quietly("SCardDisconnect", handle, disposition)


def _describe(hresult: int) -> str:
    try:
        return f"{_pcsc().SCardGetErrorMessage(hresult)} ({hresult & 0xFFFFFFFF:#010x})"
    except Exception:  # noqa: BLE001 - only for a log line
        return f"{hresult & 0xFFFFFFFF:#010x}"

"""A My Number card of ours for the tests: the JPKI application (公的個人認証AP) with the user
authentication certificate (EF 000A), its key (EF 0017) and its PIN (EF 0018), put on
vsmartcard's virtual reader (vpcd) through its socket, so that pyscard reaches it through
pcscd exactly as it reaches a card on a hardware reader.

vpcd (a pcscd driver) listens on 127.0.0.1:35963 for its first reader ("Virtual PCD 00 00")
and 35964 for the second; the card connects as a client. Inserting the card is connecting,
removing it is closing the socket. Every message either way is a 2-byte big-endian length
then the payload; a 1-byte payload from vpcd is a control (0 power off, 1 power on, 2 reset,
4 send the ATR, answered with the ATR), anything longer is a command APDU, answered with the
response APDU in the same framing.

The card holds no individual number: any other application's AID is answered 6A 82, and
every command APDU received is kept in `received` for the tests to check what reached it.
"""

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass

from cardreader import apdu
from tests.cardreader.pki import CardCertificate

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963  # "Virtual PCD 00 00"; 35964 is "Virtual PCD 00 01"
READER = "Virtual PCD 00 00"
OTHER_READER = "Virtual PCD 00 01"

POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4
PIN_TRIES = 3
TEST_PIN = "4321"


def _atr(historical: bytes) -> bytes:
    """TS 3B (direct convention), T0 announcing TD1 and the historical bytes, TD1 → TD2,
    TD2: T=1; then the historical bytes and the check byte (XOR of all after TS)."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    check = 0
    for byte in body:
        check ^= byte
    return b"\x3b" + body + bytes([check])


ATR = _atr(b"JPKITEST")


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None

    @classmethod
    def parse(cls, raw: bytes) -> "Command | None":
        """A short APDU (ISO 7816-3 cases 1 to 4), or None when its lengths do not add up."""
        if len(raw) < 4:
            return None
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2, b"", None)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, b"", body[0] or 256)
        lc = body[0]
        if lc == 0 or len(body) not in (1 + lc, 2 + lc):
            return None
        le = (body[-1] or 256) if len(body) == 2 + lc else None
        return cls(cla, ins, p1, p2, bytes(body[1:1 + lc]), le)


def pkcs1_v15_sign(card: CardCertificate, digest_info: bytes) -> bytes | None:
    """What the card's RSA engine does: EMSA-PKCS1-v1_5 padding of the DigestInfo it was
    given (it does not hash), then the private-key operation."""
    private = card.key.private_numbers()
    modulus = private.public_numbers.n
    size = (modulus.bit_length() + 7) // 8
    if len(digest_info) > size - 11:
        return None
    encoded = b"\x00\x01" + b"\xff" * (size - 3 - len(digest_info)) + b"\x00" + digest_info
    return pow(int.from_bytes(encoded, "big"), private.d, modulus).to_bytes(size, "big")


class JpkiCard:
    """An emulated My Number card. `jpki=False`: a card without the JPKI application (any
    other IC card). `remove_after_reads=N`: the card leaves the reader when the READ BINARY
    after the N-th arrives (unanswered). The PIN try counter survives resets and removal, as
    on a card; the PIN's verified state does not."""

    def __init__(self, certificate: CardCertificate, *, pin: str = TEST_PIN, jpki: bool = True,
                 remove_after_reads: int | None = None, host: str = VPCD_HOST,
                 port: int = VPCD_PORT):
        self.certificate = certificate
        self.pin = pin
        self.jpki = jpki
        self.remove_after_reads = remove_after_reads
        self.address = (host, port)
        self.tries_left = PIN_TRIES
        self.received: list[bytes] = []
        self.controls: list[int] = []
        self.reads = 0
        self.removed_mid_read = False
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._polled = threading.Event()
        self._reset_state()

    # ------------------------------------------------------------- on and off the reader
    def insert(self, timeout: float = 5.0) -> "JpkiCard":
        """Connects to vpcd and serves it in a background thread; returns once vpcd has asked
        for the ATR (pcscd polls the reader: the card is then seen as present)."""
        if self._thread is not None:
            raise RuntimeError("the card is already on the reader")
        self._polled.clear()
        self._socket = socket.create_connection(self.address, timeout=timeout)
        self._socket.settimeout(None)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._thread = threading.Thread(target=self._serve, args=(self._socket,),
                                        name="jpki-card", daemon=True)
        self._thread.start()
        if not self._polled.wait(timeout):
            self.remove()
            raise RuntimeError(f"vpcd at {self.address} never asked for the ATR: is pcscd running?")
        return self

    def remove(self) -> None:
        connection, thread = self._socket, self._thread
        self._socket = self._thread = None
        if connection is not None:
            with contextlib.suppress(OSError):  # closed by the card itself (mid-read)
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        if thread is not None:
            thread.join(timeout=5)
        self._reset_state()

    def __enter__(self) -> "JpkiCard":
        return self.insert()

    def __exit__(self, *exc) -> None:
        self.remove()

    # ------------------------------------------------------------------- the vpcd protocol
    def _serve(self, connection: socket.socket) -> None:
        try:
            while True:
                message = _receive(connection)
                if message is None:
                    return
                if len(message) == 1:
                    self._control(connection, message[0])
                    continue
                self.received.append(message)
                response = self.respond(message)
                if response is None:  # taken off the reader in the middle of a read
                    self.removed_mid_read = True
                    connection.shutdown(socket.SHUT_RDWR)
                    return
                _send(connection, response)
        except OSError:
            return  # the socket was closed under us: the card was removed

    def _control(self, connection: socket.socket, control: int) -> None:
        self.controls.append(control)
        if control == GET_ATR:
            _send(connection, ATR)
            self._polled.set()
        elif control in (POWER_OFF, POWER_ON, RESET):
            self._reset_state()

    # ----------------------------------------------------------------------- the card
    def _reset_state(self) -> None:
        self._application_selected = False
        self._current_file: bytes | None = None
        self._verified = False

    def respond(self, raw: bytes) -> bytes | None:
        command = Command.parse(raw)
        if command is None:
            return _sw(0x6700)
        if command.cla == 0x00 and command.ins == 0xA4:
            return self._select(command)
        if command.cla == 0x00 and command.ins == 0xB0:
            return self._read_binary(command)
        if command.cla == 0x00 and command.ins == 0x20:
            return self._verify(command)
        if command.cla == 0x80 and command.ins == 0x2A:
            return self._sign(command)
        if command.cla not in (0x00, 0x80):
            return _sw(0x6E00)
        return _sw(0x6D00)

    def _select(self, command: Command) -> bytes:
        if command.p1 == 0x04:  # by DF name
            if self.jpki and command.data == apdu.JPKI_AID:
                self._reset_state()
                self._application_selected = True
                return _sw(0x9000)
            return _sw(0x6A82)
        if command.p1 == 0x02:  # an EF under the current DF
            if self._application_selected and command.data in apdu.FILES:
                self._current_file = command.data
                return _sw(0x9000)
            return _sw(0x6A82)
        return _sw(0x6A86)

    def _read_binary(self, command: Command) -> bytes | None:
        if self._current_file != apdu.EF_AUTH_CERTIFICATE:
            return _sw(0x6986)
        if self.remove_after_reads is not None and self.reads >= self.remove_after_reads:
            return None
        self.reads += 1
        der = self.certificate.der
        offset = (command.p1 & 0x7F) << 8 | command.p2
        if offset > len(der):
            return _sw(0x6B00)
        return der[offset:offset + (command.le or 256)] + _sw(0x9000)

    def _verify(self, command: Command) -> bytes:
        if self._current_file != apdu.EF_AUTH_PIN or command.p2 != 0x80:
            return _sw(0x6986)
        if self.tries_left == 0:
            return _sw(apdu.SW_PIN_LOCKED)
        if not command.data:  # asks how many tries are left, costs none
            return _sw(0x63C0 | self.tries_left)
        if command.data == self.pin.encode("ascii"):
            self.tries_left = PIN_TRIES
            self._verified = True
            return _sw(0x9000)
        self._verified = False
        self.tries_left -= 1
        return _sw(0x63C0 | self.tries_left)  # 63 C0: that was the last try, now locked

    def _sign(self, command: Command) -> bytes:
        if self._current_file != apdu.EF_AUTH_KEY or command.p1 != 0x00 or command.p2 != 0x80:
            return _sw(0x6986)
        if not self._verified:
            return _sw(apdu.SW_SECURITY_NOT_SATISFIED)
        signature = pkcs1_v15_sign(self.certificate, command.data)
        if signature is None:
            return _sw(0x6700)
        return signature + _sw(0x9000)


def _receive(connection: socket.socket) -> bytes | None:
    # vpcd writes without TCP_NODELAY: each command would wait for our delayed ACK of the
    # previous exchange (about 40 ms an APDU) unless we acknowledge at once. Linux only.
    if hasattr(socket, "TCP_QUICKACK"):
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    header = _exactly(connection, 2)
    if header is None:
        return None
    (length,) = struct.unpack(">H", header)
    return _exactly(connection, length)


def _exactly(connection: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _send(connection: socket.socket, payload: bytes) -> None:
    connection.sendall(struct.pack(">H", len(payload)) + payload)

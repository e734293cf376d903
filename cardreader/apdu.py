"""The APDUs the reader side sends to a My Number card's JPKI application (公的個人認証AP),
what the card's status words mean, and the one error hierarchy the reader side raises.

Pure: no PC/SC and no Django here, so the emulated card in the tests and the reader agree on
one definition. Only the JPKI application and three of its files are ever addressed: the user
authentication certificate (利用者証明用電子証明書, EF 000A), its private key (EF 0017) and
its PIN (EF 0018). No APDU here can select the 券面事項入力補助AP, which holds the 12-digit
individual number the portal must never read (docs/domain.md §8).
"""

import hashlib
import re
from dataclasses import dataclass

JPKI_AID = bytes.fromhex("D3 92 F0 00 26 01 00 00 00 01")
EF_AUTH_CERTIFICATE = bytes.fromhex("000A")
EF_AUTH_KEY = bytes.fromhex("0017")
EF_AUTH_PIN = bytes.fromhex("0018")
FILES = (EF_AUTH_CERTIFICATE, EF_AUTH_KEY, EF_AUTH_PIN)

# A short READ BINARY returns at most 255 bytes when Le is written as one non-zero byte.
MAX_CHUNK = 255
# DER of an X.509 certificate: SEQUENCE with a two-byte length (30 82 LL LL).
CERTIFICATE_HEADER_LENGTH = 4
# The JPKI user-authentication PIN: four digits (the card itself counts the tries: 3).
PIN_PATTERN = re.compile(r"[0-9]{4}")

# DigestInfo prefix for SHA-256 (RFC 8017 §9.2, note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex(
    "30 31 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20")

SW_OK = 0x9000
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_PIN_BLOCKED = 0x6983
SW_PIN_LOCKED = 0x6984
SW_NOT_FOUND = 0x6A82


# ------------------------------------------------------------------------- building commands
def select_jpki_ap() -> bytes:
    """SELECT by DF name (P1 04), no response data (P2 0C)."""
    return bytes([0x00, 0xA4, 0x04, 0x0C, len(JPKI_AID)]) + JPKI_AID


def select_ef(file_id: bytes) -> bytes:
    """SELECT an EF of the current DF by its file identifier (P1 02), no response data."""
    if file_id not in FILES:
        raise ValueError("only the JPKI authentication files are ever selected")
    return bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + file_id


def read_binary(offset: int, length: int) -> bytes:
    if not 0 <= offset <= 0x7FFF:
        raise ValueError("READ BINARY offset out of range")
    if not 1 <= length <= MAX_CHUNK:
        raise ValueError("READ BINARY chunk out of range")
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, length])


def verify_pin(pin: str) -> bytes:
    """VERIFY the user-authentication PIN (P2 80: the PIN of the current DF)."""
    check_pin(pin)
    return bytes([0x00, 0x20, 0x00, 0x80, 0x04]) + pin.encode("ascii")


def compute_digital_signature(digest_info: bytes) -> bytes:
    """COMPUTE DIGITAL SIGNATURE with the selected key (JPKI's proprietary CLA 80), Le 00:
    the whole signature (256 bytes for a 2048-bit key)."""
    if not 1 <= len(digest_info) <= 255:
        raise ValueError("DigestInfo does not fit a short APDU")
    return bytes([0x80, 0x2A, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00"


def sha256_digest_info(challenge: bytes) -> bytes:
    """What the card signs (PKCS#1 v1.5 padding is the card's): DigestInfo of SHA-256."""
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(challenge).digest()


def certificate_length(header: bytes) -> int:
    """Total DER length from the first four bytes of the certificate (30 82 LL LL)."""
    if len(header) < CERTIFICATE_HEADER_LENGTH or header[0] != 0x30 or header[1] != 0x82:
        raise CardProtocolError("EF 000A does not start with a DER certificate")
    return CERTIFICATE_HEADER_LENGTH + int.from_bytes(header[2:4], "big")


def masked(command: bytes) -> bytes:
    """The command as an audit may keep it: a VERIFY's PIN digits replaced by '*'."""
    if command[:2] == b"\x00\x20" and len(command) > 5:
        return command[:5] + b"*" * (len(command) - 5)
    return command


def check_pin(pin: str) -> None:
    """Refuses anything but exactly four ASCII digits before it can reach the card (a
    malformed PIN sent to the card would still cost one of the three tries)."""
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise InvalidPin()


# ------------------------------------------------------------------------ the error hierarchy
class CardError(Exception):
    """Every failure the reader side reports: `code` for programs, `message` (Japanese) for
    the staff at the counter. Nothing else escapes `cardreader.reader`."""

    code = "card_error"
    message = "カードを読み取れませんでした。カードを置き直して、もう一度お試しください。"

    def __init__(self, message: str | None = None):
        if message is not None:
            self.message = message
        super().__init__(self.message)


class ReaderUnavailable(CardError):
    code = "reader_unavailable"
    message = ("カードリーダーを使う準備ができていません（PC/SC サービスが動いていません）。"
               "パソコンを再起動するか、システムの管理者に連絡してください。")


class NoReader(CardError):
    code = "no_reader"
    message = "カードリーダーが見つかりません。カードリーダーがパソコンにつながっているか確認してください。"


class NoCard(CardError):
    code = "no_card"
    message = "カードが置かれていません。マイナンバーカードをカードリーダーに置いてください。"


class NotMyNumberCard(CardError):
    code = "not_my_number_card"
    message = "マイナンバーカードではないカードです。マイナンバーカードを置いてください。"


class InvalidPin(CardError):
    code = "invalid_pin"
    message = "暗証番号は数字4桁で入力してください。"


class WrongPin(CardError):
    code = "wrong_pin"

    def __init__(self, tries_left: int):
        self.tries_left = tries_left
        warning = "次に間違えると暗証番号がロックされます。" if tries_left == 1 else ""
        super().__init__(f"暗証番号が違います。残りの入力回数は{tries_left}回です。{warning}")


class PinLocked(CardError):
    code = "pin_locked"
    message = ("暗証番号がロックされています。目視確認（顔写真で本人を確認する方法）で資格確認を"
               "行ってください。ロックの解除は、お住まいの市区町村の窓口でできます。")


class CardRemoved(CardError):
    code = "card_removed"
    message = "読み取り中にカードが離れました。カードをカードリーダーに置き直して、もう一度お試しください。"


class CardProtocolError(CardError):
    """The card answered something a JPKI card does not (an unexpected status word)."""

    code = "card_error"


# ------------------------------------------------------------------------ reading responses
@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> "Response":
        if len(raw) < 2:
            raise CardProtocolError()
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


def check_select_ap(response: Response) -> None:
    if response.sw == SW_NOT_FOUND:
        raise NotMyNumberCard()
    _expect_ok(response)


def check_verify(response: Response) -> None:
    """63 Cn: wrong PIN, n tries left (n = 0: that was the last one); 69 83 / 69 84: locked."""
    sw = response.sw
    if sw in (SW_PIN_LOCKED, SW_PIN_BLOCKED):
        raise PinLocked()
    if sw & 0xFFF0 == 0x63C0:
        tries_left = sw & 0x000F
        if tries_left == 0:
            raise PinLocked()
        raise WrongPin(tries_left)
    _expect_ok(response)


def check_ok(response: Response) -> None:
    _expect_ok(response)


def _expect_ok(response: Response) -> None:
    if response.sw != SW_OK:
        raise CardProtocolError(
            f"カードを読み取れませんでした（カードの応答 {response.sw:04X}）。"
            "カードを置き直して、もう一度お試しください。")

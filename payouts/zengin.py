"""The 全銀協 総合振込 transfer file (docs/domain.md §5.4), written from plain dataclasses.

The file is a sequence of 120-byte fixed-length records — one header (データ区分 1), one data
record per transfer (2), one trailer (8) and one end record (9) — in JIS X 0201 (half-width
katakana, upper-case letters, digits and a few symbols) written as Shift_JIS (cp932) bytes, so
that every character is exactly one byte.

Layout (位置 = 1-based byte positions; N = digits, right-aligned, zero-padded; C = 全銀
characters, left-aligned, space-padded):

ヘッダー・レコード (header)

==  ==================  =======  ==  =  =========================================
#   項目                位置     桁  型  内容
==  ==================  =======  ==  =  =========================================
1   データ区分          1        1   N  ``1``
2   種別コード          2–3      2   N  ``21`` (総合振込)
3   コード区分          4        1   N  ``0`` (JIS)
4   振込依頼人コード    5–14     10  N  依頼人コード (assigned by the bank)
5   振込依頼人名        15–54    40  C  依頼人名 (kana)
6   取組日              55–58    4   N  振込指定日 as MMDD
7   仕向銀行番号        59–62    4   N  the consignor's bank
8   仕向銀行名          63–77    15  C
9   仕向支店番号        78–80    3   N
10  仕向支店名          81–95    15  C
11  預金種目 (依頼人)   96       1   N  1 普通, 2 当座, 9 その他
12  口座番号 (依頼人)   97–103   7   N
13  ダミー              104–120  17  C  spaces
==  ==================  =======  ==  =  =========================================

データ・レコード (data, one per transfer)

==  ==================  =======  ==  =  =========================================
#   項目                位置     桁  型  内容
==  ==================  =======  ==  =  =========================================
1   データ区分          1        1   N  ``2``
2   被仕向銀行番号      2–5      4   N  the payee's bank
3   被仕向銀行名        6–20     15  C
4   被仕向支店番号      21–23    3   N
5   被仕向支店名        24–38    15  C
6   手形交換所番号      39–42    4   N  not used: ``0000``
7   預金種目            43       1   N  1 普通, 2 当座, 4 貯蓄, 9 その他
8   口座番号            44–50    7   N
9   受取人名            51–80    30  C  the account holder's name (kana)
10  振込金額            81–90    10  N  yen, 1 … 9,999,999,999
11  新規コード          91       1   N  ``0`` (その他)
12  顧客コード1         92–101   10  N  the payment line's number
13  顧客コード2         102–111  10  N  optional; ``0000000000`` when absent
14  振込指定区分        112      1   N  ``7`` (テレ振込 / 電信扱)
15  識別表示            113      1   C  space (fields 12–13 are 顧客コード, not EDI 情報)
16  ダミー              114–120  7   C  spaces
==  ==================  =======  ==  =  =========================================

トレーラ・レコード (trailer)

==  ==================  =======  ===  =  =========================================
#   項目                位置     桁   型  内容
==  ==================  =======  ===  =  =========================================
1   データ区分          1        1    N  ``8``
2   合計件数            2–7      6    N  number of data records, ≤ 999,999
3   合計金額            8–19     12   N  sum of 振込金額, ≤ 999,999,999,999
4   ダミー              20–120   101  C  spaces
==  ==================  =======  ===  =  =========================================

エンド・レコード (end)

==  ==================  =======  ===  =  =========================================
#   項目                位置     桁   型  内容
==  ==================  =======  ===  =  =========================================
1   データ区分          1        1    N  ``9``
2   ダミー              2–120    119  C  spaces
==  ==================  =======  ===  =  =========================================

Decisions:

* Line ends: every record, the end record included, is followed by CR LF, so the file is
  122 × (lines + 3) bytes. The 全銀協 text describes a record with a line end as "120 bytes,
  122 with CR LF added after it", and banks that take files with line ends take them so; no
  EOF mark (0x1A) is written.
* Unused numeric fields (手形交換所番号, an absent 顧客コード2) are zeros, the rule for N fields
  ("数字項目は右詰とし、残りを「0」とする"); 新規コード is ``0``; 識別表示 and the ダミー areas
  are spaces.
* Text is normalised as ``payouts.banking.normalize_holder_name`` normalises a holder name
  (full width, hiragana and small kana become half-width large katakana; the long vowel and
  dashes become ``-``; the middle dot becomes ``.``; letters become upper case), without its
  length limit, so that bank and branch kana of the zengin master (full-width) can be given as
  they are. A name already in 全銀 characters is left unchanged. A character outside the 全銀
  set after that (kanji, ``&``, ``¥``, ...) is refused with ``ZenginError`` (a ``ValueError``)
  naming it. Names are refused, never cut: an over-long name is an error. Holder names are
  refused at registration by the same character set (``zengin_encodable``), so a payout should
  never meet one.
* Codes must have their exact width (bank 4, branch 3, account number 7, 依頼人コード 10
  digits): a short code is refused, not padded, as registration does.
* Amounts are ``int`` yen, more than 0 and at most 10 digits; the count and the total must fit
  the trailer's 6 and 12 digits, else nothing is written. A file with no data record is
  refused.
* The writer reads nothing but its arguments (no clock, no settings), so the same input gives
  the same bytes. The 取組日 is taken as given: that it is a bank business day is checked by
  ``payouts.calendar.check_transfer_date`` where a run is released.
* An account number never appears in a ``repr`` or an error message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import jaconv

__all__ = [
    "ENCODING",
    "MAX_AMOUNT",
    "MAX_COUNT",
    "MAX_TOTAL",
    "NEWLINE",
    "RECORD_LENGTH",
    "ZENGIN_CHARACTERS",
    "Consignor",
    "TransferLine",
    "ZenginError",
    "records",
    "transfer_file",
    "zengin_encodable",
    "zengin_text",
]

RECORD_LENGTH = 120
NEWLINE = b"\r\n"
ENCODING = "cp932"
MAX_AMOUNT = 9_999_999_999  # 振込金額 N(10)
MAX_COUNT = 999_999  # 合計件数 N(6)
MAX_TOTAL = 999_999_999_999  # 合計金額 N(12)

# The 全銀 characters a text field may hold (the same set registration allows for holder names,
# payouts.banking.ZENGIN_CHARACTERS): each is one byte in JIS X 0201 / cp932.
ZENGIN_CHARACTERS = frozenset(
    "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝﾞﾟ"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ().-/,"
)

_DASHES = "‐‑‒–—―−－ーｰ"
_KANA_AS_BANKS_PRINT = str.maketrans({"ヮ": "ワ", "ヰ": "イ", "ヱ": "エ"})
# After jaconv.z2h: leftover combining marks, the voiced ワ ヰ ヱ ヲ that NFKC composes (ﾜﾞ → ヷ)
# and z2h leaves full width, the long vowel and dashes, the middle dot.
_HALF_WIDTH_FIXES = str.maketrans(
    {
        "\u3099": "ﾞ", "\u309a": "ﾟ", "ヷ": "ﾜﾞ", "ヸ": "ｲﾞ", "ヹ": "ｴﾞ", "ヺ": "ｦﾞ",
        "･": ".", "・": ".", **{ch: "-" for ch in _DASHES},
    }
)
_MARKS_TO_COMBINING = str.maketrans({"゛": "\u3099", "゜": "\u309a", "ﾞ": "\u3099", "ﾟ": "\u309a"})

CONSIGNOR_ACCOUNT_TYPES = frozenset("129")
PAYEE_ACCOUNT_TYPES = frozenset("1249")


class ZenginError(ValueError):
    """Input the transfer file cannot carry; ``field`` names the dataclass field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --------------------------------------------------------------------------- characters


def zengin_text(text: str) -> str:
    """``text`` as the file writes it: half-width large katakana, upper-case letters, ``-`` for
    the long vowel and dashes, ``.`` for the middle dot (see the module doc). Characters that
    have no 全銀 form are left as they are, for ``zengin_encodable`` to find."""
    text = (text or "").translate(_MARKS_TO_COMBINING)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFKC", text)
    text = jaconv.hira2kata(text)
    text = jaconv.enlarge_smallkana(text).translate(_KANA_AS_BANKS_PRINT)
    text = jaconv.z2h(text, kana=True, ascii=True, digit=True)
    text = text.translate(_HALF_WIDTH_FIXES)
    return "".join(ch.upper() if "a" <= ch <= "z" else ch for ch in text)


def _refused_characters(text: str) -> list[str]:
    return list(dict.fromkeys(ch for ch in text if ch not in ZENGIN_CHARACTERS))


def zengin_encodable(text: str) -> bool:
    """True when ``text``, normalised by ``zengin_text``, holds only 全銀 characters, i.e. can
    be written into the file as JIS X 0201 bytes. The length is not checked."""
    return not _refused_characters(zengin_text(text))


def _describe(ch: str) -> str:
    if unicodedata.category(ch)[0] in "CMZ":
        return f"U+{ord(ch):04X}"
    return ch


def _name(value: str, length: int, field_name: str, label: str, *, required: bool) -> str:
    if not isinstance(value, str):
        raise ZenginError(field_name, f"{label}は文字列で指定してください。")
    text = zengin_text(value)
    if required and not text.strip():
        raise ZenginError(field_name, f"{label}がありません。")
    refused = _refused_characters(text)
    if refused:
        named = "".join(f"「{_describe(ch)}」" for ch in refused[:10])
        raise ZenginError(
            field_name,
            f"{label}「{value}」に全銀フォーマット（JIS X 0201 半角カナ・英大文字・数字・"
            f"スペース・( ) . - / ,）で書けない文字があります: {named}",
        )
    if len(text) > length:
        raise ZenginError(
            field_name,
            f"{label}「{text}」は半角{length}文字を超えています（{len(text)}文字、濁点・半濁点も"
            "1文字）。",
        )
    return text


def _digits(value: str, length: int, field_name: str, label: str) -> str:
    """A code of exactly ``length`` ASCII digits (never echoed: it may be an account number)."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) == length):
        raise ZenginError(field_name, f"{label}は半角数字{length}桁で指定してください。")
    return value


def _account_type(value: str, allowed: frozenset[str], field_name: str) -> str:
    if not (isinstance(value, str) and len(value) == 1 and value in allowed):
        choices = "・".join(sorted(allowed))
        raise ZenginError(field_name, f"預金種目は {choices} のいずれかで指定してください。")
    return value


def _integer(value: int, low: int, high: int, field_name: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ZenginError(field_name, f"{label}は整数で指定してください。")
    if not low <= value <= high:
        raise ZenginError(field_name, f"{label}は{low:,}以上{high:,}以下です（{value:,}）。")
    return value


def _mask(number: str) -> str:
    return "****" + number[-3:]


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Consignor:
    """The 振込依頼人 (the portal's operator) and its account, kept as administrator settings,
    with the run's 取組日 (振込指定日). Text fields are stored normalised (``zengin_text``)."""

    code: str  # 振込依頼人コード, 10 digits
    name: str  # 振込依頼人名, kana, ≤ 40
    transfer_date: date  # 取組日
    bank_code: str  # 4 digits
    bank_name: str  # kana, ≤ 15 (may be empty)
    branch_code: str  # 3 digits
    branch_name: str  # kana, ≤ 15 (may be empty)
    account_type: str  # 1 普通, 2 当座, 9 その他
    account_number: str = field(repr=False)  # 7 digits

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        _digits(self.code, 10, "code", "振込依頼人コード")
        set_(self, "name", _name(self.name, 40, "name", "振込依頼人名", required=True))
        if not isinstance(self.transfer_date, date):
            raise ZenginError("transfer_date", "取組日は日付で指定してください。")
        _digits(self.bank_code, 4, "bank_code", "仕向銀行番号")
        set_(self, "bank_name", _name(self.bank_name, 15, "bank_name", "仕向銀行名", required=False))
        _digits(self.branch_code, 3, "branch_code", "仕向支店番号")
        set_(
            self, "branch_name",
            _name(self.branch_name, 15, "branch_name", "仕向支店名", required=False),
        )
        _account_type(self.account_type, CONSIGNOR_ACCOUNT_TYPES, "account_type")
        _digits(self.account_number, 7, "account_number", "依頼人の口座番号")

    @property
    def masked_account_number(self) -> str:
        return _mask(self.account_number)


@dataclass(frozen=True)
class TransferLine:
    """One transfer: the payee's account as frozen in the payment line, the amount, and the
    payment line's number as 顧客コード1 (the key of the bank's results). Text fields are
    stored normalised (``zengin_text``). Errors name the 顧客コード1, never the account."""

    bank_code: str  # 被仕向銀行番号, 4 digits
    bank_name: str  # kana, ≤ 15 (may be empty)
    branch_code: str  # 3 digits
    branch_name: str  # kana, ≤ 15 (may be empty)
    account_type: str  # 1 普通, 2 当座, 4 貯蓄, 9 その他
    account_number: str = field(repr=False)  # 7 digits
    holder_name: str  # 受取人名, kana, ≤ 30
    amount: int  # yen, 1 … 9,999,999,999
    customer_code_1: int  # the payment line's number, ≤ 10 digits
    customer_code_2: int | None = None  # optional, ≤ 10 digits

    def __post_init__(self) -> None:
        _integer(self.customer_code_1, 0, 9_999_999_999, "customer_code_1", "顧客コード1")
        try:
            self._check()
        except ZenginError as error:
            raise ZenginError(
                error.field, f"顧客コード1 {self.customer_code_1:010d}: {error.message}"
            ) from None

    def _check(self) -> None:
        set_ = object.__setattr__
        _digits(self.bank_code, 4, "bank_code", "被仕向銀行番号")
        set_(self, "bank_name", _name(self.bank_name, 15, "bank_name", "被仕向銀行名", required=False))
        _digits(self.branch_code, 3, "branch_code", "被仕向支店番号")
        set_(
            self, "branch_name",
            _name(self.branch_name, 15, "branch_name", "被仕向支店名", required=False),
        )
        _account_type(self.account_type, PAYEE_ACCOUNT_TYPES, "account_type")
        _digits(self.account_number, 7, "account_number", "口座番号")
        set_(self, "holder_name", _name(self.holder_name, 30, "holder_name", "受取人名", required=True))
        _integer(self.amount, 1, MAX_AMOUNT, "amount", "振込金額")
        if self.customer_code_2 is not None:
            _integer(self.customer_code_2, 0, 9_999_999_999, "customer_code_2", "顧客コード2")

    @property
    def masked_account_number(self) -> str:
        return _mask(self.account_number)


# --------------------------------------------------------------------------- records


def _n(value: int | str, length: int) -> bytes:
    text = str(value).rjust(length, "0")
    assert len(text) == length and text.isdigit(), (length, len(text))
    return text.encode("ascii")


def _c(text: str, length: int) -> bytes:
    encoded = text.encode(ENCODING)
    assert len(encoded) == len(text) <= length, (length, len(encoded))  # one byte a character
    return encoded.ljust(length, b" ")


def _record(*parts: bytes) -> bytes:
    record = b"".join(parts)
    if len(record) != RECORD_LENGTH:  # a layout bug, never an input error
        raise AssertionError(f"record of {len(record)} bytes")
    return record


def _header(c: Consignor) -> bytes:
    return _record(
        b"1", b"21", b"0",
        _n(c.code, 10), _c(c.name, 40), _n(c.transfer_date.strftime("%m%d"), 4),
        _n(c.bank_code, 4), _c(c.bank_name, 15), _n(c.branch_code, 3), _c(c.branch_name, 15),
        _n(c.account_type, 1), _n(c.account_number, 7), _c("", 17),
    )


def _data(line: TransferLine) -> bytes:
    return _record(
        b"2",
        _n(line.bank_code, 4), _c(line.bank_name, 15),
        _n(line.branch_code, 3), _c(line.branch_name, 15),
        _n(0, 4),  # 手形交換所番号: not used
        _n(line.account_type, 1), _n(line.account_number, 7), _c(line.holder_name, 30),
        _n(line.amount, 10),
        b"0",  # 新規コード: その他
        _n(line.customer_code_1, 10), _n(line.customer_code_2 or 0, 10),
        b"7",  # 振込指定区分: テレ振込 (電信扱)
        b" ",  # 識別表示: 顧客コード, not EDI 情報
        _c("", 7),
    )


def _trailer(count: int, total: int) -> bytes:
    return _record(b"8", _n(count, 6), _n(total, 12), _c("", 101))


def _end() -> bytes:
    return _record(b"9", _c("", 119))


def records(consignor: Consignor, lines: Iterable[TransferLine]) -> list[bytes]:
    """The file's records, each exactly 120 bytes without its line end: header, one data record
    per line in the order given, trailer, end. Refuses (``ZenginError``) a file without lines,
    or more lines or a larger total than the trailer holds."""
    if not isinstance(consignor, Consignor):
        raise TypeError("consignor must be a Consignor")
    lines = list(lines)
    if not lines:
        raise ZenginError("lines", "振込データが1件もありません。")
    if any(not isinstance(line, TransferLine) for line in lines):
        raise TypeError("lines must be TransferLine objects")
    count, total = len(lines), sum(line.amount for line in lines)
    if count > MAX_COUNT:
        raise ZenginError(
            "lines", f"1つのファイルの振込は{MAX_COUNT:,}件までです（{count:,}件）。ファイルを分けてください。"
        )
    if total > MAX_TOTAL:
        raise ZenginError(
            "lines", f"1つのファイルの合計金額は{MAX_TOTAL:,}円までです（{total:,}円）。ファイルを分けてください。"
        )
    return [_header(consignor), *(_data(line) for line in lines), _trailer(count, total), _end()]


def transfer_file(consignor: Consignor, lines: Sequence[TransferLine]) -> bytes:
    """The transfer file as bytes: every record followed by CR LF (the last one too)."""
    return b"".join(record + NEWLINE for record in records(consignor, lines))

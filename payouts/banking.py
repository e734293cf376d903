"""Bank-account input for incentive transfers (docs/domain.md §5.3), as pure functions.

* ``normalize_holder_name`` turns what a facility types into the name as the bank holds it:
  全銀 half-width characters (ｱ–ﾝ, ﾞ, ﾟ, A–Z, 0–9, space and ``( ) . - / ,``).
* ``japan_post_to_zengin`` converts a ゆうちょ銀行 記号・番号 into bank 9900, 店番, 預金種目 and
  口座番号 by the bank's published formula.
* ``lookup_bank`` / ``lookup_branch`` / ``search_banks`` / ``search_branches`` read the 全銀
  bank/branch master of the ``zengin_code`` package (loaded once, cached).
* ``validate_account`` normalises and checks every field and reports every error at once.
* ``mask_account_number`` is the only form of an account number that may reach a log or an e-mail.

Decisions (documented here and pinned by tests/payouts/test_banking.py):

* Holder name. Input is NFKC-normalised (full-width letters, digits, spaces and brackets become
  half-width), hiragana become katakana and katakana become half-width (both with jaconv), latin
  letters become upper case, runs of spaces become one space. As banks print them, small kana
  become large (ｧ→ｱ, ｯ→ﾂ, ｬ→ﾔ, ヵ→ｶ, ヶ→ｹ, ヮ→ﾜ) and the obsolete ヰ, ヱ become ｲ, ｴ. The long
  vowel (ー, ｰ) and dash-like characters (‐ ‑ ‒ – — ― − －) are written ``-``, the 全銀 hyphen:
  ｰ is not in the 全銀 character set, and the zengin master itself writes it as a hyphen. The
  middle dot (・, ･) is written ``.``. Invisible format characters (zero-width space, BOM, ...)
  copied along with a name are dropped. Anything else (kanji, emoji, ``&``, quotes, accented
  letters) is refused with a message naming the characters. A name is at most 30 half-width
  characters after normalisation (the 受取人名 field of the 全銀 transfer record is 30 characters;
  ﾞ and ﾟ take a character each).
* Account number. Banks print 7 digits; 1–7 digits are accepted and left-padded with zeros
  (``12345`` → ``0012345``), more than 7 or anything but digits is refused.
* Bank and branch codes are exactly 4 and 3 digits (full width, spaces and hyphens tolerated);
  shorter codes are refused rather than padded, since a mistyped code padded with zeros could name
  another, existing branch.
* Account type: 1 普通, 2 当座, 4 貯蓄; ``"普通"``, ``"普通預金"`` etc. are accepted too. For
  ゆうちょ銀行 the 店番 decides the type: a 店番 ending in 8 is 通常貯金 (普通, or 貯蓄 for
  通常貯蓄貯金), ending in 9 is 振替口座 (当座).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache

import jaconv

from portal.normalize import digits

__all__ = [
    "ACCOUNT_NUMBER_LENGTH",
    "ACCOUNT_TYPES",
    "HOLDER_NAME_MAX_LENGTH",
    "JAPAN_POST_BANK_CODE",
    "ZENGIN_CHARACTERS",
    "Bank",
    "BankInputError",
    "BankInputErrors",
    "Branch",
    "ConvertedAccount",
    "NormalizedAccount",
    "japan_post_to_zengin",
    "lookup_bank",
    "lookup_branch",
    "mask_account_number",
    "master_data_date",
    "normalize_digits",
    "normalize_holder_name",
    "parse_account_type",
    "search_banks",
    "search_branches",
    "validate_account",
]

# 全銀 characters a holder name may hold after normalisation.
ZENGIN_CHARACTERS = frozenset(
    "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝﾞﾟ"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ().-/,"
)
HOLDER_NAME_MAX_LENGTH = 30
ACCOUNT_NUMBER_LENGTH = 7
ACCOUNT_TYPES = {"1": "普通", "2": "当座", "4": "貯蓄"}
JAPAN_POST_BANK_CODE = "9900"

_DASHES = "‐‑‒–—―−－ーｰ"
# 法人略語 of the 全銀 format, offered as a hint when a name spells the entity out in kanji.
_ENTITY_ABBREVIATIONS = {
    "株式会社": "ｶ",
    "有限会社": "ﾕ",
    "合同会社": "ﾄﾞ",
    "合名会社": "ﾒ",
    "合資会社": "ｼ",
    "医療法人": "ｲ",
    "医療法人社団": "ｲ",
    "医療法人財団": "ｲ",
    "社会福祉法人": "ﾌｸ",
    "一般社団法人": "ｼﾔ",
    "一般財団法人": "ｻﾞｲ",
    "社団法人": "ｼﾔ",
    "財団法人": "ｻﾞｲ",
    "学校法人": "ｶﾞｸ",
    "特定非営利活動法人": "ﾄｸﾋ",
}
_KANJI_DIGITS = "〇一二三四五六七八九"
_KANA_DIGITS = ("ゼロ", "イチ", "ニ", "サン", "ヨン", "ゴ", "ロク", "ナナ", "ハチ", "キユウ")


class BankInputError(ValueError):
    """One field that cannot be accepted; ``message`` is Japanese, for the person typing."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class BankInputErrors(ValueError):
    """Every field error of one account at once: ``errors`` maps field name → Japanese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = dict(errors)


# --------------------------------------------------------------------------- normalisation


def _is_digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` alone also accepts ² and other scripts' digits)."""
    return text.isascii() and text.isdigit()


# NFKC, then spaces and hyphens of any width removed (the portal's one digit normaliser).
normalize_digits = digits


def _describe(ch: str) -> str:
    """A refused character as the message names it; invisible ones by their code point."""
    if unicodedata.category(ch)[0] in "CMZ":
        return f"U+{ord(ch):04X}"
    return ch


def normalize_holder_name(value: str) -> str:
    """The holder name in 全銀 half-width characters, as the bank holds it (see module doc).
    Raises ``BankInputError("holder_name", ...)`` when the name is empty, too long or holds a
    character that cannot be represented."""
    from .zengin import zengin_text  # the file's own normalisation: one definition

    text = " ".join(zengin_text(value).split())
    if not text:
        raise BankInputError("holder_name", "口座名義を入力してください。")
    refused = list(dict.fromkeys(ch for ch in text if ch not in ZENGIN_CHARACTERS))
    if refused:
        named = "".join(f"「{_describe(ch)}」" for ch in refused[:10])
        if len(refused) > 10:
            named += f"ほか{len(refused) - 10}文字"
        message = (
            f"口座名義に使えない文字があります: {named}。通帳やキャッシュカードの名義のとおり、"
            "カタカナ（ひらがな可）・英字・数字・スペースと ( ) . - / , で入力してください。"
        )
        entities = [word for word in _ENTITY_ABBREVIATIONS if word in (value or "")]
        if entities:
            word = max(entities, key=len)
            short = _ENTITY_ABBREVIATIONS[word]
            message += f"「{word}」は「{short})」（名前の前）や「({short}」（名前の後）のように略します。"
        raise BankInputError("holder_name", message)
    if len(text) > HOLDER_NAME_MAX_LENGTH:
        raise BankInputError(
            "holder_name",
            f"口座名義は半角{HOLDER_NAME_MAX_LENGTH}文字以内で入力してください"
            f"（濁点・半濁点も1文字と数えて{len(text)}文字あります）。",
        )
    return text


def parse_account_type(value: str | int) -> str | None:
    """``1``/``2``/``4`` (any width) or 普通・当座・貯蓄 (with or without 預金) → "1"/"2"/"4"."""
    text = "".join(unicodedata.normalize("NFKC", str(value if value is not None else "")).split())
    text = text.removesuffix("預金")
    names = {name: code for code, name in ACCOUNT_TYPES.items()}
    code = names.get(text, text)
    return code if code in ACCOUNT_TYPES else None


# --------------------------------------------------------------------------- ゆうちょ銀行


@dataclass(frozen=True)
class ConvertedAccount:
    """A ゆうちょ銀行 記号・番号 as the 全銀 system knows it (店名 is the 店番 in kanji numerals)."""

    bank_code: str
    branch_code: str
    account_type: str
    account_number: str = field(repr=False)
    branch_name: str = ""
    branch_kana: str = ""

    @property
    def masked_number(self) -> str:
        return mask_account_number(self.account_number)


def _japan_post_branch(code: str) -> tuple[str, str]:
    """店名 and its reading: the master's when it has the branch, else the kanji numerals."""
    branch = lookup_branch(JAPAN_POST_BANK_CODE, code)
    if branch is not None:
        return branch.name, branch.kana
    return (
        "".join(_KANJI_DIGITS[int(d)] for d in code),
        "".join(_KANA_DIGITS[int(d)] for d in code),
    )


def japan_post_to_zengin(kigo: str, bango: str, *, savings: bool = False) -> ConvertedAccount:
    """ゆうちょ銀行の記号・番号 → 振込用の店番・預金種目・口座番号, by the bank's published formula
    (「記号・番号から振込用の店名・預金種目・口座番号への変換の公式」):

    * 記号 1xxxx (総合口座・通常貯金): 店番 = 記号の左から2〜3桁目 + 「8」; 口座番号 = 番号の
      末尾の「1」を除いた数字を7桁に (左を0で埋める); 預金種目 普通 (``savings=True`` for a
      通常貯蓄貯金: 貯蓄).
    * 記号 0xxxx (振替口座): 店番 = 記号の左から2〜3桁目 + 「9」; 口座番号 = 番号を7桁に; 当座.
      A 振替口座 is printed 「00100-1-12345」: the one digit between 記号 and 番号 is not used
      for transfers, so a 6-digit 記号 starting with 0 has its last digit dropped.
    """
    kigo, bango = normalize_digits(kigo), normalize_digits(bango)
    if not kigo:
        raise BankInputError("kigo", "記号を入力してください。")
    if not _is_digits(kigo):
        raise BankInputError("kigo", "記号は数字5桁で入力してください。")
    if kigo[0] not in "01":
        raise BankInputError(
            "kigo", "ゆうちょ銀行の記号は「1」（通常貯金）か「0」（振替口座）で始まる5桁の数字です。"
        )
    if kigo[0] == "0" and len(kigo) == 6:
        kigo = kigo[:5]  # 「00100-1」: the digit after the 記号 is not used for transfers
    if len(kigo) != 5:
        raise BankInputError("kigo", f"記号は数字5桁です（{len(kigo)}桁入力されています）。")
    if not bango:
        raise BankInputError("bango", "番号を入力してください。")
    if not _is_digits(bango):
        raise BankInputError("bango", "番号は数字で入力してください。")
    if len(bango) > 8:
        raise BankInputError("bango", f"番号は8桁以内です（{len(bango)}桁入力されています）。")
    if kigo[0] == "1":
        if not bango.endswith("1"):
            raise BankInputError(
                "bango",
                "記号が「1」で始まる通常貯金の番号は、最後の桁が必ず「1」です。"
                "通帳やキャッシュカードの番号をもう一度ご確認ください。",
            )
        number = bango[:-1]
        if not number.strip("0"):
            raise BankInputError("bango", "番号が短すぎます。通帳の番号をそのまま入力してください。")
        branch_code, account_type = kigo[1:3] + "8", "4" if savings else "1"
    else:
        if savings:
            raise BankInputError("kigo", "記号が「0」で始まる振替口座は当座預金です（貯蓄預金ではありません）。")
        if len(bango) > ACCOUNT_NUMBER_LENGTH:
            raise BankInputError("bango", "振替口座の番号は7桁以内です。")
        if not bango.strip("0"):
            raise BankInputError("bango", "番号を確認してください（0だけの番号はありません）。")
        number, branch_code, account_type = bango, kigo[1:3] + "9", "2"
    name, kana = _japan_post_branch(branch_code)
    return ConvertedAccount(
        JAPAN_POST_BANK_CODE, branch_code, account_type, number.zfill(ACCOUNT_NUMBER_LENGTH),
        name, kana,
    )


# --------------------------------------------------------------------------- bank master


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    kana: str


@dataclass(frozen=True)
class Branch:
    code: str
    name: str
    kana: str


# Query words mapped to the abbreviations the master uses (三井住友 not 三井住友銀行, 北海道信金 ...).
_QUERY_ABBREVIATIONS = (
    ("信用金庫", "信金"),
    ("シンヨウキンコ", "シンキン"),
    ("信用組合", "信組"),
    ("シンヨウクミアイ", "シンクミ"),
    ("労働金庫", "労金"),
    ("ロウドウキンコ", "ロウキン"),
    ("農業協同組合", "農協"),
    ("ノウギヨウキヨウドウクミアイ", "ノウキヨウ"),
)


def _fold(text: str) -> str:
    """A search key: NFKC, katakana, large kana, no spaces, hyphen for the long vowel, upper case.
    The same folding is applied to the master's names and kana and to the query."""
    text = unicodedata.normalize("NFKC", text or "")
    text = jaconv.enlarge_smallkana(jaconv.hira2kata(text))
    text = "".join(text.split())
    return "".join("-" if ch in _DASHES else ch for ch in text).upper()


@dataclass(frozen=True)
class _Entry:
    item: Bank | Branch
    keys: tuple[str, ...]  # folded name, folded kana, romaji


@dataclass(frozen=True)
class _Master:
    banks: dict[str, Bank]
    bank_entries: tuple[_Entry, ...]
    branches: dict[str, dict[str, Branch]]
    date: str


@cache
def _master() -> _Master:
    """The zengin_code master, read once into our own frozen records."""
    import zengin_code  # imported here: loading the ~29,000 branches takes a moment

    banks: dict[str, Bank] = {}
    entries: list[_Entry] = []
    branches: dict[str, dict[str, Branch]] = {}
    for code, source in sorted(zengin_code.Bank.all.items()):
        bank = Bank(code, source.name, source.kana)
        banks[code] = bank
        entries.append(_Entry(bank, (_fold(source.name), _fold(source.kana), source.roma.upper())))
        branches[code] = {
            branch_code: Branch(branch_code, branch.name, branch.kana)
            for branch_code, branch in sorted(source.branches.items())
        }
    date = zengin_code.__version__.rsplit(".", 1)[-1]
    return _Master(banks, tuple(entries), branches, f"{date[:4]}-{date[4:6]}-{date[6:8]}")


@cache
def _branch_entries(bank_code: str) -> tuple[_Entry, ...]:
    branches = _master().branches.get(bank_code, {})
    return tuple(
        _Entry(branch, (_fold(branch.name), _fold(branch.kana))) for branch in branches.values()
    )


def master_data_date() -> str:
    """The date of the zengin_code master data in use, e.g. ``2026-08-24``."""
    return _master().date


def lookup_bank(code: str) -> Bank | None:
    """The bank with this 4-digit code (full width tolerated), or None."""
    code = normalize_digits(code)
    return _master().banks.get(code) if _is_digits(code) and len(code) == 4 else None


def lookup_branch(bank_code: str, branch_code: str) -> Branch | None:
    """The branch with this 3-digit code at that bank, or None."""
    bank_code, branch_code = normalize_digits(bank_code), normalize_digits(branch_code)
    if not (_is_digits(branch_code) and len(branch_code) == 3):
        return None
    return _master().branches.get(bank_code, {}).get(branch_code)


def _search(entries: tuple[_Entry, ...], query: str, suffixes: tuple[str, ...], limit: int):
    """Code prefix for a query of digits; otherwise the folded query within the folded name,
    kana or romaji. Exact matches first, then prefixes, then the rest, each by code."""
    digits = normalize_digits(query)
    if _is_digits(digits):
        found = [entry.item for entry in entries if entry.item.code.startswith(digits)]
        return found[: max(limit, 0)]
    key = _fold(query)
    for suffix in suffixes:
        key = key.removesuffix(suffix) or key
    for long, short in _QUERY_ABBREVIATIONS:
        key = key.replace(long, short)
    if not key:
        return []
    ranked = []
    for entry in entries:
        if any(key == k for k in entry.keys):
            ranked.append((0, entry.item.code, entry.item))
        elif any(k.startswith(key) for k in entry.keys):
            ranked.append((1, entry.item.code, entry.item))
        elif any(key in k for k in entry.keys):
            ranked.append((2, entry.item.code, entry.item))
    ranked.sort(key=lambda row: row[:2])
    return [item for _, _, item in ranked[: max(limit, 0)]]


def search_banks(query: str, limit: int = 20) -> list[Bank]:
    """Banks by code prefix (``"00"``), kanji name (``"三菱UFJ"``, ``"みずほ銀行"``), or kana in
    hiragana, full- or half-width katakana (``"みずほ"``, ``"ﾐｽﾞﾎ"``) against the master's kana."""
    return _search(_master().bank_entries, query, ("銀行", "ギンコウ"), limit)


def search_branches(bank_code: str, query: str, limit: int = 20) -> list[Branch]:
    """Branches of one bank, matched as ``search_banks`` matches banks; [] for an unknown bank."""
    bank = lookup_bank(bank_code)
    if bank is None:
        return []
    return _search(_branch_entries(bank.code), query, ("支店", "シテン"), limit)


# --------------------------------------------------------------------------- whole account


@dataclass(frozen=True)
class NormalizedAccount:
    """A checked account, every field as the bank holds it. The account number is left out of
    ``repr`` so that logging the object does not log the number."""

    bank: Bank
    branch: Branch
    account_type: str
    account_number: str = field(repr=False)
    holder_name: str

    @property
    def bank_code(self) -> str:
        return self.bank.code

    @property
    def bank_kana(self) -> str:
        """The bank's kana as the transfer file writes it (checked by validate_account)."""
        return transfer_kana(self.bank.kana) or ""

    @property
    def branch_kana(self) -> str:
        return transfer_kana(self.branch.kana) or ""

    @property
    def branch_code(self) -> str:
        return self.branch.code

    @property
    def account_type_name(self) -> str:
        return ACCOUNT_TYPES[self.account_type]

    @property
    def masked_number(self) -> str:
        return mask_account_number(self.account_number)


TRANSFER_NAME_LENGTH = 15  # 被仕向銀行名・支店名 of the 全銀 data record


def transfer_kana(kana: str) -> str | None:
    """A bank's or branch's kana from the master as the transfer file writes it (half-width
    全銀 characters, at most 15), or None when it cannot be written so."""
    from .zengin import zengin_encodable, zengin_text

    text = zengin_text(kana or "")
    if not zengin_encodable(text) or len(text) > TRANSFER_NAME_LENGTH:
        return None
    return text


def _check_code(value: str, length: int, label: str) -> tuple[str, str | None]:
    code = normalize_digits(value)
    if not code:
        return code, f"{label}を入力してください。"
    if not _is_digits(code) or len(code) != length:
        return code, f"{label}は数字{length}桁で入力してください。"
    return code, None


def validate_account(
    bank_code: str,
    branch_code: str,
    account_type: str | int,
    account_number: str,
    holder_name: str,
) -> NormalizedAccount:
    """Every field normalised and checked against the master; all errors are collected and
    raised together as ``BankInputErrors`` (fields: bank_code, branch_code, account_type,
    account_number, holder_name)."""
    errors: dict[str, str] = {}

    code, error = _check_code(bank_code, 4, "金融機関コード")
    bank = lookup_bank(code) if error is None else None
    if error is None and bank is None:
        error = f"金融機関コード「{code}」は金融機関の一覧にありません。"
    if error is None and bank is not None and transfer_kana(bank.kana) is None:
        error = (f"{bank.name}（{bank.code}）は名称を振込データに書けないため、振込先に登録"
                 "できません。別の口座を登録してください。")
    if error:
        errors["bank_code"] = error

    code, error = _check_code(branch_code, 3, "支店コード")
    branch = lookup_branch(bank.code, code) if bank is not None and error is None else None
    if bank is not None and error is None and branch is None:
        error = f"{bank.name}（{bank.code}）に支店コード「{code}」の支店はありません。"
    if error is None and branch is not None and transfer_kana(branch.kana) is None:
        error = (f"{branch.name}（{branch.code}）は名称を振込データに書けないため、振込先に"
                 "登録できません。別の口座を登録してください。")
    if error:
        errors["branch_code"] = error

    kind = parse_account_type(account_type)
    if kind is None:
        errors["account_type"] = "預金種目は普通・当座・貯蓄のいずれかを選んでください。"
    elif bank is not None and bank.code == JAPAN_POST_BANK_CODE and branch is not None:
        if branch.code.endswith("8") and kind not in ("1", "4"):
            errors["account_type"] = (
                f"ゆうちょ銀行の店番「{branch.code}」（末尾8）は通常貯金です。預金種目は普通"
                "（通常貯蓄貯金は貯蓄）です。"
            )
        elif branch.code.endswith("9") and kind != "2":
            errors["account_type"] = (
                f"ゆうちょ銀行の店番「{branch.code}」（末尾9）は振替口座です。預金種目は当座です。"
            )

    number = normalize_digits(account_number)
    if not number:
        errors["account_number"] = "口座番号を入力してください。"
    elif not _is_digits(number):
        errors["account_number"] = "口座番号は数字で入力してください。"
    elif len(number) > ACCOUNT_NUMBER_LENGTH:
        errors["account_number"] = (
            f"口座番号は{ACCOUNT_NUMBER_LENGTH}桁以内です（{len(number)}桁入力されています）。"
        )
    else:
        number = number.zfill(ACCOUNT_NUMBER_LENGTH)  # banks print 7 digits

    holder = ""
    try:
        holder = normalize_holder_name(holder_name)
    except BankInputError as error_:
        errors[error_.field] = error_.message

    if errors:
        raise BankInputErrors(errors)
    assert bank is not None and branch is not None and kind is not None
    return NormalizedAccount(bank, branch, kind, number, holder)


def mask_account_number(number: str) -> str:
    """``"0012345"`` → ``"****345"``: only the last 3 digits. This, never the full number, is
    what logs, audit summaries and e-mails show. Numbers of 3 digits or fewer are hidden whole;
    an empty value stays empty."""
    digits = normalize_digits(number)
    if not digits:
        return ""
    return "****" + (digits[-3:] if len(digits) > 3 else "")

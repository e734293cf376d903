"""Bank-account input (DOMAIN §5.3): normalisation to what the bank holds (全銀 half-width
kana), Japan Post Bank 記号・番号 conversion, and the bank/branch master (zengin-code).
Pure functions; the form and the service call them."""

import unicodedata
from dataclasses import dataclass
from functools import cache

import jaconv

from portal.normalize import digits

# 全銀 characters: ｱ–ﾝ, ﾞ, ﾟ, A–Z, 0–9, space and ( ) . - / ,
_ALLOWED = set("ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝﾞﾟ"
               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ().-/,")
# Banks print small kana as large ones; the long-vowel mark is written as a hyphen.
_LARGE = str.maketrans({"ｧ": "ｱ", "ｨ": "ｲ", "ｩ": "ｳ", "ｪ": "ｴ", "ｫ": "ｵ", "ｯ": "ﾂ", "ｬ": "ﾔ",
                        "ｭ": "ﾕ", "ｮ": "ﾖ", "ｰ": "-", "･": ".", "－": "-", "‐": "-", "−": "-"})
HOLDER_MAX = 30
ACCOUNT_TYPES = {"1": "普通", "2": "当座", "4": "貯蓄"}
JAPAN_POST = "9900"


class BankInputError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class BankInputErrors(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def normalize_holder_name(value: str) -> str:
    text = unicodedata.normalize("NFKC", value or "").strip()
    text = jaconv.hira2kata(text)
    text = jaconv.z2h(text, kana=True, ascii=True, digit=True)
    text = text.upper().replace("\u3000", " ").translate(_LARGE)
    text = " ".join(text.split())
    if not text:
        raise BankInputError("holder_name", "口座名義を入力してください。")
    bad = sorted({ch for ch in text if ch not in _ALLOWED})
    if bad:
        raise BankInputError(
            "holder_name",
            f"口座名義に使えない文字があります: {'、'.join(bad)}（カタカナ・英大文字・数字で入力してください）",
        )
    if len(text) > HOLDER_MAX:
        raise BankInputError("holder_name", f"口座名義は半角{HOLDER_MAX}文字以内です（{len(text)}文字）。")
    return text


@dataclass(frozen=True)
class ConvertedAccount:
    bank_code: str
    branch_code: str
    account_type: str
    account_number: str


def japan_post_to_zengin(kigo: str, bango: str) -> ConvertedAccount:
    """ゆうちょ銀行の記号・番号 → 振込用の店番・預金種目・口座番号 (the bank's published rule):
    記号 1xxxx (通常貯金): 店番 = 記号の2〜3桁目 + 8, 普通, 口座番号 = 番号の末尾の1を除き7桁;
    記号 0xxxx (振替口座): 店番 = 記号の2〜3桁目 + 9, 当座, 口座番号 = 番号を7桁に."""
    kigo, bango = digits(kigo), digits(bango)
    if len(kigo) != 5 or not kigo.isdigit():
        raise BankInputError("kigo", "記号は数字5桁で入力してください。")
    if not bango.isdigit() or not 1 <= len(bango) <= 8:
        raise BankInputError("bango", "番号は数字8桁以内で入力してください。")
    if kigo[0] == "1":
        if not bango.endswith("1"):
            raise BankInputError("bango", "通常貯金の番号は末尾が「1」です。通帳の番号をご確認ください。")
        number = bango[:-1]
        if len(number) > 7:
            raise BankInputError("bango", "番号は8桁以内です。")
        return ConvertedAccount(JAPAN_POST, kigo[1:3] + "8", "1", number.zfill(7))
    if kigo[0] == "0":
        if len(bango) > 7:
            raise BankInputError("bango", "振替口座の番号は7桁以内です。")
        return ConvertedAccount(JAPAN_POST, kigo[1:3] + "9", "2", bango.zfill(7))
    raise BankInputError("kigo", "ゆうちょ銀行の記号は「0」または「1」で始まります。")


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


@cache
def _banks() -> dict:
    from zengin_code import Bank as ZenginBank

    return ZenginBank.all


def lookup_bank(code: str) -> Bank | None:
    bank = _banks().get(digits(code))
    return Bank(bank.code, bank.name, bank.kana) if bank else None


def lookup_branch(bank_code: str, branch_code: str) -> Branch | None:
    bank = _banks().get(digits(bank_code))
    branch = bank.branches.get(digits(branch_code)) if bank else None
    return Branch(branch.code, branch.name, branch.kana) if branch else None


def _matches(query: str, code: str, name: str, kana: str) -> bool:
    query = unicodedata.normalize("NFKC", query).strip()
    if not query:
        return False
    if query.isdigit():
        return code.startswith(query)
    return query in name or jaconv.hira2kata(query) in kana


def search_banks(query: str, limit: int = 20) -> list[Bank]:
    found = [Bank(b.code, b.name, b.kana) for b in _banks().values()
             if _matches(query, b.code, b.name, b.kana)]
    return sorted(found, key=lambda b: b.code)[:limit]


def search_branches(bank_code: str, query: str, limit: int = 20) -> list[Branch]:
    bank = _banks().get(digits(bank_code))
    if bank is None:
        return []
    found = [Branch(b.code, b.name, b.kana) for b in bank.branches.values()
             if _matches(query, b.code, b.name, b.kana)]
    return sorted(found, key=lambda b: b.code)[:limit]


@dataclass(frozen=True)
class NormalizedAccount:
    bank: Bank
    branch: Branch
    account_type: str
    account_number: str
    holder_name: str


_TYPE_NAMES = {name: code for code, name in ACCOUNT_TYPES.items()}


def validate_account(
    bank_code: str, branch_code: str, account_type: str, account_number: str, holder_name: str
) -> NormalizedAccount:
    """Every field normalised and checked; all errors are collected and raised together."""
    errors: dict[str, str] = {}
    bank = lookup_bank(bank_code) if digits(bank_code).isdigit() else None
    if bank is None:
        errors["bank_code"] = "金融機関コード（数字4桁）が金融機関の一覧にありません。"
    branch = lookup_branch(bank_code, branch_code) if bank else None
    if bank and branch is None:
        errors["branch_code"] = f"{bank.name}に支店コード「{digits(branch_code)}」はありません。"
    kind = _TYPE_NAMES.get(str(account_type).strip(), digits(str(account_type)))
    if kind not in ACCOUNT_TYPES:
        errors["account_type"] = "預金種目は普通・当座・貯蓄のいずれかです。"
    number = digits(account_number)
    if not number.isdigit() or not 1 <= len(number) <= 7:
        errors["account_number"] = "口座番号は数字7桁以内で入力してください。"
    else:
        number = number.zfill(7)  # banks print 7 digits; shorter numbers are zero-padded
    holder = ""
    try:
        holder = normalize_holder_name(holder_name)
    except BankInputError as error:
        errors[error.field] = error.message
    if errors:
        raise BankInputErrors(errors)
    return NormalizedAccount(bank, branch, kind, number, holder)


def mask_account_number(number: str) -> str:
    """For logs and e-mails: a full account number never appears there."""
    return "****" + (number or "")[-3:]

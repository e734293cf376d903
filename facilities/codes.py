"""Facility identifiers (docs/domain.md §2): the 10-digit 医療機関等コード with its check digit, and a
施術所's 登録記号番号. Pure functions; every form and the master import use them."""

import re
from dataclasses import dataclass

from portal.normalize import digits, nfkc

POINT_TABLES = {"1": "医科", "3": "歯科", "4": "調剤"}
_REGISTRATION_NUMBER = re.compile(r"[契協][0-9A-Za-z\-]{1,20}")


class CodeError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def luhn_check_digit(body: str) -> int:
    """Modulus 10, weights 2,1,2,… from the digit just before the check digit; two-digit
    products' digits summed (docs/domain.md §2)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class MedicalCode:
    value: str

    @property
    def prefecture(self) -> str:
        return self.value[:2]

    @property
    def point_table(self) -> str:
        return self.value[2]


def parse_medical_code(raw: str) -> MedicalCode:
    value = digits(raw)
    if not value:
        raise CodeError("医療機関等コードを入力してください。")
    if not (value.isascii() and value.isdigit()):  # ٣ and ፩ are digits to str.isdigit
        raise CodeError("医療機関等コードは数字10桁で入力してください。")
    if len(value) != 10:
        raise CodeError(f"医療機関等コードは10桁です（入力は{len(value)}桁）。")
    if not 1 <= int(value[:2]) <= 47:
        raise CodeError("医療機関等コードの先頭2桁（都道府県番号）は01〜47です。")
    if value[2] not in POINT_TABLES:
        raise CodeError("医療機関等コードの3桁目（点数表番号）は1（医科）・3（歯科）・4（調剤）のいずれかです。")
    if luhn_check_digit(value[:9]) != int(value[9]):
        raise CodeError("医療機関等コードの検証番号（最後の1桁）が一致しません。入力をご確認ください。")
    return MedicalCode(value)


def normalize_registration_number(raw: str) -> str:
    """登録記号番号: stored as entered after NFKC (full-width digits become half-width)."""
    value = nfkc(raw).replace(" ", "")
    if not value:
        raise CodeError("登録記号番号を入力してください。")
    if not _REGISTRATION_NUMBER.fullmatch(value):
        raise CodeError("登録記号番号は「契」または「協」で始まり、数字が続く形で入力してください（例: 契1234567）。")
    return value


def with_check_digit(body: str) -> str:
    return body + str(luhn_check_digit(body))

"""Resolving what the bank-account form holds into one checked account (pure, no ORM)."""

import jaconv

from portal.normalize import digits

from .banking import (
    BankInputError,
    BankInputErrors,
    NormalizedAccount,
    japan_post_to_zengin,
    search_banks,
    search_branches,
    validate_account,
)


def _resolve(query: str, candidates, label: str, field: str) -> str:
    """A code as typed, or the one name that matches; several matches are listed back."""
    text = digits(query)
    if text.isdigit() or not query.strip():
        return text
    found = candidates(query)
    # An exact name wins over names that merely contain it (みずほ, not みずほ信託).
    wanted = query.strip().removesuffix("銀行").removesuffix("支店")
    exact = [item for item in found if wanted in (item.name, item.kana)
             or jaconv.hira2kata(wanted) == item.kana]
    if len(exact) == 1:
        return exact[0].code
    if len(found) == 1:
        return found[0].code
    if not found:
        raise BankInputErrors({field: f"「{query}」に当たる{label}が見つかりません。"})
    names = "、".join(f"{item.name}（{item.code}）" for item in found[:8])
    raise BankInputErrors({field: f"「{query}」に当たる{label}が複数あります: {names}。コードで入力してください。"})


def resolve_account(data: dict) -> tuple[NormalizedAccount, str, str]:
    """→ (account, 記号, 番号); 記号・番号 are empty unless it is a Japan Post account."""
    if data.get("method") == "japan_post":
        try:
            converted = japan_post_to_zengin(data.get("kigo", ""), data.get("bango", ""))
        except BankInputError as error:
            raise BankInputErrors({error.field: error.message}) from error
        account = validate_account(converted.bank_code, converted.branch_code,
                                   converted.account_type, converted.account_number,
                                   data.get("holder_name", ""))
        return account, digits(data["kigo"]), digits(data["bango"])
    bank_code = _resolve(data.get("bank", ""), search_banks, "金融機関", "bank")
    branch_code = _resolve(data.get("branch", ""),
                           lambda q: search_branches(bank_code, q), "支店", "branch")
    try:
        account = validate_account(bank_code, branch_code, data.get("account_type", ""),
                                   data.get("account_number", ""), data.get("holder_name", ""))
    except BankInputErrors as errors:
        renamed = {"bank_code": "bank", "branch_code": "branch"}
        raise BankInputErrors({renamed.get(k, k): v for k, v in errors.errors.items()}) from None
    return account, "", ""

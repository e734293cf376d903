import pytest

from incentives.banking import (
    BankInputError,
    BankInputErrors,
    japan_post_to_zengin,
    lookup_bank,
    lookup_branch,
    mask_account_number,
    normalize_holder_name,
    search_banks,
    search_branches,
    validate_account,
)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # full-width katakana
        ("やまだ　たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # hiragana, full-width space
        ("ｷｯﾃ ｼｮｳｼﾞ", "ｷﾂﾃ ｼﾖｳｼﾞ"),  # small kana become large, as banks print them
        ("ガ パ", "ｶﾞ ﾊﾟ"),  # dakuten and handakuten as separate marks
        ("カ）ヤマダ", "ｶ)ﾔﾏﾀﾞ"),  # company abbreviation
        ("ｍｙｎａ ｃｌｉｎｉｃ １２", "MYNA CLINIC 12"),  # full-width, lower-case latin
        ("サトー", "ｻﾄ-"),  # the long vowel is written as a hyphen
        ("  ﾔﾏﾀﾞ   ﾀﾛｳ  ", "ﾔﾏﾀﾞ ﾀﾛｳ"),
    ],
)
def test_holder_name_is_normalised_not_refused(typed, stored):
    assert normalize_holder_name(typed) == stored


@pytest.mark.parametrize("typed", ["山田太郎", "ﾔﾏﾀﾞ😀", "", "   ", "ｱ" * 31])
def test_holder_name_that_cannot_be_represented_is_refused(typed):
    with pytest.raises(BankInputError) as error:
        normalize_holder_name(typed)
    assert error.value.field == "holder_name"


# ゆうちょ銀行「振込用の店名・預金種目・口座番号」の例
@pytest.mark.parametrize(
    "kigo, bango, branch, account_type, number",
    [
        ("12345", "67890121", "238", "1", "6789012"),  # 通常貯金: 店名 二三八
        ("10180", "12345671", "018", "1", "1234567"),  # 店名 〇一八
        ("１４０３０", "９８７６５１", "408", "1", "0098765"),  # full-width, short 番号
        ("00100", "12345", "019", "2", "0012345"),  # 振替口座: 店名 〇一九, 当座
    ],
)
def test_japan_post_conversion(kigo, bango, branch, account_type, number):
    converted = japan_post_to_zengin(kigo, bango)
    assert (converted.bank_code, converted.branch_code, converted.account_type,
            converted.account_number) == ("9900", branch, account_type, number)
    assert lookup_branch("9900", branch) is not None


@pytest.mark.parametrize(
    "kigo, bango, field",
    [("1234", "67890121", "kigo"), ("22345", "67890121", "kigo"),
     ("12345", "67890120", "bango"), ("12345", "123456789", "bango"),
     ("12345", "abc", "bango"), ("00100", "12345678", "bango")],
)
def test_japan_post_errors(kigo, bango, field):
    with pytest.raises(BankInputError) as error:
        japan_post_to_zengin(kigo, bango)
    assert error.value.field == field


def test_bank_master_lookups():
    assert lookup_bank("0001").name == "みずほ"
    assert lookup_bank("0005").name.startswith("三菱")
    assert lookup_bank("9900").name == "ゆうちょ"
    assert lookup_bank("0000") is None
    assert lookup_branch("0001", "001").name == "東京営業部"
    assert lookup_branch("0001", "999") is None


def test_search_by_name_kana_hiragana_or_code():
    assert lookup_bank("0001") in search_banks("みずほ")
    assert lookup_bank("0001") in search_banks("ミズホ")
    assert [b.code for b in search_banks("0001")] == ["0001"]
    assert any(b.code == "001" for b in search_branches("0001", "東京営業部"))


def test_validate_account_normalises_and_collects_every_error():
    account = validate_account("０００１", "001", "普通", "12345", "やまだ たろう")
    assert (account.bank.code, account.branch.code, account.account_type,
            account.account_number, account.holder_name) == (
        "0001", "001", "1", "0012345", "ﾔﾏﾀﾞ ﾀﾛｳ")
    with pytest.raises(BankInputErrors) as errors:
        validate_account("0000", "001", "9", "12345678", "山田")
    assert set(errors.value.errors) == {"bank_code", "account_type", "account_number",
                                        "holder_name"}


def test_masking_shows_only_the_last_three_digits():
    assert mask_account_number("1234567") == "****567"

"""Bank-account input (docs/domain.md §5.3): pure functions, no Django, no database.
Run: .venv/bin/python -m pytest tests/payouts -q -p no:django"""

import dataclasses

import pytest

from payouts.banking import (
    HOLDER_NAME_MAX_LENGTH,
    ZENGIN_CHARACTERS,
    Bank,
    BankInputError,
    BankInputErrors,
    Branch,
    ConvertedAccount,
    japan_post_to_zengin,
    lookup_bank,
    lookup_branch,
    mask_account_number,
    master_data_date,
    normalize_digits,
    normalize_holder_name,
    parse_account_type,
    search_banks,
    search_branches,
    validate_account,
)


@pytest.fixture(autouse=True)
def _private_storage():
    """Overrides tests/conftest.py's autouse fixture, which needs pytest-django's ``settings``:
    these tests are pure Python and run with ``-p no:django``."""

# --------------------------------------------------------------------------- digits


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("1234567", "1234567"),
        ("１２３４５６７", "1234567"),  # full-width digits
        (" 123 4567 ", "1234567"),  # spaces
        ("１２３　４５６７", "1234567"),  # full-width space
        ("123-4567", "1234567"),  # hyphen
        ("123－4567", "1234567"),  # full-width hyphen
        ("123ー4567", "1234567"),  # long vowel typed for a hyphen
        ("", ""),
        ("12a4", "12a4"),  # left for the caller to refuse
    ],
)
def test_normalize_digits(typed, expected):
    assert normalize_digits(typed) == expected


# --------------------------------------------------------------------------- holder name


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # full-width katakana
        ("やまだ たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # hiragana
        ("やまだ　たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # full-width space
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # already as the bank holds it
        ("  ﾔﾏﾀﾞ   ﾀﾛｳ  ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # spaces trimmed and collapsed
        ("ｷｯﾃ ｼｮｳｼﾞ", "ｷﾂﾃ ｼﾖｳｼﾞ"),  # half-width small kana become large
        ("キッテ ショウジ", "ｷﾂﾃ ｼﾖｳｼﾞ"),  # full-width small kana become large
        ("ぁぃぅぇぉっゃゅょ", "ｱｲｳｴｵﾂﾔﾕﾖ"),  # every small hiragana
        ("ヵヶヮ", "ｶｹﾜ"),
        ("ヰヱ ゐゑ", "ｲｴ ｲｴ"),  # obsolete kana as banks print them
        ("ガギグゲゴ", "ｶﾞｷﾞｸﾞｹﾞｺﾞ"),  # dakuten as a separate mark
        ("パピプペポ", "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"),  # handakuten as a separate mark
        ("ガ パ", "ｶﾞ ﾊﾟ"),
        ("カ゛ハ゜", "ｶﾞﾊﾟ"),  # spacing marks ゛ ゜ typed after the kana
        ("ヴィクトリア", "ｳﾞｲｸﾄﾘｱ"),
        ("カ）ヤマダ", "ｶ)ﾔﾏﾀﾞ"),  # company: 株式会社 abbreviated before the name
        ("ヤマダ（カ", "ﾔﾏﾀﾞ(ｶ"),  # company: abbreviated after the name
        ("イ）ヤマダカイ ヤマダクリニツク", "ｲ)ﾔﾏﾀﾞｶｲ ﾔﾏﾀﾞｸﾘﾆﾂｸ"),  # 医療法人
        ("ｍｙｎａ ｃｌｉｎｉｃ １２", "MYNA CLINIC 12"),  # full-width lower-case latin, digits
        ("myna clinic", "MYNA CLINIC"),  # lower-case latin
        ("ＡＢＣ／ＤＥＦ，Ｇ．Ｈ", "ABC/DEF,G.H"),  # full-width / , .
        ("サトー", "ｻﾄ-"),  # long vowel written as the 全銀 hyphen
        ("ｻﾄｰ", "ｻﾄ-"),  # half-width long vowel too
        ("ヤマダ−タロウ", "ﾔﾏﾀﾞ-ﾀﾛｳ"),  # minus sign
        ("ヤマダ・タロウ", "ﾔﾏﾀﾞ.ﾀﾛｳ"),  # middle dot written as a full stop
        ("ﾔﾏﾀﾞ\u200b ﾀﾛｳ\ufeff", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # invisible characters from a copy-paste
        ("ｱ" * HOLDER_NAME_MAX_LENGTH, "ｱ" * HOLDER_NAME_MAX_LENGTH),  # exactly the limit
    ],
)
def test_holder_name_is_normalised_not_refused(typed, stored):
    assert normalize_holder_name(typed) == stored
    assert set(stored) <= ZENGIN_CHARACTERS


@pytest.mark.parametrize(
    "typed, named",
    [
        ("山田太郎", "「山」「田」「太」「郎」"),  # kanji, each named once
        ("ヤマダ山田", "「山」「田」"),
        ("ﾔﾏﾀﾞ😀", "「😀」"),  # emoji
        ("👨\u200d👩", "「👨」「👩」"),  # emoji joined by an (invisible, dropped) ZWJ
        ("A&B", "「&」"),
        ("ヤマダ〜", "「〜」"),
        ("CAFÉ", "「É」"),
    ],
)
def test_holder_name_that_cannot_be_represented_is_refused_naming_the_characters(typed, named):
    with pytest.raises(BankInputError) as error:
        normalize_holder_name(typed)
    assert error.value.field == "holder_name"
    assert "使えない文字" in error.value.message
    assert named in error.value.message
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    "typed, hint",
    [
        ("株式会社ヤマダ", "「株式会社」は「ｶ)」"),
        ("医療法人社団ヤマダ会", "「医療法人社団」は「ｲ)」"),
        ("社会福祉法人アオバ", "「社会福祉法人」は「ﾌｸ)」"),
    ],
)
def test_holder_name_with_an_entity_in_kanji_gets_the_abbreviation_as_a_hint(typed, hint):
    with pytest.raises(BankInputError) as error:
        normalize_holder_name(typed)
    assert hint in error.value.message


@pytest.mark.parametrize(
    "typed, fragment",
    [
        ("", "入力してください"),
        ("   ", "入力してください"),
        ("　\u200b", "入力してください"),
        ("ｱ" * (HOLDER_NAME_MAX_LENGTH + 1), "30文字以内"),
        ("ガ" * 16, "32文字"),  # 16 kana, 32 half-width characters with their dakuten
    ],
)
def test_holder_name_empty_or_too_long_is_refused(typed, fragment):
    with pytest.raises(BankInputError) as error:
        normalize_holder_name(typed)
    assert error.value.field == "holder_name"
    assert fragment in error.value.message


# --------------------------------------------------------------------------- ゆうちょ銀行

# ゆうちょ銀行「振込用の店名・預金種目・口座番号」の例 (the first row), and further rows applying
# the bank's 「記号・番号から振込用の店名・預金種目・口座番号への変換の公式」: 記号 1xxxx → 店番
# 2nd–3rd digits + 8, 普通, 番号 without its last "1" padded to 7; 記号 0xxxx → 店番 2nd–3rd
# digits + 9, 当座, 番号 padded to 7; a digit printed between a 振替口座's 記号 and 番号 is unused.
@pytest.mark.parametrize(
    "kigo, bango, branch, name, account_type, number",
    [
        ("12345", "67890121", "238", "二三八", "1", "6789012"),
        ("10180", "12345671", "018", "〇一八", "1", "1234567"),
        ("17300", "19927651", "738", "七三八", "1", "1992765"),
        ("14030", "987651", "408", "四〇八", "1", "0098765"),  # short 番号: zero-padded
        ("10000", "11", "008", "〇〇八", "1", "0000001"),
        ("１２３４５", "６７８９０１２１", "238", "二三八", "1", "6789012"),  # full width
        ("12345", "6789012-1", "238", "二三八", "1", "6789012"),  # hyphen as in 通帳
        ("00100", "12345", "019", "〇一九", "2", "0012345"),  # 振替口座
        ("00100-1", "12345", "019", "〇一九", "2", "0012345"),  # 記号 printed with its digit
        ("001001", "12345", "019", "〇一九", "2", "0012345"),
        ("01940", "123456", "199", "一九九", "2", "0123456"),
        ("09990", "1234567", "999", "九九九", "2", "1234567"),
    ],
)
def test_japan_post_conversion(kigo, bango, branch, name, account_type, number):
    converted = japan_post_to_zengin(kigo, bango)
    assert converted == ConvertedAccount("9900", branch, account_type, number,
                                         converted.branch_name, converted.branch_kana)
    assert converted.branch_name == name


@pytest.mark.parametrize(
    "kigo, bango, branch, name, kana, in_master",
    [
        ("12345", "67890121", "238", "二三八", "ニサンハチ", True),
        ("00100", "12345", "019", "〇一九", "ゼロイチキユウ", True),
        # 店番 198 is not in the zengin master: the name is spelt from the digits
        ("11940", "12345671", "198", "一九八", "イチキユウハチ", False),
    ],
)
def test_japan_post_branch_name_from_master_or_kanji_numerals(
    kigo, bango, branch, name, kana, in_master
):
    converted = japan_post_to_zengin(kigo, bango)
    assert (converted.branch_code, converted.branch_name, converted.branch_kana) == (
        branch, name, kana)
    assert (lookup_branch("9900", branch) is not None) is in_master


def test_japan_post_savings_account_is_type_4():
    """通常貯蓄貯金 (記号 1xxxx) is transferred to as 貯蓄預金."""
    converted = japan_post_to_zengin("12345", "67890121", savings=True)
    assert (converted.branch_code, converted.account_type, converted.account_number) == (
        "238", "4", "6789012")


def test_converted_account_repr_hides_the_number():
    converted = japan_post_to_zengin("12345", "67890121")
    assert "6789012" not in repr(converted)
    assert converted.masked_number == "****012"


@pytest.mark.parametrize(
    "kigo, bango, field, fragment",
    [
        ("", "67890121", "kigo", "記号を入力"),
        ("1234", "67890121", "kigo", "5桁"),  # too short
        ("123456", "67890121", "kigo", "5桁"),  # 6 digits only for a 振替口座
        ("0010012", "12345", "kigo", "5桁"),
        ("1234A", "67890121", "kigo", "数字"),
        ("22345", "67890121", "kigo", "「1」（通常貯金）か「0」（振替口座）"),
        ("92345", "67890121", "kigo", "始まる"),
        ("12345", "", "bango", "番号を入力"),
        ("12345", "abc", "bango", "数字"),
        ("12345", "123456781", "bango", "8桁以内"),  # 9 digits
        ("12345", "67890120", "bango", "最後の桁が必ず「1」"),  # 通常貯金 番号 not ending in 1
        ("12345", "6789012", "bango", "最後の桁が必ず「1」"),  # the 7-digit 口座番号 typed instead
        ("12345", "1", "bango", "短すぎ"),
        ("00100", "12345678", "bango", "7桁以内"),  # 振替口座 番号 longer than 7
        ("00100", "000", "bango", "0だけ"),
    ],
)
def test_japan_post_errors(kigo, bango, field, fragment):
    with pytest.raises(BankInputError) as error:
        japan_post_to_zengin(kigo, bango)
    assert error.value.field == field
    assert fragment in error.value.message


def test_japan_post_transfer_account_cannot_be_savings():
    with pytest.raises(BankInputError) as error:
        japan_post_to_zengin("00100", "12345", savings=True)
    assert "当座" in error.value.message


# --------------------------------------------------------------------------- master


def test_master_data_date():
    date = master_data_date()
    assert len(date) == 10 and date[4] == date[7] == "-"
    assert date >= "2024-01-01"


@pytest.mark.parametrize(
    "code, name, kana",
    [
        ("0001", "みずほ", "ミズホ"),
        ("0005", "三菱ＵＦＪ", "ミツビシユ－エフジエイ"),
        ("0009", "三井住友", "ミツイスミトモ"),
        ("9900", "ゆうちょ", "ユウチヨ"),
        ("１００１", "北海道信金", "ホツカイドウシンキン"),  # full-width code
    ],
)
def test_lookup_bank(code, name, kana):
    bank = lookup_bank(code)
    assert bank == Bank(normalize_digits(code), name, kana)


@pytest.mark.parametrize("code", ["0000", "1", "001", "00001", "abcd", ""])
def test_lookup_bank_unknown_or_malformed(code):
    assert lookup_bank(code) is None


@pytest.mark.parametrize(
    "bank, code, name, kana",
    [
        ("0001", "001", "東京営業部", "トウキヨウ"),
        ("0005", "001", "本店", "ホンテン"),
        ("0009", "001", "神保町", "ジンボウチヨウ"),
        ("9900", "238", "二三八", "ニサンハチ"),
        ("9900", "019", "〇一九", "ゼロイチキユウ"),
        ("９９００", "０１８", "〇一八", "ゼロイチハチ"),
    ],
)
def test_lookup_branch(bank, code, name, kana):
    assert lookup_branch(bank, code) == Branch(normalize_digits(code), name, kana)


@pytest.mark.parametrize(
    "bank, code", [("0001", "999"), ("0001", "1"), ("0001", "0001"), ("0000", "001"), ("", "")]
)
def test_lookup_branch_unknown_or_malformed(bank, code):
    assert lookup_branch(bank, code) is None


@pytest.mark.parametrize(
    "query, first",
    [
        ("みずほ", "0001"),  # hiragana against the master's kana
        ("ミズホ", "0001"),  # katakana
        ("ﾐｽﾞﾎ", "0001"),  # half-width katakana
        ("みずほ銀行", "0001"),  # 銀行 is not part of the master's names
        ("mizuho", "0001"),  # romaji
        ("三菱UFJ", "0005"),  # half-width letters against 三菱ＵＦＪ
        ("三菱ＵＦＪ銀行", "0005"),
        ("みつびしゆーえふじぇい", "0005"),  # small kana and long vowel folded
        ("三井住友", "0009"),
        ("ゆうちょ", "9900"),  # small ょ against the master's ヨ
        ("ゆうちょ銀行", "9900"),
        ("北海道信用金庫", "1001"),  # 信用金庫 against the master's 信金
        ("0001", "0001"),  # code
        ("０００５", "0005"),  # full-width code
        ("99", "9900"),  # code prefix
    ],
)
def test_search_banks(query, first):
    found = search_banks(query)
    assert found and found[0].code == first
    assert all(isinstance(bank, Bank) for bank in found)


def test_search_banks_exact_name_comes_before_names_containing_it():
    codes = [bank.code for bank in search_banks("みずほ")]
    assert codes[0] == "0001" and "0289" in codes  # みずほ, then みずほ信託 ...


@pytest.mark.parametrize("query", ["", "   ", "存在しない銀行", "ｘｙｚｚｙ"])
def test_search_banks_nothing(query):
    assert search_banks(query) == []


def test_search_limit():
    assert len(search_banks("00", limit=3)) == 3
    assert len(search_banks("0")) == 20
    assert search_banks("みずほ", limit=0) == []


@pytest.mark.parametrize(
    "bank, query, first",
    [
        ("0001", "東京営業部", "001"),
        ("0001", "とうきょう", "001"),  # hiragana against the kana トウキヨウ
        ("0001", "001", "001"),
        ("0005", "しんじゅく", "341"),  # small ゅ against シンジユク; the exact name first
        ("0005", "新宿支店", "341"),  # 支店 is not part of the master's names
        ("0005", "ｼﾝｼﾞｭｸ", "341"),
        ("9900", "ぜろいちはち", "018"),
        ("9900", "〇一八", "018"),
        ("9900", "23", "238"),
    ],
)
def test_search_branches(bank, query, first):
    found = search_branches(bank, query)
    assert found and found[0].code == first
    assert all(isinstance(branch, Branch) for branch in found)


def test_search_branches_of_unknown_bank_is_empty():
    assert search_branches("0000", "本店") == []


# --------------------------------------------------------------------------- whole account


@pytest.mark.parametrize(
    "fields, expected",
    [
        (("0001", "001", "1", "1234567", "ﾔﾏﾀﾞ ﾀﾛｳ"), ("0001", "001", "1", "1234567", "ﾔﾏﾀﾞ ﾀﾛｳ")),
        (("０００１", "００１", "普通", "12345", "やまだ　たろう"),
         ("0001", "001", "1", "0012345", "ﾔﾏﾀﾞ ﾀﾛｳ")),
        (("0005", "001", "当座預金", "１２３－４５６７", "カ）アオバヤツキヨク"),
         ("0005", "001", "2", "1234567", "ｶ)ｱｵﾊﾞﾔﾂｷﾖｸ")),
        (("0009", "001", 4, "1", "ｱｵﾊﾞ"), ("0009", "001", "4", "0000001", "ｱｵﾊﾞ")),
        (("9900", "238", "1", "6789012", "ﾔﾏﾀﾞ ﾀﾛｳ"), ("9900", "238", "1", "6789012", "ﾔﾏﾀﾞ ﾀﾛｳ")),
        (("9900", "019", "当座", "12345", "ｱｵﾊﾞ"), ("9900", "019", "2", "0012345", "ｱｵﾊﾞ")),
    ],
)
def test_validate_account_normalises(fields, expected):
    account = validate_account(*fields)
    assert (account.bank.code, account.branch.code, account.account_type,
            account.account_number, account.holder_name) == expected
    assert account.bank == lookup_bank(expected[0])
    assert account.branch == lookup_branch(expected[0], expected[1])
    assert (account.bank_code, account.branch_code) == expected[:2]


def test_validate_account_japan_post_conversion_round_trip():
    converted = japan_post_to_zengin("12345", "67890121")
    account = validate_account(converted.bank_code, converted.branch_code,
                               converted.account_type, converted.account_number, "ヤマダ タロウ")
    assert (account.bank.name, account.branch.name, account.account_type_name,
            account.account_number) == ("ゆうちょ", "二三八", "普通", "6789012")


def test_validate_account_collects_every_error_at_once():
    with pytest.raises(BankInputErrors) as raised:
        validate_account("0000", "1", "9", "12345678", "山田")
    errors = raised.value.errors
    assert set(errors) == {"bank_code", "branch_code", "account_type", "account_number",
                           "holder_name"}
    assert "一覧にありません" in errors["bank_code"]
    assert "3桁" in errors["branch_code"]
    assert "普通・当座・貯蓄" in errors["account_type"]
    assert "7桁以内" in errors["account_number"]
    assert "「山」「田」" in errors["holder_name"]
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    "fields, expected",
    [
        (("", "", "", "", ""), {
            "bank_code": "金融機関コードを入力",
            "branch_code": "支店コードを入力",
            "account_type": "普通・当座・貯蓄",
            "account_number": "口座番号を入力",
            "holder_name": "口座名義を入力",
        }),
        (("01", "001", "1", "1234567", "ｱ"), {"bank_code": "4桁"}),
        (("abcd", "001", "1", "1234567", "ｱ"), {"bank_code": "4桁"}),
        (("0001", "999", "1", "1234567", "ｱ"), {"branch_code": "支店コード「999」の支店はありません"}),
        (("0001", "001", "3", "1234567", "ｱ"), {"account_type": "普通・当座・貯蓄"}),
        (("0001", "001", "定期", "1234567", "ｱ"), {"account_type": "普通・当座・貯蓄"}),
        (("0001", "001", "1", "12a4567", "ｱ"), {"account_number": "数字"}),
        (("0001", "001", "1", "12345678", "ｱ"), {"account_number": "8桁入力"}),
        (("0001", "001", "1", "1234567", "ｱ" * 31), {"holder_name": "30文字以内"}),
        (("9900", "238", "2", "6789012", "ｱ"), {"account_type": "末尾8"}),
        (("9900", "019", "1", "0012345", "ｱ"), {"account_type": "末尾9"}),
    ],
)
def test_validate_account_errors(fields, expected):
    with pytest.raises(BankInputErrors) as raised:
        validate_account(*fields)
    assert set(raised.value.errors) == set(expected)
    for field, fragment in expected.items():
        assert fragment in raised.value.errors[field]


def test_validate_account_never_puts_the_number_in_messages_or_repr():
    with pytest.raises(BankInputErrors) as raised:
        validate_account("0001", "999", "1", "7654321", "山田")
    assert "7654321" not in str(raised.value)
    account = validate_account("0001", "001", "1", "7654321", "ﾔﾏﾀﾞ")
    assert "7654321" not in repr(account)
    assert account.masked_number == "****321"


def test_records_are_frozen():
    account = validate_account("0001", "001", "1", "1234567", "ﾔﾏﾀﾞ")
    with pytest.raises(dataclasses.FrozenInstanceError):
        account.account_number = "7654321"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        account.bank.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "typed, code",
    [("1", "1"), ("１", "1"), ("2", "2"), ("4", "4"), (1, "1"), (4, "4"), ("普通", "1"),
     ("普通預金", "1"), ("当座", "2"), ("当座預金", "2"), ("貯蓄", "4"), ("貯蓄預金", "4"),
     ("3", None), ("", None), ("定期", None), (None, None)],
)
def test_parse_account_type(typed, code):
    assert parse_account_type(typed) == code


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    "number, masked",
    [
        ("0000012", "****012"),
        ("1234567", "****567"),
        ("１２３４５６７", "****567"),  # normalised first
        ("1234", "****234"),
        ("123", "****"),  # three digits or fewer are hidden whole
        ("7", "****"),
        ("", ""),
    ],
)
def test_mask_account_number(number, masked):
    assert mask_account_number(number) == masked


@pytest.mark.parametrize("typed, held", [("ﾜﾞ", "ﾜﾞ"), ("ヷ", "ﾜﾞ"), ("ｦﾞ", "ｦﾞ"), ("ヴ", "ｳﾞ")])
def test_voiced_wa_and_wo_are_written_as_banks_hold_them(typed, held):
    assert normalize_holder_name(f"ｶ){typed}") == f"ｶ){held}"

import pytest

from facilities.codes import (
    CodeError,
    luhn_check_digit,
    normalize_registration_number,
    parse_medical_code,
)


def test_domain_example_code_is_valid():
    assert parse_medical_code("0110113719").value == "0110113719"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("０１１０１１３７１９", "0110113719"),  # full-width digits are normalised
        ("01-1-0113719", "0110113719"),
        (" 0110113719 ", "0110113719"),
    ],
)
def test_code_input_is_normalised(raw, expected):
    assert parse_medical_code(raw).value == expected


@pytest.mark.parametrize(
    "raw, message",
    [
        ("", "入力してください"),
        ("01101137", "10桁です"),
        ("01101137190", "10桁です"),
        ("01101137x9", "数字10桁"),
        ("4810113719", "01〜47"),
        ("0010113719", "01〜47"),
        ("0120113719", "点数表番号"),
        ("0110113718", "検証番号"),
        ("፩፩፩፩፩፩፩፩፩፩", "数字10桁"),  # digits to str.isdigit, not to int(): a ValueError before
        ("٠١١٠١١٣٧١٩", "数字10桁"),
    ],
)
def test_invalid_codes_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(CodeError) as error:
        parse_medical_code(raw)
    assert message in error.value.message


@pytest.mark.parametrize("body, digit", [("011011371", 9), ("000000000", 0), ("131000001", 1)])
def test_luhn_check_digit(body, digit):
    assert luhn_check_digit(body) == digit


def test_every_single_digit_error_is_caught():
    code = "0110113719"
    for position in range(10):
        for replacement in "0123456789":
            if replacement == code[position]:
                continue
            wrong = code[:position] + replacement + code[position + 1:]
            with pytest.raises(CodeError):
                parse_medical_code(wrong)


@pytest.mark.parametrize("raw, expected", [("契１２３４５６７", "契1234567"), ("協 0012", "協0012")])
def test_registration_number_is_nfkc_normalised(raw, expected):
    assert normalize_registration_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "1234567", "契", "契1234567;drop"])
def test_bad_registration_numbers_are_refused(raw):
    with pytest.raises(CodeError):
        normalize_registration_number(raw)

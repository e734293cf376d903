"""The 全銀協 総合振込 file, read back by a reader written here from the layout table (it uses
none of the writer's helpers): every field's position, length and character set, the trailer
against the lines, CR LF line ends, determinism, and the refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payouts import banking, zengin
from payouts.zengin import Consignor, TransferLine, ZenginError, transfer_file, zengin_encodable

# --------------------------------------------------------------------------- the reader

# (field, 1-based start, length, type). N: ASCII digits; C: 全銀 characters (JIS X 0201).
HEADER = [
    ("データ区分", 1, 1, "N"),
    ("種別コード", 2, 2, "N"),
    ("コード区分", 4, 1, "N"),
    ("振込依頼人コード", 5, 10, "N"),
    ("振込依頼人名", 15, 40, "C"),
    ("取組日", 55, 4, "N"),
    ("仕向銀行番号", 59, 4, "N"),
    ("仕向銀行名", 63, 15, "C"),
    ("仕向支店番号", 78, 3, "N"),
    ("仕向支店名", 81, 15, "C"),
    ("預金種目", 96, 1, "N"),
    ("口座番号", 97, 7, "N"),
    ("ダミー", 104, 17, "C"),
]
DATA = [
    ("データ区分", 1, 1, "N"),
    ("被仕向銀行番号", 2, 4, "N"),
    ("被仕向銀行名", 6, 15, "C"),
    ("被仕向支店番号", 21, 3, "N"),
    ("被仕向支店名", 24, 15, "C"),
    ("手形交換所番号", 39, 4, "N"),
    ("預金種目", 43, 1, "N"),
    ("口座番号", 44, 7, "N"),
    ("受取人名", 51, 30, "C"),
    ("振込金額", 81, 10, "N"),
    ("新規コード", 91, 1, "N"),
    ("顧客コード1", 92, 10, "N"),
    ("顧客コード2", 102, 10, "N"),
    ("振込指定区分", 112, 1, "N"),
    ("識別表示", 113, 1, "C"),
    ("ダミー", 114, 7, "C"),
]
TRAILER = [
    ("データ区分", 1, 1, "N"),
    ("合計件数", 2, 6, "N"),
    ("合計金額", 8, 12, "N"),
    ("ダミー", 20, 101, "C"),
]
END = [
    ("データ区分", 1, 1, "N"),
    ("ダミー", 2, 119, "C"),
]
LAYOUTS = {b"1": HEADER, b"2": DATA, b"8": TRAILER, b"9": END}

DIGIT_BYTES = frozenset(b"0123456789")
# 全銀 characters as JIS X 0201 bytes: A–Z, 0–9, space, ( ) . - / , and ｦ (0xA6), ｱ–ﾝ
# (0xB1–0xDD), ﾞ ﾟ (0xDE, 0xDF). Not ｧ–ｯ (0xA7–0xAF, small kana) nor ｰ (0xB0).
ZENGIN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ().-/,") | {0xA6} | frozenset(
    range(0xB1, 0xE0)
)
ZENGIN_TEXT = "".join(sorted(bytes([b]).decode("cp932") for b in ZENGIN_BYTES))


def read_transfer_file(data: bytes) -> list[dict[str, str]]:
    """Parse the file record by record, checking everything the layout says; each record comes
    back as {"kind": 1/2/8/9 as str, field: raw text}. Asserts on any deviation."""
    assert len(data) % 122 == 0, f"{len(data)} bytes is not a whole number of 120+2 records"
    parsed = []
    for offset in range(0, len(data), 122):
        chunk = data[offset : offset + 122]
        record, newline = chunk[:120], chunk[120:]
        assert newline == b"\r\n", f"record at {offset} ends with {newline!r}"
        assert b"\r" not in record and b"\n" not in record
        layout = LAYOUTS[record[:1]]
        fields: dict[str, str] = {"kind": record[:1].decode()}
        for name, start, length, kind in layout:
            raw = record[start - 1 : start - 1 + length]
            assert len(raw) == length
            allowed = DIGIT_BYTES if kind == "N" else ZENGIN_BYTES
            bad = [b for b in raw if b not in allowed]
            assert not bad, f"{name} at {start}: bytes {bad} not {kind}"
            fields[name if name != "ダミー" else f"ダミー{start}"] = raw.decode("cp932")
        parsed.append(fields)
    kinds = "".join(r["kind"] for r in parsed)
    assert kinds[0] == "1" and kinds[-2:] == "89" and set(kinds[1:-2]) <= {"2"}, kinds
    return parsed


def text_field(value: str, expected: str) -> None:
    """C fields: left-aligned, space-padded."""
    assert value == expected.ljust(len(value)), (value, expected)


def number_field(value: str, expected: int | str) -> None:
    """N fields: right-aligned, zero-padded."""
    assert value == str(expected).rjust(len(value), "0"), (value, expected)


# --------------------------------------------------------------------------- sample input


def consignor(**changes) -> Consignor:
    values = dict(
        code="0123456789",
        name="ｼﾔ)ｵﾝﾗｲﾝｼｶｸｶｸﾆﾝｷﾖｳｷﾞｶｲ",
        transfer_date=date(2026, 1, 13),
        bank_code="0001",
        bank_name="ミズホ",  # full width, as the zengin master holds it
        branch_code="001",
        branch_name="ﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ",
        account_type="1",
        account_number="2468013",
    )
    values.update(changes)
    return Consignor(**values)


def line(number: int = 1, **changes) -> TransferLine:
    values = dict(
        bank_code="0005",
        bank_name="ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ",
        branch_code="135",
        branch_name="ｼﾝｼﾞﾕｸ",
        account_type="1",
        account_number="7654321",
        holder_name="ｲ)ﾔﾏﾀﾞｸﾘﾆﾂｸ",
        amount=200_000,
        customer_code_1=number,
    )
    values.update(changes)
    return TransferLine(**values)


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("layout", [HEADER, DATA, TRAILER, END], ids=["1", "2", "8", "9"])
def test_layout_table_is_contiguous_and_120_bytes(layout):
    position = 1
    for name, start, length, _ in layout:
        assert start == position, name
        position += length
    assert position == 121


@pytest.mark.parametrize(
    "position, byte",
    [
        (3, b" "),  # 種別コード: not a digit
        (15, b"\xa7"),  # 振込依頼人名: ｧ is JIS X 0201 but not a 全銀 character
        (120 + 2 + 90, b"A"),  # 振込金額 of the data record
        (120 + 2 + 121, b"\n"),  # the data record's CR (a bare LF)
    ],
)
def test_the_reader_is_strict(position, byte):
    data = bytearray(transfer_file(consignor(), [line()]))
    data[position - 1 : position] = byte
    with pytest.raises(AssertionError):
        read_transfer_file(bytes(data))


def test_file_reads_back_field_by_field():
    lines = [
        line(1),
        line(2, bank_code="9900", bank_name="ユウチヨ", branch_code="018",
             branch_name="ｾﾞﾛｲﾁﾊﾁ", account_type="4", account_number="0012345",
             holder_name="やまだ　はなこ", amount=1, customer_code_2=77),
        line(1234567890, account_type="2", holder_name="ｶ)ｻﾝﾌﾟﾙﾔﾂｷﾖｸ", amount=9_999_999_999),
    ]
    records = read_transfer_file(transfer_file(consignor(), lines))
    assert [r["kind"] for r in records] == ["1", "2", "2", "2", "8", "9"]

    header = records[0]
    number_field(header["データ区分"], 1)
    number_field(header["種別コード"], 21)
    number_field(header["コード区分"], 0)
    number_field(header["振込依頼人コード"], "0123456789")
    text_field(header["振込依頼人名"], "ｼﾔ)ｵﾝﾗｲﾝｼｶｸｶｸﾆﾝｷﾖｳｷﾞｶｲ")
    number_field(header["取組日"], "0113")
    number_field(header["仕向銀行番号"], "0001")
    text_field(header["仕向銀行名"], "ﾐｽﾞﾎ")
    number_field(header["仕向支店番号"], "001")
    text_field(header["仕向支店名"], "ﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ")
    number_field(header["預金種目"], 1)
    number_field(header["口座番号"], "2468013")
    assert header["ダミー104"] == " " * 17

    first, second, third = records[1:4]
    number_field(first["データ区分"], 2)
    number_field(first["被仕向銀行番号"], "0005")
    text_field(first["被仕向銀行名"], "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ")
    number_field(first["被仕向支店番号"], "135")
    text_field(first["被仕向支店名"], "ｼﾝｼﾞﾕｸ")
    number_field(first["手形交換所番号"], 0)
    number_field(first["預金種目"], 1)
    number_field(first["口座番号"], "7654321")
    text_field(first["受取人名"], "ｲ)ﾔﾏﾀﾞｸﾘﾆﾂｸ")
    number_field(first["振込金額"], 200_000)
    assert first["振込金額"] == "0000200000"
    number_field(first["新規コード"], 0)
    assert first["顧客コード1"] == "0000000001"
    assert first["顧客コード2"] == "0000000000"
    number_field(first["振込指定区分"], 7)
    assert first["識別表示"] == " "
    assert first["ダミー114"] == " " * 7

    assert second["被仕向銀行番号"] == "9900"
    text_field(second["被仕向銀行名"], "ﾕｳﾁﾖ")
    assert second["預金種目"] == "4"
    assert second["口座番号"] == "0012345"
    text_field(second["受取人名"], "ﾔﾏﾀﾞ ﾊﾅｺ")  # hiragana and a full-width space, normalised
    assert second["振込金額"] == "0000000001"
    assert second["顧客コード2"] == "0000000077"

    assert third["預金種目"] == "2"
    assert third["振込金額"] == "9999999999"
    assert third["顧客コード1"] == "1234567890"

    trailer, end = records[4], records[5]
    assert trailer["合計件数"] == "000003"
    assert int(trailer["合計金額"]) == sum(int(r["振込金額"]) for r in records[1:4])
    assert trailer["合計金額"] == "010000200000"  # 200,000 + 1 + 9,999,999,999
    assert trailer["ダミー20"] == " " * 101
    assert end["ダミー2"] == " " * 119


def test_every_record_ends_with_cr_lf_the_last_one_too():
    data = transfer_file(consignor(), [line(1), line(2)])
    assert len(data) == 122 * 5
    assert data.endswith(b"9" + b" " * 119 + b"\r\n")
    assert data.count(b"\r\n") == 5
    assert data.count(b"\n") == 5 and data.count(b"\r") == 5
    assert all(len(r) == 120 for r in data.split(b"\r\n")[:-1])


def test_records_are_the_file_without_line_ends():
    lines = [line(1), line(2)]
    assert b"".join(r + b"\r\n" for r in zengin.records(consignor(), lines)) == transfer_file(
        consignor(), lines
    )


def test_same_input_same_bytes():
    lines = [line(n, amount=1000 * n) for n in range(1, 6)]
    first = transfer_file(consignor(), lines)
    again = transfer_file(consignor(), [line(n, amount=1000 * n) for n in range(1, 6)])
    assert first == again == transfer_file(consignor(), tuple(lines))


def test_lines_are_written_in_the_order_given():
    records = read_transfer_file(transfer_file(consignor(), [line(3), line(1), line(2)]))
    assert [int(r["顧客コード1"]) for r in records[1:4]] == [3, 1, 2]


def test_transfer_date_is_written_mmdd():
    records = read_transfer_file(transfer_file(consignor(transfer_date=date(2025, 12, 1)), [line()]))
    assert records[0]["取組日"] == "1201"


def test_names_of_full_length_fill_their_field():
    name = "ｱ" * 40
    long_holder = "ｶﾞ" * 15  # 15 kana, 30 characters with the marks
    records = read_transfer_file(
        transfer_file(consignor(name=name), [line(holder_name=long_holder)])
    )
    assert records[0]["振込依頼人名"] == name
    assert records[1]["受取人名"] == long_holder


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "holder, named",
    [
        ("山田クリニック", "山"),
        ("ｱｲ&ｳ", "&"),
        ("ﾀﾅｶ\u00a5", "\u00a5"),  # ¥ is JIS X 0201 but not a 全銀 character here
        ("ﾀﾅｶ♪", "♪"),
        ("ＣＡＦÉ", "É"),
    ],
)
def test_unencodable_holder_name_is_refused_naming_the_character(holder, named):
    with pytest.raises(ZenginError) as error:
        line(5, holder_name=holder)
    assert error.value.field == "holder_name"
    assert isinstance(error.value, ValueError)
    assert f"「{named}」" in error.value.message
    assert "0000000005" in error.value.message  # the payment line is named


@pytest.mark.parametrize("field_name", ["bank_name", "branch_name"])
def test_unencodable_bank_names_are_refused(field_name):
    with pytest.raises(ZenginError) as error:
        line(**{field_name: "みずほ銀行"})
    assert error.value.field == field_name


def test_unencodable_consignor_name_is_refused():
    with pytest.raises(ZenginError) as error:
        consignor(name="オンライン資格確認協議会")
    assert error.value.field == "name"


@pytest.mark.parametrize(
    "make, field_name",
    [
        (lambda: consignor(name="ｱ" * 41), "name"),
        (lambda: consignor(bank_name="ｱ" * 16), "bank_name"),
        (lambda: line(holder_name="ｶﾞ" * 15 + "ｱ"), "holder_name"),  # 31 with the marks
        (lambda: line(branch_name="ｱ" * 16), "branch_name"),
        (lambda: line(holder_name="   "), "holder_name"),
        (lambda: line(holder_name=""), "holder_name"),
        (lambda: consignor(name=""), "name"),
    ],
)
def test_over_long_or_empty_names_are_refused_not_cut(make, field_name):
    with pytest.raises(ZenginError) as error:
        make()
    assert error.value.field == field_name


@pytest.mark.parametrize(
    "amount", [0, -1, 10_000_000_000, 12_345_678_901, True, 1.5, "1000", None]
)
def test_bad_amounts_are_refused(amount):
    with pytest.raises(ZenginError) as error:
        line(amount=amount)
    assert error.value.field == "amount"


def test_largest_amount_is_written():
    records = read_transfer_file(transfer_file(consignor(), [line(amount=zengin.MAX_AMOUNT)]))
    assert records[1]["振込金額"] == "9999999999"


@pytest.mark.parametrize(
    "changes, field_name",
    [
        ({"bank_code": "123"}, "bank_code"),
        ({"bank_code": "12345"}, "bank_code"),
        ({"bank_code": "１２３４"}, "bank_code"),  # full width
        ({"bank_code": "12a4"}, "bank_code"),
        ({"bank_code": 5}, "bank_code"),  # an int would lose its leading zeros
        ({"branch_code": "12"}, "branch_code"),
        ({"branch_code": "1234"}, "branch_code"),
        ({"account_type": "3"}, "account_type"),
        ({"account_type": 1}, "account_type"),
        ({"account_type": "11"}, "account_type"),
        ({"account_number": "765432"}, "account_number"),
        ({"account_number": "76543210"}, "account_number"),
        ({"account_number": "76543-1"}, "account_number"),
        ({"customer_code_1": -1}, "customer_code_1"),
        ({"customer_code_1": 10_000_000_000}, "customer_code_1"),
        ({"customer_code_1": "1"}, "customer_code_1"),
        ({"customer_code_2": 10_000_000_000}, "customer_code_2"),
        ({"customer_code_2": -3}, "customer_code_2"),
    ],
)
def test_malformed_line_codes_are_refused(changes, field_name):
    with pytest.raises(ZenginError) as error:
        line(**changes)
    assert error.value.field == field_name


@pytest.mark.parametrize(
    "changes, field_name",
    [
        ({"code": "123456789"}, "code"),
        ({"code": "01234567890"}, "code"),
        ({"code": "012345678X"}, "code"),
        ({"bank_code": "001"}, "bank_code"),
        ({"branch_code": "01"}, "branch_code"),
        ({"account_type": "4"}, "account_type"),  # 依頼人: 1, 2 or 9
        ({"account_number": "123456"}, "account_number"),
        ({"transfer_date": "2026-01-13"}, "transfer_date"),
    ],
)
def test_malformed_consignor_fields_are_refused(changes, field_name):
    with pytest.raises(ZenginError) as error:
        consignor(**changes)
    assert error.value.field == field_name


def test_account_number_never_in_repr_or_error():
    item = line(account_number="7654321")
    assert "7654321" not in repr(item)
    assert item.masked_account_number == "****321"
    assert "2468013" not in repr(consignor())
    with pytest.raises(ZenginError) as error:
        line(account_number="76543210")
    assert "76543210" not in str(error.value)


def test_a_file_without_lines_is_refused():
    with pytest.raises(ZenginError) as error:
        transfer_file(consignor(), [])
    assert error.value.field == "lines"


def test_count_that_does_not_fit_the_trailer_is_refused():
    assert zengin.MAX_COUNT == 999_999
    with pytest.raises(ZenginError) as error:
        transfer_file(consignor(), [line()] * 1_000_000)
    assert error.value.field == "lines"
    assert "999,999" in error.value.message


def test_total_that_does_not_fit_the_trailer_is_refused():
    biggest = line(amount=9_999_999_999)
    records = read_transfer_file(transfer_file(consignor(), [biggest] * 100))
    assert records[-2]["合計件数"] == "000100"
    assert records[-2]["合計金額"] == "999999999900"
    with pytest.raises(ZenginError) as error:
        transfer_file(consignor(), [biggest] * 101)
    assert error.value.field == "lines"


def test_only_dataclasses_are_written():
    with pytest.raises(TypeError):
        transfer_file(consignor(), [{"amount": 1}])


# --------------------------------------------------------------------------- characters


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ﾔﾏﾀﾞ ﾀﾛｳ"),
        ("やまだ　たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),
        ("ヤマダ（カ", "ﾔﾏﾀﾞ(ｶ"),
        ("キャッシュ", "ｷﾔﾂｼﾕ"),
        ("ミツビシユーエフジエイ", "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ"),
        ("ヴァイオリン", "ｳﾞｱｲｵﾘﾝ"),
        ("ﾜﾞｲﾝ", "ﾜﾞｲﾝ"),  # NFKC composes ﾜﾞ into ヷ; written back as ﾜﾞ
        ("abc 123", "ABC 123"),
        ("ｾﾝﾀｰ", "ｾﾝﾀ-"),
    ],
)
def test_zengin_text_normalises(text, expected):
    assert zengin.zengin_text(text) == expected
    assert zengin_encodable(text)


@pytest.mark.parametrize("text", ["山田", "ｱ&B", "ﾀﾅｶ♪", "☺", "ﾀﾅｶ\u00a5", "Ω"])
def test_zengin_encodable_refuses(text):
    assert not zengin_encodable(text)


def test_zengin_characters_are_single_jis_x_0201_bytes():
    assert set(ZENGIN_TEXT) == zengin.ZENGIN_CHARACTERS
    for ch in zengin.ZENGIN_CHARACTERS:
        encoded = ch.encode("cp932")
        assert len(encoded) == 1 and encoded[0] in ZENGIN_BYTES


def test_registration_allows_only_characters_the_file_can_carry():
    assert banking.ZENGIN_CHARACTERS <= zengin.ZENGIN_CHARACTERS
    assert banking.HOLDER_NAME_MAX_LENGTH == 30  # the 受取人名 field


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ZENGIN_TEXT, max_size=40))
def test_text_already_in_zengin_characters_is_left_alone(text):
    assert zengin.zengin_text(text) == text


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("あがぱゃっアガパァッーｰ－・･ｱｶﾞﾊﾟｧｯabcXYZ０１２3 　()（）.,/-&山田☺ヴヷヰゐ゛゜ﾞﾟ\u200b")
        ),
        max_size=35,
    )
)
def test_every_registered_holder_name_can_be_written(text):
    try:
        holder = banking.normalize_holder_name(text)
    except banking.BankInputError:
        return
    assert zengin_encodable(holder)
    assert zengin.zengin_text(holder) == holder  # the file writes what was registered
    written = read_transfer_file(transfer_file(consignor(), [line(holder_name=holder)]))
    assert written[1]["受取人名"].rstrip(" ") == holder.rstrip(" ")


# --------------------------------------------------------------------------- property

def _code(length: int):
    return st.text(alphabet="0123456789", min_size=length, max_size=length)


def _kana(max_size: int, min_size: int = 0):
    return st.text(alphabet=ZENGIN_TEXT, min_size=min_size, max_size=max_size).filter(
        lambda s: min_size == 0 or s.strip()
    )


lines_strategy = st.lists(
    st.builds(
        TransferLine,
        bank_code=_code(4),
        bank_name=_kana(15),
        branch_code=_code(3),
        branch_name=_kana(15),
        account_type=st.sampled_from("1249"),
        account_number=_code(7),
        holder_name=_kana(30, min_size=1),
        amount=st.integers(1, zengin.MAX_AMOUNT),
        customer_code_1=st.integers(0, 9_999_999_999),
        customer_code_2=st.none() | st.integers(0, 9_999_999_999),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy, day=st.dates(date(2020, 1, 1), date(2040, 12, 31)))
def test_random_valid_lines_make_a_well_formed_file(lines, day):
    data = transfer_file(consignor(transfer_date=day), lines)
    assert len(data) == 122 * (len(lines) + 3)
    records = read_transfer_file(data)
    assert records[0]["取組日"] == day.strftime("%m%d")
    data_records = records[1:-2]
    assert len(data_records) == len(lines)
    for record, item in zip(data_records, lines, strict=True):
        assert record["被仕向銀行番号"] == item.bank_code
        assert record["被仕向支店番号"] == item.branch_code
        assert record["口座番号"] == item.account_number
        assert record["預金種目"] == item.account_type
        text_field(record["受取人名"], item.holder_name)
        text_field(record["被仕向銀行名"], item.bank_name)
        text_field(record["被仕向支店名"], item.branch_name)
        assert int(record["振込金額"]) == item.amount
        assert int(record["顧客コード1"]) == item.customer_code_1
        assert int(record["顧客コード2"]) == (item.customer_code_2 or 0)
    trailer = records[-2]
    assert int(trailer["合計件数"]) == len(lines)
    assert int(trailer["合計金額"]) == sum(item.amount for item in lines)
    assert transfer_file(consignor(transfer_date=day), [replace(x) for x in lines]) == data

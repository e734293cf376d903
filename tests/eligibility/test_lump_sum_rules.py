"""一時金2024 (docs/domain.md §5.2, seed 002): every row and column boundary of the three tables.

Expected amounts come from the notice's tables typed in below exactly as seed 002 prints them
(万円, each row shorter by one cell; cells right of a printed row hold the row's maximum), never
from the rule's own staircase code. The ladders V are typed in too, and checked against the
printed tables, which is the reading docs/domain.md §5.2 takes.
"""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eligibility.rules.lump_sum import (
    DEFAULT_LUMP_SUM_2024,
    LumpSumFacts,
    LumpSumParams,
    determine_lump_sum,
    rate_row,
)


@pytest.fixture(autouse=True)
def _private_storage():
    """Pure rules: no Django settings to touch (overrides the project-wide fixture, so these
    tests also run with `-p no:django`)."""


PARAMS = LumpSumParams.from_dict(DEFAULT_LUMP_SUM_2024)
MAN = 10_000
ROW_BOUNDS_PERCENT = [3, 5, 10, 20, 30, 40]  # lower bounds of r1 … r6

# ---------------------------------------------------------------- the notice, typed in (万円)

HOSPITAL_COLUMNS = [10, 40, 80, 150, 250, 350, 450, 540, 720, 900]
HOSPITAL_PRINTED = [
    [0, 0, 0, 10, 12, 15, 20, 30, 35, 40],  # 3%未満
    [0, 0, 10, 12, 15, 20, 30, 35, 40],  # 3-5%
    [0, 10, 12, 15, 20, 30, 35, 40],  # 5-10%
    [10, 12, 15, 20, 30, 35, 40],  # 10-20%
    [12, 15, 20, 30, 35, 40],  # 20-30%
    [15, 20, 30, 35, 40],  # 30-40%
    [20, 30, 35, 40],  # 40%以上
]
CLINIC_COLUMNS = [1, 10, 20, 30, 50, 70, 80, 100, 160, 240]
CLINIC_PRINTED = [
    [0, 0, 0, 3, 5, 7, 10, 15, 17, 20],
    [0, 0, 3, 5, 7, 10, 15, 17, 20],
    [0, 3, 5, 7, 10, 15, 17, 20],
    [3, 5, 7, 10, 15, 17, 20],
    [5, 7, 10, 15, 17, 20],
    [7, 10, 15, 17, 20],
    [10, 15, 17, 20],
]
SMALL_COLUMNS = [1, 5, 10, 15, 25, 35, 40]
SMALL_PRINTED = [
    [0, 0, 1, 1.5, 2.5, 3.5, 5],
    [0, 1, 1.5, 2.5, 3.5, 5],
    [1, 1.5],  # 5-10%: only increases of 1–9; nothing printed for 10% or more
]

# The ladders V of docs/domain.md §5.2, in yen.
HOSPITAL_LADDER = [0, 0, 0, 100000, 120000, 150000, 200000, 300000, 350000, 400000]
CLINIC_LADDER = [0, 0, 0, 30000, 50000, 70000, 100000, 150000, 170000, 200000]
SMALL_LADDER = [0, 0, 10000, 15000, 25000, 35000, 50000]


def printed(table: list[list[float]], columns: list[int], row: int, increase: int) -> int | None:
    """The notice's cell in yen; 0 below the first column; None where nothing is printed for
    the row at all (the small table from 10%); right of a printed row, the row's maximum."""
    if row >= len(table):
        return None
    passed = [i for i, threshold in enumerate(columns) if increase >= threshold]
    if not passed:
        return 0
    cells = table[row]
    value = cells[passed[-1]] if passed[-1] < len(cells) else max(cells)
    return int(value * MAN)


def small_defines(row: int, increase: int) -> bool:
    """Where the small table applies (docs/domain.md §5.2): r0 and r1, and r2 for increases 1–9."""
    return row in (0, 1) or (row == 2 and increase <= 9)


def boundary_increases(columns: list[int]) -> list[int]:
    """Each column's threshold and one below it, and well past the last column."""
    values = {v for c in columns for v in (c, c - 1)} | {columns[-1] + 1000}
    return sorted(v for v in values if v >= 0)


def facts(kind: str, receipts: int, users: int, increase: int, poster: bool = True,
          informed: bool = True) -> LumpSumFacts:
    return LumpSumFacts(kind=kind, oct_receipts=receipts, oct_users=users,
                        best_users=users + increase, poster=poster, informed=informed)


def row_users(row: int, receipts: int) -> int:
    """Users putting the October rate exactly on row `row`'s lower bound."""
    percent = ([0] + ROW_BOUNDS_PERCENT)[row]
    assert receipts * percent % 100 == 0
    return receipts * percent // 100


# ---------------------------------------------------------------- the ladder reading


@pytest.mark.parametrize(
    "ladder, table",
    [(HOSPITAL_LADDER, HOSPITAL_PRINTED), (CLINIC_LADDER, CLINIC_PRINTED),
     (SMALL_LADDER, SMALL_PRINTED)],
    ids=["hospital", "clinic", "small"],
)
def test_each_printed_row_is_the_ladder_shifted_by_the_row(ladder, table):
    """Row r prints V[r], V[r+1], …: the staircase V[min(r + c, last)] of docs/domain.md §5.2."""
    for row, cells in enumerate(table):
        assert [int(c * MAN) for c in cells] == ladder[row:row + len(cells)]
        if table is not SMALL_PRINTED or row < 2:
            assert len(cells) == len(ladder) - row


def test_default_parameters_hold_the_notice_ladders():
    tables = DEFAULT_LUMP_SUM_2024["tables"]
    assert tables["hospital"] == {"columns": HOSPITAL_COLUMNS, "ladder": HOSPITAL_LADDER}
    assert tables["clinic"] == {"columns": CLINIC_COLUMNS, "ladder": CLINIC_LADDER}
    assert tables["small"] == {"columns": SMALL_COLUMNS, "ladder": SMALL_LADDER}
    assert DEFAULT_LUMP_SUM_2024["rate_bounds"] == [f"{p}/100" for p in ROW_BOUNDS_PERCENT]
    assert DEFAULT_LUMP_SUM_2024["baseline_month"] == "2023-10"
    assert DEFAULT_LUMP_SUM_2024["evaluation_months"] == ["2024-05", "2024-06", "2024-07",
                                                          "2024-08"]
    assert DEFAULT_LUMP_SUM_2024["small_max_receipts"] == 150


# ---------------------------------------------------------------- rows: the October rate


@pytest.mark.parametrize("row, percent", list(enumerate(ROW_BOUNDS_PERCENT, start=1)))
@pytest.mark.parametrize("receipts", [1000, 100_000])
def test_rate_exactly_on_a_row_bound_is_that_row_and_just_below_is_the_row_under(
    row, percent, receipts
):
    users = receipts * percent // 100
    assert rate_row(PARAMS, receipts, users) == (row, Fraction(percent, 100))
    assert rate_row(PARAMS, receipts, users - 1)[0] == row - 1


@pytest.mark.parametrize(
    "receipts, users, row",
    [
        (1000, 29, 0),  # 2.9% → r0 (docs/domain.md §5.2)
        (1000, 30, 1),  # 3.0% → r1
        (333, 9, 0),  # 2.70%
        (333, 10, 1),  # 3.003%
        (3, 1, 5),  # 33.3…% → r5 (30–40%)
        (7, 2, 4),  # 28.57% → r4
        (1, 1, 6),  # 100%
        (10**19, 3 * 10**17 - 1, 0),  # as a float this is exactly 0.03: compared exactly, r0
        (10**19, 3 * 10**17, 1),
        (0, 0, 0),  # no October receipts → r0 (Decision)
        (0, 5, 0),
    ],
)
def test_rate_is_compared_exactly_as_a_fraction(receipts, users, row):
    assert rate_row(PARAMS, receipts, users)[0] == row


@pytest.mark.parametrize("row", range(1, 7))
@pytest.mark.parametrize(
    "kind, table, columns",
    [("hospital", HOSPITAL_PRINTED, HOSPITAL_COLUMNS), ("clinic", CLINIC_PRINTED, CLINIC_COLUMNS)],
)
def test_one_user_below_a_row_bound_is_paid_as_the_row_below(kind, table, columns, row):
    users = row_users(row, 1000) - 1
    for increase in columns:
        result = determine_lump_sum(PARAMS, facts(kind, 1000, users, increase))
        assert result.details["row"] == row - 1
        assert result.amount == printed(table, columns, row - 1, increase)


# ---------------------------------------------------------------- columns: every cell boundary


@pytest.mark.parametrize("row", range(7))
@pytest.mark.parametrize("increase", boundary_increases(HOSPITAL_COLUMNS))
def test_hospital_table_at_every_column_boundary(row, increase):
    result = determine_lump_sum(PARAMS, facts("hospital", 1000, row_users(row, 1000), increase))
    expected = printed(HOSPITAL_PRINTED, HOSPITAL_COLUMNS, row, increase)
    assert (result.eligible, result.amount) == (expected > 0, expected)
    assert (result.details["table"], result.details["row"]) == ("hospital", row)
    assert result.details["increase"] == increase


@pytest.mark.parametrize("kind", ["clinic", "dental", "pharmacy"])  # 歯科 too (Decision)
@pytest.mark.parametrize("row", range(7))
@pytest.mark.parametrize("increase", boundary_increases(CLINIC_COLUMNS))
def test_clinic_table_at_every_column_boundary(kind, row, increase):
    result = determine_lump_sum(PARAMS, facts(kind, 1000, row_users(row, 1000), increase))
    expected = printed(CLINIC_PRINTED, CLINIC_COLUMNS, row, increase)
    assert (result.eligible, result.amount) == (expected > 0, expected)
    assert (result.details["table"], result.details["row"]) == ("clinic", row)


# Rows of a small facility (100 receipts): each bound, and one user below it.
SMALL_ROW_USERS = sorted({u for r in range(7) for u in (row_users(r, 100), row_users(r, 100) - 1)
                          if u >= 0})


@pytest.mark.parametrize("users", SMALL_ROW_USERS)
@pytest.mark.parametrize(
    "increase", sorted(set(boundary_increases(SMALL_COLUMNS) + boundary_increases(CLINIC_COLUMNS)))
)
def test_small_facility_gets_the_higher_of_the_small_and_clinic_tables(users, increase):
    """≤ 150 receipts: the small table where it defines the cell; a small facility at ≥ 10%,
    or at 5–10% with +10 or more, is judged on the 診療所・薬局 table; the higher amount wins."""
    row = sum(1 for p in ROW_BOUNDS_PERCENT if users >= p)  # users per 100 receipts = percent
    result = determine_lump_sum(PARAMS, facts("clinic", 100, users, increase))
    clinic = printed(CLINIC_PRINTED, CLINIC_COLUMNS, row, increase)
    small = printed(SMALL_PRINTED, SMALL_COLUMNS, row, increase) if small_defines(row, increase) \
        else None
    assert result.amount == max(small or 0, clinic)
    expected_table = "small" if small is not None and small >= clinic else "clinic"
    assert result.details["table"] == expected_table
    assert result.details["row"] == row


@pytest.mark.parametrize(
    "receipts, users, increase, amount, table",
    [
        # ≥ 10%: the small table prints nothing; the 診療所・薬局 table decides.
        (100, 10, 1, 30000, "clinic"),
        (100, 10, 9, 30000, "clinic"),
        (100, 40, 1, 100000, "clinic"),
        # 5–10%: +1..9 on the small table, +10 or more on the 診療所・薬局 table.
        (100, 5, 1, 10000, "small"),
        (100, 5, 4, 10000, "small"),
        (100, 5, 5, 15000, "small"),
        (100, 9, 9, 15000, "small"),
        (100, 5, 10, 30000, "clinic"),
        (100, 9, 10, 30000, "clinic"),
        # r0 and r1: the higher of the two tables.
        (100, 2, 9, 0, "small"),
        (100, 2, 10, 10000, "small"),  # clinic r0 +10 pays 0
        (100, 2, 40, 50000, "small"),  # small 5万 beats clinic 3万
        (100, 2, 50, 50000, "small"),  # small 5万 = clinic 5万: a tie stays on the small table
        (100, 2, 70, 70000, "clinic"),  # clinic 7万 beats small 5万
        (100, 2, 240, 200000, "clinic"),
        (100, 4, 5, 10000, "small"),
        (100, 4, 15, 25000, "small"),  # small 2.5万 beats clinic r1 +15 (10+) 0
        (100, 4, 20, 30000, "clinic"),  # clinic r1 +20 3万 beats small r1 +15 2.5万
        (100, 4, 40, 50000, "small"),  # tie 5万
        (100, 4, 50, 70000, "clinic"),
        # 150 receipts is small, 151 is not.
        (150, 4, 10, 10000, "small"),  # 2.67%: small r0 +10 1万
        (151, 4, 10, 0, "clinic"),  # 2.65%: clinic r0 +10 0
        (150, 5, 5, 10000, "small"),  # 3.33%: small r1 +5 1万
        (151, 5, 5, 0, "clinic"),  # 3.31%: clinic r1 +5 0
        (150, 15, 9, 30000, "clinic"),  # 10%: clinic r3
        # October receipts 0: r0 (Decision), and a small facility.
        (0, 0, 10, 10000, "small"),
        (0, 0, 30, 30000, "clinic"),
        (0, 3, 40, 50000, "small"),
    ],
)
def test_small_facility_cases(receipts, users, increase, amount, table):
    result = determine_lump_sum(PARAMS, facts("clinic", receipts, users, increase))
    assert (result.amount, result.details["table"]) == (amount, table)
    assert result.details["small_facility"] is (receipts <= 150)


@pytest.mark.parametrize(
    "kind, increase, amount",
    [("dental", 10, 10000), ("pharmacy", 10, 10000), ("hospital", 10, 0),
     ("hospital", 150, 100000)],
)
def test_small_facility_rule_is_for_clinics_pharmacies_and_dental(kind, increase, amount):
    """A hospital with few receipts stays on the hospital table."""
    result = determine_lump_sum(PARAMS, facts(kind, 100, 2, increase))
    assert result.amount == amount
    assert result.details["table"] == ("hospital" if kind == "hospital" else "small")


def test_zero_october_receipts_is_row_zero_on_the_hospital_table():
    result = determine_lump_sum(PARAMS, facts("hospital", 0, 0, 150))
    assert (result.details["row"], result.amount) == (0, 100000)


# ---------------------------------------------------------------- no increase, requirements


@pytest.mark.parametrize("kind", ["hospital", "clinic", "dental", "pharmacy"])
@pytest.mark.parametrize("receipts", [0, 100, 1000])
@pytest.mark.parametrize("increase", [0, -1, -500])
def test_no_increase_pays_nothing(kind, receipts, increase):
    users = 600 if increase == -500 else receipts // 2  # a high rate: r6 where receipts > 0
    result = determine_lump_sum(PARAMS, facts(kind, receipts, users, increase))
    assert (result.eligible, result.amount, result.details["column"]) == (False, 0, None)
    assert any(text.startswith(f"増加人数 {increase:+,}人") and text.endswith("✗")
               for text in result.reason_texts)


def test_below_the_first_column_pays_nothing_and_says_what_would():
    result = determine_lump_sum(PARAMS, facts("hospital", 1000, 29, 9))
    assert (result.amount, result.details["column"]) == (0, None)
    assert "増加人数 +9人 (基準: 2.9%, 表: 病院) → 0円（この利用率では +150人以上で支給） ✗" \
        in result.reason_texts


def test_seed_worked_example():
    """Clinic, October 1,000 receipts and 40 users (4%), best month 200 users (+160) → 20万."""
    result = determine_lump_sum(PARAMS, facts("clinic", 1000, 40, 160))
    assert (result.eligible, result.amount) == (True, 200000)
    assert result.details == {
        "table": "clinic", "table_label": "診療所・薬局", "row": 1, "row_label": "3.0%以上5.0%未満",
        "column": 8, "column_label": "160人以上", "rate": "4.0%", "increase": 160,
        "small_facility": False, "table_amount": 200000,
    }
    assert result.reason_texts == [
        "令和5年10月: レセプト 1,000件、利用 40人（利用率 4.0%、区分 3.0%以上5.0%未満）",
        "評価対象月（令和6年5月〜令和6年8月）の最多利用人数 200人",
        "増加人数 +160人 (基準: 4.0%, 表: 診療所・薬局) → 200,000円 ✓",
        "② 窓口での共通ポスターの掲示 確認済 ✓",
        "③ 患者へのお声掛け・チラシ配付 確認済 ✓",
        "支給額 200,000円",
    ]


@pytest.mark.parametrize(
    "poster, informed, missing",
    [(False, True, "②"), (True, False, "③"), (False, False, "②・③")],
)
def test_poster_and_informing_patients_are_both_required(poster, informed, missing):
    result = determine_lump_sum(PARAMS, facts("clinic", 1000, 40, 160, poster, informed))
    assert (result.eligible, result.amount) == (False, 0)
    assert result.details["table_amount"] == 200000
    texts = result.reason_texts
    assert ("② 窓口での共通ポスターの掲示 未確認 ✗" in texts) is not poster
    assert ("③ 患者へのお声掛け・チラシ配付 未確認 ✗" in texts) is not informed
    assert f"支給額 0円（{missing}の確認があれば 200,000円）" in texts


def test_requirements_alone_pay_nothing():
    result = determine_lump_sum(PARAMS, facts("clinic", 1000, 40, 0))
    assert (result.eligible, result.amount) == (False, 0)


def test_an_unknown_kind_is_not_eligible():
    result = determine_lump_sum(PARAMS, facts("judo", 1000, 40, 160))
    assert (result.eligible, result.amount) == (False, 0)
    assert result.reasons[0].met is False


def test_rate_is_shown_rounded_down_never_up():
    result = determine_lump_sum(PARAMS, facts("clinic", 100_000, 2999, 10))
    assert (result.details["rate"], result.details["row"]) == ("2.9%", 0)


# ---------------------------------------------------------------- parameters as data


def test_parameters_round_trip():
    assert LumpSumParams.from_dict(PARAMS.to_dict()) == PARAMS
    assert PARAMS.to_dict() == DEFAULT_LUMP_SUM_2024
    assert PARAMS.rate_bounds[0] == Fraction(3, 100)
    odd = LumpSumParams.from_dict({**DEFAULT_LUMP_SUM_2024, "rate_bounds": ["1/3", "1/2"]})
    assert odd.to_dict()["rate_bounds"] == ["1/3", "50/100"]


def test_changing_a_parameter_changes_the_result_without_code():
    bigger_small = LumpSumParams.from_dict({**DEFAULT_LUMP_SUM_2024, "small_max_receipts": 200})
    assert determine_lump_sum(PARAMS, facts("clinic", 200, 4, 10)).amount == 0
    assert determine_lump_sum(bigger_small, facts("clinic", 200, 4, 10)).amount == 10000
    shorter = {**DEFAULT_LUMP_SUM_2024, "evaluation_months": ["2024-05", "2024-06", "2024-07"]}
    assert LumpSumParams.from_dict(shorter).evaluation_months == ("2024-05", "2024-06", "2024-07")


@pytest.mark.parametrize(
    "broken, field",
    [
        ({"rate_bounds": ["5/100", "3/100"]}, "rate_bounds"),
        ({"rate_bounds": [0.03, 0.05]}, "rate_bounds[0]"),  # floats are never rates
        ({"rate_bounds": ["3/0"]}, "rate_bounds[0]"),
        ({"rate_bounds": "3/100"}, "rate_bounds"),
        ({"small_max_receipts": -1}, "small_max_receipts"),
        ({"small_max_receipts": True}, "small_max_receipts"),
        ({"small_rows": 7}, "small_rows"),
        ({"small_partial_row_columns": 8}, "small_partial_row_columns"),
        ({"baseline_month": "2023-13"}, "baseline_month"),
        ({"evaluation_months": []}, "evaluation_months"),
        ({"evaluation_months": ["2024/05"]}, "evaluation_months[0]"),
        ({"tables": {"hospital": DEFAULT_LUMP_SUM_2024["tables"]["hospital"],
                     "clinic": DEFAULT_LUMP_SUM_2024["tables"]["clinic"]}}, "tables.small"),
        ({"tables": {**DEFAULT_LUMP_SUM_2024["tables"],
                     "clinic": {"columns": [1, 10], "ladder": [0]}}}, "tables.clinic"),
        ({"tables": {**DEFAULT_LUMP_SUM_2024["tables"],
                     "clinic": {"columns": [10, 1], "ladder": [0, 1]}}}, "tables.clinic.columns"),
        ({"tables": {**DEFAULT_LUMP_SUM_2024["tables"],
                     "small": {"columns": [1, 5], "ladder": [10000, 0]}}}, "tables.small.ladder"),
        ({"tables": {**DEFAULT_LUMP_SUM_2024["tables"],
                     "small": {"columns": [1, 5], "ladder": [0, 1.5]}}}, "tables.small.ladder[1]"),
    ],
)
def test_malformed_parameters_are_refused_naming_the_field(broken, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        LumpSumParams.from_dict({**DEFAULT_LUMP_SUM_2024, **broken})


def test_missing_parameter_is_refused():
    data = {k: v for k, v in DEFAULT_LUMP_SUM_2024.items() if k != "tables"}
    with pytest.raises(ValueError, match="tables"):
        LumpSumParams.from_dict(data)


# ---------------------------------------------------------------- properties

TABLE_MAX = {"hospital": 400000, "clinic": 200000, "dental": 200000, "pharmacy": 200000}
PAYABLE = {0, *HOSPITAL_LADDER, *CLINIC_LADDER, *SMALL_LADDER}


@given(
    kind=st.sampled_from(["hospital", "clinic", "dental", "pharmacy"]),
    receipts=st.one_of(st.integers(0, 300), st.integers(0, 50_000)),
    users=st.integers(0, 20_000),
    best=st.integers(0, 30_000),
    extra=st.integers(0, 2_000),
    poster=st.booleans(),
    informed=st.booleans(),
)
def test_amount_is_capped_and_never_falls_as_best_month_users_rise(
    kind, receipts, users, best, extra, poster, informed
):
    def amount(best_users: int) -> int:
        return determine_lump_sum(PARAMS, LumpSumFacts(kind, receipts, users, best_users,
                                                       poster, informed)).amount

    lower, higher = amount(best), amount(best + extra)
    assert 0 <= lower <= TABLE_MAX[kind]
    assert lower in PAYABLE
    assert higher >= lower


@given(
    kind=st.sampled_from(["hospital", "clinic", "dental", "pharmacy"]),
    receipts=st.integers(0, 5_000),
    users=st.integers(0, 5_000),
    best=st.integers(0, 5_000),
    poster=st.booleans(),
    informed=st.booleans(),
)
def test_paid_exactly_when_eligible_and_only_with_both_requirements(
    kind, receipts, users, best, poster, informed
):
    result = determine_lump_sum(PARAMS, LumpSumFacts(kind, receipts, users, best, poster,
                                                     informed))
    assert result.eligible == (result.amount > 0)
    assert result.eligible <= (poster and informed and best > users)
    assert result.details["table"] in {"hospital", "clinic", "small"}

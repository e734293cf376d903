"""一時金 (DOMAIN §5.2): every row and column boundary of the three tables, checked against
the tables as the notice (seed 002) prints them, written out literally here."""

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

PARAMS = LumpSumParams.from_dict(DEFAULT_LUMP_SUM_2024)
MAN = 10_000

# The notice's tables, row by row (万円); cells right of a printed row hold its maximum.
HOSPITAL_COLUMNS = [10, 40, 80, 150, 250, 350, 450, 540, 720, 900]
HOSPITAL = [
    [0, 0, 0, 10, 12, 15, 20, 30, 35, 40],
    [0, 0, 10, 12, 15, 20, 30, 35, 40],
    [0, 10, 12, 15, 20, 30, 35, 40],
    [10, 12, 15, 20, 30, 35, 40],
    [12, 15, 20, 30, 35, 40],
    [15, 20, 30, 35, 40],
    [20, 30, 35, 40],
]
CLINIC_COLUMNS = [1, 10, 20, 30, 50, 70, 80, 100, 160, 240]
CLINIC = [
    [0, 0, 0, 3, 5, 7, 10, 15, 17, 20],
    [0, 0, 3, 5, 7, 10, 15, 17, 20],
    [0, 3, 5, 7, 10, 15, 17, 20],
    [3, 5, 7, 10, 15, 17, 20],
    [5, 7, 10, 15, 17, 20],
    [7, 10, 15, 17, 20],
    [10, 15, 17, 20],
]
SMALL_COLUMNS = [1, 5, 10, 15, 25, 35, 40]
SMALL = [
    [0, 0, 1, 1.5, 2.5, 3.5, 5],
    [0, 1, 1.5, 2.5, 3.5, 5],
    [1, 1.5],  # 5–10%: only increases of 1–9 are on the small table
]
# Users giving each row's lower bound exactly, and one user below it.
ROW_USERS_PER_1000 = [0, 30, 50, 100, 200, 300, 400]
ROW_USERS_PER_100 = [0, 3, 5, 10, 20, 30, 40]


def printed(table, columns, row, increase):
    """The notice's cell for (row, increase) in yen, read off the literal table."""
    cells = table[row]
    column = max((i for i, c in enumerate(columns) if increase >= c), default=None)
    if column is None:
        return 0
    value = cells[column] if column < len(cells) else max(cells)
    return int(value * MAN)


def facts(kind, receipts, users, increase, poster=True, informed=True):
    return LumpSumFacts(kind=kind, oct_receipts=receipts, oct_users=users,
                        best_users=users + increase, poster=poster, informed=informed)


def _boundary_increases(columns):
    values = set()
    for threshold in columns:
        values.update({threshold, threshold - 1})
    values.add(columns[-1] + 500)
    return sorted(v for v in values if v >= 0)


@pytest.mark.parametrize("row", range(7))
@pytest.mark.parametrize("increase", _boundary_increases(HOSPITAL_COLUMNS))
def test_hospital_table_every_cell_boundary(row, increase):
    result = determine_lump_sum(PARAMS, facts("hospital", 1000, ROW_USERS_PER_1000[row], increase))
    assert result.amount == printed(HOSPITAL, HOSPITAL_COLUMNS, row, increase)
    assert result.details["table"] == "hospital"
    assert result.details["row"] == row


@pytest.mark.parametrize("kind", ["clinic", "dental", "pharmacy"])
@pytest.mark.parametrize("row", range(7))
@pytest.mark.parametrize("increase", _boundary_increases(CLINIC_COLUMNS))
def test_clinic_table_every_cell_boundary(kind, row, increase):
    result = determine_lump_sum(PARAMS, facts(kind, 1000, ROW_USERS_PER_1000[row], increase))
    assert result.amount == printed(CLINIC, CLINIC_COLUMNS, row, increase)
    if result.amount:
        assert result.details["table"] == "clinic"


@pytest.mark.parametrize("row", range(1, 7))
@pytest.mark.parametrize("table", ["hospital", "clinic"])
def test_one_user_below_a_row_bound_falls_to_the_row_below(row, table):
    users = ROW_USERS_PER_1000[row] - 1
    kind = "hospital" if table == "hospital" else "clinic"
    columns, cells = (HOSPITAL_COLUMNS, HOSPITAL) if table == "hospital" else (CLINIC_COLUMNS, CLINIC)
    for increase in columns:
        result = determine_lump_sum(PARAMS, facts(kind, 1000, users, increase))
        assert result.details["row"] == row - 1
        assert result.amount == printed(cells, columns, row - 1, increase)


@pytest.mark.parametrize("row", range(7))
@pytest.mark.parametrize("increase", sorted(set(_boundary_increases(SMALL_COLUMNS))
                                            | set(_boundary_increases(CLINIC_COLUMNS))))
def test_small_facility_takes_the_higher_of_small_and_clinic(row, increase):
    """小規模施設 (≤150 receipts): the small table where it defines the cell (r0, r1, and r2
    for +1..9); the clinic table always counts, and the higher amount is paid."""
    result = determine_lump_sum(PARAMS, facts("clinic", 100, ROW_USERS_PER_100[row], increase))
    clinic = printed(CLINIC, CLINIC_COLUMNS, row, increase)
    small_defined = row < 2 or (row == 2 and 1 <= increase <= 9)
    small = printed(SMALL, SMALL_COLUMNS, row, increase) if small_defined and row < 3 else 0
    assert result.amount == max(small, clinic)
    if small > clinic:
        assert result.details["table"] == "small"


@pytest.mark.parametrize(
    "receipts, users, increase, amount, table",
    [
        (100, 10, 9, 30000, "clinic"),  # 10% or more: judged on the clinic table only
        (100, 5, 10, 30000, "clinic"),  # 5–10% with +10: clinic table (3万), not small
        (100, 5, 9, 15000, "small"),  # 5–10% with +5..9: small table 1.5万
        (100, 9, 1, 10000, "small"),  # 9% +1: small table 1万 (clinic gives 0)
        (100, 2, 40, 50000, "small"),  # r0 +40: small 5万 beats clinic 3万
        (100, 2, 100, 150000, "clinic"),  # r0 +100: clinic 15万 beats small 5万
        (150, 4, 5, 0, "clinic"),  # 150 receipts is small: r0 +5 → small 0, clinic 0
        (150, 4, 10, 10000, "small"),  # 150 receipts, r0 (2.6%) +10 → small 1万
        (151, 4, 10, 0, "clinic"),  # 151 receipts is not small: clinic r0 +10 → 0
    ],
)
def test_small_facility_rules(receipts, users, increase, amount, table):
    result = determine_lump_sum(PARAMS, facts("clinic", receipts, users, increase))
    assert result.amount == amount
    if amount:
        assert result.details["table"] == table


def test_seed_worked_example():
    """Clinic, October 1,000 receipts and 40 users (4%), best month 200 users → 20万円."""
    result = determine_lump_sum(PARAMS, facts("clinic", 1000, 40, 160))
    assert (result.eligible, result.amount, result.details["table"]) == (True, 200000, "clinic")
    assert "増加人数 +160人 (基準: 4.0%, 表: 診療所・薬局) → 200,000円" in result.reason_texts[1]


def test_rate_is_compared_exactly_never_rounded():
    assert rate_row(PARAMS, 1000, 29) == (0, Fraction(29, 1000))
    assert rate_row(PARAMS, 1000, 30)[0] == 1
    assert rate_row(PARAMS, 3, 1)[0] == 5  # 33.3…% is row r5 (30–40%)
    assert rate_row(PARAMS, 0, 0)[0] == 0  # no October receipts → r0 (Decision)


@pytest.mark.parametrize("increase", [0, -1, -50])
def test_no_increase_gives_nothing(increase):
    result = determine_lump_sum(PARAMS, facts("hospital", 1000, 500, increase))
    assert (result.eligible, result.amount) == (False, 0)


def test_zero_october_receipts_is_row_zero():
    result = determine_lump_sum(PARAMS, facts("clinic", 0, 0, 30))
    assert result.details["row"] == 0
    assert result.amount == 30000  # 0 receipts is also a small facility: max(small 1.5万, clinic 3万)


@pytest.mark.parametrize("poster, informed", [(False, True), (True, False), (False, False)])
def test_poster_and_informed_are_both_required(poster, informed):
    result = determine_lump_sum(PARAMS, facts("clinic", 1000, 40, 160, poster, informed))
    assert (result.eligible, result.amount) == (False, 0)
    assert any("✗" in text for text in result.reason_texts)


def test_parameters_round_trip():
    assert LumpSumParams.from_dict(PARAMS.to_dict()) == PARAMS


def test_extending_the_evaluation_months_is_a_parameter():
    shorter = dict(DEFAULT_LUMP_SUM_2024, evaluation_months=["2024-05", "2024-06", "2024-07"])
    assert LumpSumParams.from_dict(shorter).evaluation_months == ("2024-05", "2024-06", "2024-07")


@pytest.mark.parametrize("broken", [
    {"rate_bounds": ["5/100", "3/100"]},
    {"tables": {**DEFAULT_LUMP_SUM_2024["tables"], "clinic": {"columns": [1, 10], "ladder": [0]}}},
])
def test_malformed_parameters_are_refused(broken):
    with pytest.raises(ValueError):
        LumpSumParams.from_dict({**DEFAULT_LUMP_SUM_2024, **broken})


TABLE_MAX = {"hospital": 400000, "clinic": 200000, "dental": 200000, "pharmacy": 200000}


@given(
    kind=st.sampled_from(["hospital", "clinic", "dental", "pharmacy"]),
    receipts=st.integers(0, 20000),
    users=st.integers(0, 20000),
    best=st.integers(0, 30000),
    extra=st.integers(0, 5000),
)
def test_amount_is_capped_and_monotone_in_best_month_users(kind, receipts, users, best, extra):
    lower = determine_lump_sum(PARAMS, facts(kind, receipts, users, best - users))
    higher = determine_lump_sum(PARAMS, facts(kind, receipts, users, best + extra - users))
    assert 0 <= lower.amount <= TABLE_MAX[kind]
    assert higher.amount >= lower.amount

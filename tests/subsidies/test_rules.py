"""Subsidy arithmetic (docs/domain.md §6) at caps, bands and deadlines; yen rounded down."""

from datetime import date

import pytest

from eligibility.rules.subsidies import (
    DEFAULT_DEVICE_LIMITED,
    DEFAULT_DEVICE_SEJUTSU,
    DEFAULT_READER_EXPANSION_2024,
    DEFAULT_RECECOM,
    CostSubsidyParams,
    ReaderFacts,
    ReaderParams,
    determine_cost_subsidy,
    determine_reader_expansion,
)

SEJUTSU = CostSubsidyParams.from_dict(DEFAULT_DEVICE_SEJUTSU)
LIMITED = CostSubsidyParams.from_dict(DEFAULT_DEVICE_LIMITED)
READER = ReaderParams.from_dict(DEFAULT_READER_EXPANSION_2024)


@pytest.mark.parametrize("cost, amount", [(1, 1), (40999, 40999), (41000, 41000),
                                          (41001, 41000), (100000, 41000)])
def test_sejutsu_devices_actual_cost_up_to_41000(cost, amount):
    assert determine_cost_subsidy(SEJUTSU, cost).amount == amount


@pytest.mark.parametrize(
    "cost, amount",
    [(1, 0), (3, 2), (4, 3), (41333, 30999), (41334, 31000), (41335, 31000), (46200, 31000),
     (10001, 7500)],  # 3/4 rounded down to the yen
)
def test_limited_devices_three_quarters_up_to_31000(cost, amount):
    result = determine_cost_subsidy(LIMITED, cost, date(2025, 1, 15))
    assert result.amount == amount


def test_the_notice_style_calculation_text():
    result = determine_cost_subsidy(LIMITED, 46200, date(2025, 1, 10))
    assert result.details["calculation"] == "事業費 46,200円 × 3/4 = 34,650円 → 上限 31,000円"


@pytest.mark.parametrize("claimed_on, eligible", [(date(2025, 1, 15), True),
                                                  (date(2025, 1, 16), False)])
def test_limited_devices_deadline(claimed_on, eligible):
    assert determine_cost_subsidy(LIMITED, 40000, claimed_on).eligible is eligible


def test_rececom_is_closed_until_its_rate_and_cap_are_set():
    assert not determine_cost_subsidy(CostSubsidyParams.from_dict(DEFAULT_RECECOM), 100000).eligible
    params = CostSubsidyParams.from_dict({**DEFAULT_RECECOM, "cap": 100000, "rate": "2/3"})
    assert determine_cost_subsidy(params, 100001).amount == 66667  # 66,667.33… down to the yen
    assert determine_cost_subsidy(params, 200000).amount == 100000


# The notice's table (seed 002): usage bands 500–999, 1,000–1,499, 1,500–1,999, 2,000–2,499,
# 2,500+ → readers allowed, by readers received free; clinics and pharmacies: 1 reader.
BANDS = [500, 1000, 1500, 2000, 2500]
HOSPITAL_TABLE = {1: [1, 2, 3, 3, 3], 2: [0, 1, 2, 3, 3], 3: [0, 0, 1, 2, 3]}
CAPS = {1: 275000, 2: 450000, 3: 625000}


def _allowed_by_table(kind, usage, free):
    if usage < 500:
        return 0
    if kind != "hospital":
        return 1
    band = max(i for i, low in enumerate(BANDS) if usage >= low)
    return HOSPITAL_TABLE[free][band]


USAGES = sorted({u for low in BANDS for u in (low - 1, low)} | {0, 5000})


@pytest.mark.parametrize("free", [1, 2, 3])
@pytest.mark.parametrize("usage", USAGES)
@pytest.mark.parametrize("kind", ["hospital", "clinic", "pharmacy"])
def test_every_reader_expansion_cell(kind, usage, free):
    allowed = _allowed_by_table(kind, usage, free)
    for readers in (1, 2, 3):
        cost = 2_000_000
        result = determine_reader_expansion(READER, ReaderFacts(kind, usage, free, readers, cost))
        assert result.details["readers_allowed"] == allowed
        if readers <= allowed:
            assert (result.eligible, result.amount) == (True, CAPS[readers])
        else:
            assert (result.eligible, result.amount) == (False, 0)


@pytest.mark.parametrize("readers, cost, amount", [
    (1, 300000, 150000), (1, 550000, 275000), (1, 550001, 275000), (1, 549999, 274999),
    (2, 900000, 450000), (3, 1250001, 625000), (3, 1000001, 500000),
])
def test_reader_expansion_half_of_cost_capped_by_readers(readers, cost, amount):
    result = determine_reader_expansion(READER, ReaderFacts("hospital", 3000, 1, readers, cost))
    assert result.amount == amount


def test_reader_expansion_needs_a_cost():
    result = determine_reader_expansion(READER, ReaderFacts("clinic", 800, 1, 1, 0))
    assert not result.eligible

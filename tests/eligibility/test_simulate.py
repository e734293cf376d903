"""`simulate_line`: one JSON line in, one dict out; a bad line gives {"error": ...} naming the
field and never raises."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eligibility.rules.cooperation import DEFAULT_COOPERATION_2025
from eligibility.rules.lump_sum import DEFAULT_LUMP_SUM_2024
from eligibility.rules.simulate import (
    COOPERATION_SIMULATION,
    LUMP_SUM_SIMULATION,
    NO_VERSION,
)
from eligibility.rules.simulate import simulate_line as simulate_in_force

# The parameters the command would pass (the notices' values, version 1 of each program).
IN_FORCE = {LUMP_SUM_SIMULATION: DEFAULT_LUMP_SUM_2024,
            COOPERATION_SIMULATION: DEFAULT_COOPERATION_2025}


def simulate_line(adapter, line: str, params: dict | None = None) -> dict:
    """A line under `params`, else under the program's version 1 (as the command passes)."""
    return simulate_in_force(adapter, line, params if params is not None
                             else IN_FORCE.get(adapter, {}))


@pytest.fixture(autouse=True)
def _private_storage():
    """Pure rules: no Django settings to touch (overrides the project-wide fixture, so these
    tests also run with `-p no:django`)."""


LUMP = {"kind": "clinic", "oct_receipts": 1000, "oct_users": 40, "best_users": 200,
        "poster": True, "informed": True}
COOP = {"kind": "judo", "golive": "2025-06-10", "voice": True, "flyer": False, "poster": True,
        "activity_from": "2025-06-10", "activity_to": "2025-07-31", "annex_role": None,
        "partner_introduced": False}


def lump(**changes) -> str:
    return json.dumps({**LUMP, **changes})


def coop(**changes) -> str:
    return json.dumps({**COOP, **changes})


def without(data: dict, name: str) -> str:
    return json.dumps({k: v for k, v in data.items() if k != name})


# ---------------------------------------------------------------- good lines


def test_lump_sum_line_gives_the_worked_example():
    out = simulate_line(LUMP_SUM_SIMULATION, lump())
    assert set(out) == {"eligible", "amount", "table", "reasons"}
    assert (out["eligible"], out["amount"], out["table"]) == (True, 200000, "clinic")
    assert "増加人数 +160人 (基準: 4.0%, 表: 診療所・薬局) → 200,000円 ✓" in out["reasons"]
    assert all(isinstance(text, str) for text in out["reasons"])
    json.dumps(out)  # the command writes it as one JSON line


@pytest.mark.parametrize(
    "changes, eligible, amount, table",
    [
        ({"kind": "hospital", "best_users": 190}, True, 120000, "hospital"),  # r1 +150
        ({"kind": "dental", "oct_receipts": 100, "oct_users": 2, "best_users": 42}, True, 50000,
         "small"),
        ({"kind": "pharmacy", "best_users": 40}, False, 0, "clinic"),
        ({"informed": False}, False, 0, "clinic"),
        ({"oct_receipts": 0, "oct_users": 0, "best_users": 10}, True, 10000, "small"),
    ],
)
def test_lump_sum_lines(changes, eligible, amount, table):
    out = simulate_line(LUMP_SUM_SIMULATION, lump(**changes))
    assert (out["eligible"], out["amount"], out["table"]) == (eligible, amount, table)


def test_missing_requirement_is_marked_in_the_reasons():
    out = simulate_line(LUMP_SUM_SIMULATION, lump(poster=False))
    assert "② 窓口での共通ポスターの掲示 未確認 ✗" in out["reasons"]


def test_cooperation_line():
    out = simulate_line(COOPERATION_SIMULATION, coop())
    assert set(out) == {"eligible", "amount", "reasons"}
    assert (out["eligible"], out["amount"]) == (True, 50000)
    assert "運用開始日 令和7年6月10日 ✓" in out["reasons"]


@pytest.mark.parametrize(
    "changes, eligible",
    [
        ({"kind": "ama"}, True),
        ({"kind": "acupuncture"}, True),
        ({"kind": "ama_acupuncture"}, True),  # one 施術所 holding both licences (docs/domain.md §2)
        ({"golive": None}, False),
        ({"golive": "2025-08-01"}, False),
        ({"activity_from": None, "activity_to": None}, False),
        ({"annex_role": "subordinate", "partner_introduced": False}, False),
        ({"annex_role": "subordinate", "partner_introduced": True}, True),
        ({"annex_role": "main", "partner_introduced": False}, True),
        ({"voice": False}, False),
    ],
)
def test_cooperation_lines(changes, eligible):
    out = simulate_line(COOPERATION_SIMULATION, coop(**changes))
    assert (out["eligible"], out["amount"]) == (eligible, 50000 if eligible else 0)


def test_extra_fields_are_ignored():
    line = json.dumps({**LUMP, "facility": "A001"})
    assert simulate_line(LUMP_SUM_SIMULATION, line)["amount"] == 200000


def test_the_parameters_in_force_are_used():
    params = {**DEFAULT_COOPERATION_2025, "amount": 60000}
    assert simulate_line(COOPERATION_SIMULATION, coop(), params)["amount"] == 60000
    small_200 = {**DEFAULT_LUMP_SUM_2024, "small_max_receipts": 200}
    line = lump(oct_receipts=200, oct_users=4, best_users=14)
    assert simulate_line(LUMP_SUM_SIMULATION, line, DEFAULT_LUMP_SUM_2024)["amount"] == 0
    assert simulate_line(LUMP_SUM_SIMULATION, line, small_200)["amount"] == 10000


def test_no_version_in_force_is_an_answer_in_words_never_a_default():
    """docs/domain.md §5.4: where no version covers the date there is no amount."""
    assert simulate_in_force(LUMP_SUM_SIMULATION, lump(), None) == {"error": NO_VERSION}
    assert simulate_in_force(COOPERATION_SIMULATION, coop()) == {"error": NO_VERSION}
    assert "パラメータの版がありません" in NO_VERSION


def test_malformed_parameters_give_an_error_not_an_exception():
    out = simulate_line(COOPERATION_SIMULATION, coop(), {"amount": 1})
    assert set(out) == {"error"} and "parameters" in out["error"]
    out = simulate_line(LUMP_SUM_SIMULATION, lump(), {**DEFAULT_LUMP_SUM_2024, "rate_bounds": [0.03]})
    assert set(out) == {"error"} and "rate_bounds" in out["error"]


# ---------------------------------------------------------------- malformed lines


@pytest.mark.parametrize(
    "program, line, fragment",
    [
        (LUMP_SUM_SIMULATION, "{not json", "not valid JSON"),
        (LUMP_SUM_SIMULATION, "", "not valid JSON"),
        (LUMP_SUM_SIMULATION, "[1, 2]", "JSON object"),
        (LUMP_SUM_SIMULATION, '"clinic"', "JSON object"),
        (LUMP_SUM_SIMULATION, "null", "JSON object"),
        (LUMP_SUM_SIMULATION, "[" * 100_000, "not valid JSON"),
        (LUMP_SUM_SIMULATION, '{"oct_receipts": 1' + "0" * 5000 + "}", "not valid JSON"),
    ],
)
def test_lines_that_are_not_a_json_object(program, line, fragment):
    out = simulate_line(program, line)
    assert set(out) == {"error"}
    assert fragment in out["error"]


@pytest.mark.parametrize("field", list(LUMP))
def test_lump_sum_missing_field(field):
    assert simulate_line(LUMP_SUM_SIMULATION, without(LUMP, field)) == {
        "error": f"missing field: {field}"}


@pytest.mark.parametrize("field", list(COOP))
def test_cooperation_missing_field(field):
    assert simulate_line(COOPERATION_SIMULATION, without(COOP, field)) == {
        "error": f"missing field: {field}"}


@pytest.mark.parametrize("field", ["oct_receipts", "oct_users", "best_users"])
@pytest.mark.parametrize(
    "value, fragment",
    [
        (True, "must be an integer"),  # a bool is not a count
        (False, "must be an integer"),
        (4.5, "must be an integer"),
        (40.0, "must be an integer"),
        ("40", "must be an integer"),
        (None, "must be an integer"),
        ([40], "must be an integer"),
        (-1, "must not be negative"),
    ],
)
def test_lump_sum_counts(field, value, fragment):
    out = simulate_line(LUMP_SUM_SIMULATION, lump(**{field: value}))
    assert set(out) == {"error"}
    assert out["error"].startswith(field) and fragment in out["error"]


@pytest.mark.parametrize(
    "program, field, value",
    [
        (LUMP_SUM_SIMULATION, "poster", "yes"),
        (LUMP_SUM_SIMULATION, "poster", 1),
        (LUMP_SUM_SIMULATION, "informed", None),
        (COOPERATION_SIMULATION, "voice", 0),
        (COOPERATION_SIMULATION, "flyer", "true"),
        (COOPERATION_SIMULATION, "poster", None),
        (COOPERATION_SIMULATION, "partner_introduced", []),
    ],
)
def test_flags_must_be_true_or_false(program, field, value):
    base = LUMP if program == LUMP_SUM_SIMULATION else COOP
    out = simulate_line(program, json.dumps({**base, field: value}))
    assert set(out) == {"error"}
    assert out["error"].startswith(f"{field} must be true or false")


@pytest.mark.parametrize(
    "program, value",
    [
        (LUMP_SUM_SIMULATION, "judo"),
        (LUMP_SUM_SIMULATION, "Clinic"),
        (LUMP_SUM_SIMULATION, None),
        (LUMP_SUM_SIMULATION, 1),
        (COOPERATION_SIMULATION, "clinic"),
        (COOPERATION_SIMULATION, "massage"),
        (COOPERATION_SIMULATION, True),
        (COOPERATION_SIMULATION, ["judo"]),
    ],
)
def test_unknown_kind(program, value):
    base = LUMP if program == LUMP_SUM_SIMULATION else COOP
    out = simulate_line(program, json.dumps({**base, "kind": value}))
    assert set(out) == {"error"}
    assert out["error"].startswith("kind must be one of")


@pytest.mark.parametrize("field", ["golive", "activity_from", "activity_to"])
@pytest.mark.parametrize(
    "value, fragment",
    [
        ("2025-02-30", "not a real date"),
        ("2025-13-01", "not a real date"),
        ("2025-00-10", "not a real date"),
        ("2025/06/10", "must be a date YYYY-MM-DD"),
        ("20250610", "must be a date YYYY-MM-DD"),
        ("2025-6-10", "must be a date YYYY-MM-DD"),
        ("2025-06-10T00:00", "must be a date YYYY-MM-DD"),
        ("令和7年6月10日", "must be a date YYYY-MM-DD"),
        (20250610, "must be a date YYYY-MM-DD"),
        (True, "must be a date YYYY-MM-DD"),
    ],
)
def test_bad_dates(field, value, fragment):
    out = simulate_line(COOPERATION_SIMULATION, coop(**{field: value}))
    assert set(out) == {"error"}
    assert out["error"].startswith(field) and fragment in out["error"]


@pytest.mark.parametrize("value", ["other", "Main", True, 0, ""])
def test_unknown_annex_role(value):
    out = simulate_line(COOPERATION_SIMULATION, coop(annex_role=value))
    assert set(out) == {"error"}
    assert out["error"].startswith("annex_role must be one of null, main, subordinate")


@pytest.mark.parametrize("field, reason", [
    ("activity_from", "実施期間の開始日 未報告（令和7年7月31日のみ報告） ✗"),
    ("activity_to", "実施期間の終了日 未報告（令和7年6月10日のみ報告） ✗"),
])
def test_a_half_given_period_is_judged_not_refused(field, reason):
    """The contract: activity_from and activity_to may each be null; a period given by one
    end only is a report not made — not eligible, with the reason — never an error."""
    out = simulate_line(COOPERATION_SIMULATION, coop(**{field: None}))
    assert "error" not in out
    assert (out["eligible"], out["amount"]) == (False, 0)
    assert reason in out["reasons"]


@pytest.mark.parametrize("field", ["activity_from", "activity_to"])
def test_each_activity_date_may_be_null_or_absent_only_as_null(field):
    assert simulate_line(COOPERATION_SIMULATION, without(COOP, field)) == {
        "error": f"missing field: {field}"}
    assert set(simulate_line(COOPERATION_SIMULATION, coop(**{field: None}))) == {
        "eligible", "amount", "reasons"}


# ---------------------------------------------------------------- never raises

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)


@given(program=st.sampled_from([LUMP_SUM_SIMULATION, COOPERATION_SIMULATION]), line=st.text())
def test_any_text_gives_a_dict(program, line):
    assert isinstance(simulate_line(program, line), dict)


@given(program=st.sampled_from([LUMP_SUM_SIMULATION, COOPERATION_SIMULATION]),
       changes=st.dictionaries(st.sampled_from(list(LUMP) + list(COOP)), JSON_VALUES))
def test_any_field_values_give_a_result_or_an_error(program, changes):
    base = LUMP if program == LUMP_SUM_SIMULATION else COOP
    out = simulate_line(program, json.dumps({**base, **changes}))
    keys = {"eligible", "amount", "table", "reasons"} if program == LUMP_SUM_SIMULATION \
        else {"eligible", "amount", "reasons"}
    assert set(out) in ({"error"}, keys)
    json.dumps(out)

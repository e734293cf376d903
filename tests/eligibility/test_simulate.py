import json

import pytest

from eligibility.rules.cooperation import DEFAULT_COOPERATION_2025
from eligibility.rules.simulate import simulate_line

LUMP = {"kind": "clinic", "oct_receipts": 1000, "oct_users": 40, "best_users": 200,
        "poster": True, "informed": True}
COOP = {"kind": "judo", "golive": "2025-06-10", "voice": True, "flyer": False, "poster": True,
        "activity_from": "2025-06-10", "activity_to": "2025-07-31", "annex_role": None,
        "partner_introduced": False}


def test_lump_sum_line():
    out = simulate_line("lump-sum-2024", json.dumps(LUMP))
    assert out["eligible"] is True and out["amount"] == 200000 and out["table"] == "clinic"
    assert isinstance(out["reasons"], list) and all(isinstance(r, str) for r in out["reasons"])
    assert set(out) == {"eligible", "amount", "table", "reasons"}


def test_cooperation_line():
    out = simulate_line("cooperation-2025", json.dumps(COOP))
    assert (out["eligible"], out["amount"]) == (True, 50000)
    assert set(out) == {"eligible", "amount", "reasons"}


def test_parameters_in_force_are_used():
    params = {**DEFAULT_COOPERATION_2025, "amount": 60000}
    assert simulate_line("cooperation-2025", json.dumps(COOP), params)["amount"] == 60000


@pytest.mark.parametrize(
    "program, line, fragment",
    [
        ("lump-sum-2024", "{not json", "not valid JSON"),
        ("lump-sum-2024", "[1, 2]", "JSON object"),
        ("lump-sum-2024", json.dumps({k: v for k, v in LUMP.items() if k != "best_users"}),
         "missing field: best_users"),
        ("lump-sum-2024", json.dumps({**LUMP, "oct_users": True}), "oct_users must be an integer"),
        ("lump-sum-2024", json.dumps({**LUMP, "oct_users": 4.5}), "oct_users must be an integer"),
        ("lump-sum-2024", json.dumps({**LUMP, "oct_receipts": -1}), "must not be negative"),
        ("lump-sum-2024", json.dumps({**LUMP, "kind": "judo"}), "kind must be one of"),
        ("lump-sum-2024", json.dumps({**LUMP, "poster": "yes"}), "poster must be true or false"),
        ("cooperation-2025", json.dumps({**COOP, "golive": "2025-02-30"}), "not a real date"),
        ("cooperation-2025", json.dumps({**COOP, "golive": 20250610}), "golive must be a date"),
        ("cooperation-2025", json.dumps({**COOP, "annex_role": "other"}), "annex_role must be"),
        ("cooperation-2025", json.dumps({**COOP, "activity_to": None}), "both be dates"),
        ("unknown-program", "{}", "unknown program"),
    ],
)
def test_malformed_lines_give_an_error_object(program, line, fragment):
    out = simulate_line(program, line)
    assert set(out) == {"error"}
    assert fragment in out["error"]

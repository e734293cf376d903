"""The exemption rule (docs/domain.md §7) at its edges, as a table typed from the notice and the
Decision, not from the rule's code; and the same rule through `manage.py simulate exemption`."""

import io
import json
from datetime import date

import pytest
from django.core.management import call_command

from obligation.rules import ExemptionFacts, ExemptionParams, Practitioner, determine_exemption

# Version 1 of the program "obligation" (its data migration), typed from docs/domain.md §7.
V1 = ExemptionParams(born_on_or_before=date(1954, 4, 1), deadline=date(2025, 12, 2))

OLD = date(1954, 4, 1)        # 70 on 2024-04-01: the last birthday that counts
YOUNG = date(1954, 4, 2)      # one day too young
FT, PT = True, False


def p(born: date, full_time: bool, impaired: bool = False) -> Practitioner:
    return Practitioner(birth_date=born, full_time=full_time, visually_impaired=impaired)


CASES = [
    # (kind, reason, practitioners, planned date, accepted, why)
    ("judo", "1-1", [p(OLD, FT)], None, True, "born 1954-04-01: 70 as of April 2024"),
    ("judo", "1-1", [p(YOUNG, FT)], None, False, "born 1954-04-02: still 69"),
    ("judo", "1-1", [p(OLD, FT), p(date(1990, 1, 1), PT)], None, True,
     "a part-timer under 70 does not block"),
    ("judo", "1-1", [p(OLD, PT)], None, False, "no full-time practitioner at all"),
    ("judo", "1-1", [], None, False, "nobody listed"),
    ("judo", "1-1", [p(OLD, FT), p(YOUNG, FT)], None, False, "one full-timer under 70 blocks"),
    ("judo", "1-1", [p(YOUNG, FT, impaired=True)], None, False,
     "visual impairment does not count for 柔道整復"),
    ("ama", "1-2", [p(YOUNG, FT, impaired=True)], None, True,
     "visual impairment counts for あはき"),
    ("acupuncture", "1-2", [p(OLD, FT), p(date(1985, 6, 1), FT, impaired=True)], None, True,
     "each full-timer is 70+ or visually impaired"),
    ("ama_acupuncture", "1-2", [p(OLD, FT), p(YOUNG, FT)], None, False,
     "one full-timer neither 70+ nor impaired blocks"),
    ("ama", "1-2", [p(YOUNG, PT, impaired=False), p(OLD, FT)], None, True,
     "part-timers neither help nor block"),
    ("ama", "1-2", [p(date(1950, 1, 1), PT, impaired=True)], None, False,
     "no full-time practitioner: refused"),
    ("ama", "1-1", [p(OLD, FT)], None, False, "1-1 is for 柔道整復 only"),
    ("judo", "1-2", [p(OLD, FT)], None, False, "1-2 is for あはき only"),
    ("judo", "2", [], date(2025, 12, 2), True, "closing on the deadline itself"),
    ("judo", "2", [], date(2025, 12, 3), False, "closing a day after the deadline"),
    ("ama", "3", [], date(2025, 12, 2), True, "ending 受領委任 on the deadline"),
    ("acupuncture", "3", [], date(2025, 12, 3), False, "ending a day late"),
    ("judo", "2", [], date(2024, 12, 1), True, "a date already past is allowed"),
    ("judo", "3", [], None, False, "no planned date"),
    ("judo", "2", [p(YOUNG, FT)], date(2025, 6, 30), True, "practitioners do not matter for 2"),
    ("judo", "9", [], None, False, "no such reason"),
]


@pytest.mark.parametrize(("kind", "reason", "practitioners", "planned", "accepted", "why"), CASES,
                         ids=[case[-1] for case in CASES])
def test_the_rule_at_its_edges(kind, reason, practitioners, planned, accepted, why):
    result = determine_exemption(V1, ExemptionFacts(
        kind=kind, reason=reason, practitioners=tuple(practitioners), planned_date=planned))

    assert result.accepted is accepted, (why, result.reason_texts)
    # A refusal always says why; an acceptance says what it rests on.
    assert result.reasons
    assert bool(result.refusals) is (not accepted)


def test_a_refusal_names_the_practitioner_who_blocks():
    result = determine_exemption(V1, ExemptionFacts(
        kind="judo", reason="1-1", practitioners=(
            Practitioner(OLD, True, name="山田 一郎"), Practitioner(YOUNG, True, name="佐藤 次郎"))))

    assert not result.accepted
    assert result.refusals == [result.refusals[0]] and "佐藤 次郎" in result.refusals[0]
    assert "山田 一郎" not in result.refusals[0]


def _simulate(*lines: str) -> list[dict]:
    out = io.StringIO()
    stdin = io.StringIO("\n".join(lines) + "\n")
    import sys

    saved, sys.stdin = sys.stdin, stdin
    try:
        call_command("simulate", "exemption", stdout=out)
    finally:
        sys.stdin = saved
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.django_db
def test_simulate_exemption_answers_line_by_line_and_goes_on_after_a_bad_line():
    """Under the parameters of the program "obligation" in force today (version 1)."""
    answers = _simulate(
        json.dumps({"kind": "judo", "reason": "1-1", "practitioners": [
            {"birth_date": "1954-04-01", "full_time": True, "visually_impaired": False},
            {"birth_date": "1999-01-01", "full_time": False, "visually_impaired": False}],
            "planned_date": None}),
        json.dumps({"kind": "judo", "reason": "1-1", "practitioners": [
            {"birth_date": "1954-04-02", "full_time": True, "visually_impaired": True}],
            "planned_date": None}),
        "{not json",
        json.dumps({"kind": "ama", "reason": "2", "practitioners": [],
                    "planned_date": "2025-12-03"}),
        json.dumps({"kind": "ama", "reason": "1-2", "practitioners": [
            {"birth_date": "1954-02-30", "full_time": True}]}),
        json.dumps({"kind": "hospital", "reason": "2", "planned_date": "2025-01-01"}),
        json.dumps({"kind": "ama", "reason": "1-2", "practitioners": "everyone"}),
        json.dumps({"kind": "ama", "reason": "3", "practitioners": [],
                    "planned_date": "2025-12-02"}),
    )

    assert [answer.get("accepted") for answer in answers] == [
        True, False, None, False, None, None, None, True]
    assert all(answer["reasons"] for answer in answers if "accepted" in answer)
    assert answers[2]["error"].startswith("not valid JSON")
    assert "practitioners[0].birth_date" in answers[4]["error"]
    assert answers[5]["error"].startswith("kind must be one of")
    assert answers[6]["error"].startswith("practitioners must be a list")

"""協力金 (DOMAIN §5.1): go-live, both activities, the period edges and the annex cases."""

from datetime import date

import pytest

from eligibility.rules.cooperation import (
    DEFAULT_COOPERATION_2025,
    CooperationFacts,
    CooperationParams,
    determine_cooperation,
)

PARAMS = CooperationParams.from_dict(DEFAULT_COOPERATION_2025)
D = date.fromisoformat


def facts(**overrides):
    values = {"kind": "judo", "golive": D("2025-04-01"), "voice": True, "flyer": True,
              "poster": False, "activity_from": D("2025-05-01"), "activity_to": D("2025-07-31"),
              "annex_role": None, "partner_introduced": False}
    values.update(overrides)
    return CooperationFacts(**values)


def pay(**overrides):
    result = determine_cooperation(PARAMS, facts(**overrides))
    return result.amount if result.eligible else 0


def test_a_full_report_is_paid_50000():
    result = determine_cooperation(PARAMS, facts())
    assert (result.eligible, result.amount) == (True, 50000)
    assert "運用開始日 令和7年4月1日 ✓" in result.reason_texts


@pytest.mark.parametrize("kind", ["judo", "ama", "acupuncture", "ama_acupuncture"])
def test_every_sejutsu_kind_takes_part(kind):
    assert pay(kind=kind) == 50000


@pytest.mark.parametrize("kind", ["clinic", "hospital", "pharmacy", "dental"])
def test_medical_kinds_do_not(kind):
    assert pay(kind=kind) == 0


@pytest.mark.parametrize(
    "voice, flyer, poster, paid",
    [(True, True, False, True), (True, False, True, True), (True, True, True, True),
     (True, False, False, False), (False, True, True, False), (False, False, False, False)],
)
def test_voice_and_flyer_or_poster(voice, flyer, poster, paid):
    assert pay(voice=voice, flyer=flyer, poster=poster) == (50000 if paid else 0)


@pytest.mark.parametrize(
    "golive, activity_from, paid",
    [
        (None, D("2025-05-01"), False),  # no go-live date entered
        (D("2025-07-31"), D("2025-07-31"), True),  # go-live on the last day, activity that day
        (D("2025-08-01"), D("2025-08-01"), False),  # go-live after the period
        (D("2025-07-10"), D("2025-07-10"), True),  # a July go-live qualifies (seed 001 FAQ)
        (D("2025-07-10"), D("2025-07-09"), False),  # activity before its own go-live
        (D("2024-12-01"), D("2025-05-01"), True),  # period start edge
        (D("2024-12-01"), D("2025-04-30"), False),  # one day before the period
    ],
)
def test_go_live_and_activity_dates(golive, activity_from, paid):
    assert pay(golive=golive, activity_from=activity_from) == (50000 if paid else 0)


@pytest.mark.parametrize("activity_to, paid", [(D("2025-07-31"), True), (D("2025-08-01"), False)])
def test_period_end_edge(activity_to, paid):
    assert pay(activity_to=activity_to) == (50000 if paid else 0)


def test_missing_report_says_what_is_missing():
    result = determine_cooperation(PARAMS, facts(voice=False, flyer=False, activity_from=None,
                                                 activity_to=None))
    assert not result.eligible
    assert "実施期間 未報告 ✗" in result.reason_texts


def test_missing_golive_says_so():
    result = determine_cooperation(PARAMS, facts(golive=None))
    assert "運用開始日 未入力 ✗" in result.reason_texts


@pytest.mark.parametrize(
    "role, partner, paid",
    [
        (None, False, True),
        ("main", False, True),  # only the main introduced: the main is paid
        ("main", True, True),
        ("subordinate", True, True),  # both introduced: both paid
        ("subordinate", False, False),  # the main did not introduce: the subordinate is not
    ],
)
def test_annexed_facilities(role, partner, paid):
    assert pay(annex_role=role, partner_introduced=partner) == (50000 if paid else 0)


def test_subordinate_without_its_own_golive_is_not_paid():
    assert pay(annex_role="subordinate", partner_introduced=True, golive=None) == 0


def test_a_longer_period_is_a_parameter_change():
    longer = CooperationParams.from_dict({**DEFAULT_COOPERATION_2025, "period_end": "2025-08-31"})
    result = determine_cooperation(longer, facts(golive=D("2025-08-10"),
                                                 activity_from=D("2025-08-10"),
                                                 activity_to=D("2025-08-31")))
    assert result.amount == 50000


def test_reversed_period_is_refused():
    with pytest.raises(ValueError):
        CooperationParams.from_dict({**DEFAULT_COOPERATION_2025, "period_end": "2025-04-01"})

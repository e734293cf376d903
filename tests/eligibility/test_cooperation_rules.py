"""協力金2025 (docs/domain.md §5.1, seeds 000 and 001): go-live, both activities, the period edges,
and the annexed (併設) cases."""

from dataclasses import fields
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eligibility.rules.base import wareki
from eligibility.rules.cooperation import (
    DEFAULT_COOPERATION_2025,
    CooperationFacts,
    CooperationParams,
    determine_cooperation,
)


@pytest.fixture(autouse=True)
def _private_storage():
    """Pure rules: no Django settings to touch (overrides the project-wide fixture, so these
    tests also run with `-p no:django`)."""


PARAMS = CooperationParams.from_dict(DEFAULT_COOPERATION_2025)
D = date.fromisoformat
START, END = D("2025-05-01"), D("2025-07-31")


def facts(**overrides) -> CooperationFacts:
    values = {"kind": "judo", "golive": D("2025-04-01"), "voice": True, "flyer": True,
              "poster": False, "activity_from": START, "activity_to": END,
              "annex_role": None, "partner_introduced": False}
    values.update(overrides)
    return CooperationFacts(**values)


def paid(**overrides) -> int:
    result = determine_cooperation(PARAMS, facts(**overrides))
    assert result.amount == (50000 if result.eligible else 0)
    return result.amount


def test_defaults_are_the_notice():
    assert DEFAULT_COOPERATION_2025["amount"] == 50000
    assert (PARAMS.period_start, PARAMS.period_end) == (START, END)
    assert set(PARAMS.kinds) == {"judo", "ama", "acupuncture", "ama_acupuncture"}


def test_a_full_report_is_paid_50000_with_every_reason_shown():
    result = determine_cooperation(PARAMS, facts())
    assert (result.eligible, result.amount) == (True, 50000)
    assert result.reason_texts == [
        "運用開始日 令和7年4月1日 ✓",
        "① お声掛け 報告済 ✓",
        "② チラシ配付 報告済 ✓",
        "実施期間 令和7年5月1日〜令和7年7月31日 ✓",
        "支給額 50,000円",
    ]


@pytest.mark.parametrize("kind", ["judo", "ama", "acupuncture", "ama_acupuncture"])
def test_every_sejutsu_kind_takes_part(kind):
    assert paid(kind=kind) == 50000


@pytest.mark.parametrize("kind", ["hospital", "clinic", "dental", "pharmacy", ""])
def test_other_kinds_are_not_eligible(kind):
    result = determine_cooperation(PARAMS, facts(kind=kind))
    assert (result.eligible, result.amount) == (False, 0)
    assert result.reason_texts[0].endswith("✗")


# ---------------------------------------------------------------- ① and ②


@pytest.mark.parametrize(
    "voice, flyer, poster, pays",
    [
        (True, True, False, True),  # ① + flyer
        (True, False, True, True),  # ① + poster
        (True, True, True, True),  # ① + both
        (True, False, False, False),  # ① without flyer or poster
        (False, True, False, False),  # flyer only
        (False, False, True, False),  # poster only
        (False, True, True, False),  # ② without ①
        (False, False, False, False),
    ],
)
def test_both_voice_and_a_flyer_or_poster(voice, flyer, poster, pays):
    result = determine_cooperation(PARAMS, facts(voice=voice, flyer=flyer, poster=poster))
    assert (result.eligible, result.amount) == (pays, 50000 if pays else 0)
    assert (("① お声掛け 報告済 ✓" if voice else "① お声掛け 報告なし ✗")
            in result.reason_texts)
    if not (flyer or poster):
        assert "② チラシ配付またはポスター掲示 報告なし ✗" in result.reason_texts


def test_poster_and_flyer_both_named():
    result = determine_cooperation(PARAMS, facts(flyer=True, poster=True))
    assert "② チラシ配付・ポスター掲示 報告済 ✓" in result.reason_texts


def test_zero_card_using_patients_is_not_a_criterion():
    """docs/domain.md §5.1: zero patients using the card still qualifies; the rule has no such
    fact."""
    names = {f.name for f in fields(CooperationFacts)}
    assert not any("patient" in name or "users" in name for name in names)
    assert paid() == 50000


# ---------------------------------------------------------------- go-live and activity dates


@pytest.mark.parametrize(
    "golive, activity_from, activity_to, pays",
    [
        (None, START, END, False),  # no go-live date entered
        (D("2025-07-31"), D("2025-07-31"), D("2025-07-31"), True),  # the last day (Decision)
        (D("2025-08-01"), D("2025-07-01"), D("2025-07-31"), False),  # go-live after the period
        (D("2025-08-01"), D("2025-08-01"), D("2025-08-01"), False),
        (D("2025-07-10"), D("2025-07-10"), D("2025-07-31"), True),  # a July go-live (seed 001)
        (D("2025-07-10"), D("2025-07-09"), D("2025-07-31"), False),  # before its own go-live
        (D("2025-06-10"), D("2025-06-10"), D("2025-06-10"), True),  # one day is enough
        (D("2025-05-01"), START, END, True),  # go-live on the first day
        (D("2024-12-01"), START, END, True),  # went live long before
        (D("2024-12-01"), D("2025-04-30"), END, False),  # one day before the period
        (D("2024-12-01"), START, D("2025-08-01"), False),  # one day after the period
        (D("2024-12-01"), D("2025-07-01"), D("2025-06-30"), False),  # from after to
    ],
)
def test_go_live_and_activity_dates(golive, activity_from, activity_to, pays):
    amount = paid(golive=golive, activity_from=activity_from, activity_to=activity_to)
    assert amount == (50000 if pays else 0)


def test_go_live_after_the_period_says_so():
    result = determine_cooperation(PARAMS, facts(golive=D("2025-08-01")))
    assert "運用開始日 令和7年8月1日（令和7年7月31日までの運用開始が必要） ✗" in result.reason_texts


def test_missing_go_live_says_so():
    result = determine_cooperation(PARAMS, facts(golive=None))
    assert "運用開始日 未入力 ✗" in result.reason_texts


def test_activity_before_go_live_shows_the_window():
    result = determine_cooperation(PARAMS, facts(golive=D("2025-06-10"),
                                                 activity_from=D("2025-06-09")))
    assert ("実施期間 令和7年6月9日〜令和7年7月31日（令和7年6月10日〜令和7年7月31日の間であること） ✗"
            in result.reason_texts)
    assert result.details["earliest_activity"] == "2025-06-10"


def test_reversed_activity_dates_say_so():
    result = determine_cooperation(PARAMS, facts(activity_from=D("2025-07-01"),
                                                 activity_to=D("2025-06-30")))
    assert "実施期間 令和7年7月1日〜令和7年6月30日（開始日が終了日より後です） ✗" in result.reason_texts


@pytest.mark.parametrize("activity_from, activity_to, reason", [
    (None, None, "実施期間 未報告 ✗"),
    # A half-given period is judged, naming the end that was not reported.
    (START, None, "実施期間の終了日 未報告（令和7年5月1日のみ報告） ✗"),
    (None, END, "実施期間の開始日 未報告（令和7年7月31日のみ報告） ✗"),
])
def test_unreported_activity_dates_are_not_paid(activity_from, activity_to, reason):
    result = determine_cooperation(PARAMS, facts(activity_from=activity_from,
                                                 activity_to=activity_to))
    assert (result.eligible, result.amount) == (False, 0)
    assert reason in result.reason_texts


# ---------------------------------------------------------------- 併設 (annexed) 施術所


@pytest.mark.parametrize(
    "role, partner_introduced, pays",
    [
        (None, False, True),  # not annexed
        ("main", True, True),  # both introduced: both paid (the main here)
        ("subordinate", True, True),  # both introduced: both paid (the subordinate here)
        ("main", False, True),  # only the main introduced: the main is paid
        ("subordinate", False, False),  # the main did not introduce: the subordinate is not
    ],
)
def test_annexed_facilities(role, partner_introduced, pays):
    result = determine_cooperation(PARAMS, facts(annex_role=role,
                                                 partner_introduced=partner_introduced))
    assert (result.eligible, result.amount) == (pays, 50000 if pays else 0)
    if role == "subordinate":
        mark = "確認済 ✓" if partner_introduced else "未確認 ✗"
        assert f"併設の主たる施術所の導入 {mark}" in result.reason_texts
    if role == "main":
        assert any(r.met is None and r.text.startswith("併設の主たる施術所")
                   for r in result.reasons)


def test_only_the_main_introduced_pays_only_the_main():
    main = facts(annex_role="main", partner_introduced=False)
    subordinate = facts(annex_role="subordinate", partner_introduced=True, golive=None,
                        activity_from=None, activity_to=None, voice=False, flyer=False)
    assert determine_cooperation(PARAMS, main).amount == 50000
    assert determine_cooperation(PARAMS, subordinate).amount == 0


def test_a_subordinate_must_meet_its_own_conditions_too():
    assert paid(annex_role="subordinate", partner_introduced=True, golive=None) == 0
    assert paid(annex_role="subordinate", partner_introduced=True, voice=False) == 0


def test_an_unknown_annex_role_is_not_paid():
    assert paid(annex_role="other") == 0


# ---------------------------------------------------------------- the whole rule, as a property


@given(
    golive=st.one_of(st.none(), st.dates(D("2024-10-01"), D("2025-09-30"))),
    activity_from=st.one_of(st.none(), st.dates(D("2025-04-01"), D("2025-08-31"))),
    length=st.integers(-10, 120),
    voice=st.booleans(),
    flyer=st.booleans(),
    poster=st.booleans(),
    role=st.sampled_from([None, "main", "subordinate"]),
    partner=st.booleans(),
)
def test_paid_exactly_when_the_domain_says(golive, activity_from, length, voice, flyer, poster,
                                           role, partner):
    activity_to = activity_from + timedelta(days=length) if activity_from else None
    result = determine_cooperation(PARAMS, facts(
        golive=golive, activity_from=activity_from, activity_to=activity_to, voice=voice,
        flyer=flyer, poster=poster, annex_role=role, partner_introduced=partner))
    expected = (
        golive is not None and golive <= END
        and activity_from is not None
        and max(golive, START) <= activity_from <= activity_to <= END
        and voice and (flyer or poster)
        and (role != "subordinate" or partner)
    )
    assert (result.eligible, result.amount) == (expected, 50000 if expected else 0)


# ---------------------------------------------------------------- parameters as data


def test_parameters_round_trip():
    assert CooperationParams.from_dict(PARAMS.to_dict()) == PARAMS
    assert PARAMS.to_dict() == DEFAULT_COOPERATION_2025


def test_a_longer_period_is_a_parameter_change():
    longer = CooperationParams.from_dict({**DEFAULT_COOPERATION_2025, "period_end": "2025-08-31"})
    result = determine_cooperation(longer, facts(golive=D("2025-08-10"),
                                                 activity_from=D("2025-08-10"),
                                                 activity_to=D("2025-08-31")))
    assert result.amount == 50000


@pytest.mark.parametrize(
    "broken, field",
    [
        ({"period_end": "2025-04-01"}, "period_start"),
        ({"period_end": "2025-02-30"}, "period_end"),
        ({"period_start": "20250501"}, "period_start"),
        ({"amount": -1}, "amount"),
        ({"amount": 50000.0}, "amount"),
        ({"amount": True}, "amount"),
        ({"kinds": "judo"}, "kinds"),
    ],
)
def test_malformed_parameters_are_refused(broken, field):
    with pytest.raises(ValueError, match=field):
        CooperationParams.from_dict({**DEFAULT_COOPERATION_2025, **broken})


# ---------------------------------------------------------------- 和暦 shown in the reasons


@pytest.mark.parametrize(
    "value, text",
    [
        (D("2025-06-10"), "令和7年6月10日"),
        (D("2019-05-01"), "令和元年5月1日"),
        (D("2020-01-01"), "令和2年1月1日"),
        (D("2019-04-30"), "平成31年4月30日"),
        (D("1989-01-08"), "平成元年1月8日"),
        (D("1989-01-07"), "昭和64年1月7日"),
    ],
)
def test_wareki(value, text):
    assert wareki(value) == text

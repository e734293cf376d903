"""The batch's fast path gives what the plain rule gives, to the yen: the verdict reached once
per cell for many facilities (LumpSumJudge, CooperationJudge), rates compared by integer
cross-multiplication, the facts gathered by one query and kept as JSON, the reason texts
written on display — against `determine_*` applied to each facility alone, the rate as an
exact Fraction, and the facts as the ORM query before the fast path gathered them."""

import json
from bisect import bisect_right
from datetime import date, timedelta
from fractions import Fraction

import pytest
from django.db.models import Exists, F, FilteredRelation, Max, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility import services
from eligibility.dataset import generate_dataset
from eligibility.engine import parameters_in_force
from eligibility.models import Attestation, Determination, Program
from eligibility.rules.cooperation import (
    DEFAULT_COOPERATION_2025,
    CooperationFacts,
    CooperationJudge,
    CooperationParams,
    determine_cooperation,
)
from eligibility.rules.lump_sum import (
    DEFAULT_LUMP_SUM_2024,
    LumpSumFacts,
    LumpSumJudge,
    LumpSumParams,
    determine_lump_sum,
)
from facilities.kinds import MEDICAL_KINDS
from facilities.models import Facility, GoLive
from tests.factories import FacilityFactory

LUMP_SUM = LumpSumParams.from_dict(DEFAULT_LUMP_SUM_2024)
# Another version: other bounds (one not a percent), months and a small table reaching further.
LUMP_SUM_OTHER = LumpSumParams.from_dict({
    **DEFAULT_LUMP_SUM_2024,
    "rate_bounds": ["1/30", "7/100", "1/7", "33/100"],
    "evaluation_months": ["2024-05", "2024-06", "2024-07"],
    "small_rows": 3, "small_partial_row_columns": 5,
})
COOPERATION = CooperationParams.from_dict(DEFAULT_COOPERATION_2025)

counts = st.integers(min_value=0, max_value=20_000)
lump_sum_facts = st.builds(
    LumpSumFacts,
    kind=st.sampled_from(["hospital", "clinic", "dental", "pharmacy", "judo", 'odd "kind" \\']),
    oct_receipts=st.one_of(st.integers(0, 200), counts),
    oct_users=st.one_of(st.integers(0, 50), counts),
    best_users=st.one_of(st.integers(0, 400), counts),
    poster=st.booleans(), informed=st.booleans(),
)
days = st.one_of(st.none(), st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 1, 1)))
cooperation_facts = st.builds(
    CooperationFacts,
    kind=st.sampled_from(["judo", "ama", "acupuncture", "ama_acupuncture", "clinic"]),
    golive=days, voice=st.booleans(), flyer=st.booleans(), poster=st.booleans(),
    activity_from=days, activity_to=days,
    annex_role=st.sampled_from([None, "main", "subordinate", "unknown"]),
    partner_introduced=st.booleans(),
)


def cell_of(details: dict) -> dict:
    return {"table": details["table"], "row": details["row"], "column": details["column"]}


@pytest.mark.parametrize("params", [LUMP_SUM, LUMP_SUM_OTHER])
@settings(max_examples=150, deadline=None)
@given(many=st.lists(lump_sum_facts, min_size=1, max_size=60))
def test_one_judge_for_many_lump_sum_facilities_is_the_rule_for_each(params, many):
    judge = LumpSumJudge(params)  # one per batch: its cells are remembered across facilities
    for facts in many:
        verdict = judge(facts)
        plain = determine_lump_sum(params, facts)
        assert (verdict.eligible, verdict.amount) == (plain.eligible, plain.amount)
        assert dict(verdict.cell) == cell_of(plain.details)


@pytest.mark.parametrize("params", [LUMP_SUM, LUMP_SUM_OTHER])
@given(receipts=counts, users=counts)
def test_rows_by_cross_multiplication_are_the_exact_fraction_rows(params, receipts, users):
    rate = Fraction(users, receipts) if receipts else Fraction(0)
    assert LumpSumJudge(params).row(receipts, users) == bisect_right(params.rate_bounds, rate)


@pytest.mark.parametrize("receipts, users, row", [
    (1000, 29, 0), (1000, 30, 1), (100_000, 2999, 0), (100, 5, 2), (3, 1, 5), (5, 2, 6), (0, 7, 0),
])
def test_rows_at_the_bounds(receipts, users, row):
    assert LumpSumJudge(LUMP_SUM).row(receipts, users) == row


@settings(max_examples=150, deadline=None)
@given(many=st.lists(cooperation_facts, min_size=1, max_size=40))
def test_one_judge_for_many_cooperation_facilities_is_the_rule_for_each(many):
    judge = CooperationJudge(COOPERATION)
    for facts in many:
        verdict = judge(facts)
        plain = determine_cooperation(COOPERATION, facts)
        assert (verdict.eligible, verdict.amount) == (plain.eligible, plain.amount)


@given(facts=lump_sum_facts)
def test_lump_sum_facts_kept_as_json_read_back_the_same(facts):
    kept = json.loads(facts.json_text())
    assert LumpSumFacts.from_json(kept) == facts
    assert determine_lump_sum(LUMP_SUM, LumpSumFacts.from_json(kept)).reason_texts == \
        determine_lump_sum(LUMP_SUM, facts).reason_texts


@given(facts=cooperation_facts)
def test_cooperation_facts_kept_as_json_read_back_the_same(facts):
    assert CooperationFacts.from_json(json.loads(facts.json_text())) == facts


# ---------------------------------------------------------------- through the database


def reference_lump_sum_facts(program, params):
    """The facts as the batch gathered them before the fast path (the ORM's query)."""
    baseline = date(*map(int, params.baseline_month.split("-")), 1)
    months = [date(*map(int, m.split("-")), 1) for m in params.evaluation_months]
    attested = Attestation.objects.filter(facility=OuterRef("pk"), program=program)
    rows = Facility.objects.filter(kind__in=MEDICAL_KINDS).annotate(
        oct_receipts=Coalesce(Max("statistics__receipts", filter=Q(statistics__month=baseline)),
                              Value(0)),
        oct_users=Coalesce(Max("statistics__card_users", filter=Q(statistics__month=baseline)),
                           Value(0)),
        best_users=Coalesce(Max("statistics__card_users",
                                filter=Q(statistics__month__in=months)), Value(0)),
        poster=Exists(attested.filter(poster=True)),
        informed=Exists(attested.filter(informed=True)),
    ).values_list("pk", "kind", "oct_receipts", "oct_users", "best_users", "poster", "informed")
    return {pk: LumpSumFacts(*values) for pk, *values in rows}


def reference_cooperation_facts(program, params):
    introduced = GoLive.objects.filter(date__lte=params.period_end)
    rows = Facility.objects.filter(kind__in=params.kinds).annotate(
        report=FilteredRelation("reports", condition=Q(reports__program=program)),
        golive_date=F("golive__date"), voice=F("report__voice"), flyer=F("report__flyer"),
        report_poster=F("report__poster"), activity_from=F("report__activity_from"),
        activity_to=F("report__activity_to"),
        has_subordinates=Exists(Facility.objects.filter(main_facility=OuterRef("pk"))),
        main_introduced=Exists(introduced.filter(facility=OuterRef("main_facility_id"))),
        subordinate_introduced=Exists(introduced.filter(facility__main_facility=OuterRef("pk"))),
    ).values_list("pk", "kind", "golive_date", "voice", "flyer", "report_poster",
                  "activity_from", "activity_to", "main_facility_id", "has_subordinates",
                  "main_introduced", "subordinate_introduced")
    facts = {}
    for (pk, kind, golive, voice, flyer, poster, start, end, main_id, has_subordinates,
         main_introduced, subordinate_introduced) in rows:
        role, partner = (("subordinate", main_introduced) if main_id is not None else
                          ("main", subordinate_introduced) if has_subordinates else (None, False))
        facts[pk] = CooperationFacts(kind, golive, bool(voice), bool(flyer), bool(poster), start,
                                     end, role, partner)
    return facts


REFERENCES = {Program.Rule.LUMP_SUM: (reference_lump_sum_facts, LumpSumParams,
                                      determine_lump_sum),
              Program.Rule.COOPERATION: (reference_cooperation_facts, CooperationParams,
                                         determine_cooperation)}


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stored_results_are_the_plain_rule_on_a_generated_dataset(seed):
    generate_dataset(facilities=250, seed=seed)
    for program in services.open_batch_programs():
        run = services.run_eligibility(program=program)
        version = parameters_in_force(program)
        gather, parse, determine = REFERENCES[program.rule]
        params = parse.from_dict(version.params)
        expected = {pk: determine(params, facts) for pk, facts in gather(program, params).items()}
        stored = {d.facility_id: d for d in Determination.objects.filter(program=program)
                  .select_related("program", "parameter_version")}
        assert set(stored) == set(expected)
        for pk, plain in expected.items():
            result = stored[pk]
            assert (result.eligible, result.amount) == (plain.eligible, plain.amount), pk
            assert result.reasons == plain.reason_texts, pk  # as the facility's page shows
            if program.rule == Program.Rule.LUMP_SUM:
                assert result.details == cell_of(plain.details)
        assert run.eligible == sum(p.eligible for p in expected.values())
        assert run.total_amount == sum(p.amount for p in expected.values())
        assert run.written == len(expected)
        assert services.run_eligibility(program=program).written == 0  # nothing changed


@pytest.mark.django_db
def test_a_result_kept_from_before_the_facts_keeps_its_texts_and_date():
    """Results written before facts were kept: a payout-locked one is never touched and shows
    its stored texts; an unlocked one gets its facts (and its texts) without becoming news."""
    program = Program.objects.get(code="cooperation-2025")
    version = parameters_in_force(program)
    locked, unlocked = FacilityFactory(kind="judo"), FacilityFactory(kind="judo")
    before = timezone.now() - timedelta(days=30)
    for facility, is_locked in ((locked, True), (unlocked, False)):
        Determination.objects.create(
            facility=facility, program=program, parameter_version=version, eligible=False,
            amount=0, reasons=["運用開始日 未入力 ✗", "支給額 0円"], details={},
            determined_at=before, payout_locked=is_locked)

    run = services.run_eligibility(program=program)

    kept = Determination.objects.get(facility=locked)
    assert (kept.facts, kept.reasons, kept.determined_at) == (
        None, ["運用開始日 未入力 ✗", "支給額 0円"], before)
    given_facts = Determination.objects.get(facility=unlocked)
    assert given_facts.facts["kind"] == "judo"
    assert given_facts.determined_at == before  # same verdict: not news on the to-do list
    # Written again with its facts, it keeps the texts as the rule words them now.
    assert "運用開始日 未入力 ✗" in given_facts.stored_reasons
    assert run.skipped_locked == 1

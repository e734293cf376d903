"""Adjustments (調整, docs/domain.md §5.4) proposed by the eligibility batch for paid results, and
their review and decision by two different people. Runs on SQLite and, with DATABASE_URL
set, on PostgreSQL (the batch's COPY path and two runs at once)."""

from datetime import date

import pytest
from django.db import connection

from eligibility import adjustments, services
from eligibility.models import (
    Adjustment,
    AdjustmentState,
    Attestation,
    Determination,
    MonthlyStatistic,
    ParameterVersion,
)
from facilities.models import Activity
from portal import roles
from portal.errors import NotPermitted
from tests.eligibility.test_batch import clinic, lump_sum
from tests.factories import AdminFactory, make_admin, make_staff, previewed

pytestmark = pytest.mark.django_db


def paid(facility, program=None):
    """The facility's result put into a payout (frozen)."""
    Determination.objects.filter(facility=facility, program=program or lump_sum()).update(
        payout_locked=True)


def best_month(facility, users):
    """The users of every evaluation month the facility has (its best month, then)."""
    MonthlyStatistic.objects.filter(facility=facility, month__gte=date(2024, 5, 1),
                                    month__lte=date(2024, 8, 1)).update(card_users=users)


def new_version(last_step=210000) -> ParameterVersion:
    """A version of the lump sum whose 診療所・薬局 ladder ends at `last_step` (200,000 in
    the notice), applied through its preview."""
    active = ParameterVersion.objects.get(program=lump_sum(), status="active")
    params = {**active.params}
    params["tables"] = {**params["tables"], "clinic": {
        **params["tables"]["clinic"],
        "ladder": [*params["tables"]["clinic"]["ladder"][:-1], last_step]}}
    draft = services.create_draft_version(program=lump_sum(), params=params,
                                          effective_from=date(2024, 5, 1), notice="改定")
    services.apply_version(version=draft, actor=AdminFactory(), preview=previewed(draft))
    return ParameterVersion.objects.get(pk=draft.pk)


def rerun():
    return services.run_eligibility(program=lump_sum())


def open_one(facility):
    return Adjustment.objects.get(facility=facility, state__in=["proposed", "reviewed"])


def test_a_parameter_change_after_payment_proposes_the_exact_difference_up():
    facility = clinic()  # 200,000円 (seed 002)
    untouched = clinic(best=(("2024-05", 100),))  # +60: 70,000円 (not the ladder's end)
    rerun()
    paid(facility)
    paid(untouched)
    version = new_version(210000)
    run = rerun()
    adjustment = Adjustment.objects.get()
    assert (adjustment.facility, adjustment.paid_amount, adjustment.new_amount,
            adjustment.difference, adjustment.direction) == (facility, 200000, 210000, 10000,
                                                             "pay")
    assert adjustment.state == AdjustmentState.PROPOSED and adjustment.eligible
    assert adjustment.cause == f"パラメータの改定（第{version.version}版）"
    assert adjustment.parameter_version == version
    assert adjustment.determination == Determination.objects.get(facility=facility)
    assert "増加人数 +160人 (基準: 4.0%, 表: 診療所・薬局) → 210,000円 ✓" in adjustment.reasons
    assert adjustment.details["table"] == "clinic"
    assert adjustment.facts is not None
    assert adjustment.history.count() == 1  # created with its history entry
    assert Activity.objects.filter(verb="adjustment_proposed", facility=facility,
                                   visible_to_facility=False).count() == 1
    # The paid result itself never changes.
    result = Determination.objects.get(facility=facility)
    assert (result.amount, result.payout_locked) == (200000, True)
    assert (run.adjustments_proposed, run.skipped_locked) == (1, 1)


def test_a_fact_change_after_payment_proposes_the_exact_difference_down():
    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)  # +60 at 4%: 70,000円
    run = rerun()
    adjustment = Adjustment.objects.get()
    assert (adjustment.paid_amount, adjustment.new_amount, adjustment.difference,
            adjustment.direction, adjustment.difference_yen) == (
        200000, 70000, -130000, "recover", "-130,000円")
    assert adjustment.cause == "施設の入力内容・統計の変更"
    assert run.adjustments_proposed == 1 and run.skipped_locked == 0


def test_an_ineligible_result_after_payment_proposes_the_whole_amount_back():
    facility = clinic()
    rerun()
    paid(facility)
    Attestation.objects.filter(facility=facility).update(poster=False)
    rerun()
    adjustment = Adjustment.objects.get()
    assert (adjustment.new_amount, adjustment.difference, adjustment.eligible) == (
        0, -200000, False)


def test_a_second_run_with_the_same_facts_proposes_nothing():
    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)
    rerun()
    again = rerun()
    assert Adjustment.objects.count() == 1
    assert (again.adjustments_proposed, again.skipped_locked) == (0, 1)


def test_a_proposal_is_withdrawn_when_the_result_returns_to_what_was_paid():
    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)
    rerun()
    best_month(facility, 200)
    run = rerun()
    adjustment = Adjustment.objects.get()
    assert adjustment.state == AdjustmentState.WITHDRAWN
    assert run.adjustments_proposed == 0
    assert not Adjustment.objects.filter(state__in=["proposed", "reviewed"]).exists()


def test_a_new_amount_withdraws_the_open_proposal_and_proposes_again():
    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)  # 70,000
    rerun()
    first = open_one(facility)
    adjustments.review(adjustment=first, actor=make_admin(roles.REVIEWER))
    best_month(facility, 45)  # +5 at 4%: 0円 (column 1 → V[1+0] = 0)
    rerun()
    first.refresh_from_db()
    assert first.state == AdjustmentState.WITHDRAWN
    second = open_one(facility)
    assert (second.paid_amount, second.new_amount, second.difference) == (200000, 0, -200000)


def test_what_is_owed_counts_the_decided_adjustments():
    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)  # 70,000
    rerun()
    first = open_one(facility)
    adjustments.review(adjustment=first, actor=make_admin(roles.REVIEWER))
    adjustments.approve(adjustment=first, actor=make_admin(roles.APPROVER))
    assert rerun().adjustments_proposed == 0  # 70,000 is what is owed now
    best_month(facility, 200)  # back to 200,000: 130,000 more than is owed
    rerun()
    second = open_one(facility)
    assert (second.paid_amount, second.new_amount, second.difference) == (70000, 200000, 130000)


def test_a_rejected_adjustment_is_not_proposed_again_until_the_result_changes():
    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)
    rerun()
    first = open_one(facility)
    adjustments.reject(adjustment=first, actor=make_admin(roles.APPROVER))
    assert rerun().adjustments_proposed == 0
    assert Adjustment.objects.count() == 1
    best_month(facility, 45)  # the result changes again: 0円
    assert rerun().adjustments_proposed == 1
    assert open_one(facility).new_amount == 0


def test_four_eyes_the_reviewer_may_not_decide():
    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)
    rerun()
    both = make_admin(roles.REVIEWER, roles.APPROVER)
    adjustment = adjustments.review(adjustment=open_one(facility), actor=both)
    with pytest.raises(NotPermitted, match="二者確認"):
        adjustments.approve(adjustment=adjustment, actor=both)
    with pytest.raises(NotPermitted, match="二者確認"):
        adjustments.reject(adjustment=adjustment, actor=both)
    adjustment.refresh_from_db()
    assert adjustment.state == AdjustmentState.REVIEWED
    with pytest.raises(NotPermitted, match="権限"):
        adjustments.approve(adjustment=adjustment, actor=make_admin(roles.REVIEWER))
    decided = adjustments.approve(adjustment=adjustment, actor=make_admin(roles.APPROVER))
    assert decided.state == AdjustmentState.APPROVED


def test_the_decision_is_emailed_to_the_facility_with_yen(mailoutbox,
                                                         django_capture_on_commit_callbacks):
    facility = clinic()
    staff = make_staff(facility)
    rerun()
    paid(facility)
    best_month(facility, 100)
    rerun()
    adjustment = adjustments.review(adjustment=open_one(facility),
                                    actor=make_admin(roles.REVIEWER))
    assert not mailoutbox  # proposing and reviewing tell the facility nothing yet
    with django_capture_on_commit_callbacks(execute=True):
        adjustments.approve(adjustment=adjustment, actor=make_admin(roles.APPROVER))
    [mail] = [m for m in mailoutbox if "調整" in m.subject]
    assert mail.to == [staff.email]
    assert "一時金（医療機関・薬局・2024年）の調整: 決定（返還）" in mail.subject
    assert "これまでの支給額: 200,000円" in mail.body
    assert "再判定の金額: 70,000円" in mail.body
    assert "差額: -130,000円" in mail.body
    assert "差額 130,000円の返還をお願いすることに決定しました" in mail.body
    assert "理由: 施設の入力内容・統計の変更" in mail.body


def test_the_batch_on_postgresql_proposes_through_the_copy_path():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run with DATABASE_URL set")
    facilities = [clinic() for _ in range(3)]
    rerun()
    for facility in facilities:
        paid(facility)
    best_month(facilities[0], 100)
    run = rerun()
    assert run.adjustments_proposed == 1 and run.skipped_locked == 2
    assert open_one(facilities[0]).difference == -130000
    assert rerun().adjustments_proposed == 0

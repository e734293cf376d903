"""The compliance status of each 施術所 (docs/domain.md §7) at the edges of every state, following
the facts after commit, and the follow-up ladder."""

from datetime import date

import pytest
from django.urls import reverse

from facilities import services as facility_services
from facilities.models import GoLive
from obligation import compliance
from obligation.compliance import compute_statuses, record_step
from obligation.models import (
    ComplianceState,
    ComplianceStatus,
    DeclarationState,
    ExemptionDeclaration,
    FollowUpKind,
    FollowUpStep,
    SurveyAnswer,
)
from tests.factories import (
    AdminFactory,
    FacilityFactory,
    accepted_facility,
    make_staff,
    submit_start,
)

pytestmark = pytest.mark.django_db

TODAY = date(2025, 6, 1)


def status(facility, today=TODAY) -> ComplianceStatus:
    compute_statuses([facility.pk], today=today)
    return ComplianceStatus.objects.get(facility=facility)


def declaration(facility, *, reason="1-1", state=DeclarationState.ACCEPTED, planned=None):
    return ExemptionDeclaration.objects.create(
        facility=facility, reason=reason, planned_date=planned, state=state,
        contact_name="担当 花子", receipt_number=f"E{facility.pk:06d}")


def survey(facility, reason):
    return SurveyAnswer.objects.create(
        name=facility.name, address=facility.address, registration_code=facility.code,
        reason=reason, received_on=date(2025, 2, 10), facility=facility)


# ---------------------------------------------------------------- each state at its edges


def test_a_go_live_entered_is_introduced_whatever_its_date():
    facility = FacilityFactory(kind="judo")
    GoLive.objects.create(facility=facility, date=date(2026, 3, 1))  # after `today`
    row = status(facility)
    assert row.state == ComplianceState.INTRODUCED
    assert "令和8年3月1日" in row.basis
    assert row.prefecture == facility.prefecture


def test_a_subordinate_whose_main_introduced_is_covered():
    main = FacilityFactory(kind="judo", name="主たる接骨院")
    GoLive.objects.create(facility=main, date=date(2025, 4, 1))
    subordinate = FacilityFactory(kind="ama", main_facility=main)
    row = status(subordinate)
    assert row.state == ComplianceState.COVERED
    assert "主たる接骨院" in row.basis and "令和7年4月1日" in row.basis


def test_a_covered_subordinate_is_not_labelled_introduced(client):
    """The subordinate has not introduced: its duty is deemed met by its main one (docs/domain.md
    §7). Label and 根拠 say the same thing, on the facility's page too."""
    main = FacilityFactory(kind="judo", name="主たる接骨院")
    GoLive.objects.create(facility=main, date=date(2025, 4, 1))
    subordinate = FacilityFactory(kind="ama", main_facility=main)
    row = status(subordinate)
    assert row.get_state_display() == "導入義務を満たす（併設の主たる施術所が導入済み）"
    assert row.basis.startswith("この施術所は併設の従たる施術所です。")
    assert "導入義務は果たしているものとみなします" in row.basis
    client.force_login(make_staff(subordinate))
    page = client.get(reverse("obligation:overview", args=[subordinate.pk])).content.decode()
    assert "導入義務を満たす（併設の主たる施術所が導入済み）" in page
    assert "導入済み（併設の主たる施術所）" not in page


def test_a_subordinate_whose_main_has_no_go_live_is_not_covered():
    main = FacilityFactory(kind="judo", name="主たる接骨院")
    subordinate = FacilityFactory(kind="ama", main_facility=main)
    row = status(subordinate)
    assert row.state == ComplianceState.NOT_INTRODUCED
    assert "まだ運用開始日が登録されていません" in row.basis


def test_an_accepted_declaration_1_1_exempts_with_no_end():
    facility = FacilityFactory(kind="judo")
    declaration(facility, reason="1-1")
    row = status(facility, today=date(2030, 1, 1))
    assert (row.state, row.exemption_reason, row.valid_until) == (
        ComplianceState.EXEMPT, "1-1", None)
    assert "期限なし" in row.basis


def test_reason_2_holds_until_its_planned_date_and_not_after():
    facility = FacilityFactory(kind="judo")
    declaration(facility, reason="2", planned=date(2025, 9, 30))
    row = status(facility, today=date(2025, 9, 30))
    assert (row.state, row.valid_until) == (ComplianceState.EXEMPT, date(2025, 9, 30))
    row = status(facility, today=date(2025, 10, 1))
    assert row.state == ComplianceState.NOT_INTRODUCED
    assert row.exemption_reason == "" and row.valid_until is None
    assert "期限の令和7年9月30日を過ぎています" in row.basis


def test_a_declaration_not_yet_accepted_does_not_exempt_but_is_named():
    facility = FacilityFactory(kind="judo")
    declaration(facility, reason="1-1", state=DeclarationState.DECLARED)
    row = status(facility)
    assert row.state == ComplianceState.NOT_INTRODUCED
    assert "確認待ち" in row.basis and f"E{facility.pk:06d}" in row.basis


def test_a_survey_answer_3_exempts_until_the_deadline_and_not_after():
    facility = FacilityFactory(kind="acupuncture")
    survey(facility, "3")
    row = status(facility, today=date(2025, 12, 2))
    assert (row.state, row.exemption_reason, row.valid_until) == (
        ComplianceState.EXEMPT, "3", date(2025, 12, 2))
    row = status(facility, today=date(2025, 12, 3))
    assert row.state == ComplianceState.NOT_INTRODUCED
    assert "調査票の回答" in row.basis and "過ぎています" in row.basis


def test_a_survey_answer_1_has_no_end():
    facility = FacilityFactory(kind="acupuncture")
    survey(facility, "1")
    row = status(facility, today=date(2030, 1, 1))
    assert (row.state, row.valid_until) == (ComplianceState.EXEMPT, None)


def test_an_open_start_application_is_pending():
    facility = FacilityFactory(kind="judo")
    submit_start(facility, make_staff(facility))
    row = status(facility)
    assert row.state == ComplianceState.PENDING
    assert "審査" in row.basis


def test_an_accepted_application_without_go_live_is_still_pending():
    facility, _, _ = accepted_facility(kind="judo")
    row = status(facility)
    assert row.state == ComplianceState.PENDING
    assert "運用開始日がまだ登録されていません" in row.basis


def test_nothing_at_all_is_not_introduced():
    facility = FacilityFactory(kind="ama_acupuncture")
    assert status(facility).state == ComplianceState.NOT_INTRODUCED


def test_a_medical_facility_gets_no_row_and_loses_one_it_had():
    clinic = FacilityFactory(kind="clinic")
    compute_statuses([clinic.pk], today=TODAY)
    compute_statuses(today=TODAY)
    assert not ComplianceStatus.objects.filter(facility=clinic).exists()
    judo = FacilityFactory(kind="judo")
    status(judo)
    judo.kind = "clinic"
    judo.save()
    compute_statuses(today=TODAY)
    assert not ComplianceStatus.objects.filter(facility=judo).exists()


def test_a_go_live_wins_over_an_exemption():
    facility = FacilityFactory(kind="judo")
    declaration(facility, reason="1-1")
    GoLive.objects.create(facility=facility, date=date(2025, 4, 1))
    assert status(facility).state == ComplianceState.INTRODUCED


def test_a_recompute_keeps_the_follow_up_and_writes_only_what_changed():
    facility = FacilityFactory(kind="judo")
    status(facility)
    record_step(actor=AdminFactory(), facility_ids=[facility.pk],
                kind=FollowUpKind.REQUEST_LETTER)
    assert compute_statuses([facility.pk], today=TODAY) == 0  # nothing changed
    GoLive.objects.create(facility=facility, date=date(2025, 4, 1))
    assert compute_statuses(today=TODAY) == 1
    row = ComplianceStatus.objects.get(facility=facility)
    assert row.state == ComplianceState.INTRODUCED
    assert row.last_step == FollowUpKind.REQUEST_LETTER and row.last_step_at is not None


def test_the_whole_run_takes_a_few_queries_per_chunk(django_assert_max_num_queries,
                                                     monkeypatch):
    monkeypatch.setattr(compliance, "CHUNK", 10)
    main = FacilityFactory(kind="judo")
    GoLive.objects.create(facility=main, date=date(2025, 4, 1))
    for number in range(25):
        facility = FacilityFactory(kind="judo", main_facility=main if number % 2 else None)
        if number % 3 == 0:
            survey(facility, "2")
    # 3 chunks (+ the empty read), 8 queries each at most, plus the clean-up and the
    # obligation's parameters (its versions, read once for the run: the surveys' deadline).
    with django_assert_max_num_queries(4 * 8 + 3):
        assert compute_statuses(today=TODAY) == 26


# ---------------------------------------------------------------- following the facts


def test_a_main_going_live_updates_its_subordinate_after_commit(
        django_capture_on_commit_callbacks):
    main, user, _ = accepted_facility(kind="judo")
    subordinate = FacilityFactory(kind="ama", main_facility=main)
    compute_statuses(today=TODAY)
    assert ComplianceStatus.objects.get(facility=subordinate).state == (
        ComplianceState.NOT_INTRODUCED)
    with django_capture_on_commit_callbacks(execute=True):
        facility_services.set_golive_date(user=user, facility=main,
                                          golive_date=date(2025, 6, 10))
    assert ComplianceStatus.objects.get(facility=main).state == ComplianceState.INTRODUCED
    assert ComplianceStatus.objects.get(facility=subordinate).state == ComplianceState.COVERED


def test_an_application_submitted_then_returned_moves_the_status_after_commit(
        django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    compute_statuses()
    with django_capture_on_commit_callbacks(execute=True):
        application = submit_start(facility, staff)
    assert ComplianceStatus.objects.get(facility=facility).state == ComplianceState.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        facility_services.return_application(application=application, actor=AdminFactory(
            is_superuser=True), reason="口座番号下4桁が一致しません")
    assert ComplianceStatus.objects.get(facility=facility).state == (
        ComplianceState.NOT_INTRODUCED)


def test_nothing_is_recomputed_before_the_commit(django_capture_on_commit_callbacks):
    main, user, _ = accepted_facility(kind="judo")
    with django_capture_on_commit_callbacks() as callbacks:
        facility_services.set_golive_date(user=user, facility=main,
                                          golive_date=date(2025, 6, 10))
        assert not ComplianceStatus.objects.filter(facility=main).exists()
    assert callbacks
    for callback in callbacks:
        callback()
    assert ComplianceStatus.objects.get(facility=main).state == ComplianceState.INTRODUCED


def test_an_accepted_declaration_exempts_at_once(django_capture_on_commit_callbacks):
    from obligation.services import accept_declaration

    facility = FacilityFactory(kind="judo")
    pending = declaration(facility, state=DeclarationState.DECLARED)
    with django_capture_on_commit_callbacks(execute=True):
        accept_declaration(declaration=pending, actor=AdminFactory())
    assert ComplianceStatus.objects.get(facility=facility).state == ComplianceState.EXEMPT


def test_facts_changed_in_bulk_are_recomputed_when_settled(django_capture_on_commit_callbacks):
    from facilities.fact_changes import facts_changed, facts_settled

    facility = FacilityFactory(kind="judo")
    with django_capture_on_commit_callbacks(execute=True):
        facts_changed([facility.pk], enqueue=False)
    assert not ComplianceStatus.objects.filter(facility=facility).exists()
    with django_capture_on_commit_callbacks(execute=True):
        facts_settled()
    assert ComplianceStatus.objects.get(facility=facility).state == (
        ComplianceState.NOT_INTRODUCED)


# ---------------------------------------------------------------- the follow-up ladder


def test_an_invitation_needs_no_request_letter_recorded_here():
    """The 依頼文書 of 2025-03-24 went out before the portal: a 未導入 施術所 may be invited
    to 集団指導 without one recorded."""
    admin = AdminFactory()
    facility = FacilityFactory(kind="judo", name="三番接骨院")
    compute_statuses(today=TODAY)
    result = record_step(actor=admin, facility_ids=[facility.pk],
                         kind=FollowUpKind.GUIDANCE_INVITATION)
    assert (result.recorded, result.skipped) == (1, [])
    assert record_step(actor=admin, facility_ids=[facility.pk],
                       kind=FollowUpKind.GUIDANCE_ABSENT).recorded == 1


def test_the_ladder_in_order_with_the_skips_named():
    admin = AdminFactory()
    first = FacilityFactory(kind="judo", name="一番接骨院")
    second = FacilityFactory(kind="judo", name="二番接骨院")
    introduced = FacilityFactory(kind="judo", name="導入済み接骨院")
    GoLive.objects.create(facility=introduced, date=date(2025, 4, 1))
    compute_statuses(today=TODAY)
    ids = [first.pk, second.pk, introduced.pk]

    result = record_step(actor=admin, facility_ids=ids, kind=FollowUpKind.REQUEST_LETTER)
    assert result.recorded == 2
    assert result.skipped == ["導入済み接骨院: 未導入ではありません（導入済み）"]

    result = record_step(actor=admin, facility_ids=[first.pk], kind=FollowUpKind.GUIDANCE_ABSENT)
    assert result.skipped == ["一番接骨院: 集団指導の案内を送っていません"]
    result = record_step(actor=admin, facility_ids=[first.pk],
                         kind=FollowUpKind.SUSPENSION_CANDIDATE)
    assert result.skipped == ["一番接骨院: 集団指導の案内を送っていません"]

    result = record_step(actor=admin, facility_ids=[first.pk, second.pk, introduced.pk],
                         kind=FollowUpKind.GUIDANCE_INVITATION)
    assert result.recorded == 2
    assert result.skipped == ["導入済み接骨院: 未導入ではありません（導入済み）"]
    assert record_step(actor=admin, facility_ids=[first.pk],
                       kind=FollowUpKind.GUIDANCE_ATTENDED).recorded == 1
    assert record_step(actor=admin, facility_ids=[second.pk],
                       kind=FollowUpKind.GUIDANCE_ABSENT).recorded == 1
    result = record_step(actor=admin, facility_ids=[second.pk],
                         kind=FollowUpKind.SUSPENSION_CANDIDATE, note="欠席、連絡なし")
    assert result.recorded == 1
    again = record_step(actor=admin, facility_ids=[second.pk],
                        kind=FollowUpKind.SUSPENSION_CANDIDATE)
    assert again.recorded == 0 and "記録済み" in again.skipped[0]

    row = ComplianceStatus.objects.get(facility=second)
    assert row.last_step == FollowUpKind.SUSPENSION_CANDIDATE
    assert list(FollowUpStep.objects.filter(facility=second).values_list("kind", flat=True)) == [
        "request_letter", "guidance_invitation", "guidance_absent", "suspension_candidate"]
    activities = {a.verb: a for a in second.activities.all()}
    assert activities["followup_request_letter"].visible_to_facility
    assert not activities["followup_suspension_candidate"].visible_to_facility
    assert "欠席、連絡なし" not in activities["followup_suspension_candidate"].summary


def test_suspension_needs_the_facility_still_not_introduced():
    admin = AdminFactory()
    facility = FacilityFactory(kind="judo", name="三番接骨院")
    compute_statuses(today=TODAY)
    record_step(actor=admin, facility_ids=[facility.pk], kind=FollowUpKind.REQUEST_LETTER)
    record_step(actor=admin, facility_ids=[facility.pk], kind=FollowUpKind.GUIDANCE_INVITATION)
    GoLive.objects.create(facility=facility, date=date(2025, 7, 1))
    compute_statuses(today=TODAY)
    result = record_step(actor=admin, facility_ids=[facility.pk],
                         kind=FollowUpKind.SUSPENSION_CANDIDATE)
    assert result.recorded == 0
    assert result.skipped == ["三番接骨院: 未導入ではありません（導入済み）"]


def test_a_facility_without_a_status_is_skipped():
    clinic = FacilityFactory(kind="clinic", name="医科クリニック")
    result = record_step(actor=AdminFactory(), facility_ids=[clinic.pk],
                         kind=FollowUpKind.REQUEST_LETTER)
    assert result.skipped == ["医科クリニック: 施術所の導入状況がありません"]

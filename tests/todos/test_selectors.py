"""The task list (GOV.UK Task list), per facility kind and step: each task with its status
and its real deadline, the next step first; the obligation's task of 施術所 (past its date,
exempt, covered by the main 施術所), what the partner of a 併設申告 must confirm, programs that
leave the list when their period has ended; nothing of another facility, and a query count
that does not grow with the facilities."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eligibility.models import ActivityReport, Attestation, Program
from facilities import services as facility_services
from facilities.kinds import MEDICAL_KINDS, SEJUTSU_KINDS
from facilities.models import DeviceAccount, GoLive, Membership
from obligation import services as obligation_services
from obligation.compliance import compute_statuses
from obligation.models import DeclarationState, ExemptionDeclaration
from payouts import services as payout_services
from payouts.models import BankAccount
from portal import roles
from subsidies import services as claim_services
from tests.factories import (
    FacilityFactory,
    accepted_facility,
    claim_under_review,
    make_admin,
    make_staff,
    submit_start,
)
from tests.payouts.helpers import (
    eligible,
    import_on_the_day,
    lump_sum,
    officers,
    transfer_day,
    with_account,
)
from todos import selectors
from todos.selectors import TaskStatus, Urgency

pytestmark = pytest.mark.django_db

TODAY = date(2025, 6, 20)  # inside the 協力金's period (2025-05-01 to 2025-07-31)
LATER = date(2026, 12, 7)  # every program's period over; the obligation since 2024-12-02
NOT_STARTED, IN_PROGRESS = TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS
DONE, CANNOT_START = TaskStatus.DONE, TaskStatus.CANNOT_START


def _kinds(todos):
    return [t.kind for t in todos]


def _statuses(todos):
    return [(t.kind, t.status) for t in todos]


def _open(todos):
    return [t.kind for t in todos if t.is_open]


def _bank(facility):
    BankAccount.objects.create(facility=facility, bank_code="0001", bank_name="みずほ",
                               branch_code="001", branch_name="東京営業部", account_type="1",
                               account_number="7654321", holder_name="ｱｵﾊﾞ")


# ---------------------------------------------------------------- medical institutions


def test_a_new_clinic_starts_with_its_usage_start_application():
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    todos = selectors.todos_for(user=user, today=LATER)
    assert _statuses(todos) == [("usage_start", NOT_STARTED),
                                ("device_settings", CANNOT_START),
                                ("golive_missing", CANNOT_START)]
    first = todos[0]
    assert first.title == "マイナ資格確認アプリの利用開始申請"
    assert first.url == reverse("facilities:application_start", args=[facility.pk])
    assert todos[1].url is None and todos[2].url is None  # nothing to follow yet
    assert all(t.deadline is None and t.urgency == Urgency.OPEN for t in todos)


def test_a_new_clinic_with_a_running_program_still_starts_with_the_application():
    Program.objects.filter(code="lump-sum-2024").update(report_deadline=TODAY + timedelta(
        days=10))
    facility = FacilityFactory(kind="clinic")
    todos = selectors.todos_for(user=make_staff(facility), today=TODAY)
    assert _open(todos) == ["usage_start", "attestation_due", "bank_account_missing"]
    attestation = todos[1]
    assert attestation.deadline == TODAY + timedelta(days=10)
    assert attestation.urgency == Urgency.URGENT and attestation.urgency.label == "至急"
    assert _kinds(todos)[-2:] == ["device_settings", "golive_missing"]  # cannot start yet


def test_a_clinic_is_asked_for_its_attestation_not_a_report_until_it_is_given():
    Program.objects.filter(code="lump-sum-2024").update(report_deadline=TODAY + timedelta(
        days=30))
    facility, user, _ = accepted_facility(kind="clinic", devices=1)
    assert "report_due" not in _kinds(selectors.todos_for(user=user, today=TODAY))
    Attestation.objects.create(facility=facility, program=Program.objects.get(
        code="lump-sum-2024"), poster=True, informed=True)
    todos = selectors.todos_for(user=user, today=TODAY)
    [attestation] = [t for t in todos if t.kind == "attestation_due"]
    assert attestation.status == DONE and attestation.urgency == Urgency.OPEN
    assert attestation.title == "一時金（医療機関・薬局・2024年）の実施状況の確認"


def test_the_lump_sum_has_left_the_list_once_its_period_ended():
    """No 報告期限 set: the last evaluation month (2024-08) ends it."""
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    assert "attestation_due" not in _kinds(selectors.todos_for(user=user, today=TODAY))
    assert "attestation_due" in _kinds(selectors.todos_for(user=user, today=date(2024, 8, 31)))


@pytest.mark.parametrize("kind", sorted(MEDICAL_KINDS | SEJUTSU_KINDS))
def test_every_kind_new_and_under_review(kind):
    """December 2026, nothing running: a new facility's first task is its next step (a
    施術所's, the obligation; others', the usage-start application), then, once applied, every
    task it has waits on the review or cannot start yet: nothing is open."""
    facility = FacilityFactory(kind=kind)
    user = make_staff(facility)
    todos = selectors.todos_for(user=user, today=LATER)
    first = "obligation" if kind in SEJUTSU_KINDS else "usage_start"
    assert (todos[0].kind, todos[0].status) == (first, NOT_STARTED)
    assert _open(todos)[-1] == "usage_start"
    submit_start(facility, user)
    todos = selectors.todos_for(user=user, today=LATER)
    assert selectors.open_count(todos) == 0
    assert {t.status for t in todos} == {IN_PROGRESS, CANNOT_START}


# ---------------------------------------------------------------- 施術所


def test_an_accepted_sejutsu_in_the_period_has_every_step_ahead_with_links():
    facility, user, _ = accepted_facility(kind="judo", devices=2)
    todos = selectors.todos_for(user=user, today=TODAY)
    assert _statuses(todos) == [
        ("device_settings", NOT_STARTED), ("golive_missing", NOT_STARTED),
        ("report_due", NOT_STARTED), ("bank_account_missing", NOT_STARTED),
        ("obligation", IN_PROGRESS),  # waits on the go-live: nothing to do there
        ("usage_start", DONE),
    ]
    by_kind = {t.kind: t for t in todos}
    report = by_kind["report_due"]
    # The deadline is the end of the period, from the parameters in force.
    assert report.deadline == date(2025, 7, 31) and report.deadline_label == "令和7年7月31日"
    assert report.urgency == Urgency.DUE and report.urgency.label == ""
    assert report.url == reverse("incentives:report", args=[facility.pk, "cooperation-2025"])
    assert by_kind["bank_account_missing"].deadline == date(2025, 7, 31)
    assert by_kind["device_settings"].url == reverse("facilities:accounts", args=[facility.pk])
    assert "2台分" in by_kind["device_settings"].detail
    assert by_kind["golive_missing"].url == reverse("facilities:golive", args=[facility.pk])
    assert by_kind["obligation"].waiting and not by_kind["obligation"].is_open


def test_steps_become_done_and_the_list_has_nothing_open():
    facility, user, _ = accepted_facility(kind="judo", devices=1)
    program = Program.objects.get(code="cooperation-2025")
    facility_services.issue_device_credentials(account=DeviceAccount.objects.get(
        facility=facility), actor=user)
    GoLive.objects.create(facility=facility, date=date(2025, 6, 1))
    ActivityReport.objects.create(facility=facility, program=program, voice=True, flyer=True,
                                  activity_from=date(2025, 6, 1), activity_to=date(2025, 7, 1))
    _bank(facility)
    todos = selectors.todos_for(user=user, today=TODAY)
    assert {t.status for t in todos} == {DONE}
    assert selectors.open_count(todos) == 0 and selectors.due_soon(todos, TODAY) == []
    assert "導入済みです" in next(t for t in todos if t.kind == "obligation").detail


def test_a_sejutsu_past_the_obligation_date_is_asked_to_introduce_or_declare():
    """December 2026: the 協力金 of 2025 is over (no report asked, no bank account); the
    obligation, in force since 2024-12-02, is the first task, overdue."""
    facility = FacilityFactory(kind="judo")
    todos = selectors.todos_for(user=make_staff(facility), today=LATER)
    assert _statuses(todos) == [("obligation", NOT_STARTED), ("usage_start", NOT_STARTED),
                                ("device_settings", CANNOT_START),
                                ("golive_missing", CANNOT_START)]
    obligation = todos[0]
    assert obligation.deadline == date(2024, 12, 2)
    assert obligation.urgency == Urgency.OVERDUE
    assert obligation.urgency.label == "期限を過ぎています"
    assert "令和6年12月2日から" in obligation.detail
    assert obligation.url == reverse("obligation:exemption", args=[facility.pk])
    # A deadline already past is not what the reminder is about.
    assert selectors.due_soon(todos, LATER) == []


def test_before_the_obligation_applies_a_sejutsu_has_no_obligation_task():
    facility = FacilityFactory(kind="judo")
    todos = selectors.todos_for(user=make_staff(facility), today=date(2024, 12, 1))
    assert "obligation" not in _kinds(todos) and todos[0].kind == "usage_start"


def test_an_exempt_sejutsu_is_done_and_is_not_asked_to_apply():
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    declaration = ExemptionDeclaration.objects.create(
        facility=facility, reason="1-1", state=DeclarationState.DECLARED,
        contact_name="担当 花子", receipt_number="E000001")
    todos = selectors.todos_for(user=user, today=LATER)
    assert _statuses(todos)[0] == ("obligation", IN_PROGRESS)
    assert todos[0].waiting and "E000001" in todos[0].detail
    assert "usage_start" not in _kinds(todos)  # the declaration is being checked
    ExemptionDeclaration.objects.filter(pk=declaration.pk).update(
        state=DeclarationState.ACCEPTED)
    compute_statuses([facility.pk], today=LATER)
    todos = selectors.todos_for(user=user, today=LATER)
    assert _statuses(todos) == [("obligation", DONE)]
    assert "やむを得ない事由（事由1-1、期限なし）" in todos[0].detail
    assert selectors.open_count(todos) == 0


def test_a_returned_declaration_comes_first_with_its_reason():
    facility = FacilityFactory(kind="judo")
    ExemptionDeclaration.objects.create(
        facility=facility, reason="1-1", state=DeclarationState.RETURNED,
        contact_name="担当 花子", receipt_number="E000002", return_reason="生年月日をご確認ください")
    todos = selectors.todos_for(user=make_staff(facility), today=LATER)
    assert _kinds(todos)[:3] == ["declaration_returned", "obligation", "usage_start"]
    assert "生年月日をご確認ください" in todos[0].detail and todos[0].returned
    assert todos[0].urgency == Urgency.OPEN  # returned, not 「至急」: it has no deadline


def test_a_subordinate_covered_by_its_main_is_done():
    main = FacilityFactory(kind="judo", name="主たる整骨院")
    GoLive.objects.create(facility=main, date=date(2025, 1, 10))
    subordinate = FacilityFactory(kind="judo")
    facility_services.set_main_facility(facility=subordinate, main=main)
    compute_statuses([subordinate.pk], today=LATER)
    todos = selectors.todos_for(user=make_staff(subordinate), today=LATER)
    assert _statuses(todos) == [("obligation", DONE)]
    assert "併設の主たる施術所（主たる整骨院）が導入しているため" in todos[0].detail


def test_the_partner_of_a_pairing_is_asked_to_confirm_it():
    proposer = FacilityFactory(kind="judo", name="主たる整骨院")
    partner = FacilityFactory(kind="ama", name="従たる治療院")
    proposer_staff, partner_staff = make_staff(proposer), make_staff(partner)
    pairing = obligation_services.propose_annex(user=proposer_staff, facility=proposer,
                                                partner=partner, facility_is_main=True)
    todos = selectors.todos_for(user=partner_staff, today=LATER)
    first = todos[0]
    assert (first.kind, first.status, first.title) == ("annex_confirm", NOT_STARTED,
                                                       "併設申告の確認")
    assert "主たる整骨院から" in first.detail and "従たる治療院を従たる施術所" in first.detail
    assert first.url == reverse("obligation:annex", args=[partner.pk])
    # The proposer waits for it; nothing of it to do.
    [waiting] = [t for t in selectors.todos_for(user=proposer_staff, today=LATER)
                 if t.kind == "annex_proposed"]
    assert waiting.status == IN_PROGRESS and waiting.waiting
    obligation_services.confirm_annex(pairing=pairing, actor=partner_staff)
    assert "annex_confirm" not in _kinds(selectors.todos_for(user=partner_staff, today=LATER))


# ---------------------------------------------------------------- deadlines and order


def test_a_finished_program_leaves_the_list():
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    assert "report_due" in _kinds(selectors.todos_for(user=user, today=date(2025, 7, 31)))
    todos = selectors.todos_for(user=user, today=date(2025, 8, 1))
    assert "report_due" not in _kinds(todos) and "bank_account_missing" not in _kinds(todos)


def test_a_report_deadline_set_by_the_administrators_is_the_deadline():
    Program.objects.filter(code="cooperation-2025").update(report_deadline=date(2025, 9, 30))
    user = make_staff(FacilityFactory(kind="judo"))
    [report] = [t for t in selectors.todos_for(user=user, today=date(2025, 9, 20))
                if t.kind == "report_due"]
    assert report.deadline == date(2025, 9, 30) and report.urgency == Urgency.URGENT
    Program.objects.filter(code="cooperation-2025").update(report_deadline=TODAY - timedelta(
        days=1))
    assert "report_due" not in _kinds(selectors.todos_for(user=user, today=TODAY))


def test_each_facility_has_its_own_list_returned_first():
    Program.objects.filter(code="lump-sum-2024").update(report_deadline=TODAY + timedelta(
        days=10))
    sejutsu, user, admin = accepted_facility(kind="judo", devices=1)
    clinic = FacilityFactory(kind="clinic")
    Membership.objects.create(user=user, facility=clinic)
    application = submit_start(clinic, user)
    facility_services.return_application(application=application, actor=admin,
                                         reason="電話番号が違います")
    todos = selectors.todos_for(user=user, today=TODAY)
    clinic_todos = [t for t in todos if t.facility_id == clinic.pk]
    assert _kinds(clinic_todos)[:3] == ["application_returned", "attestation_due",
                                        "bank_account_missing"]
    assert "電話番号が違います" in clinic_todos[0].detail
    assert clinic_todos[0].urgency == Urgency.OPEN and clinic_todos[1].urgency == Urgency.URGENT
    # One facility after the other, as the caller listed them.
    grouped = selectors.by_facility([sejutsu, clinic], todos)
    assert [len(tasks) for _facility, tasks in grouped] == [
        sum(1 for t in todos if t.facility_id == f.pk) for f in (sejutsu, clinic)]
    assert _kinds(selectors.due_soon(todos, TODAY)) == ["attestation_due",
                                                        "bank_account_missing"]


def test_a_returned_claim_shows_its_reason_until_resubmitted():
    claim = claim_under_review()
    staff = claim.facility.memberships.get().user
    claim_services.return_claim(claim=claim, actor=make_admin(roles.REVIEWER),
                                reason="領収書が読めません", item_notes={})
    todo = selectors.todos_for(user=staff, today=TODAY)[0]
    assert (todo.kind, todo.status) == ("claim_returned", IN_PROGRESS) and todo.returned
    assert "領収書が読めません" in todo.detail
    assert todo.url == reverse("subsidies:claim", args=[claim.facility_id, claim.pk])


def test_a_payment_the_bank_refused_asks_for_the_account_until_it_is_corrected():
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    eligible(facility)
    creator, releaser = officers()
    run = payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                     actor=creator)
    run = payout_services.release_run(run=run, actor=releaser)
    import_on_the_day(
        run=run, data=f"顧客コード1,結果コード\r\n{run.lines.get().pk},3\r\n".encode(),
        actor=releaser)
    [todo] = [t for t in selectors.todos_for(user=user, today=TODAY)
              if t.kind == "bank_account_refused"]
    assert "振込不能" in todo.title and "理由: 名義相違" in todo.detail
    assert todo.url == reverse("payouts:bank", args=[facility.pk])
    assert todo.link_text == "振込先口座を直す（振込先口座の画面へ）"
    assert todo.returned and todo.status == IN_PROGRESS
    with_account(facility, number="7654321", user=user)
    assert "bank_account_refused" not in _kinds(selectors.todos_for(user=user, today=TODAY))


def test_a_returned_application_made_again_is_no_longer_listed():
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    admin = make_admin(roles.REVIEWER)
    facility_services.return_application(application=submit_start(facility, user),
                                         actor=admin, reason="不備")
    assert "application_returned" in _kinds(selectors.todos_for(user=user, today=TODAY))
    submit_start(facility, user)
    assert "application_returned" not in _kinds(selectors.todos_for(user=user, today=TODAY))


def test_nothing_of_another_facility_reaches_its_staff():
    mine, me, _ = accepted_facility(kind="judo")
    theirs, _them, admin = accepted_facility(kind="clinic")
    facility_services.return_application(
        application=submit_start(FacilityFactory(), make_staff(theirs)), actor=admin,
        reason="他施設の理由")
    todos = selectors.todos_for(user=me, today=TODAY)
    assert {t.facility_id for t in todos} == {mine.pk}
    assert not any("他施設の理由" in t.detail for t in todos)
    assert selectors.todos_for_facility(facility=mine, today=TODAY) == todos


def test_a_staff_member_without_a_facility_has_nothing_to_do(staff_client):
    assert selectors.todos_for(user=staff_client.user) == []


def test_the_query_count_does_not_grow_with_the_facilities():
    def queries_for(count):
        user = make_staff(FacilityFactory(kind="judo"))
        for n in range(count - 1):
            facility, _staff, admin = accepted_facility(kind="clinic" if n % 2 else "judo")
            Membership.objects.create(user=user, facility=facility)
            claim = claim_under_review(facility=FacilityFactory(kind="judo"))
            Membership.objects.create(user=user, facility=claim.facility)
            claim_services.return_claim(claim=claim, actor=admin, reason="不備", item_notes={})
            # The obligation's facts: a returned declaration, a 併設申告 to confirm.
            ExemptionDeclaration.objects.create(
                facility=claim.facility, reason="1-1", state=DeclarationState.RETURNED,
                contact_name="担当", receipt_number=f"E{claim.facility.pk:06d}")
            partner = FacilityFactory(kind="judo")
            Membership.objects.create(user=user, facility=partner)
            obligation_services.propose_annex(user=make_staff(claim.facility),
                                              facility=claim.facility, partner=partner,
                                              facility_is_main=True)
            compute_statuses([claim.facility.pk, partner.pk], today=LATER)
        since = timezone.now() - timedelta(days=1)
        with CaptureQueriesContext(connection) as context:
            todos = selectors.todos_for(user=user, today=LATER)
            selectors.changes_for(user=user, since=since)
        return len(context.captured_queries), len(todos)

    one, one_items = queries_for(1)
    five, five_items = queries_for(5)
    assert five_items > one_items
    assert five == one

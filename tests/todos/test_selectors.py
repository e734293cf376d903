"""The to-do list: every item type, most urgent first, deadlines in 和暦, nothing of another
facility, and a query count that does not grow with the facilities."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eligibility.models import ActivityReport, Attestation, Program
from facilities import services as facility_services
from facilities.models import DeviceAccount, GoLive, Membership
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
from todos.selectors import Urgency

pytestmark = pytest.mark.django_db

TODAY = date(2025, 6, 20)


def _kinds(todos):
    return [t.kind for t in todos]


def _bank(facility):
    BankAccount.objects.create(facility=facility, bank_code="0001", bank_name="みずほ",
                               branch_code="001", branch_name="東京営業部", account_type="1",
                               account_number="7654321", holder_name="ｱｵﾊﾞ")


def test_an_accepted_sejutsu_has_every_step_ahead_with_links():
    facility, user, _ = accepted_facility(kind="judo", devices=2)
    todos = selectors.todos_for(user=user, today=TODAY)
    assert _kinds(todos) == ["report_due", "bank_account_missing", "device_settings",
                             "golive_missing"]
    by_kind = {t.kind: t for t in todos}
    assert by_kind["report_due"].url == reverse("incentives:report",
                                                args=[facility.pk, "cooperation-2025"])
    assert by_kind["device_settings"].url == reverse("facilities:accounts", args=[facility.pk])
    assert "2台分" in by_kind["device_settings"].detail
    assert by_kind["golive_missing"].url == reverse("facilities:golive", args=[facility.pk])
    assert by_kind["bank_account_missing"].url == reverse("payouts:bank", args=[facility.pk])
    assert all(t.facility_name == facility.name and "画面" in t.link_text or "へ" in t.link_text
               for t in todos)


def test_items_go_away_when_done():
    facility, user, _ = accepted_facility(kind="judo", devices=1)
    program = Program.objects.get(code="cooperation-2025")
    facility_services.issue_device_credentials(account=DeviceAccount.objects.get(
        facility=facility), actor=user)
    GoLive.objects.create(facility=facility, date=date(2025, 6, 1))
    ActivityReport.objects.create(facility=facility, program=program, voice=True, flyer=True,
                                  activity_from=date(2025, 6, 1), activity_to=date(2025, 7, 1))
    _bank(facility)
    assert selectors.todos_for(user=user, today=TODAY) == []


def test_a_clinic_is_asked_for_its_attestation_not_a_report():
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    assert _kinds(selectors.todos_for(user=user, today=TODAY)) == [
        "attestation_due", "bank_account_missing"]
    Attestation.objects.create(facility=facility, program=Program.objects.get(
        code="lump-sum-2024"), poster=True, informed=True)
    assert _kinds(selectors.todos_for(user=user, today=TODAY)) == ["bank_account_missing"]


def test_most_urgent_first_returned_and_due_soon_before_later_deadlines():
    Program.objects.filter(code="cooperation-2025").update(report_deadline=TODAY + timedelta(
        days=30))
    Program.objects.filter(code="lump-sum-2024").update(report_deadline=TODAY + timedelta(
        days=10))
    sejutsu, user, admin = accepted_facility(kind="judo", devices=1)
    clinic = FacilityFactory(kind="clinic")
    Membership.objects.create(user=user, facility=clinic)
    application = submit_start(clinic, user)
    facility_services.return_application(application=application, actor=admin,
                                         reason="電話番号が違います")
    todos = selectors.todos_for(user=user, today=TODAY)
    assert [(t.kind, t.facility_name) for t in todos] == [
        ("attestation_due", clinic.name),          # due in 10 days: urgent, dated first
        ("bank_account_missing", clinic.name),     # the clinic's program ends in 10 days
        ("application_returned", clinic.name),     # returned: urgent, no deadline
        ("report_due", sejutsu.name),              # due in 30 days
        ("bank_account_missing", sejutsu.name),
        ("device_settings", sejutsu.name),         # no deadline
        ("golive_missing", sejutsu.name),
    ]
    assert [t.urgency for t in todos[:3]] == [Urgency.URGENT] * 3
    assert todos[3].urgency == Urgency.DUE and todos[-1].urgency == Urgency.OPEN
    assert "電話番号が違います" in todos[2].detail
    assert todos[0].deadline_label == "令和7年6月30日"
    assert todos[-1].deadline_label == "期限なし"
    assert selectors.due_soon(todos, TODAY) == todos[:2]


def test_a_program_past_its_deadline_asks_nothing_more():
    Program.objects.filter(code="cooperation-2025").update(report_deadline=TODAY - timedelta(
        days=1))
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    assert selectors.todos_for(user=user, today=TODAY) == []


def test_a_returned_claim_shows_its_reason_until_resubmitted():
    claim = claim_under_review()
    staff = claim.facility.memberships.get().user
    claim_services.return_claim(claim=claim, actor=make_admin(roles.REVIEWER),
                                reason="領収書が読めません", item_notes={})
    todo = selectors.todos_for(user=staff, today=TODAY)[0]
    assert (todo.kind, todo.urgency) == ("claim_returned", Urgency.URGENT)
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
    assert todo.urgency == Urgency.URGENT
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
        since = timezone.now() - timedelta(days=1)
        with CaptureQueriesContext(connection) as context:
            todos = selectors.todos_for(user=user, today=TODAY)
            selectors.changes_for(user=user, since=since)
        return len(context.captured_queries), len(todos)

    one, one_items = queries_for(1)
    five, five_items = queries_for(5)
    assert five_items > one_items
    assert five == one

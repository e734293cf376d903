"""No page's query count grows with its rows (no N+1): each page a facility's staff sees, and
the admin's lists and change pages of the main models, is built once with 1 related object
and once with 10 (applications, claims and their items, history, device accounts, memberships,
payment lines, declarations, pairings, ...), and the page must cost the same number of
queries both times.

Each page is requested once before it is counted, so what a first request caches (content
types, the session) is not counted; the last visit is put back a long time before each
counted request, so the pages that show "what changed since your last visit" list
everything both times."""

import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from facilities import services as facility_services
from facilities.activity import record_activity
from facilities.models import (
    ApplicationKind,
    DeviceAccount,
    Facility,
    LinkAttempt,
    Membership,
    UsageApplication,
)
from payouts.models import PayoutRun
from portal import roles
from tests import samples
from tests.factories import (
    FacilityFactory,
    accepted_facility,
    application_input,
    login_admin,
    make_admin,
    make_staff,
)

pytestmark = pytest.mark.django_db

FEW, MANY = 1, 10  # a query per row shows as 9 more; more rows would only show it larger
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class Page:
    client: Client
    url: str
    user: object


def _staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _admin_page(url: str) -> Page:
    user = make_admin(superuser=True)
    return Page(login_admin(Client(), user), url, user)


def _count(page: Page) -> tuple[int, list[str]]:
    from todos.models import LastVisit

    first = page.client.get(page.url)
    assert first.status_code == 200, (page.url, first.status_code)
    LastVisit.objects.filter(user=page.user).update(visited_at=LONG_AGO,
                                                    previous_visited_at=LONG_AGO)
    with CaptureQueriesContext(connection) as queries:
        response = page.client.get(page.url)
        if response.streaming:  # a CSV export reads its rows while it is sent
            b"".join(response.streaming_content)
    assert response.status_code == 200, (page.url, response.status_code)
    return len(queries), [query["sql"] for query in queries.captured_queries]


# ---------------------------------------------------------------- facilities' data


def _history(facility: Facility, n: int, actor, target=None) -> None:
    """n entries in the facility's history, about `target` or, taking turns, its
    applications and device accounts."""
    targets = [target] if target is not None else [
        item for pair in zip(facility.applications.all(),
                             DeviceAccount.objects.filter(facility=facility), strict=False)
        for item in pair]
    for i in range(n):
        record_activity(facility=facility, actor=actor if i % 2 else None,
                        verb="note", summary=f"記録 {i}", target=targets[i % len(targets)])


def _returned_changes(facility: Facility, user, admin, n: int) -> None:
    """n 利用終了・変更申請, each returned (so the next one may be made)."""
    for _ in range(n):
        application = facility_services.submit_usage_application(
            user=user, facility=facility, kind=ApplicationKind.CHANGE,
            data=application_input(device_count=3), token=uuid.uuid4())
        facility_services.return_application(application=application, actor=admin,
                                             reason="記載に誤りがあります")


def _rich_facility(n: int):
    """A facility with n device accounts, n applications (the accepted start and n-1
    returned changes), a go-live date and n history entries besides theirs."""
    facility, user, admin = accepted_facility(kind="judo", devices=n)
    facility_services.set_golive_date(user=user, facility=facility,
                                      golive_date=date(2025, 5, 1))
    _returned_changes(facility, user, admin, n - 1)
    _history(facility, n, user)
    return facility, user, admin


def facility_page(name: str, *, detail: str | None = None) -> Callable[[int], Page]:
    def build(n: int) -> Page:
        facility, user, _admin = _rich_facility(n)
        args = [facility.pk]
        target = None
        if detail == "application":
            target = facility.applications.order_by("pk").first()
        elif detail == "account":
            target = DeviceAccount.objects.filter(facility=facility).first()
        if target is not None:
            _history(facility, n, user, target=target)
            args.append(target.pk)
        return Page(_staff_client(user), reverse(name, args=args), user)

    return build


def dashboard(n: int) -> Page:
    """マイページ of a user who is staff of n facilities, each accepted, with its history."""
    from tests.factories import submit_start

    user, admin = make_staff(FacilityFactory(kind="judo")), make_admin(roles.REVIEWER)
    for i in range(n):
        facility = Membership.objects.filter(user=user).first().facility if i == 0 else \
            FacilityFactory(kind="judo")
        if i:
            Membership.objects.create(user=user, facility=facility)
        facility_services.accept_application(application=submit_start(facility, user),
                                             actor=admin)
        _history(facility, 2, user)
    return Page(_staff_client(user), reverse("dashboard"), user)


def _clinic_with_results(n: int):
    """A clinic with n months of statistics, its attestation and its results."""
    from eligibility.models import MonthlyStatistic, Program
    from eligibility.services import run_eligibility
    from incentives.services import submit_attestation

    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    first = date(2023, 1, 1)
    MonthlyStatistic.objects.bulk_create(
        MonthlyStatistic(facility=facility, month=date(first.year + (first.month + i - 1) // 12,
                                                       (first.month + i - 1) % 12 + 1, 1),
                         receipts=100, card_users=5 + i, usage_count=5 + i)
        for i in range(n))
    lump_sum = Program.objects.get(code="lump-sum-2024")
    submit_attestation(user=user, facility=facility, program=lump_sum, poster=True,
                       informed=True)
    for program in Program.objects.filter(rule__in=[Program.Rule.LUMP_SUM,
                                                    Program.Rule.COOPERATION]):
        run_eligibility(program=program)
    return facility, user


def money(n: int) -> Page:
    """協力金・一時金 of a clinic with n months of statistics and its results."""
    facility, user = _clinic_with_results(n)
    return Page(_staff_client(user), reverse("incentives:overview", args=[facility.pk]), user)


def attest(n: int) -> Page:
    facility, user = _clinic_with_results(n)
    return Page(_staff_client(user), reverse("incentives:attest",
                                             args=[facility.pk, "lump-sum-2024"]), user)


def report_page(code: str) -> Callable[[int], Page]:
    """The 協力金 report page of a 施術所 with n history entries."""

    def build(n: int) -> Page:
        facility, user, _admin = _rich_facility(n)
        return Page(_staff_client(user), reverse("incentives:report",
                                                 args=[facility.pk, code]), user)

    return build


def _failed_again(line, n: int) -> None:
    """n-1 earlier lines of the same payment: each failed and reissued."""
    from payouts.models import PaymentLine

    fields = {f.name: getattr(line, f.name) for f in PaymentLine._meta.concrete_fields
              if f.name not in ("id", "state", "failure_reason", "result_at")}
    PaymentLine.objects.bulk_create(
        PaymentLine(**fields, state=PaymentLine.State.REISSUED, failure_reason="no_account")
        for _ in range(n - 1))


def payments(n: int) -> Page:
    """振込 of a facility: a released payment and n-1 earlier failed ones (reissued)."""
    from payouts import services as payout_services
    from tests.payouts.helpers import eligible, lump_sum, officers, set_consignor, transfer_day

    set_consignor()
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    eligible(facility)
    creator, releaser = officers()
    run = payout_services.release_run(run=payout_services.create_run(
        program=lump_sum(), transfer_date=transfer_day(), actor=creator), actor=releaser)
    _failed_again(run.lines.get(facility=facility), n)
    return Page(_staff_client(user), reverse("payouts:payments", args=[facility.pk]), user)


def bank(n: int) -> Page:
    from tests.payouts.helpers import with_account

    facility, user, _admin = _rich_facility(n)
    with_account(facility, user=user)
    return Page(_staff_client(user), reverse("payouts:bank", args=[facility.pk]), user)


def _extra_claims(facility: Facility, user, n: int) -> None:
    """n earlier claims of the facility, refused (a refused claim may be claimed again)."""
    from eligibility.models import Program
    from subsidies.models import Claim, ClaimState

    program = Program.objects.get(code="device-sejutsu")
    Claim.objects.bulk_create(
        Claim(facility=facility, program=program, state=ClaimState.REJECTED,
              receipt_number=f"S-QC{facility.pk:05d}{i:03d}", created_by=user,
              decision_reason="対象外の経費です")
        for i in range(n))


def claims(n: int) -> Page:
    from tests.factories import claim_with_receipt

    claim, user = claim_with_receipt()
    _extra_claims(claim.facility, user, n - 1)
    return Page(_staff_client(user), reverse("subsidies:claims", args=[claim.facility_id]),
                user)


def _claim_with_items(n: int, settings):
    from subsidies import services as claim_services
    from tests.factories import claim_with_receipt

    settings.CLAIM_MAX_FILES = 2 * MANY + 2
    claim, user = claim_with_receipt()
    for i in range(n - 1):
        item = claim_services.save_item(claim=claim, data=claim_services.ItemInput(
            f"タブレット{i}", 1, 30000, 3000, "家電店", date(2024, 11, 1)))
        claim_services.attach_document(claim=claim, item=item, kind="receipt", user=user,
                                       upload=SimpleUploadedFile("r.pdf", samples.PDF))
    return claim, user


def claim_page(name: str) -> Callable:
    def build(n: int, settings) -> Page:
        claim, user = _claim_with_items(n, settings)
        args = [claim.facility_id, claim.pk]
        if name == "subsidies:item":
            args.append(claim.items.first().pk)
        return Page(_staff_client(user), reverse(name, args=args), user)

    build.needs_settings = True
    return build


def _declarations(facility: Facility, user, n: int):
    from obligation import services as obligation_services
    from obligation.rules import Practitioner

    for i in range(n):
        declaration = obligation_services.declare_exemption(
            user=user, facility=facility, token=uuid.uuid4(),
            data=obligation_services.DeclarationInput(
                reason="1-1", contact_name="担当 花子", practitioners=tuple(
                    Practitioner(birth_date=date(1950, 1, 1 + j % 28), full_time=True,
                                 name=f"柔整 {j}") for j in range(2))))
        if i < n - 1:
            obligation_services.withdraw_declaration(declaration=declaration, actor=user)


def _pairings(facility: Facility, user, n: int) -> None:
    """n 併設 proposals of the facility: n-1 declined by their partner, the last one open."""
    from obligation import services as obligation_services

    for i in range(n):
        partner = FacilityFactory(kind="judo")
        pairing = obligation_services.propose_annex(user=user, facility=facility,
                                                    partner=partner, facility_is_main=True)
        if i < n - 1:
            obligation_services.decline_annex(pairing=pairing, actor=make_staff(partner))


def obligation_page(name: str) -> Callable[[int], Page]:
    def build(n: int) -> Page:
        from obligation.compliance import compute_statuses

        facility, user, _admin = _rich_facility(n)
        if name == "obligation:exemption":
            _declarations(facility, user, n)
        if name == "obligation:annex":
            _pairings(facility, user, n)
        if name == "obligation:overview":
            compute_statuses()
        return Page(_staff_client(user), reverse(name, args=[facility.pk]), user)

    return build


def reminders(n: int) -> Page:
    """お知らせメールの設定 of a user who is staff of n facilities."""
    user = make_staff(FacilityFactory(kind="judo"))
    for _ in range(n - 1):
        Membership.objects.create(user=user, facility=FacilityFactory(kind="clinic"))
    return Page(_staff_client(user), reverse("todos:reminders"), user)


def counter(n: int) -> Page:
    facility, user, _admin = _rich_facility(n)
    return Page(_staff_client(user), reverse("cardreader:counter", args=[facility.pk]), user)


FACILITY_PAGES: dict[str, Callable] = {
    "facility-top": facility_page("facilities:home"),
    "dashboard": dashboard,
    "applications": facility_page("facilities:applications"),
    "application-detail": facility_page("facilities:application_detail", detail="application"),
    "accounts": facility_page("facilities:accounts"),
    "account-detail": facility_page("facilities:account_detail", detail="account"),
    "golive": facility_page("facilities:golive"),
    "history": facility_page("facilities:history"),
    "money": money,
    "report": report_page("cooperation-2025"),
    "attest": attest,
    "payments": payments,
    "bank-account": bank,
    "claims": claims,
    "claim-detail": claim_page("subsidies:claim"),
    "claim-confirm": claim_page("subsidies:confirm"),
    "claim-item": claim_page("subsidies:item"),
    "obligation": obligation_page("obligation:overview"),
    "exemption": obligation_page("obligation:exemption"),
    "annex": obligation_page("obligation:annex"),
    "todo-reminders": reminders,
    "counter": counter,
}


def _build(builder, n: int, settings) -> Page:
    if getattr(builder, "needs_settings", False):
        return builder(n, settings)
    return builder(n)


def _repeated(sql: list[str]) -> list[str]:
    """The queries that differ only by their numbers, most repeated first (the N+1)."""
    shapes = Counter(re.sub(r"\b\d+\b", "?", query)[:300] for query in sql)
    return [f"{times}× {shape}" for shape, times in shapes.most_common(3) if times > 1]


def _assert_constant(few: Page, many: Page) -> None:
    few_count, _few_sql = _count(few)
    many_count, many_sql = _count(many)
    assert many_count == few_count, (
        f"{few.url}: {few_count} queries with {FEW} row(s), {many_count} with {MANY}; "
        f"repeated with {MANY}:\n" + "\n".join(_repeated(many_sql)))


@pytest.mark.parametrize("name", FACILITY_PAGES)
def test_facility_page_queries_do_not_grow(name, settings):
    builder = FACILITY_PAGES[name]
    few = _build(builder, FEW, settings)
    many = _build(builder, MANY, settings)
    _assert_constant(few, many)


# ---------------------------------------------------------------- the admin
# Each builder makes n rows of its model (and what they point to); the second build comes on
# top of the first, so a list shows 1 row, then 11 (one page: the admin shows 100).


def _admin_facilities(n: int) -> None:
    main = FacilityFactory(kind="judo")
    for _ in range(n):
        facility = FacilityFactory(kind="judo", main_facility=main)
        make_staff(facility)


def _admin_memberships(n: int) -> None:
    facility = FacilityFactory()
    for _ in range(n):
        make_staff(facility)


def _admin_applications(n: int) -> None:
    from tests.factories import submit_start

    reviewer = make_admin(roles.REVIEWER)
    for _ in range(n):
        facility = FacilityFactory(kind="judo")
        application = submit_start(facility, make_staff(facility))
        facility_services.start_second_check(application=application, actor=reviewer)
        UsageApplication.objects.filter(pk=application.pk).update(assigned_to=reviewer)


def _admin_accounts(n: int) -> None:
    accepted_facility(kind="judo", devices=n)


def _admin_golives(n: int) -> None:
    for _ in range(n):
        facility, user, _admin = accepted_facility(kind="judo")
        facility_services.set_golive_date(user=user, facility=facility,
                                          golive_date=date(2025, 5, 1))


def _admin_activities(n: int) -> None:
    facility, user, _admin = accepted_facility(kind="judo")
    _history(facility, n, user)


def _admin_link_attempts(n: int) -> None:
    for _ in range(n):
        facility = FacilityFactory(kind="clinic")
        LinkAttempt.objects.create(user=make_staff(facility), code_entered=facility.code,
                                   facility=facility, succeeded=True, reason="linked")


def _admin_determinations(n: int) -> None:
    from tests.payouts.helpers import eligible

    for _ in range(n):
        eligible(FacilityFactory(kind="clinic"), account=False)


def _admin_statistics(n: int) -> None:
    from eligibility.models import MonthlyStatistic

    MonthlyStatistic.objects.bulk_create(
        MonthlyStatistic(facility=FacilityFactory(kind="clinic"), month=date(2023, 10, 1),
                         receipts=100, card_users=5, usage_count=5) for _ in range(n))


def _admin_attestations(n: int) -> None:
    from eligibility.models import Program
    from incentives.services import submit_attestation

    lump_sum = Program.objects.get(code="lump-sum-2024")
    for _ in range(n):
        clinic = FacilityFactory(kind="clinic")
        submit_attestation(user=make_staff(clinic), facility=clinic, program=lump_sum,
                           poster=True, informed=True)


def _admin_claims(n: int) -> None:
    from tests.factories import claim_under_review

    reviewer = make_admin(roles.REVIEWER)
    for _ in range(n):
        claim_under_review(reviewer)


def _admin_bank_accounts(n: int) -> None:
    from tests.payouts.helpers import with_account

    for _ in range(n):
        with_account(FacilityFactory(kind="clinic"))


def _admin_runs(n: int) -> None:
    from payouts import services as payout_services
    from tests.payouts.helpers import eligible, lump_sum, officers, set_consignor, transfer_day

    set_consignor()
    creator, releaser = officers()
    for _ in range(n):
        eligible(FacilityFactory(kind="clinic"))
        payout_services.release_run(run=payout_services.create_run(
            program=lump_sum(), transfer_date=transfer_day(), actor=creator), actor=releaser)


def _admin_run_with_lines(n: int) -> PayoutRun:
    from payouts import services as payout_services
    from tests.payouts.helpers import lump_sum, officers, payables, set_consignor, transfer_day

    set_consignor()
    creator, _releaser = officers()
    payables(n)
    return payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                      actor=creator)


def _admin_declarations(n: int) -> None:
    for _ in range(n):
        facility = FacilityFactory(kind="judo")
        _declarations(facility, make_staff(facility), 1)


def _admin_pairings(n: int) -> None:
    from obligation import services as obligation_services

    for _ in range(n):
        main, subordinate = FacilityFactory(kind="judo"), FacilityFactory(kind="judo")
        pairing = obligation_services.propose_annex(user=make_staff(main), facility=main,
                                                    partner=subordinate, facility_is_main=True)
        obligation_services.confirm_annex(pairing=pairing, actor=make_staff(subordinate))


def _admin_statuses(n: int) -> None:
    from obligation.compliance import compute_statuses

    for _ in range(n):
        FacilityFactory(kind="acupuncture")
    compute_statuses()


def _admin_letters(n: int) -> None:
    from obligation.models import FollowUpKind, FollowUpStep, LetterBatch, LetterBatchState

    admin = make_admin(roles.REVIEWER)
    for _ in range(n):
        late = FacilityFactory(kind="acupuncture")
        batch = LetterBatch.objects.create(
            kind=LetterBatch.Kind.REQUEST, state=LetterBatchState.DONE, facility_ids=[late.pk],
            total=1, done=1, stored_name=f"letters-{late.pk}.zip", created_by=admin,
            finished_at=timezone.now())
        FollowUpStep.objects.create(facility=late, kind=FollowUpKind.REQUEST_LETTER,
                                    letter=batch, done_by=admin, done_at=timezone.now())


def _admin_sessions(n: int) -> None:
    from obligation import services as obligation_services

    for _ in range(n):
        obligation_services.request_session(token=uuid.uuid4(), data={
            "organisation": "柔道整復師会", "address": "東京都千代田区1-1",
            "contact_furigana": "たんとう はなこ", "contact_name": "担当 花子",
            "phone": "03-1111-2222", "email": "kai@example.jp",
            "preferred_date": date(2030, 1, 10), "preferred_start": time(14, 0),
            "preferred_end": time(15, 0), "attendees": 20, "occupation": "柔道整復師"})


def _admin_survey_answers(n: int) -> None:
    from obligation import services as obligation_services
    from obligation.models import SurveyAnswer

    admin = make_admin(roles.REVIEWER)
    for _ in range(n):
        answered = FacilityFactory(kind="ama")
        obligation_services.save_survey_answer(answer=SurveyAnswer(
            name=answered.name, address=answered.address, registration_code=answered.code,
            reason="2", channel="post", received_on=date(2025, 2, 3)), actor=admin)


def _admin_confirmations(n: int) -> None:
    from cardreader.models import Confirmation

    facility, _user, _admin = accepted_facility(kind="clinic", devices=n)
    Confirmation.objects.bulk_create(
        Confirmation(device_account=account, facility=facility, at=timezone.now(),
                     day=timezone.localdate(), mode="face", outcome="valid", http_status=200,
                     serial_hash="a" * 52)
        for account in DeviceAccount.objects.filter(facility=facility))


def _admin_import_jobs(n: int) -> None:
    from portal.models import ImportJob

    admin = make_admin(roles.SYSTEM_ADMIN)
    for i in range(n):
        ImportJob.objects.create(kind="monthly_statistics", stored_name=f"{uuid.uuid4()}.csv",
                                 original_name=f"job{i}.csv", created_by=admin)


def changelist(model: str, make: Callable[[int], object],
               page: str = "changelist") -> Callable[[int], Page]:
    """The model's list (or another page of all its rows: "csv", "export")."""

    def build(n: int) -> Page:
        make(n)
        return _admin_page(reverse(f"admin:{model.replace('.', '_')}_{page}"))

    return build


def _admin_reports(n: int) -> None:
    from eligibility.models import Program
    from incentives.services import ReportInput, submit_activity_report

    cooperation = Program.objects.get(rule=Program.Rule.COOPERATION)
    for _ in range(n):
        facility = FacilityFactory(kind="judo")
        submit_activity_report(user=make_staff(facility), facility=facility,
                               program=cooperation, data=ReportInput(
                                   True, True, False, date(2025, 5, 1), date(2025, 6, 1)))


def _admin_reader_grants(n: int) -> None:
    from subsidies.models import FreeReaderGrant

    FreeReaderGrant.objects.bulk_create(
        FreeReaderGrant(facility=FacilityFactory(kind="clinic"), free_readers=2)
        for _ in range(n))


def _facility_with_members(n: int) -> Page:
    facility = FacilityFactory(kind="judo")
    for _ in range(n):
        make_staff(facility)
    return _admin_page(reverse("admin:facilities_facility_change", args=[facility.pk]))


def _application_with_history(n: int) -> Page:
    facility, user, _admin = accepted_facility(kind="judo", devices=n)
    application = facility.applications.get()
    _history(facility, n, user, target=application)
    return _admin_page(reverse("admin:facilities_usageapplication_change",
                               args=[application.pk]))


def _claim_admin_page(name: str) -> Callable:
    def build(n: int, settings) -> Page:
        from subsidies import services as claim_services

        claim, user = _claim_with_items(n, settings)
        claim = claim_services.submit_claim(claim=claim, user=user)
        return _admin_page(reverse(name, args=[claim.pk]))

    build.needs_settings = True
    return build


def _run_page(n: int) -> Page:
    run = _admin_run_with_lines(n)
    return _admin_page(reverse("admin:payouts_payoutrun_change", args=[run.pk]))


def _release_page(n: int) -> Page:
    """The release confirmation: the totals and a page of the lines it pays."""
    run = _admin_run_with_lines(n)
    return _admin_page(reverse("admin:payouts_payoutrun_move", args=[run.pk, "release"]))


def _declaration_page(n: int) -> Page:
    facility = FacilityFactory(kind="judo")
    _declarations(facility, make_staff(facility), n)
    declaration = facility.exemption_declarations.order_by("-pk").first()
    return _admin_page(reverse("admin:obligation_exemptiondeclaration_change",
                               args=[declaration.pk]))


def _history_page(kind: str) -> Callable[[int], Page]:
    """The admin's 履歴 page (every audit trail) of an application with n entries, or of its
    facility (n entries about the application, n more about its device accounts)."""

    def build(n: int) -> Page:
        facility, user, _admin = accepted_facility(kind="judo", devices=n)
        application = facility.applications.get()
        _history(facility, n, user, target=application)
        _history(facility, n, user)
        obj = facility if kind == "facility" else application
        return _admin_page(reverse(f"admin:facilities_{kind}_history", args=[obj.pk]))

    return build


def _admin_index(n: int) -> Page:
    """The index with every work queue (a superuser holds every role's permissions): one
    query a queue, however much waits."""
    from payouts import services as payout_services
    from tests.payouts.helpers import lump_sum, officers, payables, transfer_day

    _admin_claims(n)
    _admin_applications(n)
    creator, _releaser = officers()
    payables(n)
    payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    return _admin_page(reverse("admin:index"))


ADMIN_PAGES: dict[str, Callable] = {
    "index-with-queues": _admin_index,
    "facility-history": _history_page("facility"),
    "application-history": _history_page("usageapplication"),
    "facility-list": changelist("facilities.facility", _admin_facilities),
    "facility-change": _facility_with_members,
    "membership-list": changelist("facilities.membership", _admin_memberships),
    "application-list": changelist("facilities.usageapplication", _admin_applications),
    "application-change": _application_with_history,
    "deviceaccount-list": changelist("facilities.deviceaccount", _admin_accounts),
    "golive-list": changelist("facilities.golive", _admin_golives),
    "activity-list": changelist("facilities.activity", _admin_activities),
    "linkattempt-list": changelist("facilities.linkattempt", _admin_link_attempts),
    "determination-list": changelist("eligibility.determination", _admin_determinations),
    "statistic-list": changelist("eligibility.monthlystatistic", _admin_statistics),
    "attestation-list": changelist("eligibility.attestation", _admin_attestations),
    "claim-list": changelist("subsidies.claim", _admin_claims),
    "claim-change": _claim_admin_page("admin:subsidies_claim_change"),
    "claim-review": _claim_admin_page("admin:subsidies_claim_review"),
    "document-list": changelist("subsidies.document", _admin_claims),
    "bankaccount-list": changelist("payouts.bankaccount", _admin_bank_accounts),
    "payoutrun-list": changelist("payouts.payoutrun", _admin_runs),
    "payoutrun-change": _run_page,
    "payoutrun-release": _release_page,
    "paymentline-list": changelist("payouts.paymentline", _admin_run_with_lines),
    "declaration-list": changelist("obligation.exemptiondeclaration", _admin_declarations),
    "declaration-change": _declaration_page,
    "pairing-list": changelist("obligation.annexpairing", _admin_pairings),
    "compliance-list": changelist("obligation.compliancestatus", _admin_statuses),
    "followupstep-list": changelist("obligation.followupstep", _admin_letters),
    "letterbatch-list": changelist("obligation.letterbatch", _admin_letters),
    "session-list": changelist("obligation.sessionrequest", _admin_sessions),
    "survey-list": changelist("obligation.surveyanswer", _admin_survey_answers),
    "confirmation-list": changelist("cardreader.confirmation", _admin_confirmations),
    "importjob-list": changelist("portal.importjob", _admin_import_jobs),
    "report-list": changelist("eligibility.activityreport", _admin_reports),
    "freereadergrant-list": changelist("subsidies.freereadergrant", _admin_reader_grants),
    # The exports: every row of the list, as CSV.
    "facility-export": changelist("facilities.facility", _admin_facilities, "export"),
    "statistic-export": changelist("eligibility.monthlystatistic", _admin_statistics,
                                   "export"),
    "application-csv": changelist("facilities.usageapplication", _admin_applications, "csv"),
    "claim-csv": changelist("subsidies.claim", _admin_claims, "csv"),
    "determination-csv": changelist("eligibility.determination", _admin_determinations,
                                    "csv"),
    "declaration-csv": changelist("obligation.exemptiondeclaration", _admin_declarations,
                                  "csv"),
    "pairing-csv": changelist("obligation.annexpairing", _admin_pairings, "csv"),
    "survey-csv": changelist("obligation.surveyanswer", _admin_survey_answers, "csv"),
    "session-csv": changelist("obligation.sessionrequest", _admin_sessions, "csv"),
    "compliance-csv": changelist("obligation.compliancestatus", _admin_statuses, "csv"),
    "compliance-counts": changelist("obligation.compliancestatus", _admin_statuses, "counts"),
    "followupstep-csv": changelist("obligation.followupstep", _admin_letters, "csv"),
}


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_page_queries_do_not_grow(name, settings):
    builder = ADMIN_PAGES[name]
    few = _build(builder, FEW, settings)
    many = _build(builder, MANY, settings)
    _assert_constant(few, many)

"""No page's query count grows with its rows (no N+1): each page a facility's staff sees, and
the admin's lists and change pages of the main models, is built once with 1 related object
and once with 50 (applications, claims and their items, history, device accounts, memberships,
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
from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from facilities import services as facility_services
from facilities.activity import record_activity
from facilities.models import ApplicationKind, DeviceAccount, Facility, Membership
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

FEW, MANY = 1, 50
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
    assert response.status_code == 200, (page.url, response.status_code)
    return len(queries), [query["sql"] for query in queries.captured_queries]


# ---------------------------------------------------------------- facilities' data


def _history(facility: Facility, n: int, actor) -> None:
    """n entries in the facility's history, about its applications and device accounts."""
    targets = [*facility.applications.all(), *DeviceAccount.objects.filter(facility=facility)]
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
        if detail == "application":
            args.append(facility.applications.order_by("pk").first().pk)
        elif detail == "account":
            args.append(DeviceAccount.objects.filter(facility=facility).first().pk)
        return Page(_staff_client(user), reverse(name, args=args), user)

    return build


def dashboard(n: int) -> Page:
    """マイページ of a user who is staff of n facilities, each with its history."""
    user = None
    for _ in range(n):
        facility, staff, _admin = accepted_facility(kind="judo")
        user = user or staff
        if staff != user:
            Membership.objects.create(user=user, facility=facility)
        _history(facility, 2, staff)
    return Page(_staff_client(user), reverse("dashboard"), user)


def money(n: int) -> Page:
    """協力金・一時金 of a clinic with n months of statistics and its results."""
    from eligibility.models import MonthlyStatistic, Program
    from eligibility.services import run_eligibility

    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    first = date(2023, 1, 1)
    MonthlyStatistic.objects.bulk_create(
        MonthlyStatistic(facility=facility, month=date(first.year + (first.month + i - 1) // 12,
                                                       (first.month + i - 1) % 12 + 1, 1),
                         receipts=100, card_users=5 + i, usage_count=5 + i)
        for i in range(n))
    for program in Program.objects.filter(rule__in=[Program.Rule.LUMP_SUM,
                                                    Program.Rule.COOPERATION]):
        run_eligibility(program=program)
    return Page(_staff_client(user), reverse("incentives:overview", args=[facility.pk]), user)


def report_page(code: str) -> Callable[[int], Page]:
    """A report (協力金) or attestation (一時金) page of a facility with n history entries."""

    def build(n: int) -> Page:
        facility, user, _admin = _rich_facility(n)
        return Page(_staff_client(user), reverse(
            "incentives:report" if code == "cooperation-2025" else "incentives:attest",
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
        if name == "subsidies:confirm":
            pass
        return Page(_staff_client(user), reverse(name, args=[claim.facility_id, claim.pk]),
                    user)

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
        compute_statuses()
        return Page(_staff_client(user), reverse(name, args=[facility.pk]), user)

    return build


def reminders(n: int) -> Page:
    page = dashboard(n)
    page.url = reverse("todos:reminders")
    return page


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
    "payments": payments,
    "bank-account": bank,
    "claims": claims,
    "claim-detail": claim_page("subsidies:claim"),
    "claim-confirm": claim_page("subsidies:confirm"),
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

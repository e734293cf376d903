"""Defects of the outside review: writes that raced under parallel requests, and long
reasons. The races run on PostgreSQL with real threads (each with its own connection); on
SQLite they are skipped, and in CI a missing PostgreSQL fails them."""

import io
from collections import Counter
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from pypdf import PdfWriter

from eligibility.models import ActivityReport, Attestation, Program
from facilities import services
from facilities.models import (
    Activity,
    GoLive,
    LinkAttempt,
    LinkRequest,
    Membership,
    UsageApplication,
)
from incentives import services as incentive_services
from portal.errors import ServiceError
from subsidies import services as subsidy_services
from subsidies.models import Claim, ClaimState
from tests.concurrency import run_in_parallel
from tests.factories import (
    AdminFactory,
    FacilityFactory,
    UserFactory,
    accepted_facility,
    make_staff,
    submit_start,
)

MAX_FAILURES = 5


def _one_page_pdf() -> bytes:
    writer, buffer = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=595, height=842)
    writer.write(buffer)
    return buffer.getvalue()


def _guesses_checked(**filters) -> int:
    return LinkAttempt.objects.filter(reason__in=services.GUESS_REASONS, **filters).count()


# ------------------------------------------------- facility link (docs/decisions.md D2.2, D2.3)


@pytest.mark.django_db(transaction=True)
@override_settings(RATE_LIMITS={"facility_link_user": f"{MAX_FAILURES}/24h"})
def test_parallel_wrong_guesses_check_at_most_the_limit_and_then_the_right_one_is_refused(
    postgres,
):
    facility = FacilityFactory(kind="judo", account_last4="0987")
    attacker = UserFactory()
    wrong = [f"{n:04d}" for n in range(1000, 1012)]
    outcomes = run_in_parallel([
        lambda last4=last4: services.request_facility_link(
            user=attacker, code=facility.code, account_last4=last4
        )
        for last4 in wrong
    ])
    assert all(isinstance(o, ServiceError) for o in outcomes), outcomes
    assert _guesses_checked(user=attacker) == MAX_FAILURES
    with pytest.raises(ServiceError, match="一時的に停止"):
        services.request_facility_link(user=attacker, code=facility.code, account_last4="0987")
    assert not LinkRequest.objects.filter(user=attacker).exists()


@pytest.mark.django_db(transaction=True)
@override_settings(RATE_LIMITS={"facility_link_user": f"{MAX_FAILURES}/24h"})
def test_the_right_guess_among_parallel_wrong_ones_counts_no_more_than_the_limit(postgres):
    facility = FacilityFactory(kind="judo", account_last4="0987")
    attacker = UserFactory()
    guesses = [f"{n:04d}" for n in range(1000, 1011)] + ["0987"]
    outcomes = run_in_parallel([
        lambda last4=last4: services.request_facility_link(
            user=attacker, code=facility.code, account_last4=last4
        )
        for last4 in guesses
    ])
    assert _guesses_checked(user=attacker) <= MAX_FAILURES
    # The right guess makes a request only if it was checked before the limit was reached;
    # a request, never staff.
    made = outcomes[-1] if isinstance(outcomes[-1], LinkRequest) else None
    assert LinkRequest.objects.filter(user=attacker).first() == made
    assert not Membership.objects.filter(user=attacker).exists()
    assert LinkAttempt.objects.filter(user=attacker).count() == len(guesses)


@pytest.mark.django_db(transaction=True)
@override_settings(RATE_LIMITS={"facility_link_facility": f"{MAX_FAILURES}/24h"})
def test_parallel_guesses_of_many_accounts_at_one_facility_check_at_most_its_limit(postgres):
    facility = FacilityFactory(kind="judo", account_last4="0987")
    make_staff(facility)
    accounts = [UserFactory() for _ in range(20)]
    outcomes = run_in_parallel([
        lambda user=user, n=n: services.request_facility_link(
            user=user, code=facility.code, account_last4=f"{1000 + n:04d}",
            ip_address=f"198.51.100.{n + 1}")
        for n, user in enumerate(accounts)
    ])
    assert all(isinstance(o, ServiceError) for o in outcomes), outcomes
    assert _guesses_checked(facility=facility) == MAX_FAILURES
    assert LinkAttempt.objects.filter(reason="facility_locked").count() == 20 - MAX_FAILURES
    # Told exactly once, however the guesses interleaved.
    assert Activity.objects.filter(facility=facility, verb="link_guessing").count() == 1


@pytest.mark.django_db(transaction=True)
@override_settings(RATE_LIMITS={"facility_link_address": f"{MAX_FAILURES}/24h"})
def test_parallel_guesses_from_one_address_check_at_most_its_limit(postgres):
    guesses = [(UserFactory(), FacilityFactory(kind="judo", account_last4="0987"))
               for _ in range(20)]
    outcomes = run_in_parallel([
        lambda user=user, facility=facility: services.request_facility_link(
            user=user, code=facility.code, account_last4="1111", ip_address="203.0.113.5")
        for user, facility in guesses
    ])
    assert all(isinstance(o, ServiceError) for o in outcomes), outcomes
    assert _guesses_checked(ip_address="203.0.113.5") == MAX_FAILURES
    assert LinkAttempt.objects.filter(reason="address_locked").count() == 20 - MAX_FAILURES


@pytest.mark.django_db(transaction=True)
@override_settings(FACILITY_LINK_CODE_MAX_FAILURES=MAX_FAILURES)
def test_parallel_wrong_codes_count_at_most_the_tries_of_a_letter(postgres):
    facility = FacilityFactory(kind="judo")
    user = UserFactory()
    link_request = services.request_facility_link(user=user, code=facility.code,
                                                  account_last4=facility.account_last4)
    letters, _ = services.issue_link_letters(link_requests=[link_request],
                                             actor=AdminFactory())
    wrong = [f"ZZZZ{letter}{letter}{letter}{letter}" for letter in "ABCDEFGHJKLMNPQRSTUV"]
    outcomes = run_in_parallel([
        lambda code=code: services.confirm_link_code(link_request=link_request, user=user,
                                                     code=code)
        for code in wrong
    ])
    checked = [o for o in outcomes
               if "正しくありません" in o.message or "回に達したため" in o.message]
    assert len(checked) == MAX_FAILURES, outcomes
    link_request.refresh_from_db()
    assert link_request.code_failures == MAX_FAILURES
    with pytest.raises(ServiceError, match="使えません"):
        services.confirm_link_code(link_request=link_request, user=user, code=letters[0].code)
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_decisions_on_one_request_make_one(postgres):
    facility = FacilityFactory(kind="judo")
    staff = [make_staff(facility) for _ in range(4)]
    user = UserFactory()
    link_request = services.request_facility_link(user=user, code=facility.code,
                                                  account_last4=facility.account_last4)
    outcomes = run_in_parallel([
        lambda person=person, move=move: move(link_request=link_request, actor=person)
        for person in staff
        for move in (services.approve_link_request, services.refuse_link_request)
    ])
    decided = [o for o in outcomes if isinstance(o, LinkRequest)]
    assert len(decided) == 1, outcomes
    link_request.refresh_from_db()
    assert link_request.state == decided[0].state
    assert Membership.objects.filter(user=user).exists() == (link_request.state == "linked")
    assert Activity.objects.filter(facility=facility,
                                   verb__startswith="link_request_").count() == 1


# ---------------------------------------------------------------- first writes: one row each


@pytest.mark.django_db(transaction=True)
def test_parallel_first_golive_entries_make_one_date(postgres, migration_data):
    facility, user, _ = accepted_facility()
    staff = [user] + [make_staff(facility) for _ in range(4)]
    outcomes = run_in_parallel([
        lambda person=person: services.set_golive_date(
            user=person, facility=facility, golive_date=date(2025, 6, 10)
        )
        for person in staff * 2
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert GoLive.objects.filter(facility=facility).count() == 1
    assert Activity.objects.filter(facility=facility, verb="golive_set").count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_first_activity_reports_make_one_report(postgres, migration_data):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    GoLive.objects.create(facility=facility, date=date(2025, 6, 1))
    program = Program.objects.get(code="cooperation-2025")
    data = incentive_services.ReportInput(
        voice=True, flyer=True, poster=False,
        activity_from=date(2025, 6, 10), activity_to=date(2025, 7, 31),
    )
    outcomes = run_in_parallel([
        lambda: incentive_services.submit_activity_report(
            user=user, facility=facility, program=program, data=data
        )
        for _ in range(12)
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    report = ActivityReport.objects.get(facility=facility, program=program)
    assert report.receipt_number
    verbs = Counter(Activity.objects.filter(facility=facility).values_list("verb", flat=True))
    assert (verbs["report_submitted"], verbs["report_updated"]) == (1, 11)


@pytest.mark.django_db(transaction=True)
def test_parallel_first_attestations_make_one_attestation(postgres, migration_data):
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    program = Program.objects.get(code="lump-sum-2024")
    outcomes = run_in_parallel([
        lambda: incentive_services.submit_attestation(
            user=user, facility=facility, program=program, poster=True, informed=True
        )
        for _ in range(12)
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert Attestation.objects.get(facility=facility, program=program).receipt_number


# ---------------------------------------------------------------- long reasons, kept whole

LONG_REASON = ("記載内容をご確認ください。" * 500)[:5000]


@pytest.mark.django_db
def test_a_long_return_reason_is_recorded_whole_for_an_application():
    facility = FacilityFactory(kind="judo")
    application = submit_start(facility, make_staff(facility))
    services.return_application(application=application, actor=AdminFactory(),
                                reason=LONG_REASON)
    application = UsageApplication.objects.get(pk=application.pk)
    assert application.return_reason == LONG_REASON
    summary = Activity.objects.filter(facility=facility).latest("pk").summary
    assert summary.endswith(LONG_REASON)


def _claim_in_review(facility) -> Claim:
    user = make_staff(facility)
    claim = subsidy_services.start_claim(
        user=user, facility=facility, program=Program.objects.get(code="device-sejutsu")
    )
    item = subsidy_services.save_item(claim=claim, data=subsidy_services.ItemInput(
        "端末", 1, 46200, 0, "店", date(2024, 11, 1)))
    subsidy_services.attach_document(claim=claim, item=item, kind="receipt",
                                     upload=SimpleUploadedFile("r.pdf", _one_page_pdf()), user=user)
    claim = subsidy_services.submit_claim(claim=claim, user=user)
    return subsidy_services.start_review(claim=claim, actor=AdminFactory())


@pytest.mark.django_db
def test_a_long_return_reason_is_recorded_whole_for_a_claim():
    facility = FacilityFactory(kind="judo")
    claim = _claim_in_review(facility)
    claim = subsidy_services.return_claim(claim=claim, actor=AdminFactory(),
                                          reason=LONG_REASON, item_notes={})
    claim = Claim.objects.get(pk=claim.pk)
    assert (claim.state, claim.return_reason) == (ClaimState.RETURNED, LONG_REASON)
    assert Activity.objects.filter(facility=facility).latest("pk").summary.endswith(LONG_REASON)


@pytest.mark.django_db
def test_a_long_reject_reason_is_recorded_whole_for_a_claim():
    facility = FacilityFactory(kind="judo")
    claim = _claim_in_review(facility)
    claim = subsidy_services.reject_claim(claim=claim, actor=AdminFactory(),
                                          reason=LONG_REASON)
    claim = Claim.objects.get(pk=claim.pk)
    assert (claim.state, claim.decision_reason) == (ClaimState.REJECTED, LONG_REASON)
    assert Activity.objects.filter(facility=facility).latest("pk").summary.endswith(LONG_REASON)

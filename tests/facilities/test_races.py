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


def _guesses_checked(user) -> int:
    return LinkAttempt.objects.filter(
        user=user, reason__in=("not_found", "last4_mismatch")
    ).count()


# ---------------------------------------------------------------- facility link (issue 6)


@pytest.mark.django_db(transaction=True)
@override_settings(FACILITY_LINK_MAX_FAILURES=MAX_FAILURES)
def test_parallel_wrong_guesses_check_at_most_the_limit_and_then_the_right_one_is_refused(
    postgres,
):
    facility = FacilityFactory(kind="judo", account_last4="0987")
    attacker = UserFactory()
    wrong = [f"{n:04d}" for n in range(1000, 1012)]
    outcomes = run_in_parallel([
        lambda last4=last4: services.link_user_to_facility(
            user=attacker, code=facility.code, account_last4=last4
        )
        for last4 in wrong
    ])
    assert all(isinstance(o, ServiceError) for o in outcomes), outcomes
    assert _guesses_checked(attacker) == MAX_FAILURES
    with pytest.raises(ServiceError, match="一時的に停止"):
        services.link_user_to_facility(user=attacker, code=facility.code, account_last4="0987")
    assert not Membership.objects.filter(user=attacker).exists()


@pytest.mark.django_db(transaction=True)
@override_settings(FACILITY_LINK_MAX_FAILURES=MAX_FAILURES)
def test_the_right_guess_among_parallel_wrong_ones_counts_no_more_than_the_limit(postgres):
    facility = FacilityFactory(kind="judo", account_last4="0987")
    attacker = UserFactory()
    guesses = [f"{n:04d}" for n in range(1000, 1011)] + ["0987"]
    outcomes = run_in_parallel([
        lambda last4=last4: services.link_user_to_facility(
            user=attacker, code=facility.code, account_last4=last4
        )
        for last4 in guesses
    ])
    assert _guesses_checked(attacker) <= MAX_FAILURES
    linked = Membership.objects.filter(user=attacker).exists()
    # The right guess links only if it was checked before the limit was reached.
    assert linked == (outcomes[-1] == facility)
    assert LinkAttempt.objects.filter(user=attacker).count() == len(guesses)


@pytest.mark.django_db
@override_settings(FACILITY_LINK_MAX_FAILURES=2)
def test_guessing_at_a_facility_does_not_lock_its_real_staff_out():
    facility = FacilityFactory(kind="judo", account_last4="0987")
    for _ in range(3):
        with pytest.raises(ServiceError):
            services.link_user_to_facility(user=UserFactory(), code=facility.code,
                                           account_last4="1111")
    staff = UserFactory()
    assert services.link_user_to_facility(
        user=staff, code=facility.code, account_last4="0987"
    ) == facility


@pytest.mark.django_db
@override_settings(FACILITY_LINK_MAX_FAILURES=2)
def test_a_locked_out_user_is_locked_out_of_every_facility():
    target, other = (FacilityFactory(kind="judo", account_last4=n) for n in ("0987", "0123"))
    user = UserFactory()
    for _ in range(2):
        with pytest.raises(ServiceError):
            services.link_user_to_facility(user=user, code=target.code, account_last4="1111")
    with pytest.raises(ServiceError, match="一時的に停止"):
        services.link_user_to_facility(user=user, code=other.code, account_last4="0123")
    assert LinkAttempt.objects.filter(user=user, reason="locked").count() == 1


# ---------------------------------------------------------------- first writes (issue 8b)


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


# ---------------------------------------------------------------- long reasons (issue 8d)

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

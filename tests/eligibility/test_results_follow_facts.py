"""Results follow the facts (docs/architecture.md#the-eligibility-batch-協力金-一時金): every change of a
fact of a facility marks it pending in the same transaction and queues one re-determination after
commit (none on rollback); parameters applied queue the program's batch instead of running it in the
request; a pending re-determination is shown as such; the registry answers the subsidy offers."""

import re
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from eligibility import engine, services
from eligibility.models import (
    ActivityReport,
    Determination,
    EligibilityRun,
    MonthlyStatistic,
    PendingDetermination,
    Program,
)
from eligibility.rules.subsidies import OfferFacts
from facilities import services as facility_services
from facilities.models import Facility, GoLive
from incentives import services as incentive_services
from payouts import services as payout_services
from payouts.banking import validate_account
from portal.imports import import_kind, run_import
from subsidies import selectors as subsidy_selectors
from tests.factories import (
    AdminFactory,
    FacilityFactory,
    accepted_facility,
    make_staff,
    previewed,
)

pytestmark = pytest.mark.django_db


def cooperation():
    return Program.objects.get(code="cooperation-2025")


def lump_sum():
    return Program.objects.get(code="lump-sum-2024")


@pytest.fixture
def queued(monkeypatch):
    """Every re-determination queued (the task's .delay), counted instead of run."""
    from eligibility import tasks

    calls = []
    monkeypatch.setattr(tasks.redetermine_pending, "delay", lambda: calls.append(1))
    return calls


def stale_result(facility):
    services.run_eligibility(program=cooperation(), facility_ids=[facility.pk])
    return Determination.objects.get(facility=facility, program=cooperation())


# ---------------------------------------------------------------- each fact, after commit


def test_go_live_date_queues_one_redetermination_after_commit(
        queued, django_capture_on_commit_callbacks):
    facility, user, _ = accepted_facility(kind="judo")
    with django_capture_on_commit_callbacks() as callbacks:
        facility_services.set_golive_date(user=user, facility=facility,
                                          golive_date=date(2025, 6, 10))
        assert PendingDetermination.objects.filter(facility=facility).exists()
        assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [1]


def test_go_live_date_then_the_task_gives_the_fresh_result(django_capture_on_commit_callbacks):
    facility, user, _ = accepted_facility(kind="judo")
    assert "運用開始日 未入力 ✗" in stale_result(facility).reasons
    with django_capture_on_commit_callbacks(execute=True):
        facility_services.set_golive_date(user=user, facility=facility,
                                          golive_date=date(2025, 6, 10))
    result = Determination.objects.get(facility=facility, program=cooperation())
    assert "運用開始日 令和7年6月10日 ✓" in result.reasons
    assert not PendingDetermination.objects.exists()


def test_a_rolled_back_change_marks_nothing_and_queues_nothing(
        queued, django_capture_on_commit_callbacks):
    facility, user, _ = accepted_facility(kind="judo")
    # The acceptance that set the facility up is a change of its facts too (its compliance
    # follows it); this test is about the change rolled back below.
    PendingDetermination.objects.all().delete()
    queued.clear()
    with (django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError),
          transaction.atomic()):
        facility_services.set_golive_date(user=user, facility=facility,
                                          golive_date=date(2025, 6, 10))
        raise RuntimeError("the request failed after the save")
    assert not PendingDetermination.objects.exists()
    assert queued == []


def test_many_quick_changes_make_one_pending_row_and_one_run(
        django_capture_on_commit_callbacks, monkeypatch):
    facility, user, _ = accepted_facility(kind="judo")
    with django_capture_on_commit_callbacks() as callbacks:
        for day in (10, 11, 12):
            with transaction.atomic():
                facility_services.set_golive_date(user=user, facility=facility,
                                                  golive_date=date(2025, 6, day))
    assert PendingDetermination.objects.filter(facility=facility).count() == 1
    runs_before = EligibilityRun.objects.count()
    for callback in callbacks:  # the worker takes the queued tasks one after the other
        callback()
    # One pass (a run per open program) for the first task; the others found nothing.
    assert EligibilityRun.objects.count() - runs_before == len(services.open_batch_programs())
    result = Determination.objects.get(facility=facility, program=cooperation())
    assert "運用開始日 令和7年6月12日 ✓" in result.reasons


def test_a_change_made_while_the_task_ran_stays_pending(django_capture_on_commit_callbacks,
                                                        monkeypatch):
    facility = FacilityFactory(kind="judo")
    services.request_redetermination([facility.pk], enqueue=False)
    original = services.run_eligibility

    def run_then_change(**kwargs):
        run = original(**kwargs)
        services.request_redetermination([facility.pk], enqueue=False)  # meanwhile
        return run

    monkeypatch.setattr(services, "run_eligibility", run_then_change)
    services.redetermine_pending()
    assert PendingDetermination.objects.filter(facility=facility).exists()


def test_report_and_attestation_each_mark_the_facility_pending_but_a_bank_account_does_not(
        queued):
    sejutsu, staff, _ = accepted_facility(kind="judo")
    clinic, clinic_staff, _ = accepted_facility(kind="clinic")
    incentive_services.submit_activity_report(
        user=staff, facility=sejutsu, program=cooperation(),
        data=incentive_services.ReportInput(voice=True, flyer=True, poster=False,
                                            activity_from=date(2025, 6, 10),
                                            activity_to=date(2025, 7, 31)))
    assert PendingDetermination.objects.filter(facility=sejutsu).exists()
    incentive_services.submit_attestation(user=clinic_staff, facility=clinic,
                                          program=lump_sum(), poster=True, informed=True)
    assert PendingDetermination.objects.filter(facility=clinic).exists()
    PendingDetermination.objects.all().delete()
    # No rule reads the bank account (payouts does): registering one changes no result.
    account = validate_account("0001", "001", "1", "1234567", "ﾃｽﾄ")
    payout_services.save_bank_account(user=staff, facility=sejutsu, account=account)
    assert not PendingDetermination.objects.filter(facility=sejutsu).exists()


def test_annex_partners_are_determined_again_with_the_facility():
    main = FacilityFactory(kind="judo")
    subordinate = FacilityFactory(kind="judo", main_facility=main)
    services.request_redetermination([main.pk], enqueue=False)
    assert set(PendingDetermination.objects.values_list("facility_id", flat=True)) == {
        main.pk, subordinate.pk}


def test_statistics_import_queues_one_redetermination_for_the_facilities_touched(
        tmp_path, queued, django_capture_on_commit_callbacks):
    touched, untouched = FacilityFactory(kind="clinic"), FacilityFactory(kind="clinic")
    path = tmp_path / "statistics.csv"
    path.write_text("facility_code,year_month,receipts,card_users,usage_count\n"
                    f"{touched.code},2023-10,1000,40,55\n{touched.code},2024-08,1000,200,300\n",
                    encoding="utf-8")
    run_import(path, import_kind("monthly_statistics"), dry_run=True)
    assert not PendingDetermination.objects.exists() and queued == []  # a dry run: nothing
    with django_capture_on_commit_callbacks(execute=True):
        run_import(path, import_kind("monthly_statistics"), dry_run=False)
    assert MonthlyStatistic.objects.filter(facility=touched).count() == 2
    assert set(PendingDetermination.objects.values_list("facility_id", flat=True)) == {
        touched.pk}
    assert untouched.pk not in PendingDetermination.objects.values_list("facility_id", flat=True)
    assert queued == [1]  # once for the whole file


def test_facility_import_changing_the_main_facility_marks_old_and_new_main(
        tmp_path, queued, django_capture_on_commit_callbacks):
    old_main, new_main = FacilityFactory(kind="judo"), FacilityFactory(kind="judo")
    subordinate = FacilityFactory(kind="judo", main_facility=old_main)
    path = tmp_path / "facilities.csv"
    path.write_text(
        "code,kind,name,prefecture,account_last4,main_facility_code\n"
        f"{subordinate.code},judo,{subordinate.name},13,{subordinate.account_last4},"
        f"{new_main.code}\n", encoding="utf-8")
    with django_capture_on_commit_callbacks(execute=True):
        result = run_import(path, import_kind("facility_master"), dry_run=False)
    assert result.updated == 1, result.errors
    assert Facility.objects.get(pk=subordinate.pk).main_facility_id == new_main.pk
    assert set(PendingDetermination.objects.values_list("facility_id", flat=True)) == {
        subordinate.pk, old_main.pk, new_main.pk}
    assert queued == [1]


def test_annex_set_by_its_one_writer_marks_the_facilities(queued,
                                                         django_capture_on_commit_callbacks):
    """併設 changes only through set_main_facility (the pairing's confirmation and the master
    import call it; the admin shows the field read-only): both facilities are marked and one
    task is queued after the commit."""
    main = FacilityFactory(kind="judo")
    facility = FacilityFactory(kind="judo")
    with django_capture_on_commit_callbacks(execute=True):
        facility_services.set_main_facility(facility=facility, main=main)
    assert set(PendingDetermination.objects.values_list("facility_id", flat=True)) == {
        facility.pk, main.pk}
    assert queued == [1]


# ---------------------------------------------------------------- the results page


def test_results_page_says_a_redetermination_is_pending_instead_of_the_stale_verdict(client):
    facility, user, _ = accepted_facility(kind="judo")
    stale_result(facility)
    GoLive.objects.create(facility=facility, date=date(2025, 6, 10))
    services.request_redetermination([facility.pk], enqueue=False)
    client.force_login(user)
    page = client.get(reverse("incentives:overview", args=[facility.pk])).content.decode()
    assert "最新の内容で判定し直しています。しばらくしてから再読み込みしてください。" in page
    assert "運用開始日 未入力" not in page


def test_results_page_says_when_the_result_was_determined(client, monkeypatch):
    facility, user, _ = accepted_facility(kind="judo")
    PendingDetermination.objects.all().delete()  # the set-up's acceptance, long done
    at = timezone.make_aware(timezone.datetime(2025, 8, 1, 9, 5))
    monkeypatch.setattr(services.timezone, "now", lambda: at)
    stale_result(facility)
    client.force_login(user)
    page = client.get(reverse("incentives:overview", args=[facility.pk])).content.decode()
    assert "令和7年8月1日 9:05判定" in re.sub(r"<[^>]+>", "", page)  # the text, without its tags


# ---------------------------------------------------------------- parameters applied


def test_applying_parameters_returns_at_once_and_queues_the_batch(
        django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo")
    GoLive.objects.create(facility=facility, date=date(2025, 6, 10))
    ActivityReport.objects.create(facility=facility, program=cooperation(), voice=True,
                                  flyer=True, activity_from=date(2025, 6, 10),
                                  activity_to=date(2025, 7, 31))
    services.run_eligibility(program=cooperation())
    in_force = engine.parameters_in_force(cooperation())
    draft = services.create_draft_version(
        program=cooperation(), params={**in_force.params, "amount": 60000},
        effective_from=date(2025, 5, 1), notice="増額（試験）")
    preview = previewed(draft)
    runs = EligibilityRun.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        applied = services.apply_version(version=draft, actor=AdminFactory(), preview=preview)
    assert applied.queued and not applied.waiting
    assert EligibilityRun.objects.count() == runs  # nothing ran in the request
    assert Determination.objects.get(facility=facility).amount == 50000
    assert len(callbacks) == 1
    callbacks[0]()  # the worker
    assert Determination.objects.get(facility=facility).amount == 60000


def test_admin_apply_says_the_batch_was_queued(admin_client, django_capture_on_commit_callbacks):
    in_force = engine.parameters_in_force(lump_sum())
    draft = services.create_draft_version(program=lump_sum(), params=in_force.params,
                                          effective_from=date(2024, 5, 1), notice="同じ内容")
    preview = previewed(draft)
    runs = EligibilityRun.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:eligibility_parameterversion_apply", args=[draft.pk]),
            {"preview": preview.pk}, follow=True)
    assert EligibilityRun.objects.count() == runs
    assert len(callbacks) == 1
    assert "バックグラウンドで実行します" in response.content.decode()


# ---------------------------------------------------------------- the registry and offers


def test_the_registry_answers_the_subsidy_offers():
    clinic = FacilityFactory(kind="clinic", paper_claims=True)
    sejutsu = FacilityFactory(kind="judo")
    for facility in (clinic, sejutsu):
        make_staff(facility)
        on = timezone.localdate()
        offers = subsidy_selectors.offers_for(facility, on=on)
        for offer in offers:
            answer = engine.offer(offer.program, OfferFacts(
                kind=facility.kind, paper_claims=facility.paper_claims, on=on,
                max_monthly_usage=0, free_readers=1))
            assert (offer.offered, offer.reason) == (answer.offered, answer.reason)


def test_a_device_limited_offer_reads_the_deadline_of_the_parameters_in_force():
    program = Program.objects.get(rule=Program.Rule.DEVICE_LIMITED)
    clinic = FacilityFactory(kind="clinic", paper_claims=True)
    deadline = date.fromisoformat(engine.parameters_in_force(program).params["deadline"])
    before = {o.program.pk: o for o in subsidy_selectors.offers_for(clinic, on=deadline)}
    after = {o.program.pk: o
             for o in subsidy_selectors.offers_for(clinic, on=deadline + timedelta(days=1))}
    assert before[program.pk].offered
    assert not after[program.pk].offered and "申請期限" in after[program.pk].reason

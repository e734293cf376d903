"""Payout runs through their services: built from the payables, released by a second
officer, written as a file, settled by the bank's results; exactly once throughout."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from eligibility.models import Determination
from payouts import services
from payouts.models import PaymentLine, PayoutRun
from portal import roles
from portal.errors import NotPermitted, ServiceError
from tests.factories import FacilityFactory, make_admin
from tests.payouts.helpers import (
    checked,
    cooperation,
    eligible,
    import_on_the_day,
    lump_sum,
    officers,
    on_the_day,
    payables,
    results_csv,
    set_consignor,
    transfer_day,
    with_account,
    write_file,
)

pytestmark = pytest.mark.django_db


def released_run(count=3, amount=200_000):
    creator, releaser = officers()
    payables(count, amount=amount)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    return services.release_run(run=run, actor=releaser), creator, releaser


def test_a_run_freezes_every_payable_with_its_account_and_locks_the_results():
    creator, _ = officers()
    results = payables(3, amount=150_000)
    without_account = eligible(FacilityFactory(), account=False)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    assert run.state == PayoutRun.State.CREATED
    assert (run.line_count, run.total_amount) == (3, 450_000)
    lines = list(run.lines.order_by("pk"))
    assert sorted(line.source_id for line in lines) == sorted(r.pk for r in results)
    for line in lines:
        account = line.facility.bank_account
        assert (line.bank_code, line.branch_code, line.account_number, line.holder_name,
                line.bank_kana) == (account.bank_code, account.branch_code,
                                    account.account_number, account.holder_name, "ﾐｽﾞﾎ")
    assert all(Determination.objects.filter(pk__in=[r.pk for r in results])
               .values_list("payout_locked", flat=True))
    assert not Determination.objects.get(pk=without_account.pk).payout_locked


def test_a_second_run_of_the_same_program_pays_nobody_again():
    creator, _ = officers()
    payables(2)
    first = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    second = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    assert first.line_count == 2
    assert second.state == PayoutRun.State.EMPTY and second.line_count == 0
    assert PaymentLine.objects.count() == 2


def test_the_creator_cannot_release_the_run_but_a_second_officer_can():
    creator, releaser = officers()
    payables(1)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    with pytest.raises(NotPermitted, match="二者確認"):
        services.release_run(run=run, actor=creator)
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.CREATED
    released = services.release_run(run=run, actor=releaser)
    assert released.state == PayoutRun.State.RELEASED and released.released_by == releaser
    assert set(released.lines.values_list("state", flat=True)) == {PaymentLine.State.RELEASED}


def test_a_reviewer_may_neither_create_nor_release():
    reviewer = make_admin(roles.REVIEWER)
    payables(1)
    with pytest.raises(NotPermitted):
        services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=reviewer)
    assert not PayoutRun.objects.exists()


@pytest.mark.parametrize("day, named", [
    (date(2026, 12, 31), "令和9年1月4日"),  # 年末年始 → the first business day of the year
    (date(2027, 1, 11), "令和9年1月12日"),  # 成人の日 (a Monday holiday)
    (date(2027, 1, 9), "令和9年1月12日"),  # a Saturday before the holiday Monday
])
def test_a_transfer_date_that_is_no_business_day_is_refused_with_the_next_named(day, named):
    creator, _ = officers()
    payables(1)
    with pytest.raises(ServiceError, match=named):
        services.create_run(program=lump_sum(), transfer_date=day, actor=creator)
    assert not PayoutRun.objects.exists() and not PaymentLine.objects.exists()


def test_a_past_transfer_date_is_refused():
    creator, _ = officers()
    payables(1)
    with pytest.raises(ServiceError, match="過ぎています"):
        services.create_run(program=lump_sum(), transfer_date=date(2025, 6, 2), actor=creator)


def test_cancelling_a_run_makes_its_records_payable_again():
    creator, releaser = officers()
    payables(2)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    services.cancel_run(run=run, actor=releaser)
    assert not Determination.objects.filter(payout_locked=True).exists()
    again = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    assert again.line_count == 2


def test_the_file_is_the_same_bytes_each_time_and_its_trailer_matches_the_lines():
    set_consignor()
    run, _, releaser = released_run(count=3, amount=123_456)
    data = services.transfer_file(run=run, actor=releaser)
    assert data == services.transfer_file(run=run, actor=releaser)
    records = data.split(b"\r\n")[:-1]
    assert [r[:1] for r in records] == [b"1", b"2", b"2", b"2", b"8", b"9"]
    assert records[4][1:7] == b"000003" and records[4][7:19] == b"000000370368"
    run.refresh_from_db()
    assert run.file_sha256 and run.file_written_at


def test_no_file_before_release_and_none_without_the_consignor():
    creator, releaser = officers()
    payables(1)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    with pytest.raises(ServiceError, match="承認後"):
        services.transfer_file(run=run, actor=releaser)
    run = services.release_run(run=run, actor=releaser)
    with pytest.raises(ServiceError, match="振込依頼人"):
        services.transfer_file(run=run, actor=releaser)


def test_results_pay_and_fail_lines_and_settle_the_run(django_capture_on_commit_callbacks):
    run, _, releaser = released_run(count=3)
    first, second, third = run.lines.order_by("pk")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        summary = import_on_the_day(
            run=run, data=results_csv([(first.pk, 0), (second.pk, 3), (third.pk, 0)]),
            actor=releaser)
    assert (summary.paid, summary.failed, summary.settled) == (2, 1, True)
    second.refresh_from_db()
    assert (second.state, second.get_failure_reason_display()) == ("failed", "名義相違")
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.SETTLED
    failed_mail = [m for m in mail.outbox if "振込不能" in m.subject]
    assert len(failed_mail) == 1 and "名義" in failed_mail[0].body
    assert second.account_number not in failed_mail[0].body


def test_the_same_results_twice_change_nothing_and_a_contradiction_is_refused():
    run, _, releaser = released_run(count=2)
    first, second = run.lines.order_by("pk")
    data = results_csv([(first.pk, 0)])
    import_on_the_day(run=run, data=data, actor=releaser)
    again = import_on_the_day(run=run, data=data, actor=releaser)
    assert (again.paid, again.unchanged) == (0, 1)
    with pytest.raises(ServiceError, match="既に「振込済」"):
        import_on_the_day(run=run, data=results_csv([(first.pk, 1), (second.pk, 0)]),
                                actor=releaser)
    second.refresh_from_db()
    assert second.state == PaymentLine.State.RELEASED  # all or nothing


@pytest.mark.parametrize("data, message", [
    (b"", "空"),
    ("番号,結果\r\n1,0\r\n".encode(), "見出し"),
    ("顧客コード1,結果コード\r\nabc,0\r\n".encode(), "2行目"),
    ("顧客コード1,結果コード\r\n1,7\r\n".encode(), "結果コード「7」"),
    ("顧客コード1,結果コード\r\n99999999,0\r\n".encode(), "この支払バッチの明細ではありません"),
    (b"\xff\xfe\x00\x00", "文字コード|見出し"),
])
def test_bad_result_files_are_refused_with_their_row_and_change_nothing(data, message):
    run, _, releaser = released_run(count=1)
    with pytest.raises(ServiceError, match=message):
        import_on_the_day(run=run, data=data, actor=releaser)
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.RELEASED}


def test_a_failed_payment_is_paid_again_once_the_facility_corrects_its_account():
    run, creator, releaser = released_run(count=1)
    line = run.lines.get()
    import_on_the_day(run=run, data=results_csv([(line.pk, 2)]), actor=releaser)
    # Not payable until the account is corrected.
    assert services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                               actor=creator).state == PayoutRun.State.EMPTY
    with_account(line.facility, number="7777777")
    line.refresh_from_db()
    assert line.state == PaymentLine.State.REISSUED
    again = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    new_line = again.lines.get()
    assert (new_line.source_id, new_line.amount, new_line.account_number) == (
        line.source_id, line.amount, "7777777")


def test_an_account_changed_after_the_run_does_not_change_its_lines():
    run, _, _ = released_run(count=1)
    line = run.lines.get()
    with_account(line.facility, number="5555555")
    line.refresh_from_db()
    assert line.account_number != "5555555"


def test_a_frozen_result_is_kept_by_the_batch():
    from eligibility import services as eligibility_services

    run, _, _ = released_run(count=1, amount=170_000)
    line = run.lines.get()
    eligibility_services.run_eligibility(program=lump_sum())
    assert Determination.objects.get(pk=line.source_id).amount == 170_000


def test_approved_claims_are_paid_through_runs_and_marked_paid_by_the_results():
    from subsidies import services as claim_services
    from subsidies.models import Claim, ClaimState
    from tests.factories import claim_under_review

    approver = make_admin(roles.APPROVER)
    claim = claim_under_review()
    claim = claim_services.approve_claim(claim=claim, actor=approver, amount=33000, reason="")
    with_account(claim.facility)
    creator, releaser = officers()
    run = services.create_run(program=claim.program, transfer_date=transfer_day(),
                              actor=creator)
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.PAYING
    assert (run.line_count, run.total_amount) == (1, 33000)
    run = services.release_run(run=run, actor=releaser)
    import_on_the_day(run=run, data=results_csv([(run.lines.get().pk, 0)]),
                            actor=releaser)
    claim.refresh_from_db()
    assert claim.state == ClaimState.PAID and claim.paid_at is not None


def test_the_schedule_creates_runs_for_programs_with_payables_only():
    from payouts.tasks import create_scheduled_runs

    payables(2)
    results = create_scheduled_runs()
    runs = PayoutRun.objects.all()
    assert [(run.program.code, run.line_count, run.created_by) for run in runs] == [
        ("lump-sum-2024", 2, None)]
    assert results[-1]["lines"] == 2
    assert runs[0].transfer_date > timezone.localdate()
    assert runs[0].state == PayoutRun.State.TO_CHECK  # checked by one officer, released by another


# ------------------------------------------- a scheduled run: one officer checks, another releases


def scheduled_run(count: int = 2, amount: int = 100_000) -> PayoutRun:
    """A run the schedule built (beat's create-payout-runs: no creator)."""
    from payouts.tasks import create_scheduled_runs

    payables(count, amount=amount)
    create_scheduled_runs()
    return PayoutRun.objects.get(state=PayoutRun.State.TO_CHECK)


def test_a_scheduled_run_is_not_released_by_one_officer_alone():
    """A run built by the schedule (no creator) is never released, written and settled by a
    single officer (docs/decisions.md D5.4.2): it waits 確認待ち; one officer checks it,
    another releases it."""
    run = scheduled_run()
    checker, releaser = officers()
    with pytest.raises(ServiceError, match="承認の前に支払担当者の確認"):
        services.release_run(run=run, actor=releaser)
    run.refresh_from_db()
    assert (run.state, run.released_by) == (PayoutRun.State.TO_CHECK, None)
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.SCHEDULED}

    run = services.check_run(run=run, actor=checker)
    assert (run.state, run.checked_by) == (PayoutRun.State.CREATED, checker)
    assert run.checked_at is not None
    with pytest.raises(NotPermitted, match="二者確認"):
        services.release_run(run=run, actor=checker)
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.CREATED
    released = services.release_run(run=run, actor=releaser)
    assert (released.state, released.released_by) == (PayoutRun.State.RELEASED, releaser)


def test_a_run_is_checked_once_and_only_while_it_waits_for_its_check():
    run = scheduled_run()
    checker, other = officers()
    checked(run, checker)
    with pytest.raises(ServiceError, match="「承認待ち」のため"):
        services.check_run(run=run, actor=other)
    assert PayoutRun.objects.get(pk=run.pk).checked_by == checker
    # An officer's run is checked by its creator: there is nothing to check.
    creator, _ = officers()
    payables(1)
    own = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    assert own.state == PayoutRun.State.CREATED
    with pytest.raises(ServiceError, match="「承認待ち」のため"):
        services.check_run(run=own, actor=other)


@pytest.mark.parametrize("role", [roles.VIEWER, roles.REVIEWER, roles.APPROVER,
                                  roles.SYSTEM_ADMIN])
def test_only_a_payout_officer_checks_a_run(role):
    run = scheduled_run()
    with pytest.raises(NotPermitted, match="権限がありません"):
        services.check_run(run=run, actor=make_admin(role))
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.TO_CHECK


def test_a_scheduled_run_waiting_for_its_check_may_be_cancelled():
    run = scheduled_run()
    _, officer = officers()
    assert services.cancel_run(run=run, actor=officer).state == PayoutRun.State.CANCELLED
    assert not Determination.objects.filter(payout_locked=True).exists()


def test_an_officer_whose_request_finished_a_scheduled_run_may_check_it_not_release_it():
    """The schedule created the run and an officer's request (joining it) finished it: it
    still needs its check; whoever finished building it never releases it."""
    finisher, releaser = officers()
    payables(2)
    PayoutRun.objects.create(program=lump_sum(), transfer_date=transfer_day(), created_by=None)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=finisher)
    assert (run.state, run.created_by) == (PayoutRun.State.TO_CHECK, None)
    checked(run, releaser)
    # The checker may not release; nor may the officer whose request finished the run.
    for person in (releaser, finisher):
        with pytest.raises(NotPermitted, match="二者確認"):
            services.release_run(run=run, actor=person)
    third = make_admin(roles.PAYOUT_OFFICER)
    assert services.release_run(run=run, actor=third).state == PayoutRun.State.RELEASED


def test_officers_are_told_a_scheduled_run_waits_for_a_check_then_for_release(
        django_capture_on_commit_callbacks):
    checker, releaser = officers()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = scheduled_run()
    [waiting] = [m for m in mail.outbox if "確認待ち" in m.subject]
    assert set(waiting.to) == {checker.email, releaser.email}
    assert "確認する" in waiting.body and "定期実行" in waiting.body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        checked(run, checker)
    [told] = [m for m in mail.outbox if "承認待ち" in m.subject]
    assert told.to == [releaser.email]  # never the checker
    assert f"支払バッチ{run.pk}" in told.subject and checker.email in told.body


def test_scheduled_runs_waiting_for_release_before_this_change_wait_for_a_check():
    """The data migration: a run of the schedule already 承認待ち is 確認待ち afterwards."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("payouts.migrations.0003_run_check")
    creator, _ = officers()
    payables(1)
    own = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    run = scheduled_run(1)
    PayoutRun.objects.filter(pk=run.pk).update(state=PayoutRun.State.CREATED)
    migration.scheduled_runs_wait_for_a_check(apps, None)
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.TO_CHECK
    assert PayoutRun.objects.get(pk=own.pk).state == PayoutRun.State.CREATED


def test_the_create_run_task_builds_a_run_of_the_schedule():
    """A task cannot tell who sent it (a periodic task is set up by a system administrator):
    a run it builds has no creator and waits for its check, whoever is named."""
    from payouts.tasks import create_run

    payables(1)
    result = create_run(lump_sum().code, transfer_day().isoformat())
    run = PayoutRun.objects.get(pk=result["run"])
    assert (run.state, run.created_by) == (PayoutRun.State.TO_CHECK, None)
    with pytest.raises(TypeError):
        create_run(lump_sum().code, transfer_day().isoformat(), officers()[0].pk)


# --------------------------------------- results: after the file, on or after the transfer date


def test_results_are_refused_before_the_file_is_written():
    """Results are refused for a run whose file was never written (docs/decisions.md D5.4.3),
    and the facility is not e-mailed 振込済."""
    run, _, releaser = released_run(count=1)
    line = run.lines.get()
    mail.outbox.clear()
    with on_the_day(run.transfer_date), pytest.raises(
            ServiceError, match="振込データがまだ作成されていません"):
        services.import_results(run=run, data=results_csv([(line.pk, 0)]), actor=releaser)
    line.refresh_from_db()
    assert (line.state, line.result_at) == (PaymentLine.State.RELEASED, None)
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.RELEASED
    assert not [m for m in mail.outbox if "振込済" in m.subject]


def test_results_are_refused_before_the_transfer_date_and_accepted_on_it(
        django_capture_on_commit_callbacks):
    """Results are refused before the transfer date (docs/decisions.md D5.4.3): the facility
    must never read 振込済 before the money can have arrived."""
    from portal.wareki import to_wareki

    run, _, releaser = released_run(count=1)
    line = run.lines.get()
    write_file(run, releaser)
    data = results_csv([(line.pk, 0)])
    mail.outbox.clear()
    for day in (timezone.localdate(), run.transfer_date - timedelta(days=1)):
        with on_the_day(day), pytest.raises(ServiceError) as refused:
            services.import_results(run=run, data=data, actor=releaser)
        assert refused.value.message == (
            f"振込指定日（{to_wareki(run.transfer_date)}）より前には結果を取り込めません。")
    line.refresh_from_db()
    assert line.state == PaymentLine.State.RELEASED
    assert not [m for m in mail.outbox if "振込済" in m.subject]
    with on_the_day(run.transfer_date), django_capture_on_commit_callbacks(execute=True):
        summary = services.import_results(run=run, data=data, actor=releaser)
    assert (summary.paid, summary.settled) == (1, True)
    assert [m for m in mail.outbox if "振込済" in m.subject]


def test_the_file_and_the_results_are_a_persons_never_nobodys():
    run, _, releaser = released_run(count=1)
    set_consignor()
    with pytest.raises(NotPermitted):
        services.transfer_file(run=run, actor=None)
    assert not PayoutRun.objects.get(pk=run.pk).file_sha256
    write_file(run, releaser)
    with on_the_day(run.transfer_date), pytest.raises(NotPermitted):
        services.import_results(run=run, data=results_csv([(run.lines.get().pk, 0)]),
                                actor=None)
    assert run.lines.get().state == PaymentLine.State.RELEASED


def test_a_run_left_building_is_resumed_to_the_end():
    creator, _ = officers()
    payables(3)
    run = PayoutRun.objects.create(program=lump_sum(), transfer_date=transfer_day(),
                                   created_by=creator)
    source = services.source_for(lump_sum())
    services.FILL_CHUNK, saved = 2, services.FILL_CHUNK
    try:
        services._fill_chunk(run, source, creator)  # a worker died after one chunk
    finally:
        services.FILL_CHUNK = saved
    [finished] = services.resume_building_runs()
    assert (finished.state, finished.line_count) == (PayoutRun.State.CREATED, 3)


def test_a_run_with_another_date_while_one_is_building_is_refused():
    creator, _ = officers()
    payables(1)
    PayoutRun.objects.create(program=lump_sum(), transfer_date=transfer_day(),
                             created_by=creator)
    with pytest.raises(ServiceError, match="作成中"):
        services.create_run(program=lump_sum(),
                            transfer_date=transfer_day(transfer_day() + timedelta(days=3)),
                            actor=creator)


def test_programs_are_paid_separately():
    creator, _ = officers()
    payables(1)
    facility = FacilityFactory(kind="judo")
    eligible(facility, program=cooperation(), amount=50_000)
    run = services.create_run(program=cooperation(), transfer_date=transfer_day(),
                              actor=creator)
    assert (run.line_count, run.total_amount) == (1, 50_000)


def test_the_other_payout_officers_are_told_a_run_waits_for_release(
        django_capture_on_commit_callbacks):
    creator, releaser = officers()
    payables(2, amount=100_000)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                  actor=creator)
    [message] = [m for m in mail.outbox if "承認待ち" in m.subject]
    assert message.to == [releaser.email]
    assert f"支払バッチ{run.pk}" in message.subject and "200,000円" in message.body


def test_saving_the_same_account_again_is_no_correction():
    """名義相違 paid again to the same name would fail again: only a changed account makes a
    failed payment payable again."""
    run, _, releaser = released_run(count=1)
    line = run.lines.get()
    import_on_the_day(run=run, data=results_csv([(line.pk, 3)]), actor=releaser)
    with_account(line.facility)  # the very same details
    line.refresh_from_db()
    assert line.state == PaymentLine.State.FAILED
    with_account(line.facility, holder="ｺｳｾｲ ｼﾞﾛｳ")
    line.refresh_from_db()
    assert line.state == PaymentLine.State.REISSUED


def test_the_creator_may_not_release_even_when_another_officer_finished_building():
    """Officer B's request joined A's run while it was being built and finished it: A is
    still its creator and may not release it."""
    creator, other = officers()
    third = make_admin(roles.PAYOUT_OFFICER)
    payables(2)
    PayoutRun.objects.create(program=lump_sum(), transfer_date=transfer_day(),
                             created_by=creator)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=other)
    assert run.created_by == creator
    with pytest.raises(NotPermitted, match="二者確認"):
        services.release_run(run=run, actor=creator)
    with pytest.raises(NotPermitted, match="二者確認"):
        services.release_run(run=run, actor=other)  # it finished the run
    assert services.release_run(run=run, actor=third).state == PayoutRun.State.RELEASED


@pytest.mark.parametrize("day", [date(9999, 12, 31), date(1, 1, 1), date(2100, 1, 4)])
def test_a_date_out_of_any_range_is_refused_with_a_message(day):
    creator, _ = officers()
    payables(1)
    with pytest.raises(ServiceError, match="令和81年12月31日まで"):
        services.create_run(program=lump_sum(), transfer_date=day, actor=creator)


def test_a_consignor_name_the_file_cannot_carry_is_refused_by_the_model():
    from django.core.exceptions import ValidationError

    from payouts.models import Consignor

    consignor = Consignor(pk=1, code="1234567890", name="厚生労働省＆", bank_code="0001",
                          branch_code="001", account_type="1", account_number="7654321")
    with pytest.raises(ValidationError) as caught:
        consignor.clean()
    assert "書けない文字" in str(caught.value.message_dict["name"])

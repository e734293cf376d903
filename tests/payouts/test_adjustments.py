"""調整 paid, netted and claimed back by payout runs (docs/domain.md §5.4): approved positive
adjustments are lines of their own; approved negative ones are netted against the facility's
line of the same program in the program's next run, the rest claimed back (返還請求) with a
notice; a cancelled run undoes its nettings; every line's state change has its history."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.utils import timezone
from django_fsm_log.models import StateLog

from eligibility.models import Adjustment, AdjustmentState
from payouts import netting, services
from payouts.models import Netting, PaymentLine, PayoutRun, Recovery
from portal.errors import ServiceError
from tests.factories import FacilityFactory
from tests.payouts.fault_checks import read_transfer_file
from tests.payouts.helpers import (
    adjustment,
    cooperation,
    eligible,
    import_on_the_day,
    lump_sum,
    officers,
    results_csv,
    set_consignor,
    transfer_day,
    with_account,
)

pytestmark = pytest.mark.django_db


def build(creator=None):
    creator = creator or officers()[0]
    return services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)


def state(obj) -> str:
    return type(obj).objects.get(pk=obj.pk).state


def test_approved_positive_adjustments_are_paid_as_lines_of_their_own(
        django_capture_on_commit_callbacks):
    creator, releaser = officers()
    paid_result = eligible(FacilityFactory())
    facility = FacilityFactory()
    with_account(facility)
    plus = adjustment(facility, paid=200_000, new=250_000)
    other_program = adjustment(facility, program=cooperation(), paid=50_000, new=60_000)
    run = build(creator)
    lines = {(line.source_kind, line.source_id): line for line in run.lines.all()}
    assert set(lines) == {("determination", paid_result.pk), ("adjustment", plus.pk)}
    assert (lines[("adjustment", plus.pk)].amount,
            lines[("adjustment", plus.pk)].gross_amount) == (50_000, 50_000)
    assert (run.line_count, run.total_amount) == (2, 250_000)
    assert state(plus) == AdjustmentState.PAYING
    assert state(other_program) == AdjustmentState.APPROVED  # never another program's run
    assert services.describe_line(lines[("adjustment", plus.pk)]).endswith("の調整（差額）")
    run = services.release_run(run=run, actor=releaser)
    mail.outbox.clear()
    line = lines[("adjustment", plus.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        import_on_the_day(run=run, data=results_csv([
            (line.pk, "0"), (lines[("determination", paid_result.pk)].pk, "0")]),
            actor=creator)
    assert state(plus) == AdjustmentState.PAID
    assert any("調整の差額 50,000円を振り込みました" in m.body for m in mail.outbox)
    # Paid once: the next run has nothing for it.
    assert build(creator).state == PayoutRun.State.EMPTY


def test_a_cancelled_run_gives_a_positive_adjustment_back():
    creator, releaser = officers()
    facility = FacilityFactory()
    with_account(facility)
    plus = adjustment(facility, paid=100_000, new=130_000)
    run = build(creator)
    services.cancel_run(run=run, actor=releaser)
    assert state(plus) == AdjustmentState.APPROVED
    again = build(creator)
    assert list(again.lines.values_list("source_kind", "source_id", "amount")) == [
        ("adjustment", plus.pk, 30_000)]


def test_a_negative_adjustment_is_netted_against_the_facilitys_next_line(
        django_capture_on_commit_callbacks):
    creator, releaser = officers()
    set_consignor()
    facility = FacilityFactory()
    with_account(facility)
    owed_to = adjustment(facility, paid=100_000, new=300_000)  # +200,000 to pay
    minus = adjustment(facility, paid=300_000, new=270_000)  # −30,000 owed
    bystander = eligible(FacilityFactory(), amount=200_000)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = build(creator)
    line = run.lines.get(source_id=owed_to.pk, source_kind="adjustment")
    assert (line.gross_amount, line.deducted, line.amount) == (200_000, 30_000, 170_000)
    assert run.lines.get(source_id=bystander.pk).deducted == 0
    assert (run.line_count, run.total_amount) == (2, 370_000)
    assert list(Netting.objects.values_list("line_id", "adjustment_id", "amount")) == [
        (line.pk, minus.pk, 30_000)]
    assert state(minus) == AdjustmentState.NETTED
    assert not Recovery.objects.exists()
    assert any("30,000円を、次回の支払から差し引きました" in m.body for m in mail.outbox)
    # The file transfers the net amount.
    run = services.release_run(run=run, actor=releaser)
    data = services.transfer_file(run=run, actor=creator)
    # Read by the layout: "0000170000" anywhere in the file could be the end of one field and
    # the start of the next (an account number, a customer code).
    transferred, count, total = read_transfer_file(data)
    assert sorted(amount for _code, amount in transferred) == [170_000, 200_000]
    assert (count, total) == (2, 370_000)


def test_what_cannot_be_netted_is_claimed_back_with_a_notice(
        django_capture_on_commit_callbacks):
    creator, _ = officers()
    consignor = set_consignor()
    consignor.recovery_due_days = 30
    consignor.save()
    facility = FacilityFactory()
    with_account(facility)
    plus = adjustment(facility, paid=200_000, new=250_000)  # +50,000
    minus = adjustment(facility, paid=250_000, new=170_000, cause="利用実績の再集計")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = build(creator)
    # The line netted to nothing is 相殺済み: not transferred, not counted, its source paid by
    # the netting once the run is released.
    line = PaymentLine.objects.get(source_kind="adjustment", source_id=plus.pk)
    assert (line.state, line.gross_amount, line.deducted, line.amount) == (
        PaymentLine.State.NETTED, 50_000, 50_000, 0)
    assert run.state == PayoutRun.State.EMPTY and run.line_count == 0
    recovery = Recovery.objects.get()
    today = timezone.localdate()
    assert (recovery.amount, recovery.netted, recovery.amount_before, recovery.amount_after,
            recovery.reason, recovery.state, recovery.notice_date, recovery.due_date) == (
        30_000, 50_000, 250_000, 170_000, "利用実績の再集計", Recovery.State.CLAIMED, today,
        today + timedelta(days=30))
    assert state(minus) == AdjustmentState.RECOVERY
    assert any(recovery.notice_number in m.subject for m in mail.outbox)
    # Once: the result is not payable again, the adjustment not owed again.
    second = build(creator)
    assert second.state == PayoutRun.State.EMPTY
    assert Recovery.objects.count() == 1 and Netting.objects.count() == 1


def test_a_negative_adjustment_of_a_facility_without_a_line_is_claimed_back_at_the_run():
    creator, _ = officers()
    set_consignor()
    facility = FacilityFactory()
    with_account(facility)
    minus = adjustment(facility, paid=200_000, new=150_000)
    # Decision: it waits for the program's next run (nothing happens at its approval).
    assert not Recovery.objects.exists() and state(minus) == AdjustmentState.APPROVED
    assert services.has_payables(lump_sum())
    eligible(FacilityFactory())
    build(creator)
    recovery = Recovery.objects.get()
    assert (recovery.facility_id, recovery.amount, recovery.netted) == (facility.pk, 50_000, 0)
    assert state(minus) == AdjustmentState.RECOVERY


def test_never_netted_against_another_program():
    creator, _ = officers()
    set_consignor()
    facility = FacilityFactory()
    coop = eligible(facility, program=cooperation(), amount=100_000)
    minus = adjustment(facility, paid=200_000, new=180_000)  # the lump sum's
    coop_run = services.create_run(program=cooperation(), transfer_date=transfer_day(),
                                   actor=creator)
    assert coop_run.lines.get(source_id=coop.pk).amount == 100_000
    assert state(minus) == AdjustmentState.APPROVED and not Recovery.objects.exists()


def test_a_cancelled_run_undoes_its_nettings_but_a_noticed_recovery_stays():
    creator, releaser = officers()
    set_consignor()
    facility = FacilityFactory()
    with_account(facility)
    result = adjustment(facility, paid=200_000, new=240_000)  # +40,000
    minus = adjustment(facility, paid=240_000, new=140_000)  # owes 100,000
    plain = FacilityFactory()
    eligible(plain, amount=10_000)
    run = build(creator)
    assert Recovery.objects.get().amount == 60_000
    services.cancel_run(run=run, actor=releaser)
    assert state(minus) == AdjustmentState.APPROVED
    assert Netting.objects.get().undone_at is not None
    line = PaymentLine.objects.get(source_id=result.pk, source_kind="adjustment")
    assert (line.state, line.amount, line.deducted) == (PaymentLine.State.CANCELLED, 40_000, 0)
    assert Recovery.objects.count() == 1  # noticed: stays
    # The next run nets what is still owed (40,000), no new recovery.
    again = build(creator)
    line = again.lines.get(source_id=result.pk, source_kind="adjustment")
    assert (line.state, line.amount, line.deducted) == (PaymentLine.State.NETTED, 0, 40_000)
    assert Recovery.objects.count() == 1
    assert state(minus) == AdjustmentState.NETTED
    assert (Netting.objects.filter(undone_at__isnull=True).values_list("amount", flat=True)
            .get()) == 40_000


def test_a_fully_netted_source_is_paid_by_the_netting_when_the_run_is_released():
    creator, releaser = officers()
    set_consignor()
    facility = FacilityFactory()
    with_account(facility)
    plus = adjustment(facility, paid=100_000, new=120_000)  # +20,000
    minus = adjustment(facility, program=lump_sum(), paid=300_000, new=280_000)  # −20,000
    paying = eligible(FacilityFactory(), amount=10_000)
    run = build(creator)
    line = run.lines.get(source_kind="adjustment", source_id=plus.pk)
    assert line.state == PaymentLine.State.NETTED
    services.release_run(run=run, actor=releaser)
    assert state(plus) == AdjustmentState.PAID and state(minus) == AdjustmentState.NETTED
    assert PaymentLine.objects.get(pk=line.pk).state == PaymentLine.State.NETTED
    assert run.lines.get(source_id=paying.pk).state == PaymentLine.State.RELEASED


def test_a_failed_netted_line_nets_again_when_it_is_paid_again():
    creator, releaser = officers()
    set_consignor()
    facility = FacilityFactory()
    with_account(facility)
    result = adjustment(facility, paid=100_000, new=300_000)  # +200,000
    minus = adjustment(facility, paid=300_000, new=290_000)  # −10,000
    run = services.release_run(run=build(creator), actor=releaser)
    line = run.lines.get()
    import_on_the_day(run=run, data=results_csv([(line.pk, "1")]), actor=creator)
    with_account(facility, number="7654321")  # corrected: paid again
    assert state(minus) == AdjustmentState.APPROVED
    again = build(creator)
    line = again.lines.get(source_id=result.pk, source_kind="adjustment")
    assert (line.gross_amount, line.deducted, line.amount) == (200_000, 10_000, 190_000)
    assert state(minus) == AdjustmentState.NETTED
    assert Netting.objects.filter(undone_at__isnull=True).count() == 1


def test_a_run_with_something_to_claim_back_needs_the_consignor():
    creator, _ = officers()
    facility = FacilityFactory()
    with_account(facility)
    adjustment(facility, paid=200_000, new=100_000)
    with pytest.raises(ServiceError, match="振込依頼人"):
        build(creator)
    assert not PayoutRun.objects.exclude(state=PayoutRun.State.SETTLED).exists()


def test_line_moves_are_kept_in_the_history():
    creator, releaser = officers()
    eligible(FacilityFactory())
    run = services.release_run(run=build(creator), actor=releaser)
    line = run.lines.get()
    import_on_the_day(run=run, data=results_csv([(line.pk, "3")]), actor=creator)
    logs = list(StateLog.objects.filter(
        content_type=ContentType.objects.get_for_model(PaymentLine), object_id=line.pk)
        .order_by("pk").values_list("transition", "source_state", "state", "by_id"))
    assert logs == [("release", "scheduled", "released", releaser.pk),
                    ("mark_failed", "released", "failed", creator.pk)]


def test_recovery_remind_and_confirm_through_the_workflow(django_capture_on_commit_callbacks):
    creator, officer = officers()
    set_consignor()
    facility = FacilityFactory()
    with_account(facility)
    adjustment(facility, paid=200_000, new=150_000)
    eligible(FacilityFactory())
    build(creator)
    recovery = Recovery.objects.get()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        recovery = netting.remind(recovery, actor=officer)
    assert recovery.state == Recovery.State.REMINDED and recovery.reminded_by == officer
    with django_capture_on_commit_callbacks(execute=True):
        recovery = netting.confirm_payment(recovery, actor=officer)
    assert recovery.state == Recovery.State.PAID
    assert recovery.paid_on == timezone.localdate()
    assert [m.subject.split("】")[-1] for m in mail.outbox] == [
        f"返還請求: 督促（通知番号 {recovery.notice_number}）",
        f"返還請求: 納付済（通知番号 {recovery.notice_number}）"]
    assert StateLog.objects.for_(recovery).count() == 2
    assert Adjustment.objects.get(pk=recovery.adjustment_id).state == AdjustmentState.RECOVERY


# ---------------------------------------------------------------- the pages and the admin


def _claimed_back(facility=None):
    set_consignor()
    facility = facility or FacilityFactory()
    with_account(facility)
    adjustment(facility, paid=200_000, new=150_000, cause="パラメータの改定（第2版）")
    eligible(FacilityFactory())
    build()
    return Recovery.objects.get(facility=facility)


def _pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_facility_reads_its_recovery_and_downloads_its_notice(client):
    from django.urls import reverse

    from tests.factories import make_staff

    facility = FacilityFactory()
    recovery = _claimed_back(facility)
    client.force_login(make_staff(facility))
    body = client.get(reverse("payouts:payments", args=[facility.pk])).content.decode()
    assert "返還のお願い（返還請求）" in body and recovery.notice_number in body
    assert "50,000円" in body
    url = reverse("payouts:recovery_notice", args=[facility.pk, recovery.pk])
    assert url in body
    response = client.get(url)
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    for expected in ("返還請求書", "50,000円", "200,000円", "150,000円", "パラメータの改定",
                     "7654321", recovery.notice_number, "お問い合わせ",
                     # what happens next, and the portal's address (docs/decisions.md D8b.3)
                     "「納付済」に変わります", "督促の通知", "http://127.0.0.1:8000/",
                     facility.prefecture_name + facility.address):
        assert expected in text.replace(" ", "").replace("\n", "") or expected in text, expected


def test_another_facilitys_recovery_notice_is_not_found(client):
    from django.urls import reverse

    from tests.factories import make_staff

    recovery = _claimed_back()
    other = FacilityFactory()
    client.force_login(make_staff(other))
    response = client.get(reverse("payouts:recovery_notice", args=[other.pk, recovery.pk]))
    assert response.status_code == 404
    response = client.get(reverse("payouts:recovery_notice",
                                  args=[recovery.facility_id, recovery.pk]))
    assert response.status_code in (403, 404)


def test_the_admin_reminds_after_a_confirmation_page_and_exports_csv(client):
    from django.urls import reverse

    from portal import roles
    from tests.factories import login_admin, make_admin

    recovery = _claimed_back()
    officer = make_admin(roles.PAYOUT_OFFICER)
    login_admin(client, officer)
    changelist = reverse("admin:payouts_recovery_changelist")
    response = client.post(changelist, {"action": "remind_selected",
                                        "_selected_action": [recovery.pk]})
    assert response.status_code == 200 and "督促する（確定）" in response.content.decode()
    assert state(recovery) == Recovery.State.CLAIMED  # nothing before the confirmation
    client.post(changelist, {"action": "remind_selected", "_selected_action": [recovery.pk],
                             "confirmed": "1"})
    assert state(recovery) == Recovery.State.REMINDED
    client.post(changelist, {"action": "confirm_selected", "_selected_action": [recovery.pk],
                             "confirmed": "1"})
    assert state(recovery) == Recovery.State.PAID
    csv_text = b"".join(client.get(reverse("admin:payouts_recovery_csv")).streaming_content
                        ).decode("utf-8-sig")
    assert recovery.notice_number in csv_text and "50000" in csv_text and "納付済" in csv_text
    response = client.get(reverse("admin:payouts_recovery_notice", args=[recovery.pk]))
    assert response["Content-Type"] == "application/pdf"
    page = client.get(reverse("admin:payouts_recovery_change", args=[recovery.pk]))
    assert page.status_code == 200


def test_a_run_built_twice_and_released_twice_pays_and_nets_once():
    from portal.errors import IllegalTransition

    creator, releaser = officers()
    set_consignor()
    facility = FacilityFactory()
    with_account(facility)
    plus = adjustment(facility, paid=100_000, new=150_000)
    minus = adjustment(facility, paid=150_000, new=140_000)
    run = build(creator)
    # The second creation (a retry, another officer's at once) finds the run built.
    second = build(creator)
    assert second.pk != run.pk and second.state == PayoutRun.State.EMPTY
    assert Netting.objects.count() == 1 and not Recovery.objects.exists()
    services.release_run(run=run, actor=releaser)
    with pytest.raises(IllegalTransition):
        services.release_run(run=run, actor=releaser)
    line = run.lines.get()
    assert StateLog.objects.filter(transition="release", object_id=line.pk,
                                   content_type__model="paymentline").count() == 1
    assert (line.amount, state(plus), state(minus)) == (40_000, AdjustmentState.PAYING,
                                                        AdjustmentState.NETTED)


def test_lines_move_only_by_the_permission_of_their_move():
    from portal.errors import NotPermitted
    from portal.workflow import perform_many
    from tests.factories import make_admin

    creator, _ = officers()
    eligible(FacilityFactory())
    run = build(creator)
    ids = list(run.lines.values_list("pk", flat=True))
    with pytest.raises(NotPermitted):
        perform_many(PaymentLine, ids, "release", actor=make_admin())
    with pytest.raises(NotPermitted):
        perform_many(PaymentLine, ids, "release", actor=None)  # not the schedule's move
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.SCHEDULED}

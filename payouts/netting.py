"""相殺 and 返還請求 (docs/domain.md §5.4): what a facility owes on an approved negative adjustment.

Decision: a negative adjustment waits for its program's next run. When that run is built
(finished, under the run's exclusive lock, in the finishing transaction: once, whoever
finishes it), the owed amount is deducted from the facility's lines in that run (the same
program only; lines in pk order); what is left — the facility has no line in the run, or
owes more than its lines — becomes a 返還請求 (`Recovery`) with its notice, dated the run's
building day, due `Consignor.recovery_due_days` later. A line never goes below 1 yen in the
transfer file: a line netted to nothing is 相殺済み (0 yen, never in the file), and its source
counts as paid by the netting when the run is released.

Undone: when the run is cancelled (its nettings; a recovery already noticed stays) and when a
netted line's transfer fails and the facility corrects its account (the money never arrived,
so neither did the deduction): the adjustment is owed again (approved) and the next run nets
or claims back what is still owed (its amount less live nettings and recoveries)."""

from datetime import timedelta

from django.db import connection
from django.db.models import F, Sum
from django.utils import timezone

from facilities.activity import record_activity
from facilities.selectors import facility_emails
from portal.errors import ServiceError
from portal.notifications import notify
from portal.wareki import to_wareki
from portal.workflow import perform, perform_many

from .models import Consignor, Netting, PaymentLine, PayoutRun, Recovery
from .sources import SOURCES

NO_CONSIGNOR = ("振込依頼人（仕向口座）が設定されていません。返還請求の納付先になるため、管理画面で"
                "設定してから支払バッチを作成してください。")


def _adjustments():
    return SOURCES["adjustment"]


def owed_adjustments(program):
    """The program's approved negative adjustments (`owed_amount`: yen, before nettings)."""
    source = _adjustments()
    if not source.pays(program):
        return source.owed(program).none()
    return source.owed(program)


def recovery_refusal(program) -> str | None:
    """Why a run of the program cannot be built now: something may have to be claimed back
    and there is no account to pay it into."""
    if owed_adjustments(program).exists() and not Consignor.objects.exists():
        return NO_CONSIGNOR
    return None


def still_owed(owed: dict[int, int]) -> dict[int, int]:
    """{adjustment id: owed} less what live nettings and recoveries already settled."""
    ids = list(owed)
    settled = dict(owed)
    for model, live in ((Netting, {"undone_at__isnull": True}), (Recovery, {})):
        for adjustment_id, total in (model.objects.filter(adjustment_id__in=ids, **live)
                                     .values("adjustment_id").annotate(total=Sum("amount"))
                                     .values_list("adjustment_id", "total")):
            settled[adjustment_id] -= total
    return settled


def net_and_claim_back(run: PayoutRun, actor) -> None:
    """In the transaction that finishes the run (its row locked FOR UPDATE)."""
    rows = owed_adjustments(run.program).order_by("facility_id", "pk")
    if connection.features.has_select_for_update_of:
        rows = rows.select_for_update(of=("self",))
    rows = list(rows.values_list("pk", "facility_id", "owed_amount", "cause", "paid_amount",
                                 "new_amount"))
    if not rows:
        return
    owed = still_owed({pk: amount for pk, _, amount, *_ in rows})
    lines: dict[int, list[list[int]]] = {}
    for pk, facility_id, amount in run.lines.filter(
            state=PaymentLine.State.SCHEDULED,
            facility_id__in={facility_id for _, facility_id, *_ in rows}).order_by(
            "pk").values_list("pk", "facility_id", "amount"):
        lines.setdefault(facility_id, []).append([pk, amount])
    consignor = None
    today = timezone.localdate()
    nettings: list[Netting] = []
    deducted: dict[int, int] = {}
    netted_adjustments: dict[int, int] = {}
    claimed: dict[int, int] = {}
    for pk, facility_id, _, cause, paid_amount, new_amount in rows:
        remaining = owed[pk]
        netted = 0
        for line in lines.get(facility_id, []):
            if remaining <= 0:
                break
            take = min(line[1], remaining)
            if take <= 0:
                continue
            line[1] -= take
            remaining -= take
            netted += take
            deducted[line[0]] = deducted.get(line[0], 0) + take
            nettings.append(Netting(run=run, line_id=line[0], adjustment_id=pk,
                                    facility_id=facility_id, amount=take))
        if remaining > 0:
            if consignor is None:
                consignor = Consignor.objects.first()
                if consignor is None:
                    raise ServiceError(NO_CONSIGNOR, "program")
            recovery = Recovery.objects.create(
                facility_id=facility_id, program_id=run.program_id, adjustment_id=pk, run=run,
                amount=remaining, reason=cause, amount_before=paid_amount,
                amount_after=new_amount, netted=netted,
                notice_number=f"R{run.pk:06d}-{pk:07d}", notice_date=today,
                due_date=today + timedelta(days=consignor.recovery_due_days))
            _tell_recovery(recovery, actor)
            claimed[pk] = remaining
        elif netted:
            netted_adjustments[pk] = netted
    Netting.objects.bulk_create(nettings)
    emptied = []
    lefts = {line[0]: line[1] for lines_of in lines.values() for line in lines_of}
    for line_pk, amount in deducted.items():
        left = lefts[line_pk]
        if left == 0:
            emptied.append(line_pk)
        else:
            PaymentLine.objects.filter(pk=line_pk).update(amount=left, deducted=amount)
    if emptied:
        perform_many(PaymentLine, emptied, "net_fully", actor=actor, amount=0,
                     deducted=F("gross_amount"), summary="調整の差額と全額を相殺")
    source = _adjustments()
    source.net(netted_adjustments, actor=actor)
    source.claim_back(claimed, actor=actor)


def _tell_recovery(recovery: Recovery, actor) -> None:
    """The facility's history and e-mail: a 返還請求 was noticed."""
    summary = (f"{recovery.program.name}の調整により、{recovery.amount:,}円の返還をお願いします"
               f"（通知番号 {recovery.notice_number}、納付期限 {to_wareki(recovery.due_date)}）。")
    record_activity(facility=recovery.facility, actor=actor if getattr(actor, "pk", None)
                    else None, verb="recovery_claimed", summary=summary, target=recovery,
                    to_state=recovery.state)
    notify(to=facility_emails(recovery.facility), name="recovery_state_changed",
           context={"facility": recovery.facility, "recovery": recovery, "summary": summary,
                    "detail": summary})


def undo_nettings(nettings, actor) -> int:
    """The nettings no longer stand (their run cancelled, their line's transfer failed and
    is paid again): their adjustments are owed again. Returns how many were undone."""
    rows = list(nettings.select_for_update().values_list("pk", "adjustment_id"))
    if not rows:
        return 0
    Netting.objects.filter(pk__in=[pk for pk, _ in rows]).update(undone_at=timezone.now())
    _adjustments().reopen({adjustment_id for _, adjustment_id in rows}, actor=actor)
    return len(rows)


# ------------------------------------------------------------------ the 返還請求's own moves


def remind(recovery: Recovery, *, actor) -> Recovery:
    """督促: the due date passed without payment (the facility is e-mailed)."""
    return perform(recovery, "remind", actor=actor, summary=(
        f"{recovery.program.name}の返還 {recovery.amount:,}円（通知番号 "
        f"{recovery.notice_number}）の納付を督促しました。納付期限は"
        f"{to_wareki(recovery.due_date)}でした。"))


def confirm_payment(recovery: Recovery, *, actor, paid_on=None) -> Recovery:
    """納付済: the amount arrived in the consignor's account (checked by a payout officer)."""
    paid_on = paid_on or timezone.localdate()
    return perform(recovery, "confirm_payment", actor=actor, paid_on=paid_on, summary=(
        f"{recovery.program.name}の返還 {recovery.amount:,}円（通知番号 "
        f"{recovery.notice_number}）の納付を確認しました（納付日 {to_wareki(paid_on)}）。"))


def notice_pdf(recovery: Recovery) -> bytes:
    """The 返還請求書 (PDF): amount, reason, the result before and after, the due date, the
    account to pay into (the consignor's), where to ask."""
    from portal.pdf import render_pdf

    return render_pdf("pdf/recovery_notice.html", {
        "recovery": recovery, "facility": recovery.facility,
        "consignor": Consignor.objects.first(),
        "difference": recovery.amount_before - recovery.amount_after})


CSV_HEADER = ("通知番号", "通知日", "医療機関等コード", "施設名", "プログラム", "調整番号",
              "これまでの支給額", "再判定の金額", "相殺した額", "返還額", "理由", "納付期限",
              "状態", "督促日", "納付日")


def recoveries_csv(recoveries) -> str:
    """The 返還請求 as CSV (UTF-8 with BOM, for spreadsheet software)."""
    import csv
    import io

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in recoveries.select_related("facility", "program").order_by("pk"):
        writer.writerow([
            row.notice_number, row.notice_date.isoformat(), row.facility.code,
            _cell(row.facility.name), _cell(row.program.name), row.adjustment_id,
            row.amount_before, row.amount_after, row.netted, row.amount, _cell(row.reason),
            row.due_date.isoformat(), row.get_state_display(),
            timezone.localdate(row.reminded_at).isoformat() if row.reminded_at else "",
            row.paid_on.isoformat() if row.paid_on else ""])
    return out.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet never reads as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

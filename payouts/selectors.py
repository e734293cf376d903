"""Reads for the payout pages: the facility's account and each payment's state as the
facility sees it (支給決定 → 振込予定（日付） → 振込済 / 振込不能（what to do))."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Exists, OuterRef, Q
from django.http import Http404

from eligibility.models import Program
from facilities.models import Facility
from portal.wareki import to_wareki

from .models import FIX_ADVICE, BankAccount, PaymentLine
from .sources import SOURCES


def bank_account_for(facility: Facility) -> BankAccount | None:
    return BankAccount.objects.filter(facility=facility).first()


@dataclass(frozen=True)
class Payment:
    """One row of the facility's payments page."""

    program: str
    description: str
    amount: int
    label: str  # the state as the facility reads it
    explanation: str  # what happens next, or what to do
    transfer_date: date | None = None
    line: PaymentLine | None = None  # None while not yet in a run
    needs_account: bool = False

    @property
    def notice_available(self) -> bool:
        return self.line is not None and self.line.state == PaymentLine.State.PAID


def _line_payment(line: PaymentLine, description: str, *, replaced: bool = False) -> Payment:
    """`replaced`: a reissued line whose amount is already in a newer line (shown there)."""
    State = PaymentLine.State
    date_text = to_wareki(line.run.transfer_date)
    label, explanation = {
        State.SCHEDULED: ("支給決定", "振込の準備をしています。振込予定日が決まるとお知らせします。"),
        State.RELEASED: (f"振込予定（{date_text}）",
                         f"{date_text}に{line.bank_name} {line.branch_name}（口座番号 "
                         f"{line.masked_number}）へ振り込みます。"),
        State.PAID: ("振込済", f"{date_text}に振り込みました。支払通知書をダウンロードできます。"),
        State.FAILED: (f"振込不能（{line.get_failure_reason_display()}）",
                       FIX_ADVICE.get(line.failure_reason, "")),
        State.REISSUED: ("振込不能（口座修正済み）",
                         "修正された振込先口座への振込は、この表の別の行に表示しています。"
                         if replaced else "修正された振込先口座へ、次回の支払で振り込みます。"),
        State.NETTED: ("相殺済み", f"支給額 {line.gross_amount:,}円の全額を、調整の差額（返還分）と"
                   "相殺しました。振込はありません。"),
    }.get(line.state, (line.get_state_display(), ""))
    if line.deducted and line.state != State.NETTED:
        explanation = (f"支給額 {line.gross_amount:,}円から調整の差額 {line.deducted:,}円を"
                       f"差し引いた額です。{explanation}")
    return Payment(program=line.program.name, description=description, amount=line.amount,
                   label=label, explanation=explanation, transfer_date=line.run.transfer_date,
                   line=line, needs_account=line.state == State.FAILED)


def payments_for(facility: Facility) -> list[Payment]:
    """Every amount decided for the facility, newest first: those not yet in a run, then
    each payment line (a line replaced after its failure is shown with what became of it)."""
    has_account = BankAccount.objects.filter(facility=facility).exists()
    lines = list(PaymentLine.objects.filter(facility=facility).exclude(
        state=PaymentLine.State.CANCELLED).select_related("run", "program").order_by("-pk"))
    live_sources = {(line.source_kind, line.source_id) for line in lines
                    if line.state in PaymentLine.LIVE_STATES}
    # A corrected failed payment waiting for the next run: its reissued line stands for it.
    reissued = {(line.source_kind, line.source_id) for line in lines
                if line.state == PaymentLine.State.REISSUED}
    waiting: list[Payment] = []
    for source in SOURCES.values():
        live = PaymentLine.objects.filter(source_kind=source.kind, source_id=OuterRef("pk"),
                                          state__in=PaymentLine.LIVE_STATES)
        rows = list(source.payable().filter(facility=facility).exclude(Exists(live))
                    .values_list("pk", "program_id", "payable_amount"))
        descriptions = source.describe([pk for pk, _, _ in rows])
        programs = dict(Program.objects.filter(pk__in={p for _, p, _ in rows})
                        .values_list("pk", "name"))
        for pk, program_id, amount in rows:
            if (source.kind, pk) in reissued:
                continue
            waiting.append(Payment(
                program=programs[program_id], description=descriptions.get(pk, ""),
                amount=amount, label="支給決定",
                explanation="次回の支払で振り込みます。" if has_account else
                "振込先口座を登録してください。登録後の支払で振り込みます。",
                needs_account=not has_account))
    descriptions: dict[tuple[str, int], str] = {}
    for kind, source in SOURCES.items():
        ids = [line.source_id for line in lines if line.source_kind == kind]
        descriptions.update({(kind, pk): text for pk, text in source.describe(ids).items()})
    return waiting + [
        _line_payment(line, descriptions.get((line.source_kind, line.source_id), ""),
                      replaced=(line.source_kind, line.source_id) in live_sources)
        for line in lines]


def paid_line_for(*, facility: Facility, pk: int) -> PaymentLine:
    """A paid line of this facility (its 支払通知書), else 404."""
    line = (PaymentLine.objects.filter(facility=facility, pk=pk, state=PaymentLine.State.PAID)
            .select_related("run", "program", "facility").first())
    if line is None:
        raise Http404("振込済の支払が見つかりません")
    return line


def refused_accounts(facility_ids: list[int]) -> dict[int, str]:
    """Facilities with a payment the bank refused (振込不能) and not yet corrected: the reason
    (one query for all of them), for the to-do list."""
    refused: dict[int, str] = {}
    for facility_id, reason in PaymentLine.objects.filter(
            facility_id__in=facility_ids, state=PaymentLine.State.FAILED).values_list(
            "facility_id", "failure_reason").order_by("pk"):
        refused.setdefault(facility_id, PaymentLine(failure_reason=reason)
                           .get_failure_reason_display())
    return refused


@dataclass(frozen=True)
class AccountChangeEffect:
    """What changing the account does to money already in a payout run (docs/domain.md §5.3: a
    change never alters a run): a line in a run is paid to the account it was built with; a
    failed one (振込不能) is paid again, to the new account, in the next run."""

    program: str
    amount: int
    to_new_account: bool

    @property
    def sentence(self) -> str:
        if self.to_new_account:
            return (f"振込不能だった {self.amount:,}円（{self.program}）は新しい口座に"
                    "振り込まれます。")
        return f"支払手続中の {self.amount:,}円（{self.program}）は変更前の口座に振り込まれます。"

    def key(self) -> list:
        return [self.program, self.amount, self.to_new_account]


IN_RUN = (PaymentLine.State.SCHEDULED, PaymentLine.State.RELEASED)
TO_PAY_AGAIN = (PaymentLine.State.FAILED, PaymentLine.State.REISSUED)


def account_change_effects(facility: Facility) -> list[AccountChangeEffect]:
    """Per program, the money in a run (paid to the old account) and the money whose
    transfer failed (paid to the new one); empty when no run holds money of the facility.
    A reissued line counts only until its source is in a run again."""
    from django.db.models import Sum

    live_again = PaymentLine.objects.filter(
        source_kind=OuterRef("source_kind"), source_id=OuterRef("source_id"),
        state__in=PaymentLine.LIVE_STATES)
    rows = (PaymentLine.objects.filter(facility=facility, state__in=IN_RUN + TO_PAY_AGAIN)
            .exclude(Q(state=PaymentLine.State.REISSUED) & Exists(live_again))
            .values_list("program__name", "state").annotate(total=Sum("amount"))
            .order_by("program__code", "state"))
    totals: dict[tuple[str, bool], int] = {}
    for program, state, total in rows:
        key = (program, state in TO_PAY_AGAIN)
        totals[key] = totals.get(key, 0) + total
    return [AccountChangeEffect(program, amount, to_new)
            for (program, to_new), amount in totals.items()]


def recoveries_for(facility: Facility) -> list:
    """The facility's 返還請求, newest first."""
    from .models import Recovery

    return list(Recovery.objects.filter(facility=facility).select_related("program")
                .order_by("-notice_date", "-pk"))


def recovery_for(*, facility: Facility, pk: int):
    """A 返還請求 of this facility (its notice), else 404: never another facility's."""
    from .models import Recovery

    recovery = (Recovery.objects.filter(facility=facility, pk=pk)
                .select_related("program", "facility").first())
    if recovery is None:
        raise Http404("返還請求が見つかりません")
    return recovery

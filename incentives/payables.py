"""協力金 and 一時金 offered to payouts (portal.payables.PayableSource): an eligible result
(支給判定) is payable; putting it into a run sets `payout_locked`, which the eligibility batch
honours, so the amount paid is the amount frozen."""

from collections.abc import Iterable

from django.db.models import F, QuerySet

from eligibility.engine import rules_paid_by
from eligibility.models import Determination, Program
from portal.wareki import to_wareki
from portal.workflow import perform

# The programs whose registry entry names this source (live: eligibility.engine.REGISTRY).
RULES = rules_paid_by("determination")


class DeterminationPayables:
    kind = "determination"
    label = "支給判定"

    def pays(self, program: Program) -> bool:
        return program.rule in RULES

    def payable(self, program: Program | None = None) -> QuerySet:
        rows = Determination.objects.filter(eligible=True, amount__gt=0,
                                            program__rule__in=list(RULES))
        if program is not None:
            rows = rows.filter(program=program)
        return rows.annotate(payable_amount=F("amount"))

    def take(self, ids: Iterable[int], *, actor) -> None:
        Determination.objects.filter(pk__in=list(ids), payout_locked=False).update(
            payout_locked=True)

    def give_back(self, ids: Iterable[int], *, actor) -> None:
        # Never paid: the batch may determine them again.
        Determination.objects.filter(pk__in=list(ids)).update(payout_locked=False)

    def paid(self, ids: Iterable[int], *, actor) -> None:
        """Nothing to record: the result stays locked for good."""

    def describe(self, ids: Iterable[int]) -> dict[int, str]:
        from django.utils import timezone

        return {pk: f"{to_wareki(timezone.localdate(determined_at))}の支給判定"
                for pk, determined_at in Determination.objects.filter(
                    pk__in=list(ids)).values_list("pk", "determined_at")}


SOURCE = DeterminationPayables()


class AdjustmentPayables:
    """調整 (docs/domain.md §5.4) offered to payouts: an approved positive adjustment is paid as a
    payment line of its own in the program's next run; an approved negative one is owed by
    the facility (`owed`): payouts nets it against that facility's line of the same program
    in its next run, or claims it back. Every move goes through the workflow (history,
    e-mail to the facility)."""

    kind = "adjustment"
    label = "調整（差額）"

    def pays(self, program: Program) -> bool:
        return program.rule in RULES

    def payable(self, program: Program | None = None) -> QuerySet:
        from eligibility.models import Adjustment, AdjustmentState

        # 支払手続中 without a live payment line: its transfer failed and the facility has
        # corrected its account, so it is paid again.
        rows = Adjustment.objects.filter(
            state__in=[AdjustmentState.APPROVED, AdjustmentState.PAYING], difference__gt=0)
        if program is not None:
            rows = rows.filter(program=program)
        return rows.annotate(payable_amount=F("difference"))

    def owed(self, program: Program) -> QuerySet:
        """Approved negative adjustments of the program: what each facility owes, as
        `owed_amount` (yen, positive), before anything netted or claimed back."""
        from django.db.models import ExpressionWrapper, IntegerField

        from eligibility.models import Adjustment, AdjustmentState

        return Adjustment.objects.filter(
            program=program, state=AdjustmentState.APPROVED, difference__lt=0).annotate(
            owed_amount=ExpressionWrapper(-F("difference"), output_field=IntegerField()))

    def _move(self, ids: Iterable[int], state: str, name: str, actor, summary: str) -> None:
        from eligibility.models import Adjustment

        for adjustment in Adjustment.objects.filter(pk__in=list(ids), state=state).order_by(
                "pk"):
            perform(adjustment, name, actor=actor, summary=summary.format(
                amount=abs(adjustment.difference)))

    def take(self, ids: Iterable[int], *, actor) -> None:
        from eligibility.models import AdjustmentState

        self._move(ids, AdjustmentState.APPROVED, "enter_payout", actor,
                   "調整の差額 {amount:,}円の振込手続に入りました。")

    def give_back(self, ids: Iterable[int], *, actor) -> None:
        from eligibility.models import AdjustmentState

        self._move(ids, AdjustmentState.PAYING, "leave_payout", actor,
                   "支払バッチが取り消されたため、承認済みの状態に戻しました。")

    def paid(self, ids: Iterable[int], *, actor) -> None:
        from eligibility.models import AdjustmentState

        self._move(ids, AdjustmentState.PAYING, "mark_paid", actor,
                   "調整の差額 {amount:,}円を振り込みました。")

    # ---- a negative adjustment (the facility owes it)

    def net(self, amounts: dict[int, int], *, actor) -> None:
        """Netted against a payment of the same program: {adjustment id: yen netted}."""
        from eligibility.models import Adjustment, AdjustmentState

        for adjustment in Adjustment.objects.filter(
                pk__in=list(amounts), state=AdjustmentState.APPROVED).order_by("pk"):
            perform(adjustment, "net", actor=actor, summary=(
                f"調整の差額 {-adjustment.difference:,}円のうち {amounts[adjustment.pk]:,}円を、"
                "次回の支払から差し引きました（相殺）。"))

    def claim_back(self, amounts: dict[int, int], *, actor) -> None:
        """Claimed back (返還請求): {adjustment id: yen claimed back}."""
        from eligibility.models import Adjustment, AdjustmentState

        for adjustment in Adjustment.objects.filter(
                pk__in=list(amounts), state=AdjustmentState.APPROVED).order_by("pk"):
            perform(adjustment, "claim_back", actor=actor, summary=(
                f"調整の差額 {-adjustment.difference:,}円のうち {amounts[adjustment.pk]:,}円の"
                "返還をお願いします（返還請求）。"))

    def reopen(self, ids: Iterable[int], *, actor) -> None:
        """The run that netted them was cancelled: owed again (approved)."""
        from eligibility.models import Adjustment, AdjustmentState

        for adjustment in Adjustment.objects.filter(
                pk__in=list(ids), state__in=[AdjustmentState.NETTED,
                                             AdjustmentState.RECOVERY]).order_by("pk"):
            perform(adjustment, "reopen", actor=actor, summary=(
                "支払バッチが取り消されたため、相殺を取り消しました。差額は次回の支払で相殺"
                "するか、返還をお願いします。"))

    def describe(self, ids: Iterable[int]) -> dict[int, str]:
        from django.utils import timezone

        from eligibility.models import Adjustment

        return {pk: f"{to_wareki(timezone.localdate(decided_at or proposed_at))}の調整（差額）"
                for pk, decided_at, proposed_at in Adjustment.objects.filter(
                    pk__in=list(ids)).values_list("pk", "decided_at", "proposed_at")}


ADJUSTMENTS = AdjustmentPayables()

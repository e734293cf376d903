"""協力金 and 一時金 offered to payouts (portal.payables.PayableSource): an eligible result
(支給判定) is payable; putting it into a run sets `payout_locked`, which the eligibility batch
honours, so the amount paid is the amount frozen. The rows are eligibility's: every write
goes through its services (`lock_for_payout`, eligibility/adjustments.py's moves)."""

from collections.abc import Iterable

from django.db.models import F, QuerySet

from eligibility import adjustments
from eligibility import services as eligibility_services
from eligibility.engine import rules_paid_by
from eligibility.models import Determination, Program
from portal.wareki import to_wareki

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
        eligibility_services.lock_for_payout(ids)

    def give_back(self, ids: Iterable[int], *, actor) -> None:
        # Never paid: the batch may determine them again.
        eligibility_services.unlock_from_payout(ids)

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
    e-mail to the facility), made by eligibility/adjustments.py."""

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

    # Every move is eligibility's (eligibility/adjustments.py), through the workflow.

    def take(self, ids: Iterable[int], *, actor) -> None:
        adjustments.enter_payout(ids, actor=actor)

    def give_back(self, ids: Iterable[int], *, actor) -> None:
        adjustments.leave_payout(ids, actor=actor)

    def paid(self, ids: Iterable[int], *, actor) -> None:
        adjustments.mark_paid(ids, actor=actor)

    # ---- a negative adjustment (the facility owes it)

    def net(self, amounts: dict[int, int], *, actor) -> None:
        """Netted against a payment of the same program: {adjustment id: yen netted}."""
        adjustments.net(amounts, actor=actor)

    def claim_back(self, amounts: dict[int, int], *, actor) -> None:
        """Claimed back (返還請求): {adjustment id: yen claimed back}."""
        adjustments.claim_back(amounts, actor=actor)

    def reopen(self, ids: Iterable[int], *, actor) -> None:
        """The run that netted them was cancelled: owed again (approved)."""
        adjustments.reopen(ids, actor=actor)

    def describe(self, ids: Iterable[int]) -> dict[int, str]:
        from django.utils import timezone

        from eligibility.models import Adjustment

        return {pk: f"{to_wareki(timezone.localdate(decided_at or proposed_at))}の調整（差額）"
                for pk, decided_at, proposed_at in Adjustment.objects.filter(
                    pk__in=list(ids)).values_list("pk", "decided_at", "proposed_at")}


ADJUSTMENTS = AdjustmentPayables()

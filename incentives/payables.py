"""協力金 and 一時金 offered to payouts (portal.payables.PayableSource): an eligible result
(支給判定) is payable; putting it into a run sets `payout_locked`, which the eligibility batch
honours, so the amount paid is the amount frozen."""

from collections.abc import Iterable

from django.db.models import F, QuerySet

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

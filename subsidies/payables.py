"""Approved subsidy claims offered to payouts (portal.payables.PayableSource). Putting a
claim into a run moves it to 支払手続中 (its decided amount can no longer change); the bank's
result moves it to 振込済. Each move goes through the workflow (history, e-mail)."""

from collections.abc import Iterable

from django.db.models import F, QuerySet

from eligibility.engine import rules_paid_by
from eligibility.models import Program
from portal.workflow import perform

from .models import Claim, ClaimState

# The programs whose registry entry names this source (live: eligibility.engine.REGISTRY).
RULES = rules_paid_by("claim")


class ClaimPayables:
    kind = "claim"
    label = "補助金の申請"

    def pays(self, program: Program) -> bool:
        return program.rule in RULES

    def payable(self, program: Program | None = None) -> QuerySet:
        # 支払手続中 without a live payment line: its transfer failed and the facility has
        # corrected its account, so it is paid again.
        rows = Claim.objects.filter(state__in=[ClaimState.APPROVED, ClaimState.PAYING],
                                    approved_amount__gt=0)
        if program is not None:
            rows = rows.filter(program=program)
        return rows.annotate(payable_amount=F("approved_amount"))

    def _move(self, ids: Iterable[int], state: str, name: str, actor, summary: str) -> None:
        for claim in Claim.objects.filter(pk__in=list(ids), state=state).order_by("pk"):
            perform(claim, name, actor=actor, summary=summary.format(
                amount=claim.approved_amount or 0))

    def take(self, ids: Iterable[int], *, actor) -> None:
        self._move(ids, ClaimState.APPROVED, "enter_payout", actor,
                   "交付決定額 {amount:,}円の振込手続に入りました。")

    def give_back(self, ids: Iterable[int], *, actor) -> None:
        self._move(ids, ClaimState.PAYING, "leave_payout", actor,
                   "支払バッチが取り消されたため、交付決定の状態に戻しました。")

    def paid(self, ids: Iterable[int], *, actor) -> None:
        self._move(ids, ClaimState.PAYING, "mark_paid", actor, "{amount:,}円を振り込みました。")

    def describe(self, ids: Iterable[int]) -> dict[int, str]:
        return {pk: f"{name}（受付番号 {number}）" for pk, name, number in Claim.objects.filter(
            pk__in=list(ids)).values_list("pk", "program__name", "receipt_number")}


SOURCE = ClaimPayables()

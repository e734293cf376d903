"""Adjustments (調整, docs/domain.md §5.4): the batch proposes one when a paid (payout-locked)
result's amount is no longer what the facility is owed; a reviewer reviews it and another
person decides it (approve or reject). Paying, netting and claiming back are the payouts'.

What a facility is owed for a program is its paid result plus the differences of its
adjustments that were decided and not rejected (`COUNTED_ADJUSTMENT_STATES`). The batch
judges every paid result again (the Determination row itself never changes) and, per chunk:
- the verdict is what is owed: an open proposal (if any) is withdrawn, nothing else;
- an open proposal already says the verdict's amount: it stands;
- no open one, and the latest decided one was rejected with the verdict's amount: it stays
  rejected until the result changes again;
- otherwise the open one (if any) is withdrawn and a new one proposed.
A second run with the same facts therefore proposes nothing. The cost of an unchanged paid
result is one comparison: the determinations and adjustments of a chunk are read in one query
each, and only the few that need a move are locked and read again."""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from portal.errors import ServiceError
from portal.workflow import perform, refusal

from .models import (
    COUNTED_ADJUSTMENT_STATES,
    OPEN_ADJUSTMENT_STATES,
    Adjustment,
    AdjustmentState,
    Determination,
    ParameterVersion,
    Program,
)

logger = logging.getLogger(__name__)

FACTS_CHANGED = "施設の入力内容・統計の変更"


def parameter_cause(version: ParameterVersion) -> str:
    return f"パラメータの改定（第{version.version}版）"


@dataclass(frozen=True)
class _Row:
    """One adjustment of a result, as the batch reads it."""

    pk: int
    state: str
    new_amount: int
    difference: int
    version_id: int


@dataclass(frozen=True)
class _Move:
    """What the batch does for one paid result: withdraw the open proposal (`withdraw`, its
    pk) and/or propose anew (`propose`) with what is owed and the version it rests on."""

    withdraw: int | None
    propose: bool
    owed: int = 0
    baseline_version_id: int | None = None


def owed_amount(paid: int, rows) -> int:
    """The paid amount plus the decided differences that count (docs/domain.md §5.4)."""
    return paid + sum(row.difference for row in rows if row.state in COUNTED_ADJUSTMENT_STATES)


def _decide(*, paid: int, paid_version_id: int, rows: list[_Row], amount: int) -> _Move | None:
    """The move for one paid result whose verdict is now `amount` (rows: its adjustments but
    the withdrawn ones, oldest first). None: nothing to do."""
    owed = owed_amount(paid, rows)
    open_row = next((row for row in rows if row.state in OPEN_ADJUSTMENT_STATES), None)
    if amount == owed:
        return _Move(withdraw=open_row.pk, propose=False) if open_row is not None else None
    if open_row is not None and open_row.new_amount == amount:
        return None  # the proposal stands
    if open_row is None:
        decided = [row for row in rows if row.state not in OPEN_ADJUSTMENT_STATES]
        if decided and decided[-1].state == AdjustmentState.REJECTED \
                and decided[-1].new_amount == amount:
            return None  # rejected stays rejected until the result changes again
    counted = [row for row in rows if row.state in COUNTED_ADJUSTMENT_STATES]
    baseline = counted[-1].version_id if counted else paid_version_id
    return _Move(withdraw=open_row.pk if open_row is not None else None, propose=True,
                 owed=owed, baseline_version_id=baseline)


def _rows_by_facility(queryset: QuerySet) -> dict[int, list[_Row]]:
    rows: dict[int, list[_Row]] = defaultdict(list)
    for facility_id, pk, state, new_amount, difference, version_id in (
        queryset.exclude(state=AdjustmentState.WITHDRAWN).order_by("facility_id", "pk")
        .values_list("facility_id", "pk", "state", "new_amount", "difference",
                     "parameter_version_id")
    ):
        rows[facility_id].append(_Row(pk, state, new_amount, difference, version_id))
    return rows


def locked_results(program: Program, *, facility_ids: list[int] | None = None,
                   facility_range: tuple[int, int] | None = None) -> dict[int, tuple]:
    """The paid results of the facilities a batch part determines: facility →
    (determination pk, amount, version pk), read in one query for the part (as the set of
    locked facilities was before: a scan of the results table per chunk would cost more
    than the rest of an unchanged paid result's work)."""
    rows = Determination.objects.filter(program=program, payout_locked=True)
    if facility_ids is not None:
        rows = rows.filter(facility_id__in=facility_ids)
    if facility_range is not None:
        rows = rows.filter(facility_id__gte=facility_range[0], facility_id__lt=facility_range[1])
    return {facility_id: (pk, amount, version_id) for facility_id, pk, amount, version_id in
            rows.values_list("facility_id", "pk", "amount", "parameter_version_id")}


def propose_for_locked(*, program: Program, version: ParameterVersion, binding, params,
                       locked: dict[int, tuple], verdicts: list[tuple]) -> int:
    """The batch's step for the paid results of one chunk (`verdicts`: (facility, fact,
    verdict) of facilities in `locked`). Returns how many adjustments it proposed."""
    if not verdicts:
        return 0
    ids = [facility_id for facility_id, _fact, _verdict in verdicts]
    rows = _rows_by_facility(Adjustment.objects.filter(
        program=program, facility_id__gte=min(ids), facility_id__lte=max(ids)))
    wanted = []
    for facility_id, fact, verdict in verdicts:
        _pk, paid, paid_version_id = locked[facility_id]
        facility_rows = rows.get(facility_id)
        if facility_rows is None and verdict.amount == paid:
            continue  # most paid results: never adjusted, unchanged
        if _decide(paid=paid, paid_version_id=paid_version_id, rows=facility_rows or [],
                   amount=verdict.amount) is not None:
            wanted.append((facility_id, fact, verdict))
    if not wanted:
        return 0
    return _apply_moves(program=program, version=version, binding=binding, params=params,
                        locked=locked, wanted=wanted)


def _apply_moves(*, program, version, binding, params, locked, wanted) -> int:
    """Withdraw and propose for the few paid results that need it, under a lock of their
    determinations (a re-determination of one facility and the nightly batch may reach the
    same result at once: the second one waits, reads what the first did, and then finds
    that the proposal stands)."""
    with transaction.atomic():
        determination_ids = sorted(locked[facility_id][0] for facility_id, _f, _v in wanted)
        list(Determination.objects.select_for_update().filter(pk__in=determination_ids)
             .order_by("pk").values_list("pk", flat=True))
        rows = _rows_by_facility(Adjustment.objects.filter(
            program=program, facility_id__in=[facility_id for facility_id, _f, _v in wanted]))
        now = timezone.now()
        proposals = []
        for facility_id, fact, verdict in wanted:
            determination_id, paid, paid_version_id = locked[facility_id]
            found = _decide(paid=paid, paid_version_id=paid_version_id,
                            rows=rows.get(facility_id, []), amount=verdict.amount)
            if found is None:
                continue
            if found.withdraw is not None and not _withdraw(found.withdraw, verdict.amount):
                continue  # decided meanwhile: the next run reads it
            if not found.propose:
                continue
            proposals.append(Adjustment(
                facility_id=facility_id, program=program, determination_id=determination_id,
                parameter_version=version, paid_amount=found.owed, new_amount=verdict.amount,
                difference=verdict.amount - found.owed, eligible=bool(verdict.eligible),
                facts=json.loads(fact.json_text()), details=dict(verdict.cell),
                reasons=list(binding.determine(params, fact).reason_texts),
                cause=(parameter_cause(version) if found.baseline_version_id != version.pk
                       else FACTS_CHANGED),
                state=AdjustmentState.PROPOSED, proposed_at=now))
        return _create(proposals, now)


def _withdraw(pk: int, amount: int) -> bool:
    adjustment = Adjustment.objects.select_related("facility").get(pk=pk)
    try:
        perform(adjustment, "withdraw", actor=None,
                summary=f"再判定の金額（{amount:,}円）が変わったため取り下げました")
    except ServiceError as error:
        logger.info("adjustment %s not withdrawn: %s", pk, error.message)
        return False
    return True


def _create(proposals: list[Adjustment], now) -> int:
    """The proposals with their history (one entry each, and one in the facility's history
    for the administrators); a proposal another run made meanwhile for the same result (the
    partial unique constraint) is left to it."""
    if not proposals:
        return 0
    try:
        with transaction.atomic():
            created = bulk_create_with_history(proposals, Adjustment, default_date=now,
                                               default_change_reason="再判定による提案")
    except IntegrityError:
        created = []
        for proposal in proposals:
            try:
                with transaction.atomic():
                    created += bulk_create_with_history([proposal], Adjustment,
                                                        default_date=now)
            except IntegrityError:
                logger.info("adjustment of facility %s proposed by another run",
                            proposal.facility_id)
    _record(created)
    return len(created)


def _record(created: list[Adjustment]) -> None:
    from facilities.activity import record_activities

    record_activities(
        {"facility_id": adjustment.facility_id, "actor": None, "target": adjustment,
         "verb": "adjustment_proposed",
         "summary": (f"調整を提案しました（{adjustment.cause}: "
                     f"{adjustment.paid_amount:,}円 → {adjustment.new_amount:,}円、"
                     f"差額 {adjustment.difference_yen}）"),
         "to_state": AdjustmentState.PROPOSED, "visible_to_facility": False}
        for adjustment in created)


# ---------------------------------------------------------------- review and decision


def decision_summary(adjustment: Adjustment) -> str:
    if adjustment.difference > 0:
        return (f"差額 {adjustment.difference:,}円を追加でお支払いすることに決定しました"
                "（次回の支払でお振り込みします）。")
    return (f"差額 {-adjustment.difference:,}円の返還をお願いすることに決定しました"
            "（次回のお支払いとの相殺、または返還請求のご案内をお送りします）。")


def refusal_of(adjustment: Adjustment, move: str, user) -> ServiceError | None:
    """Why `user` may not make this move on the adjustment now (None when they may)."""
    return refusal(adjustment, move, user)


def review(*, adjustment: Adjustment, actor) -> Adjustment:
    """審査する: a reviewer checks the proposal (its reasons before and after)."""
    return perform(adjustment, "review", actor=actor, summary="調整の提案を審査しました")


def approve(*, adjustment: Adjustment, actor) -> Adjustment:
    """決定する: another person than the reviewer decides it (four-eyes); the facility is
    told by e-mail with the reason."""
    return perform(adjustment, "approve", actor=actor, summary=decision_summary(adjustment))


def reject(*, adjustment: Adjustment, actor) -> Adjustment:
    """不採用とする: the difference is not adjusted (until the result changes again)."""
    return perform(adjustment, "reject", actor=actor, summary="調整を不採用としました")


def adjustments_of(program: Program) -> QuerySet[Adjustment]:
    return (Adjustment.objects.filter(program=program)
            .select_related("facility", "program").order_by("facility__code", "pk"))


# ---------------------------------------------------------------- in a payout
# Called by the adjustments' payable source (incentives/payables.py) inside the payout's
# transaction: every move goes through the workflow (history, e-mail to the facility).


def _move(ids, state: str, name: str, actor, summary: str,
          parts: dict[int, int] | None = None) -> None:
    """`summary` may name {amount} (the difference, in yen) and {part} (the yen of `parts`
    for that adjustment: what was netted or claimed back)."""
    for adjustment in Adjustment.objects.filter(pk__in=list(ids), state=state).order_by("pk"):
        perform(adjustment, name, actor=actor, summary=summary.format(
            amount=abs(adjustment.difference), part=(parts or {}).get(adjustment.pk, 0)))


def enter_payout(ids, *, actor) -> None:
    """Approved positive adjustments went into a run: 支払手続中."""
    _move(ids, AdjustmentState.APPROVED, "enter_payout", actor,
          "調整の差額 {amount:,}円の振込手続に入りました。")


def leave_payout(ids, *, actor) -> None:
    """Their run was cancelled before money moved: approved again."""
    _move(ids, AdjustmentState.PAYING, "leave_payout", actor,
          "支払バッチが取り消されたため、承認済みの状態に戻しました。")


def mark_paid(ids, *, actor) -> None:
    _move(ids, AdjustmentState.PAYING, "mark_paid", actor,
          "調整の差額 {amount:,}円を振り込みました。")


def net(amounts: dict[int, int], *, actor) -> None:
    """Negative ones netted against a payment of the same program: {id: yen netted}."""
    _move(amounts, AdjustmentState.APPROVED, "net", actor,
          "調整の差額 {amount:,}円のうち {part:,}円を、次回の支払から差し引きました（相殺）。",
          parts=amounts)


def claim_back(amounts: dict[int, int], *, actor) -> None:
    """Negative ones claimed back (返還請求): {id: yen claimed back}."""
    _move(amounts, AdjustmentState.APPROVED, "claim_back", actor,
          "調整の差額 {amount:,}円のうち {part:,}円の返還をお願いします（返還請求）。",
          parts=amounts)


def reopen(ids, *, actor) -> None:
    """The run that netted or claimed them back was cancelled: owed again (approved)."""
    for adjustment in Adjustment.objects.filter(
            pk__in=list(ids), state__in=[AdjustmentState.NETTED,
                                         AdjustmentState.RECOVERY]).order_by("pk"):
        perform(adjustment, "reopen", actor=actor, summary=(
            "支払バッチが取り消されたため、相殺を取り消しました。差額は次回の支払で相殺"
            "するか、返還をお願いします。"))

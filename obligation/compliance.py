"""Where each 施術所 stands with the obligation (docs/domain.md §7), computed set-wise, and the
follow-up ladder for those not introduced.

`compute_statuses` reads a chunk of facilities and every fact that decides their state in a
few queries (facilities, go-lives, their main facilities' go-lives, live declarations, survey
answers, start applications, the rows already written), decides in Python and writes only the
rows that changed. It runs nightly (obligation.tasks.compute_compliance) and after every
change of a facility's facts (the listener registered in obligation/apps.py).

Order of precedence: 導入済み (a go-live entered) · 導入義務を満たす（併設の主たる施術所が導入済み）
(a subordinate whose main 施術所 has one) ·
やむを得ない事由あり (an accepted declaration, else a survey answer; not once expired) ·
利用開始申請中 (a start application open, or accepted with no go-live yet) · 未導入."""

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from eligibility.rules.base import wareki
from facilities.activity import record_activities
from facilities.kinds import SEJUTSU_KINDS
from facilities.models import (
    OPEN_STATES,
    ApplicationKind,
    ApplicationState,
    Facility,
    GoLive,
)
from facilities.models import UsageApplication as Application

from .models import (
    ComplianceState,
    ComplianceStatus,
    DeclarationState,
    ExemptionDeclaration,
    FollowUpKind,
    FollowUpStep,
    SurveyAnswer,
)
from .parameters import Timeline, no_version
from .rules import ExemptionReason

CHUNK = 2000
_WRITTEN = ["prefecture", "state", "exemption_reason", "valid_until", "basis", "computed_at"]
_SURVEY_REASON = {"1": "1", "2": "2", "3": "3"}  # the survey does not split 1 into 1-1 / 1-2


@dataclass(frozen=True)
class _Status:
    state: str
    exemption_reason: str = ""
    valid_until: date | None = None
    basis: str = ""


def _exemption(declaration, survey, today: date,
               timeline: Timeline | None = None) -> tuple[_Status | None, list[str]]:
    """The exemption that holds today (None if none) and what the basis says about the
    others: a declaration not yet accepted, one expired."""
    notes: list[str] = []
    candidates = []
    if declaration is not None:
        number = declaration["receipt_number"] or ""
        if declaration["state"] == DeclarationState.ACCEPTED:
            reason = declaration["reason"]
            until = (None if reason in ExemptionReason.WITH_PRACTITIONERS
                     else declaration["planned_date"])
            candidates.append((reason, until, f"やむを得ない事由の申告（受付番号 {number}、"
                                              f"事由{reason}）が受理されています"))
        else:
            notes.append(f"やむを得ない事由の申告（受付番号 {number}、事由{declaration['reason']}）"
                         "は確認待ちのため、まだ事由として扱っていません。")
    if survey is not None:
        reason = _SURVEY_REASON[survey["reason"]]
        text = f"調査票の回答（{wareki(survey['received_on'])}受付、事由{reason}）があります"
        # The deadline in force on the day the answer was received (docs/domain.md §5.4).
        params = (timeline or Timeline()).on(survey["received_on"])
        if reason != "1" and params is None:
            notes.append(f"{text}が、{no_version(survey['received_on'])}")
        else:
            until = None if reason == "1" else params.deadline
            candidates.append((reason, until, text))
    for reason, until, text in candidates:
        if until is not None and until < today:
            notes.append(f"{text}が、期限の{wareki(until)}を過ぎています。")
            continue
        limit = f"（{wareki(until)}まで）" if until else "（期限なし）"
        return _Status(ComplianceState.EXEMPT, reason, until, f"{text}{limit}。"), notes
    return None, notes


def decide(facility: dict, *, golive, main_golive, declaration, survey, application,
           today: date, timeline: Timeline | None = None) -> _Status:
    """One 施術所's state from its facts (plain values, as the chunk query reads them)."""
    if golive is not None:
        return _Status(ComplianceState.INTRODUCED,
                       basis=f"運用開始日（{wareki(golive)}）が登録されています。")
    if facility["main_facility_id"] and main_golive is not None:
        return _Status(ComplianceState.COVERED,
                       basis=f"この施術所は併設の従たる施術所です。主たる施術所"
                             f"（{facility['main_name']}）の運用開始日（{wareki(main_golive)}）が"
                             "登録されているため、この施術所の導入義務は果たしているものと"
                             "みなします（この施術所自身の運用開始日は登録されていません）。")
    exempt, notes = _exemption(declaration, survey, today, timeline)
    if facility["main_facility_id"]:
        notes.insert(0, f"併設の主たる施術所（{facility['main_name']}）は、まだ運用開始日が"
                        "登録されていません。")
    if exempt is not None:
        return _Status(exempt.state, exempt.exemption_reason, exempt.valid_until,
                       " ".join([exempt.basis, *notes]))
    if application is not None:
        if application["state"] == ApplicationState.ACCEPTED:
            text = (f"利用開始申請（受付番号 {application['receipt_number'] or '-'}）は承認"
                    "されていますが、運用開始日がまだ登録されていません。")
        else:
            text = (f"利用開始申請（受付番号 {application['receipt_number'] or '-'}）を審査"
                    "しています。")
        return _Status(ComplianceState.PENDING, basis=" ".join([text, *notes]))
    text = "運用開始日の登録、やむを得ない事由、利用開始申請のいずれもありません。"
    return _Status(ComplianceState.NOT_INTRODUCED, basis=" ".join([text, *notes]))


def _compute_chunk(facilities: list[dict], *, today: date, now, whole_range: bool,
                   timeline: Timeline | None = None) -> int:
    """`whole_range`: the chunk is every 施術所 between its first and last pk (the full
    run), so the facts are read by pk range — much cheaper than a list of 2,000 ids."""
    ids = [f["pk"] for f in facilities]
    main_ids = {f["main_facility_id"] for f in facilities if f["main_facility_id"]}
    mine = ({"facility_id__gte": ids[0], "facility_id__lte": ids[-1]} if whole_range
            else {"facility_id__in": ids})
    # The rows are locked (in pk order, as record_step does) before the facts are read: a
    # recomputation asked for by a change committed meanwhile waits for this one and then
    # reads that change, so an older reading never overwrites a newer one.
    existing = {row["facility_id"]: row for row in ComplianceStatus.objects.select_for_update()
                .filter(**mine).order_by("facility_id").values("facility_id", *_WRITTEN[:-1])}
    golives = dict(GoLive.objects.filter(**mine).values_list("facility_id", "date"))
    golives.update(GoLive.objects.filter(facility_id__in=main_ids - golives.keys())
                   .values_list("facility_id", "date"))
    main_names = dict(Facility.objects.filter(pk__in=main_ids).values_list("pk", "name"))
    declarations = {d["facility_id"]: d for d in ExemptionDeclaration.objects.filter(
        **mine, state__in=[DeclarationState.DECLARED, DeclarationState.ACCEPTED]
    ).values("facility_id", "state", "reason", "planned_date", "receipt_number")}
    surveys: dict[int, dict] = {}
    # Reason 1 (no end) before 2 and 3; the latest answer first within a reason.
    for answer in SurveyAnswer.objects.filter(**mine).order_by(
            "reason", "-received_on", "-pk").values("facility_id", "reason", "received_on"):
        surveys.setdefault(answer["facility_id"], answer)
    applications: dict[int, dict] = {}
    for application in Application.objects.filter(
            **mine, kind=ApplicationKind.START,
            state__in=[*OPEN_STATES, ApplicationState.ACCEPTED]).order_by(
            "-submitted_at", "-pk").values("facility_id", "state", "receipt_number"):
        applications.setdefault(application["facility_id"], application)

    rows = []
    timeline = timeline or Timeline()  # the obligation's parameters, read once for the run
    for facility in facilities:
        pk = facility["pk"]
        facility["main_name"] = main_names.get(facility["main_facility_id"], "")
        status = decide(facility, golive=golives.get(pk),
                        main_golive=golives.get(facility["main_facility_id"]),
                        declaration=declarations.get(pk), survey=surveys.get(pk),
                        application=applications.get(pk), today=today, timeline=timeline)
        values = {"prefecture": facility["prefecture"], "state": status.state,
                  "exemption_reason": status.exemption_reason,
                  "valid_until": status.valid_until, "basis": status.basis}
        old = existing.get(pk)
        if old is not None and all(old[name] == value for name, value in values.items()):
            continue
        rows.append(ComplianceStatus(facility_id=pk, computed_at=now, **values))
    if rows:
        # An upsert: last_step / last_step_at (the follow-up's) are never overwritten.
        ComplianceStatus.objects.bulk_create(rows, update_conflicts=True,
                                             unique_fields=["facility"], update_fields=_WRITTEN)
    return len(rows)


_FACILITY_VALUES = ("pk", "prefecture", "main_facility_id")


def compute_statuses(facility_ids: Iterable[int] | None = None, *,
                     today: date | None = None) -> int:
    """Recompute the statuses of these facilities (every 施術所 when None) and return how
    many rows changed. A facility that is not (or no longer) a 施術所 has no row."""
    today = today or timezone.localdate()
    now = timezone.now()
    changed = 0
    timeline = Timeline()
    sejutsu = Facility.objects.filter(kind__in=SEJUTSU_KINDS)
    if facility_ids is None:
        ComplianceStatus.objects.exclude(facility__kind__in=SEJUTSU_KINDS).delete()
        last = 0
        while True:
            chunk = list(sejutsu.filter(pk__gt=last).order_by("pk")
                         .values(*_FACILITY_VALUES)[:CHUNK])
            if not chunk:
                return changed
            with transaction.atomic():
                changed += _compute_chunk(chunk, today=today, now=now, whole_range=True,
                                          timeline=timeline)
            last = chunk[-1]["pk"]
    ids = sorted({int(pk) for pk in facility_ids if pk is not None})
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        chunk = list(sejutsu.filter(pk__in=part).order_by("pk").values(*_FACILITY_VALUES))
        found = {f["pk"] for f in chunk}
        with transaction.atomic():
            ComplianceStatus.objects.filter(facility_id__in=set(part) - found).delete()
            if chunk:
                changed += _compute_chunk(chunk, today=today, now=now, whole_range=False,
                                              timeline=timeline)
    return changed


# ---------------------------------------------------------------- following the facts


_collected: set[int] = set()
_collected_lock = threading.Lock()
FULL_RUN_ABOVE = 50_000


def _with_subordinates(ids: set[int]) -> list[int]:
    """A main's go-live covers its subordinates: they are recomputed with it."""
    subordinates = set(Facility.objects.filter(main_facility_id__in=ids)
                       .values_list("pk", flat=True)) if ids else set()
    return sorted(ids | subordinates)


def recompute_after_commit(facility_ids: Iterable[int], *, enqueue: bool = True) -> None:
    """The listener of facilities.fact_changes: after the caller's transaction commits,
    queue the recomputation of these facilities and their subordinates (nothing on
    rollback). `enqueue=False` (imports by chunks): collected until `recompute_collected`."""
    ids = {int(pk) for pk in facility_ids if pk is not None}
    if not ids:
        return
    if not enqueue:
        with _collected_lock:
            _collected.update(ids)
        return
    from .tasks import recompute_compliance

    transaction.on_commit(lambda: recompute_compliance.delay(sorted(ids)))


def recompute_collected() -> None:
    """The run of changes made with `enqueue=False` is over (facts_settled)."""
    from .tasks import compute_compliance, recompute_compliance

    with _collected_lock:
        ids = sorted(_collected)
        _collected.clear()
    if len(ids) > FULL_RUN_ABOVE:
        transaction.on_commit(compute_compliance.delay)
    elif ids:
        transaction.on_commit(lambda: recompute_compliance.delay(ids))


def recompute_with_subordinates(facility_ids: Iterable[int]) -> int:
    return compute_statuses(_with_subordinates({int(pk) for pk in facility_ids}))


# ---------------------------------------------------------------- the follow-up ladder


@dataclass
class StepResult:
    recorded: int = 0
    skipped: list[str] = field(default_factory=list)


# A 集団指導の案内 needs no request letter recorded here: the 依頼文書 of 2025-03-24 went out
# before this portal (docs/domain.md §7), so it only needs the 施術所 to be still 未導入.
_NEEDS = {
    FollowUpKind.GUIDANCE_ATTENDED: (FollowUpKind.GUIDANCE_INVITATION, "集団指導の案内を送っていません"),
    FollowUpKind.GUIDANCE_ABSENT: (FollowUpKind.GUIDANCE_INVITATION, "集団指導の案内を送っていません"),
    FollowUpKind.SUSPENSION_CANDIDATE: (FollowUpKind.GUIDANCE_INVITATION,
                                        "集団指導の案内を送っていません"),
}
_ONLY_NOT_INTRODUCED = (FollowUpKind.REQUEST_LETTER, FollowUpKind.GUIDANCE_INVITATION,
                        FollowUpKind.SUSPENSION_CANDIDATE)
_ONCE = (FollowUpKind.GUIDANCE_ATTENDED, FollowUpKind.GUIDANCE_ABSENT,
         FollowUpKind.SUSPENSION_CANDIDATE)
_SUMMARY = {
    FollowUpKind.REQUEST_LETTER: "オンライン資格確認の導入についてのお願い（文書）を送付しました。",
    FollowUpKind.GUIDANCE_INVITATION: "集団指導のご案内（文書）を送付しました。",
    FollowUpKind.GUIDANCE_ATTENDED: "集団指導に出席されました。",
    FollowUpKind.GUIDANCE_ABSENT: "集団指導に欠席されました。",
    FollowUpKind.SUSPENSION_CANDIDATE: "受領委任の取扱い停止の候補としました。",
}


def record_step(*, actor, facility_ids: Iterable[int], kind: str, note: str = "",
                letter=None) -> StepResult:
    """Record one step of the ladder for many 施術所 at once, in order: 依頼文書 (未導入
    only) → 集団指導の案内 → 出席・欠席 → 停止の候補 (still 未導入). A facility that does not
    qualify is skipped with the reason. The status rows are locked (in pk order) so that
    two administrators recording at once see each other's steps; a letter's step is
    recorded once per facility (one_step_per_facility_and_letter)."""
    if kind not in FollowUpKind.values:
        raise ValueError(f"unknown follow-up kind {kind!r}")
    ids = sorted({int(pk) for pk in facility_ids})
    result = StepResult()
    now = timezone.now()
    with transaction.atomic():
        statuses = {s.facility_id: s for s in ComplianceStatus.objects.select_for_update()
                    .filter(facility_id__in=ids).order_by("facility_id")}
        names = dict(Facility.objects.filter(pk__in=ids).values_list("pk", "name"))
        need = _NEEDS.get(kind)
        having_prior = set(FollowUpStep.objects.filter(
            facility_id__in=ids, kind=need[0]).values_list("facility_id", flat=True)
        ) if need else set()
        already = set(FollowUpStep.objects.filter(facility_id__in=ids, letter=letter)
                      .values_list("facility_id", flat=True)) if letter is not None else set()
        chosen = []
        for pk in ids:
            name = names.get(pk, f"施設ID {pk}")
            status = statuses.get(pk)
            if status is None:
                result.skipped.append(f"{name}: 施術所の導入状況がありません")
            elif pk in already:
                result.skipped.append(f"{name}: この文書の送付は記録済みです")
            elif need and pk not in having_prior:
                result.skipped.append(f"{name}: {need[1]}")
            elif (kind in _ONLY_NOT_INTRODUCED
                  and status.state != ComplianceState.NOT_INTRODUCED):
                result.skipped.append(f"{name}: 未導入ではありません（{status.get_state_display()}）")
            elif kind in _ONCE and status.last_step == kind:
                result.skipped.append(f"{name}: {FollowUpKind(kind).label}は記録済みです")
            else:
                chosen.append(pk)
        if not chosen:
            return result
        FollowUpStep.objects.bulk_create(
            [FollowUpStep(facility_id=pk, kind=kind, letter=letter, note=note, done_by=actor,
                          done_at=now) for pk in chosen], batch_size=1000)
        ComplianceStatus.objects.filter(facility_id__in=chosen).update(last_step=kind,
                                                                       last_step_at=now)
        summary = _SUMMARY[kind]  # the note stays on the step (administrators only)
        record_activities(
            {"facility_id": pk, "actor": actor, "target": letter, "verb": f"followup_{kind}",
             "summary": summary,
             "visible_to_facility": kind != FollowUpKind.SUSPENSION_CANDIDATE}
            for pk in chosen)
        result.recorded = len(chosen)
    return result

"""Writes of the eligibility engine: the batch (idempotent, re-runnable, never touching a
result already put into a payout), re-determination when a facility's facts change,
parameter versions (preview, then apply at once or from their effective date)."""

import hashlib
import heapq
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from itertools import islice
from operator import or_
from time import perf_counter

from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from facilities.models import Facility
from portal import jobs
from portal.errors import ServiceError
from portal.workflow import perform, refusal

from . import adjustments
from .engine import (
    PARAMETER_PARSERS,
    RULES,
    due_versions,
    parameters_in_force,
    verdicts_for,
    version_statuses,
)
from .models import (
    Determination,
    EligibilityRun,
    MonthlyStatistic,
    ParameterPreview,
    ParameterVersion,
    PendingDetermination,
    PreviewState,
    Program,
)

logger = logging.getLogger(__name__)

UPDATE_FIELDS = ["parameter_version", "eligible", "amount", "stored_reasons", "details",
                 "facts", "determined_at"]
WRITE_CHUNK = 20000  # facilities judged and written per transaction
SQLITE_CHUNK = 900  # ids per query where the database takes few parameters


class ParameterError(ServiceError):
    """Parameters that do not parse, or a version that cannot be used as asked."""


def version_in_force(program: Program, *, on: date | None = None) -> ParameterVersion:
    version = parameters_in_force(program, on=on)
    if version is None:
        raise ParameterError(f"{program.name}: 適用中のパラメータがありません。")
    return version


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


@contextmanager
def _without_jit():
    """PostgreSQL's JIT compiles the batch's large queries for longer than they then run
    (about half a second each); off for the batch's session, as it was after."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        before = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('jit', 'off', false)")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', %s, false)", [before])


@dataclass
class PartTally:
    """What one part of a run did (counts, and seconds each phase was busy)."""

    facilities: int = 0
    eligible: int = 0
    total_amount: int = 0
    skipped_locked: int = 0  # paid results for which nothing new was proposed
    adjustments_proposed: int = 0
    written: int = 0
    facts_seconds: float = 0.0
    rule_seconds: float = 0.0
    write_seconds: float = 0.0

    def add_to(self, run: EligibilityRun) -> None:
        for name in ("facilities", "eligible", "total_amount", "skipped_locked",
                     "adjustments_proposed", "written", "facts_seconds", "rule_seconds",
                     "write_seconds"):
            setattr(run, name, getattr(run, name) + getattr(self, name))


def run_eligibility(
    *, program: Program, facility_ids: list[int] | None = None, on: date | None = None
) -> EligibilityRun:
    """Determine every facility of the program (or those given) under the parameters in
    force today (or on `on`) and upsert the results (one row per facility and program):
    each result keeps its verdict, the facts the rule read and the cell it chose (the
    reason texts are written from them when a page shows them). Only results that changed
    are written; payout-locked results are never rewritten, and where one's amount changed an
    adjustment is proposed (docs/domain.md §5.4). Facts, rule and write are timed.

    On PostgreSQL, outside a transaction, the whole program is determined in PARTS ranges of
    facility ids side by side, each on its own connection (the database does most of the
    work: the other core is used). With a broker, the nightly task spreads the ranges over
    the Celery workers instead (eligibility/tasks.py: start_run, determine_range, finish_run)."""
    run = start_run(program=program, on=on)
    ranges = part_ranges(PARTS) if facility_ids is None and _may_split() else []
    if len(ranges) > 1:
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            tallies = list(pool.map(
                lambda part: _on_own_connection(determine_range, run=run, facility_range=part),
                ranges))
    else:
        tallies = [determine_part(program=program, version=run.parameter_version,
                                  now=run.started_at, facility_ids=facility_ids)]
    return finish_run(run_id=run.pk, tallies=tallies)


def start_run(*, program: Program, on: date | None = None) -> EligibilityRun:
    """A run of the program under the parameters in force on `on` (today), not yet finished:
    its parts are determined with its version, stamped with its start time."""
    return EligibilityRun.objects.create(program=program,
                                         parameter_version=version_in_force(program, on=on))


def determine_range(*, run: EligibilityRun, facility_range: tuple[int, int]) -> PartTally:
    """One part of a run: the program's facilities with ids in [from, to)."""
    return determine_part(program=run.program, version=run.parameter_version,
                          now=run.started_at, facility_range=facility_range)


def finish_run(*, run_id: int, tallies: list[PartTally]) -> EligibilityRun:
    """Add the parts' counts to the run and mark it finished, once: a finishing step run
    again (a worker lost after finishing, the task re-delivered) adds nothing twice."""
    with transaction.atomic():
        run = EligibilityRun.objects.select_for_update().get(pk=run_id)
        if run.finished_at is None:
            for tally in tallies:
                tally.add_to(run)
            run.finished_at = timezone.now()
            run.save()
    return run


PARTS = 2  # ranges determined side by side in one process (the database's cores)


def _may_split() -> bool:
    """Parts on their own connections see only committed data: not inside a transaction."""
    return PARTS > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block


def part_ranges(parts: int) -> list[tuple[int, int]]:
    """`parts` ranges [from, to) of facility ids of about the same width (ids are dense
    enough that equal widths hold about equal numbers of facilities; a prefecture would
    not: Tokyo alone has about a tenth of them)."""
    bounds = Facility.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return []
    low, high = bounds["low"], bounds["high"] + 1
    step = -(-(high - low) // max(parts, 1))
    return [(start, min(start + step, high)) for start in range(low, high, step)]


def _on_own_connection(function, **kwargs):
    """Run in a thread with its own database connection, closed after."""
    try:
        return function(**kwargs)
    finally:
        connection.close()


def determine_part(
    *, program: Program, version: ParameterVersion, now, facility_ids: list[int] | None = None,
    facility_range: tuple[int, int] | None = None,
) -> PartTally:
    """Judge and write the facilities of the program given by ids or by an id range (all of
    them when neither is given), in chunks, one transaction each. A paid (payout-locked)
    result is judged too but never rewritten: where its amount is no longer what the
    facility is owed, an adjustment is proposed (eligibility/adjustments.py,
    docs/domain.md §5.4)."""
    locked = adjustments.locked_results(program, facility_ids=facility_ids,
                                        facility_range=facility_range)
    binding = RULES[program.rule]
    params = binding.params_from_dict(version.params)
    judge = binding.judge(params)
    tally = PartTally()
    chunk_size = WRITE_CHUNK if connection.vendor == "postgresql" else SQLITE_CHUNK
    with _without_jit():
        facts = binding.facts(program, params, facility_ids, facility_range=facility_range)
        while True:
            started = perf_counter()
            chunk = list(islice(facts, chunk_size))
            judged_at = perf_counter()
            tally.facts_seconds += judged_at - started
            if not chunk:
                break
            verdicts, locked_verdicts = [], []
            eligible = total = 0
            for facility_id, fact in chunk:
                verdict = judge(fact)
                if facility_id in locked:
                    locked_verdicts.append((facility_id, fact, verdict))
                    continue
                verdicts.append((facility_id, fact, verdict))
                eligible += verdict.eligible
                total += verdict.amount
            tally.facilities += len(verdicts)
            tally.eligible += eligible
            tally.total_amount += total
            writing_at = perf_counter()
            tally.rule_seconds += writing_at - judged_at
            tally.written += _write(program.pk, version.pk, now, verdicts)
            proposed = adjustments.propose_for_locked(
                program=program, version=version, binding=binding, params=params,
                locked=locked, verdicts=locked_verdicts)
            tally.adjustments_proposed += proposed
            tally.skipped_locked += len(locked_verdicts) - proposed
            tally.write_seconds += perf_counter() - writing_at
    return tally


def _write(program_id: int, version_id: int, now, verdicts: list[tuple]) -> int:
    """Insert or replace each facility's result — only where it changed (verdict, facts,
    cell or version), so `determined_at` says when a result became what it is (a nightly
    run that finds the same result rewrites nothing). Each row written keeps the reason
    texts as its rule words them now, under its version (docs/domain.md §5.4: a result keeps the
    reasons it was decided with); they are worded only for the rows written. Returns how
    many rows were written."""
    if not verdicts:
        return 0
    if connection.vendor == "postgresql":
        return _write_postgresql(program_id, version_id, now, verdicts)
    return _write_orm(program_id, version_id, now, verdicts)


def _reason_writer(version_id: int):
    """facts → the reason texts of the rule of the version's program under its parameters
    (the texts shown as the criteria met ✓ or not ✗, and the amount), as decided."""
    version = ParameterVersion.objects.select_related("program").get(pk=version_id)
    binding = RULES[version.program.rule]
    params = binding.params_from_dict(version.params)
    determine = binding.determine

    def texts(fact) -> list[str]:
        return determine(params, fact).reason_texts

    return texts


_CELL_TEXTS: dict[tuple, str] = {}


def _cell_text(cell: tuple) -> str:
    text = _CELL_TEXTS.get(cell)
    if text is None:
        text = _CELL_TEXTS[cell] = json.dumps(dict(cell), ensure_ascii=False)
    return text


def _copy_field(text: str) -> str:
    """A value for COPY's text format (JSON never holds a raw tab or newline)."""
    return text.replace("\\", "\\\\") if "\\" in text else text


def _write_postgresql(program_id: int, version_id: int, now, verdicts: list[tuple]) -> int:
    """The verdicts are streamed with COPY into a temporary table; the results that differ
    from them are found in one query, only their reason texts are worded (COPYed into a
    second temporary table), and everything is merged in one statement, so that each row is
    written once; payout-locked rows are never touched, even one locked since we read. A
    row that changed meanwhile (another writer) and was merged without texts gets them in
    the same transaction. A rerun that changes nothing words and merges nothing."""
    lines = []
    for facility_id, fact, verdict in verdicts:
        lines.append(f"{facility_id}\t{'t' if verdict.eligible else 'f'}\t{verdict.amount}\t"
                     f"{_copy_field(_cell_text(verdict.cell))}\t"
                     f"{_copy_field(fact.json_text())}\n")
    table = Determination._meta.db_table
    reasons = Determination._meta.get_field("stored_reasons").column
    # Table and column names come from the model, never from input.
    changed = f"""
        FROM determination_verdicts v
        LEFT JOIN {table} cur ON cur.facility_id = v.facility_id AND cur.program_id = %s
            AND cur.facility_id BETWEEN %s AND %s  -- the chunk's ids (they come in order)
        -- unchanged rows are left out before the upsert, which would lock each one it meets
        WHERE cur.id IS NULL OR (NOT cur.payout_locked
            AND (cur.parameter_version_id, cur.eligible, cur.amount, cur.details, cur.facts)
                IS DISTINCT FROM (%s, v.eligible, v.amount, v.details, v.facts))
    """  # noqa: S608
    merge = f"""
        INSERT INTO {table} AS t (facility_id, program_id, parameter_version_id, eligible,
                                  amount, {reasons}, details, facts, determined_at,
                                  payout_locked)
        SELECT v.facility_id, %s, %s, v.eligible, v.amount,
               COALESCE((SELECT r.reasons FROM determination_reasons r
                         WHERE r.facility_id = v.facility_id), '[]'::jsonb),
               v.details, v.facts, %s, false
        {changed}
        ON CONFLICT (facility_id, program_id) DO UPDATE SET
            parameter_version_id = EXCLUDED.parameter_version_id,
            eligible = EXCLUDED.eligible, amount = EXCLUDED.amount,
            {reasons} = EXCLUDED.{reasons}, details = EXCLUDED.details, facts = EXCLUDED.facts,
            -- a result kept from before facts were kept, now only given them: not news
            determined_at = CASE WHEN t.facts IS NULL
                AND (t.parameter_version_id, t.eligible, t.amount)
                    = (EXCLUDED.parameter_version_id, EXCLUDED.eligible, EXCLUDED.amount)
                THEN t.determined_at ELSE EXCLUDED.determined_at END
        WHERE NOT t.payout_locked
            AND (t.parameter_version_id, t.eligible, t.amount, t.details, t.facts)
                IS DISTINCT FROM (EXCLUDED.parameter_version_id, EXCLUDED.eligible,
                                  EXCLUDED.amount, EXCLUDED.details, EXCLUDED.facts)
        RETURNING t.facility_id, t.{reasons} = '[]'::jsonb
    """  # noqa: S608
    set_reasons = f"""
        UPDATE {table} t SET {reasons} = r.reasons
        FROM determination_reasons r
        WHERE t.facility_id = r.facility_id AND t.program_id = %s
    """  # noqa: S608
    facts = {facility_id: fact for facility_id, fact, _verdict in verdicts}
    first, last = min(facts), max(facts)
    texts = None

    def copy_texts(cursor, ids) -> None:
        nonlocal texts
        texts = texts or _reason_writer(version_id)
        cursor.execute("TRUNCATE determination_reasons")
        with cursor.cursor.copy("COPY determination_reasons FROM STDIN") as copy:
            copy.write("".join(
                f"{facility_id}\t"
                f"{_copy_field(json.dumps(texts(facts[facility_id]), ensure_ascii=False))}\n"
                for facility_id in ids))

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS determination_verdicts (facility_id bigint, "
            "eligible boolean, amount integer, details jsonb, facts jsonb) "
            "ON COMMIT DELETE ROWS")
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS determination_reasons (facility_id bigint "
            "PRIMARY KEY, reasons jsonb) ON COMMIT DELETE ROWS")
        cursor.execute("TRUNCATE determination_verdicts")  # left over in an enclosing transaction
        with cursor.cursor.copy("COPY determination_verdicts FROM STDIN") as copy:
            copy.write("".join(lines))
        cursor.execute(f"SELECT v.facility_id {changed}",  # noqa: S608
                       [program_id, first, last, version_id])
        to_word = [row[0] for row in cursor.fetchall()]
        if not to_word:
            return 0  # nothing differs: nothing worded, nothing merged
        copy_texts(cursor, to_word)
        cursor.execute(merge, [program_id, version_id, now, program_id, first, last,
                               version_id])
        written = cursor.fetchall()
        unworded = [facility_id for facility_id, empty in written if empty]
        if unworded:  # changed by another writer between the two statements
            copy_texts(cursor, unworded)
            cursor.execute(set_reasons, [program_id])
        return len(written)


def _write_orm(program_id: int, version_id: int, now, verdicts: list[tuple]) -> int:
    """The same with the ORM (SQLite, tests): stored rows compared in Python, the reason
    texts worded for the rows written only."""
    written = 0
    texts = None
    for part in _chunks(verdicts, SQLITE_CHUNK):
        stored = {
            facility_id: (version, eligible, amount, details, facts, determined_at)
            for facility_id, version, eligible, amount, details, facts, determined_at in
            Determination.objects.filter(
                program_id=program_id, facility_id__in=[row[0] for row in part]
            ).values_list("facility_id", "parameter_version_id", "eligible", "amount",
                          "details", "facts", "determined_at")
        }
        rows = []
        for facility_id, fact, verdict in part:
            new = (version_id, bool(verdict.eligible), verdict.amount, dict(verdict.cell),
                   json.loads(fact.json_text()))
            old = stored.get(facility_id)
            if old is not None and old[:5] == new:
                continue
            kept = old is not None and old[4] is None and old[:3] == new[:3]
            texts = texts or _reason_writer(version_id)
            rows.append(Determination(
                facility_id=facility_id, program_id=program_id, parameter_version_id=version_id,
                eligible=new[1], amount=new[2], details=new[3], facts=new[4],
                stored_reasons=texts(fact), determined_at=old[5] if kept else now))
        if rows:
            with transaction.atomic():
                Determination.objects.bulk_create(
                    rows, update_conflicts=True, unique_fields=["facility", "program"],
                    update_fields=UPDATE_FIELDS)
            written += len(rows)
    return written


def open_batch_programs(*, on: date | None = None) -> list[Program]:
    """The programs the batch determines that have parameters in force on the date."""
    return [
        program
        for program in Program.objects.filter(is_open=True, rule__in=list(RULES)).order_by("code")
        if parameters_in_force(program, on=on) is not None
    ]


def run_all_open_programs(*, on: date | None = None) -> list[EligibilityRun]:
    return [run_eligibility(program=program, on=on) for program in open_batch_programs(on=on)]


def run_nightly(*, today: date | None = None) -> list[EligibilityRun]:
    """The beat job: versions whose effective date has come become 適用中, then every open
    program is determined under the parameters in force today."""
    today = today or timezone.localdate()
    take_effect_due_versions(today=today)
    return run_all_open_programs(on=today)


# ---------------------------------------------------------------- results follow the facts

PENDING_CHUNK = 2000


def _with_annex_partners(facility_ids: set[int]) -> set[int]:
    """The facilities and the other side of their 併設 (a partner's result may read them)."""
    mains = Facility.objects.filter(pk__in=facility_ids, main_facility__isnull=False)
    subordinates = Facility.objects.filter(main_facility_id__in=facility_ids)
    return (set(facility_ids) | set(mains.values_list("main_facility_id", flat=True))
            | set(subordinates.values_list("pk", flat=True)))


def request_redetermination(facility_ids: Iterable[int], *, enqueue: bool = True) -> None:
    """A fact of these facilities changed: mark them (and their 併設 partners) pending, in
    the caller's transaction, and after it commits queue one re-determination (the task
    takes every pending facility, so that many quick changes make one run). A rolled-back
    change marks nothing and queues nothing. `enqueue=False` for callers that write facts
    in many transactions and queue once at the end (`queue_redetermination`)."""
    ids = _with_annex_partners({int(pk) for pk in facility_ids if pk is not None})
    if not ids:
        return
    now = timezone.now()
    PendingDetermination.objects.bulk_create(
        [PendingDetermination(facility_id=pk, requested_at=now) for pk in sorted(ids)],
        batch_size=PENDING_CHUNK, update_conflicts=True, unique_fields=["facility"],
        update_fields=["requested_at"],
    )
    if enqueue:
        queue_redetermination()


def queue_redetermination() -> None:
    """Queue the re-determination task once the current transaction commits (at once
    outside one), unless one is queued and not started yet (it will take this change);
    in-process when there is no broker (CELERY_TASK_ALWAYS_EAGER)."""
    from .tasks import queue_redetermine_pending

    transaction.on_commit(queue_redetermine_pending)


def redetermine_pending(*, today: date | None = None) -> int:
    """Re-determine every pending facility for the open programs and clear what was done.
    A facility asked for again while it was being determined stays pending (its row is
    removed only if unchanged since it was read), so no change of a fact is ever lost."""
    done = 0
    while True:
        rows = list(PendingDetermination.objects.order_by("requested_at", "facility_id")
                    .values_list("facility_id", "requested_at")[:PENDING_CHUNK])
        if not rows:
            return done
        ids = sorted(facility_id for facility_id, _ in rows)
        for program in open_batch_programs(on=today):
            run_eligibility(program=program, facility_ids=ids, on=today)
        deleted, _ = PendingDetermination.objects.filter(
            reduce(or_, (Q(facility_id=pk, requested_at=at) for pk, at in rows))
        ).delete()
        done += len(rows)
        if deleted == 0:
            return done  # every row was asked for again meanwhile: its own task follows


# ---------------------------------------------------------------- the counter's counts (§8)


def lock_counter_month(*, facility_id: int, day: date) -> None:
    """The facility's statistics row of the month of `day`, made if missing (not imported:
    its figures are the counter's, provisional) and locked until the caller's transaction
    ends, so that the counter decides one confirmation of the facility's month at a time."""
    month = day.replace(day=1)
    MonthlyStatistic.objects.bulk_create(
        [MonthlyStatistic(facility_id=facility_id, month=month)], ignore_conflicts=True)
    MonthlyStatistic.objects.select_for_update().filter(
        facility_id=facility_id, month=month).values_list("pk", flat=True).get()


def count_confirmation(*, facility_id: int, day: date, new_user: bool) -> None:
    """One confirmation at the counter (docs/domain.md §8): the counter's 利用件数 of the month of
    `day` + 1 and, for a card user new to the facility that month, its 利用人数 + 1. Added in
    the database (F()), so two confirmations at once each count; the imported figures are
    never touched. While the month is not imported the counter's figure is the one the rules
    read, so the facility is determined again (after commit)."""
    month = day.replace(day=1)
    MonthlyStatistic.objects.bulk_create(
        [MonthlyStatistic(facility_id=facility_id, month=month)], ignore_conflicts=True)
    rows = MonthlyStatistic.objects.filter(facility_id=facility_id, month=month)
    rows.update(counter_usage_count=F("counter_usage_count") + 1,
                counter_card_users=F("counter_card_users") + int(new_user))
    if rows.filter(imported_at__isnull=True).exists():
        request_redetermination([facility_id])


# ---------------------------------------------------------------- results in a payout


def lock_for_payout(determination_ids: Iterable[int]) -> None:
    """Results went into a payout run (incentives/payables.py, inside the run's transaction):
    frozen (`payout_locked`), so the batch never changes them and the amount paid is the amount
    frozen."""
    Determination.objects.filter(pk__in=list(determination_ids), payout_locked=False).update(
        payout_locked=True)


def unlock_from_payout(determination_ids: Iterable[int]) -> None:
    """Their run was cancelled before money moved: the batch may determine them again."""
    Determination.objects.filter(pk__in=list(determination_ids)).update(payout_locked=False)


# ---------------------------------------------------------------- parameter versions


def validate_params(program: Program, params: dict) -> None:
    try:
        PARAMETER_PARSERS[program.rule](params)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            ArithmeticError) as error:  # any shape of JSON: a message, never a failure
        raise ParameterError(f"パラメータの形式が正しくありません: {error}") from error


def create_draft_version(
    *, program: Program, params: dict, effective_from, notice: str, actor=None
) -> ParameterVersion:
    """A new draft (the next version number), checked by the program's parser. Its drafter
    (`actor`, kept as created_by and in its history) never applies it (four-eyes)."""
    validate_params(program, params)
    with transaction.atomic():
        latest = program.versions.select_for_update().aggregate(v=Max("version"))["v"] or 0
        version = ParameterVersion(
            program=program, version=latest + 1, effective_from=effective_from, notice=notice,
            params=params, created_by=actor,
        )
        if actor is not None:
            version._history_user = actor  # simple-history: who made this record
        version.save()
        return version


@dataclass(frozen=True)
class Change:
    facility_id: int
    old_eligible: bool | None
    old_amount: int | None
    new_eligible: bool
    new_amount: int

    @property
    def difference(self) -> int:
        return self.new_amount - (self.old_amount or 0)


PREVIEW_ROWS = 200  # the largest changes a preview keeps (the page's list)
PREVIEW_CHUNK = 20000  # facilities between two progress updates


@dataclass
class Preview:
    """Which facilities' results would change under a version: counted for all, listed for
    the PREVIEW_ROWS largest changes (`changes`, largest first), so memory stays flat."""

    version: ParameterVersion
    facilities: int = 0
    changed: int = 0
    newly_eligible: int = 0
    no_longer_eligible: int = 0
    total_difference: int = 0
    locked_changes: int = 0
    # Paid results (payout_locked) whose amount would change: not changed, an adjustment of
    # the difference is proposed (docs/domain.md §5.4); against the determination's amount.
    paid_up_count: int = 0
    paid_up_yen: int = 0
    paid_down_count: int = 0
    paid_down_yen: int = 0
    changes: list[Change] = field(default_factory=list)


def _check_previewable(version: ParameterVersion) -> None:
    validate_params(version.program, version.params)
    if version.program.rule not in RULES:
        raise ParameterError("この制度は申請ごとに審査するため、一括の影響確認はありません。")


def preview_version(version: ParameterVersion, *, progress=None) -> Preview:
    """Which facilities' results would change under this version, and by how much, against
    the results stored now. Nothing is written. The verdicts (without reason texts) and the
    stored results are both read in facility order and compared as they come; `progress`
    is called with the number of facilities judged so far."""
    _check_previewable(version)
    stored = _stored_results(version.program)
    current = next(stored, None)
    preview = Preview(version=version)
    largest: list[tuple[int, int, Change]] = []  # a heap of the PREVIEW_ROWS largest changes
    with _without_jit():
        for facility_id, _fact, verdict in verdicts_for(version):
            preview.facilities += 1
            if progress is not None and preview.facilities % PREVIEW_CHUNK == 0:
                progress(preview.facilities)
            while current is not None and current[0] < facility_id:
                current = next(stored, None)
            old = current[1:] if current is not None and current[0] == facility_id else None
            if old is not None and (old[0], old[1]) == (verdict.eligible, verdict.amount):
                continue
            if old is not None and old[2]:
                preview.locked_changes += 1
                difference = verdict.amount - old[1]
                if difference > 0:
                    preview.paid_up_count += 1
                    preview.paid_up_yen += difference
                elif difference < 0:
                    preview.paid_down_count += 1
                    preview.paid_down_yen -= difference
                continue
            change = Change(facility_id=facility_id,
                            old_eligible=old[0] if old else None,
                            old_amount=old[1] if old else None,
                            new_eligible=bool(verdict.eligible), new_amount=verdict.amount)
            preview.changed += 1
            preview.total_difference += change.difference
            preview.newly_eligible += bool(change.new_eligible and not change.old_eligible)
            preview.no_longer_eligible += bool(change.old_eligible and not change.new_eligible)
            entry = (abs(change.difference), -facility_id, change)
            if len(largest) < PREVIEW_ROWS:
                heapq.heappush(largest, entry)
            elif entry[:2] > largest[0][:2]:
                heapq.heapreplace(largest, entry)
    stored.close()
    preview.changes = [entry[2] for entry in sorted(largest, key=lambda e: e[:2], reverse=True)]
    return preview


def _stored_results(program: Program):
    """(facility, eligible, amount, payout_locked) of the program's stored results, in
    facility order, streamed."""
    return Determination.objects.filter(program=program).order_by("facility_id").values_list(
        "facility_id", "eligible", "amount", "payout_locked").iterator(chunk_size=PREVIEW_CHUNK)


def params_hash(params: dict) -> str:
    """The hash a preview keeps of the parameters it was computed with."""
    text = json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def current_preview(version: ParameterVersion) -> ParameterPreview | None:
    """The latest preview of this version computed with its parameters as they are now."""
    return version.previews.filter(params_hash=params_hash(version.params)).first()


def _new_preview(version: ParameterVersion, actor) -> ParameterPreview:
    """A queued preview row of a draft (inside the caller's transaction)."""
    binding = RULES[version.program.rule]
    kinds = getattr(binding.params_from_dict(version.params), "kinds", binding.kinds)
    return ParameterPreview.objects.create(
        version=version, params_hash=params_hash(version.params), created_by=actor,
        total=Facility.objects.filter(kind__in=list(kinds)).count())


def _check_draft_previewable(version: ParameterVersion) -> None:
    if version.status != ParameterVersion.Status.DRAFT:
        raise ParameterError("適用前の確認は下書きの版だけです。")
    _check_previewable(version)


def start_preview(*, version: ParameterVersion, actor) -> ParameterPreview:
    """Queue 「適用前の確認」 of a draft as a task (in-process without a broker); one already
    queued or running for the same parameters is returned instead of a second."""
    _check_draft_previewable(version)
    digest = params_hash(version.params)
    with transaction.atomic():
        ParameterVersion.objects.select_for_update().get(pk=version.pk)
        running = version.previews.filter(
            params_hash=digest, state__in=[PreviewState.QUEUED, PreviewState.RUNNING]).first()
        if running is not None:
            return running
        preview = _new_preview(version, actor)
        from .tasks import make_preview

        transaction.on_commit(lambda: make_preview.delay(preview.pk))
    return preview


def preview_now(*, version: ParameterVersion, actor) -> ParameterPreview:
    """「適用前の確認」 computed in this process (`manage.py parameters apply`): the same row and
    the same work as the admin's task, kept for the apply step. Returns the finished row (or
    the failed one, whose `failure` says why)."""
    _check_draft_previewable(version)
    with transaction.atomic():
        ParameterVersion.objects.select_for_update().get(pk=version.pk)
        preview = _new_preview(version, actor)
    make_preview(preview.pk)
    preview.refresh_from_db()
    return preview


PREVIEW_FAILED = "確認の途中で問題が起きました。もう一度確認を始めてください。"


def make_preview(preview_id: int) -> None:
    """The task's work, a background job (portal/jobs.py): only a queued preview is computed
    (a task delivered twice does nothing the second time); `done` is written as it goes, for
    the progress bar. The parameters computed are the ones hashed when it was queued: if the
    draft was edited meanwhile, the result is kept under the old hash and the page asks for a
    new one."""
    if not jobs.step(ParameterPreview, preview_id, "start"):
        return
    preview = ParameterPreview.objects.select_related("version__program").get(pk=preview_id)
    total = preview.total

    def progress(done: int) -> None:
        jobs.progress(ParameterPreview, preview_id, min(done, total))

    try:
        version = preview.version
        if params_hash(version.params) != preview.params_hash:
            raise ParameterError("確認を始めた後にパラメータが変更されました。")
        result = preview_version(version, progress=progress)
        names = dict((pk, (code, name)) for pk, code, name in Facility.objects.filter(
            pk__in=[c.facility_id for c in result.changes]).values_list("pk", "code", "name"))
        rows = [{"facility_id": c.facility_id, "code": names.get(c.facility_id, ("", ""))[0],
                 "name": names.get(c.facility_id, ("", ""))[1], "old_eligible": c.old_eligible,
                 "old_amount": c.old_amount, "new_eligible": c.new_eligible,
                 "new_amount": c.new_amount, "difference": c.difference}
                for c in result.changes]
        jobs.step(ParameterPreview, preview_id, "finish",
                  done=total, facilities=result.facilities, changed=result.changed,
                  newly_eligible=result.newly_eligible,
                  no_longer_eligible=result.no_longer_eligible,
                  locked_changes=result.locked_changes,
                  paid_up_count=result.paid_up_count, paid_up_yen=result.paid_up_yen,
                  paid_down_count=result.paid_down_count,
                  paid_down_yen=result.paid_down_yen,
                  total_difference=result.total_difference, rows=rows)
    except ServiceError as error:
        jobs.fail(ParameterPreview, preview_id, error.message)
    except Exception:
        logger.exception("parameter preview %s failed", preview_id)
        jobs.fail(ParameterPreview, preview_id, PREVIEW_FAILED)


def preview_for_apply(*, version: ParameterVersion, preview_id) -> ParameterPreview:
    """The kept preview the apply step rests on: finished, of this version, and computed
    with its parameters as they are now."""
    try:
        pk = int(preview_id)
    except (TypeError, ValueError):
        pk = None
    preview = (ParameterPreview.objects.filter(pk=pk, version=version).first()
               if pk is not None and 0 < pk < 2**63 else None)
    if preview is None or preview.state != PreviewState.DONE:
        raise ParameterError("適用前の確認が済んでいません。先に確認を行ってください。")
    if preview.params_hash != params_hash(version.params):
        raise ParameterError("確認の後にパラメータが変更されました。もう一度確認してください。")
    return preview


@dataclass(frozen=True)
class Applied:
    version: ParameterVersion
    queued: bool  # the program's batch was queued (its results change now)

    @property
    def waiting(self) -> bool:
        return self.version.status == ParameterVersion.Status.SCHEDULED


def apply_version(*, version: ParameterVersion, actor, today: date | None = None,
                  preview: ParameterPreview | None = None) -> Applied:
    """Apply a draft. It is applied last, so it governs every date from its effective_from
    on (docs/domain.md §5.4 "Parameters at a date"): if that day has come it is in force at once
    (the version in force before becomes a past version) and the program's batch is queued
    as a task after commit (never run in the admin's request); if it is still to come it
    waits (適用待ち) and changes no result before that day, when the nightly job makes it
    適用中 and determines under it. A version waiting for a day it now governs becomes a
    past version. Every move needs the apply permission and a second officer: whoever
    drafted the version or changed its parameters is refused (`ParameterVersion.
    move_refusal`). A program determined by the batch is applied (or set waiting) only on
    the preview the administrator saw: finished and computed with the parameters as they
    are at the apply, read under the version's row lock (`preview_for_apply`); it is named
    in the version's history. A claim-based program has no preview (each claim is computed
    when made)."""
    today = today or timezone.localdate()
    validate_params(version.program, version.params)
    with transaction.atomic():
        Program.objects.select_for_update().get(pk=version.program_id)  # one apply at a time
        version = ParameterVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != ParameterVersion.Status.DRAFT:
            raise ParameterError("下書きの版だけを適用できます。")
        name = "schedule" if version.effective_from > today else "apply"
        problem = refusal(version, name, actor)  # four-eyes first: nothing moves otherwise
        if problem is not None:
            raise problem
        if preview is None and version.program.rule in RULES:
            raise ParameterError("適用前の確認がまだです。確認を実行し、結果を見てから"
                                 "適用してください。")
        seen = None
        if preview is not None:
            preview = preview_for_apply(version=version, preview_id=preview.pk)
            seen = (f"適用前の確認 #{preview.pk}（結果が変わる施設 {preview.changed:,}、"
                    f"支給額の増減 {preview.total_difference:+,}円、支払済みで増額 "
                    f"{preview.paid_up_count:,}件 {preview.paid_up_yen:,}円・減額 "
                    f"{preview.paid_down_count:,}件 {preview.paid_down_yen:,}円）による")
        _restatus(version.program, today=today, actor=actor, also=version,
                  summary=f"{version} の適用により")
        version = perform(version, name, actor=actor, summary=seen)
        if name == "schedule":
            return Applied(version, queued=False)
        queued = version.program.rule in RULES  # claim-based: each claim is computed when made
        if queued:
            queue_program_batch(version.program)
    return Applied(version, queued=queued)


def apply_refusal(version: ParameterVersion, user) -> str | None:
    """Why `user` may not apply this draft (four-eyes, the permission), or None."""
    if version.status != ParameterVersion.Status.DRAFT:
        return None
    name = "schedule" if version.effective_from > timezone.localdate() else "apply"
    problem = refusal(version, name, user)
    return problem.message if problem is not None else None


def _restatus(program: Program, *, today: date, actor, also: ParameterVersion | None = None,
              summary: str) -> list[ParameterVersion]:
    """Move the program's applied versions to their status of `today`
    (`engine.version_statuses`; `also`: a draft being applied, moved by the caller): first
    every version that is no longer in force or waiting becomes a past version, then the
    one in force today becomes 適用中 (a row lock on the program is held by the caller)."""
    wanted = version_statuses(program, today=today, also=also)
    Status = ParameterVersion.Status
    versions = {v.pk: v for v in ParameterVersion.objects.select_for_update().filter(
        pk__in=[pk for pk in wanted if also is None or pk != also.pk])}
    moved = []
    for pk, version in sorted(versions.items()):
        if wanted[pk] == Status.SUPERSEDED and version.status in (Status.ACTIVE,
                                                                  Status.SCHEDULED):
            moved.append(perform(version, "supersede", actor=actor, summary=summary))
    for pk, version in sorted(versions.items()):
        if wanted[pk] == Status.ACTIVE and version.status == Status.SCHEDULED:
            moved.append(perform(version, "take_effect", actor=actor, summary=summary))
        elif wanted[pk] != version.status and wanted[pk] != Status.SUPERSEDED:
            # Only from data older than this rule (a past version it would now put in force):
            # left as it is, and said; parameters_in_force reads the dates all the same.
            logger.warning("parameter version %s is %s, its dates say %s", pk,
                           version.status, wanted[pk])
    return moved


def queue_program_batch(program: Program) -> None:
    from .tasks import run_eligibility as run_eligibility_task

    code = program.code
    transaction.on_commit(lambda: run_eligibility_task.delay(code))


def take_effect_due_versions(*, today: date) -> list[ParameterVersion]:
    """The nightly job: every program's applied versions get their status of today — a
    version waiting for a day that has come becomes 適用中, the one in force before it (and
    any version it overrides) a past version. Made as the portal's own job (no actor);
    `parameters_in_force` reads the dates, so the results are right even before this runs."""
    moved = []
    programs = Program.objects.filter(
        pk__in=ParameterVersion.objects.filter(due_versions(on=today)).values("program_id"))
    for program in programs.order_by("code"):
        summary = f"適用開始日（{today:%Y-%m-%d}）になったため"
        try:
            with transaction.atomic():
                Program.objects.select_for_update().get(pk=program.pk)
                moved += _restatus(program, today=today, actor=None, summary=summary)
        except ServiceError as error:
            # Left waiting; parameters_in_force already reads it from its effective date.
            logger.warning("versions of %s not moved: %s", program.code, error.message)
    return moved

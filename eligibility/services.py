"""Writes of the eligibility engine: the batch (idempotent, re-runnable, never touching a
result already put into a payout), re-determination when a facility's facts change,
parameter versions (preview, then apply at once or from their effective date)."""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from itertools import islice
from operator import or_

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from facilities.models import Facility
from portal.errors import ServiceError
from portal.workflow import last_actor, perform

from .engine import (
    PARAMETER_PARSERS,
    RULES,
    due_versions,
    parameters_in_force,
    reason_texts,
    results_for,
)
from .models import (
    Determination,
    EligibilityRun,
    ParameterVersion,
    PendingDetermination,
    Program,
)

logger = logging.getLogger(__name__)

BATCH = 5000
UPDATE_FIELDS = ["parameter_version", "eligible", "amount", "reasons", "details",
                 "determined_at"]


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


def run_eligibility(
    *, program: Program, facility_ids: list[int] | None = None, on: date | None = None
) -> EligibilityRun:
    """Determine every facility of the program (or those given) under the parameters in
    force today (or on `on`) and upsert the results (one row per facility and program);
    payout-locked results are left alone."""
    version = version_in_force(program, on=on)
    run = EligibilityRun.objects.create(program=program, parameter_version=version)
    locked_rows = Determination.objects.filter(program=program, payout_locked=True)
    if facility_ids is not None:
        locked_rows = locked_rows.filter(facility_id__in=facility_ids)
    locked = set(locked_rows.values_list("facility_id", flat=True))
    now = timezone.now()
    for chunk in _chunks(results_for(version, facility_ids), BATCH):
        rows = []
        for facility_id, result in chunk:
            if facility_id in locked:
                run.skipped_locked += 1
                continue
            rows.append((facility_id, program.pk, version.pk, result.eligible, result.amount,
                         reason_texts(result), result.details, now))
            run.facilities += 1
            run.eligible += result.eligible
            run.total_amount += result.amount
        _upsert(rows)
    run.finished_at = timezone.now()
    run.save()
    return run


_COLUMNS = ["facility_id", "program_id", "parameter_version_id", "eligible", "amount", "reasons",
            "details", "determined_at", "payout_locked"]


def _upsert(rows: list[tuple]) -> None:
    """One row per facility and program, inserted or replaced — only where the result
    changed, so `determined_at` says when a facility's result became what it is (a nightly
    run that finds the same result rewrites nothing). On PostgreSQL the rows are streamed
    with COPY into a temporary table and merged in one statement (the ORM's bulk upsert
    spends most of its time quoting JSON on the client)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        program_id = rows[0][1]
        stored = {
            facility_id: (version, eligible, amount, reasons, details)
            for facility_id, version, eligible, amount, reasons, details in
            Determination.objects.filter(
                program_id=program_id, facility_id__in=[row[0] for row in rows]
            ).values_list("facility_id", "parameter_version_id", "eligible", "amount",
                          "reasons", "details")
        }
        rows = [row for row in rows if stored.get(row[0]) != tuple(row[2:7])]
        if not rows:
            return
        with transaction.atomic():
            Determination.objects.bulk_create(
                [Determination(**dict(zip(_COLUMNS[:-1], row, strict=True))) for row in rows],
                update_conflicts=True, unique_fields=["facility", "program"],
                update_fields=UPDATE_FIELDS,
            )
        return
    table = Determination._meta.db_table
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c not in ("facility_id", "program_id",
                                                             "payout_locked")
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Table and column names come from the model, never from input.
        load = "CREATE TEMP TABLE IF NOT EXISTS determination_load ON COMMIT DELETE ROWS AS "
        load += f"SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608
        cursor.execute(load)
        cursor.execute("TRUNCATE determination_load")  # left over in an enclosing transaction
        with cursor.cursor.copy(f"COPY determination_load ({columns}) FROM STDIN") as copy:
            for facility, program, version, eligible, amount, reasons, details, at in rows:
                copy.write_row((
                    facility, program, version, eligible, amount,
                    json.dumps(reasons, ensure_ascii=False),
                    json.dumps(details, ensure_ascii=False), at, False,
                ))
        # Payout-locked rows are never touched, even if one was locked since we read.
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM determination_load "  # noqa: S608
            f"ON CONFLICT (facility_id, program_id) DO UPDATE SET {updates} "
            f"WHERE NOT {table}.payout_locked AND ({table}.parameter_version_id, "
            f"{table}.eligible, {table}.amount, {table}.reasons, {table}.details) "
            "IS DISTINCT FROM (EXCLUDED.parameter_version_id, EXCLUDED.eligible, "
            "EXCLUDED.amount, EXCLUDED.reasons, EXCLUDED.details)"
        )


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
    outside one); in-process when there is no broker (CELERY_TASK_ALWAYS_EAGER)."""
    from .tasks import redetermine_pending

    transaction.on_commit(redetermine_pending.delay)


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


# ---------------------------------------------------------------- parameter versions


def validate_params(program: Program, params: dict) -> None:
    try:
        PARAMETER_PARSERS[program.rule](params)
    except (KeyError, TypeError, ValueError) as error:
        raise ParameterError(f"パラメータの形式が正しくありません: {error}") from error


def create_draft_version(
    *, program: Program, params: dict, effective_from, notice: str, actor=None
) -> ParameterVersion:
    validate_params(program, params)
    with transaction.atomic():
        latest = program.versions.select_for_update().aggregate(v=Max("version"))["v"] or 0
        return ParameterVersion.objects.create(
            program=program, version=latest + 1, effective_from=effective_from, notice=notice,
            params=params, created_by=actor,
        )


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


@dataclass
class Preview:
    version: ParameterVersion
    facilities: int = 0
    changes: list[Change] = field(default_factory=list)
    locked_changes: int = 0

    @property
    def total_difference(self) -> int:
        return sum(change.difference for change in self.changes)

    @property
    def newly_eligible(self) -> int:
        return sum(1 for c in self.changes if c.new_eligible and not c.old_eligible)

    @property
    def no_longer_eligible(self) -> int:
        return sum(1 for c in self.changes if c.old_eligible and not c.new_eligible)


def preview_version(version: ParameterVersion) -> Preview:
    """Which facilities' results would change under this version, and by how much, against
    the results stored now. Nothing is written."""
    validate_params(version.program, version.params)
    if version.program.rule not in RULES:
        raise ParameterError("この制度は申請ごとに審査するため、一括の影響確認はありません。")
    current = {
        facility_id: (eligible, amount, locked)
        for facility_id, eligible, amount, locked in Determination.objects.filter(
            program=version.program
        ).values_list("facility_id", "eligible", "amount", "payout_locked")
    }
    preview = Preview(version=version)
    for facility_id, result in results_for(version):
        preview.facilities += 1
        old = current.get(facility_id)
        if old is not None and (old[0], old[1]) == (result.eligible, result.amount):
            continue
        if old is not None and old[2]:
            preview.locked_changes += 1
            continue
        preview.changes.append(
            Change(
                facility_id=facility_id,
                old_eligible=old[0] if old else None,
                old_amount=old[1] if old else None,
                new_eligible=result.eligible,
                new_amount=result.amount,
            )
        )
    return preview


@dataclass(frozen=True)
class Applied:
    version: ParameterVersion
    queued: bool  # the program's batch was queued (its results change now)

    @property
    def waiting(self) -> bool:
        return self.version.status == ParameterVersion.Status.SCHEDULED


def apply_version(*, version: ParameterVersion, actor, today: date | None = None) -> Applied:
    """Apply a draft. If its effective_from has come it is in force at once (the version in
    force becomes a past version) and the program's batch is queued as a task after commit
    (never run in the admin's request); if its effective_from is still to come it waits
    (適用待ち) and changes no result before that day, when the nightly job makes it 適用中
    and determines under it. Every move needs the apply permission."""
    today = today or timezone.localdate()
    validate_params(version.program, version.params)
    with transaction.atomic():
        Program.objects.select_for_update().get(pk=version.program_id)  # one apply at a time
        version = ParameterVersion.objects.get(pk=version.pk)
        if version.status != ParameterVersion.Status.DRAFT:
            raise ParameterError("下書きの版だけを適用できます。")
        if version.effective_from > today:
            if ParameterVersion.objects.filter(
                program=version.program, status=ParameterVersion.Status.SCHEDULED,
                effective_from=version.effective_from,
            ).exists():
                raise ParameterError("同じ適用開始日の版がすでに適用待ちです。")
            return Applied(perform(version, "schedule", actor=actor), queued=False)
        for active in ParameterVersion.objects.filter(
            program=version.program, status=ParameterVersion.Status.ACTIVE
        ):
            perform(active, "supersede", actor=actor, summary=f"{version} の適用により")
        version = perform(version, "apply", actor=actor)
        queued = version.program.rule in RULES  # claim-based: each claim is computed when made
        if queued:
            queue_program_batch(version.program)
    return Applied(version, queued=queued)


def queue_program_batch(program: Program) -> None:
    from .tasks import run_eligibility as run_eligibility_task

    code = program.code
    transaction.on_commit(lambda: run_eligibility_task.delay(code))


def take_effect_due_versions(*, today: date) -> list[ParameterVersion]:
    """Versions waiting for a day that has come become 適用中 (and the one in force before
    them a past version). The move is recorded as made by whoever applied the version;
    `parameters_in_force` reads the dates, so the results are right even before this runs."""
    moved = []
    for due in ParameterVersion.objects.filter(due_versions(on=today)).select_related(
        "program"
    ).order_by("program", "effective_from", "version"):
        actor = get_user_model().objects.filter(pk=last_actor(due, ("schedule",))).first()
        summary = f"適用開始日（{due.effective_from:%Y-%m-%d}）になったため"
        try:
            with transaction.atomic():
                for active in ParameterVersion.objects.filter(
                    program=due.program, status=ParameterVersion.Status.ACTIVE,
                    effective_from__lte=due.effective_from,
                ):
                    perform(active, "supersede", actor=actor, summary=f"{due} の{summary}")
                moved.append(perform(due, "take_effect", actor=actor, summary=summary))
        except ServiceError as error:
            # Left waiting; parameters_in_force already reads it from its effective date.
            logger.warning("version %s not moved to active: %s", due.pk, error.message)
    return moved

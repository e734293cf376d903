"""Writes of the eligibility engine: the batch (idempotent, re-runnable, never touching a
result already put into a payout), parameter versions (preview, then apply)."""

import json
from dataclasses import dataclass, field
from itertools import islice

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from portal.errors import ServiceError
from portal.workflow import perform

from .engine import PARAMETER_PARSERS, RULES, reason_texts, results_for
from .models import Determination, EligibilityRun, ParameterVersion, Program

BATCH = 5000
UPDATE_FIELDS = ["parameter_version", "eligible", "amount", "reasons", "details",
                 "determined_at"]


class ParameterError(ServiceError):
    """Parameters that do not parse, or a version that cannot be used as asked."""


def active_version(program: Program) -> ParameterVersion:
    version = program.versions.filter(status=ParameterVersion.Status.ACTIVE).first()
    if version is None:
        raise ParameterError(f"{program.name}: 適用中のパラメータがありません。")
    return version


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def run_eligibility(*, program: Program, facility_ids: list[int] | None = None) -> EligibilityRun:
    """Determine every facility of the program under its active parameters and upsert the
    results (one row per facility and program); payout-locked results are left alone."""
    version = active_version(program)
    run = EligibilityRun.objects.create(program=program, parameter_version=version)
    locked = set(
        Determination.objects.filter(program=program, payout_locked=True).values_list(
            "facility_id", flat=True
        )
    )
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
    """One row per facility and program, inserted or replaced. On PostgreSQL the rows are
    streamed with COPY into a temporary table and merged in one statement (the ORM's
    bulk upsert spends most of its time quoting JSON on the client)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
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
            f"WHERE NOT {table}.payout_locked"
        )


def run_all_open_programs() -> list[EligibilityRun]:
    return [
        run_eligibility(program=program)
        for program in Program.objects.filter(is_open=True, rule__in=list(RULES)).order_by("code")
        if program.versions.filter(status=ParameterVersion.Status.ACTIVE).exists()
    ]


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


def apply_version(*, version: ParameterVersion, actor) -> EligibilityRun | None:
    """Make a draft the program's parameters in force (the one in force becomes a past
    version) and re-determine every facility. Both moves need the apply permission."""
    validate_params(version.program, version.params)
    with transaction.atomic():
        Program.objects.select_for_update().get(pk=version.program_id)  # one apply at a time
        version = ParameterVersion.objects.get(pk=version.pk)
        if version.status != ParameterVersion.Status.DRAFT:
            raise ParameterError("下書きの版だけを適用できます。")
        for active in ParameterVersion.objects.filter(
            program=version.program, status=ParameterVersion.Status.ACTIVE
        ):
            perform(active, "supersede", actor=actor, summary=f"{version} の適用により")
        version = perform(version, "apply", actor=actor)
    if version.program.rule not in RULES:
        return None  # claim-based: each claim is computed when it is made
    return run_eligibility(program=version.program)

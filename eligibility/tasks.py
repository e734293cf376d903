from dataclasses import asdict

from celery import chord, current_app, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from portal.checks import cache_is_shared

from . import services
from .models import EligibilityRun, Program


def _spread_over_workers() -> bool:
    """A real broker, PostgreSQL and more than one part: the batch's ranges become Celery
    tasks (a chord) that any worker may take; otherwise the run stays in one process."""
    return (not current_app.conf.task_always_eager and connection.vendor == "postgresql"
            and settings.ELIGIBILITY_BATCH_TASKS > 1)


@shared_task(acks_late=True)
def run_eligibility(program_code: str | None = None) -> list[dict]:
    """The beat job (every open program, after making due parameter versions 適用中) or one
    program's batch (queued when its parameters are applied); idempotent and re-runnable.

    With a broker each program's facilities are split into ELIGIBILITY_BATCH_TASKS id
    ranges, determined by `determine_range` tasks on whichever workers are free, and the run
    is finished (its counts added, its end time set) by `finish_run` when all of them have
    succeeded. A range that fails leaves the run unfinished (no end time in the admin), and
    the next run determines everything again."""
    if not _spread_over_workers():
        if program_code:
            runs = [services.run_eligibility(program=Program.objects.get(code=program_code))]
        else:
            runs = services.run_nightly()
        return [_summary(run) for run in runs]
    today = timezone.localdate()
    if program_code:
        programs = [Program.objects.get(code=program_code)]
    else:
        services.take_effect_due_versions(today=today)
        programs = services.open_batch_programs(on=today)
    started = []
    for program in programs:
        run = services.start_run(program=program, on=today)
        ranges = services.part_ranges(settings.ELIGIBILITY_BATCH_TASKS)
        chord(determine_range.s(run.pk, low, high) for low, high in ranges)(
            finish_run.s(run.pk))
        started.append({"program": program.code, "run": run.pk, "parts": len(ranges)})
    return started


@shared_task(acks_late=True)
def determine_range(run_id: int, low: int, high: int) -> dict:
    """One part of a spread run: the facilities with ids in [low, high)."""
    run = EligibilityRun.objects.select_related("program", "parameter_version").get(pk=run_id)
    return asdict(services.determine_range(run=run, facility_range=(low, high)))


@shared_task(acks_late=True)
def finish_run(tallies: list[dict], run_id: int) -> dict:
    """The chord's end: every part has succeeded; their counts are added to the run once."""
    run = services.finish_run(run_id=run_id,
                              tallies=[services.PartTally(**tally) for tally in tallies])
    return _summary(run)


def _summary(run: EligibilityRun) -> dict:
    return {"program": run.program.code, "facilities": run.facilities, "eligible": run.eligible,
            "total_amount": run.total_amount, "skipped_locked": run.skipped_locked,
            "adjustments_proposed": run.adjustments_proposed}


# Set while a re-determination is queued and not yet started: a change made meanwhile is
# taken by that task (it reads every pending facility when it starts), so none is queued for
# it. Many changes a second (the rush before a deadline) make one task at a time, not one
# each. The flag needs a cache shared by the web processes and the workers (Redis); with a
# process-local cache every change queues its own task, as before.
QUEUED_FLAG = "eligibility:redetermination-queued"
QUEUED_FLAG_SECONDS = 300  # a task lost with its flag set delays the next by at most this


def queue_redetermine_pending() -> None:
    """Queue `redetermine_pending` unless one is already queued and not started."""
    if current_app.conf.task_always_eager or not cache_is_shared():
        redetermine_pending.delay()
        return
    if not cache.add(QUEUED_FLAG, 1, QUEUED_FLAG_SECONDS):
        return  # the queued task will find this change's pending rows
    try:
        redetermine_pending.delay()
    except Exception:
        cache.delete(QUEUED_FLAG)  # not queued: the next change must try again
        raise


@shared_task(acks_late=True)
def redetermine_pending() -> int:
    """Facilities whose facts changed: re-determined for their open programs. The flag is
    cleared before the pending rows are read: a change committed after this point queues
    the next task, one committed before it is read by this one."""
    cache.delete(QUEUED_FLAG)
    return services.redetermine_pending()


@shared_task(acks_late=True)
def make_preview(preview_id: int) -> None:
    """「適用前の確認」 of a draft parameter version, with its progress on the row."""
    services.make_preview(preview_id)

"""With a broker, the nightly batch is spread over the Celery workers: each program's
facilities in id ranges, one task each, finished by a chord's last step. Run here by a real
worker over Redis on PostgreSQL (in CI a missing service fails the test): the results are
those of the one-process run, to the yen, and the run's counts are added once."""

import os
import time

import pytest
from django.test import override_settings

from eligibility import services, tasks
from eligibility.dataset import generate_dataset
from eligibility.models import Determination, EligibilityRun
from portal.celery import app as celery_app
from tests.conftest import services_required


def _need_the_stack():
    from django.db import connection

    missing = [name for name, present in (("DATABASE_URL (PostgreSQL)",
                                           connection.vendor == "postgresql"),
                                          ("CELERY_BROKER_URL",
                                           bool(os.environ.get("CELERY_BROKER_URL"))))
               if not present]
    if missing:
        if services_required():
            pytest.fail(f"{', '.join(missing)} missing: CI must run against the real services")
        pytest.skip(f"{', '.join(missing)} not set: runs in CI against the real services")


def _results(program) -> dict[int, tuple]:
    return {d.facility_id: (d.eligible, d.amount, d.facts, d.details)
            for d in Determination.objects.filter(program=program)}


@pytest.mark.django_db(transaction=True)
def test_the_nightly_batch_spread_over_workers_gives_the_one_process_results(migration_data):
    _need_the_stack()
    from celery.contrib.testing.worker import start_worker

    generate_dataset(facilities=300, seed=7)
    programs = services.open_batch_programs()
    expected = {}
    for program in programs:  # the one-process run, then its results put aside
        run = services.run_eligibility(program=program)
        expected[program.pk] = (_results(program), run.facilities, run.eligible,
                                run.total_amount)
    Determination.objects.all().delete()

    broker = os.environ["CELERY_BROKER_URL"]
    celery_app.conf.update(task_always_eager=False, broker_url=broker, result_backend=broker)
    try:
        with override_settings(ELIGIBILITY_BATCH_TASKS=5), \
                start_worker(celery_app, pool="solo", perform_ping_check=False,
                             shutdown_timeout=10):
            started = tasks.run_eligibility.delay().get(timeout=60)
            assert {item["program"] for item in started} == {p.code for p in programs}
            assert all(item["parts"] == 5 for item in started)
            for item in started:  # the chords' last steps, each waited for
                run = EligibilityRun.objects.get(pk=item["run"])
                for _ in range(600):
                    run.refresh_from_db()
                    if run.finished_at is not None:
                        break
                    time.sleep(0.1)
                assert run.finished_at is not None, f"{item['program']}: not finished"
    finally:
        celery_app.conf.update(task_always_eager=True)

    for program in programs:
        results, facilities, eligible, total = expected[program.pk]
        run = EligibilityRun.objects.filter(program=program).latest("started_at")
        assert _results(program) == results
        assert (run.facilities, run.eligible, run.total_amount) == (facilities, eligible, total)
        assert run.written == facilities  # every result written once, by one of the parts


@pytest.mark.django_db
def test_finishing_a_run_twice_adds_its_counts_once():
    """A chord's last step delivered again (acks_late, a worker lost after it finished)."""
    program = services.open_batch_programs()[0]
    run = services.start_run(program=program)
    tally = services.PartTally(facilities=3, eligible=2, total_amount=300_000, written=3)
    services.finish_run(run_id=run.pk, tallies=[tally, tally])
    again = services.finish_run(run_id=run.pk, tallies=[tally, tally])
    assert (again.facilities, again.eligible, again.total_amount, again.written) == (
        6, 4, 600_000, 6)


@pytest.mark.django_db
def test_without_a_broker_the_batch_stays_in_one_process():
    """Eager tasks (no broker): the task runs the programs itself and returns their counts."""
    generate_dataset(facilities=20, seed=3)
    summaries = tasks.run_eligibility()
    assert {s["program"] for s in summaries} == {p.code for p in services.open_batch_programs()}
    assert not EligibilityRun.objects.filter(finished_at__isnull=True).exists()
    assert sum(s["facilities"] for s in summaries) == Determination.objects.count()

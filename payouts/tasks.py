"""Payout jobs. Every task is idempotent and acknowledged late: a worker killed mid-task
leaves its message to be delivered again, and doing it again finishes the work once."""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from eligibility.models import Program
from portal.errors import ServiceError

from . import services
from .calendar import next_business_day

logger = logging.getLogger(__name__)


# A pool process killed mid-build (the out-of-memory killer picks a pool process, not the
# worker) must not have its message acknowledged: building is idempotent, so it is delivered
# again and the run finished, as when the whole worker dies.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def create_run(program_code: str, transfer_date: str) -> dict:
    """Build one program's run, as the schedule does: a task cannot tell who sent it (a
    periodic task is set up in the admin by a system administrator), so its run has no
    creator and waits for one payout officer's check before another releases it. An
    officer creates a run in their own name from the admin or `manage.py payout create`."""
    run = services.create_run(program=Program.objects.get(code=program_code),
                              transfer_date=date.fromisoformat(transfer_date), actor=None)
    return {"run": run.pk, "state": run.state, "lines": run.line_count,
            "total": run.total_amount}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def create_scheduled_runs(lead_business_days: int = 5) -> list[dict]:
    """The beat job (its schedule is edited in the admin, django-celery-beat): first finish
    any run a dead worker left 作成中, then a run for every program with something payable,
    to be transferred `lead_business_days` bank business days after today. Programs with
    nothing payable get no run."""
    results = [{"run": run.pk, "state": run.state} for run in services.resume_building_runs()]
    day = timezone.localdate()
    for _ in range(max(1, lead_business_days)):
        day = next_business_day(day + timedelta(days=1))
    for program in Program.objects.order_by("code"):
        if not services.has_payables(program):
            continue
        try:
            run = services.create_run(program=program, transfer_date=day, actor=None)
        except ServiceError as error:  # e.g. a recovery to notice and no consignor's row
            logger.warning("payout run of %s not created: %s", program.code, error.message)
            results.append({"program": program.code, "refused": error.message})
            continue
        results.append({"run": run.pk, "state": run.state, "lines": run.line_count})
    return results


@shared_task(acks_late=True)
def notify_lines(line_ids: list[int], event: str) -> int:
    """E-mail the facilities of these lines what happened (振込予定 / 振込済 / 振込不能)."""
    return services.notify_lines(line_ids, event)

from celery import shared_task

from . import services
from .models import Program


@shared_task(acks_late=True)
def run_eligibility(program_code: str | None = None) -> list[dict]:
    """The beat job: every open program (or one), idempotent and re-runnable."""
    if program_code:
        runs = [services.run_eligibility(program=Program.objects.get(code=program_code))]
    else:
        runs = services.run_all_open_programs()
    return [
        {"program": run.program.code, "facilities": run.facilities, "eligible": run.eligible,
         "total_amount": run.total_amount, "skipped_locked": run.skipped_locked}
        for run in runs
    ]

from celery import shared_task

from . import services
from .models import Program


@shared_task(acks_late=True)
def run_eligibility(program_code: str | None = None) -> list[dict]:
    """The beat job (every open program, after making due parameter versions 適用中) or one
    program's batch (queued when its parameters are applied); idempotent and re-runnable."""
    if program_code:
        runs = [services.run_eligibility(program=Program.objects.get(code=program_code))]
    else:
        runs = services.run_nightly()
    return [
        {"program": run.program.code, "facilities": run.facilities, "eligible": run.eligible,
         "total_amount": run.total_amount, "skipped_locked": run.skipped_locked}
        for run in runs
    ]


@shared_task(acks_late=True)
def redetermine_pending() -> int:
    """Facilities whose facts changed: re-determined for their open programs."""
    return services.redetermine_pending()


@shared_task(acks_late=True)
def make_preview(preview_id: int) -> None:
    """「適用前の確認」 of a draft parameter version, with its progress on the row."""
    services.make_preview(preview_id)

"""Thin tasks: each calls a service of obligation/compliance.py or obligation/letters.py."""

from celery import shared_task


@shared_task(acks_late=True)
def compute_compliance() -> int:
    """Nightly: every 施術所's status (an exemption that expired today is seen here)."""
    from .compliance import compute_statuses

    return compute_statuses()


@shared_task(acks_late=True)
def recompute_compliance(facility_ids: list[int]) -> int:
    """After a change of these facilities' facts (with their 併設 subordinates)."""
    from .compliance import recompute_with_subordinates

    return recompute_with_subordinates(facility_ids)


@shared_task(acks_late=True)
def make_letters(batch_id: int) -> None:
    from .letters import make_letters as make

    make(batch_id)

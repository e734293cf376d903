from celery import shared_task

from . import services


@shared_task(acks_late=True)
def rebuild_public_list() -> int:
    return services.rebuild_public_list().entry_count


@shared_task(acks_late=True)
def expire_link_requests() -> int:
    return services.expire_link_requests()

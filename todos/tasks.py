from celery import shared_task

from . import services


@shared_task(acks_late=True)
def send_reminders() -> int:
    return services.send_reminders()

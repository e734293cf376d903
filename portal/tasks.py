from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, send_mail


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email(*, subject: str, body: str, to: list[str], headers: dict | None = None) -> int:
    if headers:
        return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, to,
                            headers=headers).send()
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)


@shared_task
def check_import(job_id: int) -> None:
    from .import_jobs import check_import_job

    check_import_job(job_id)


@shared_task
def run_import_job(job_id: int) -> None:
    from .import_jobs import run_confirmed_import

    run_confirmed_import(job_id)

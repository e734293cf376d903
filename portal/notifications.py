"""E-mail sent after anything that changes state: one place, rendered from templates
(`templates/emails/<name>_subject.txt` and `<name>_body.txt`), sent after the transaction
commits, by a Celery task (in-process when no broker is configured)."""

import logging

from django.conf import settings
from django.db import transaction
from django.template import Context
from django.template.loader import get_template

logger = logging.getLogger(__name__)


def _render_text(template_name: str, context: dict) -> str:
    """Plain text: no HTML escaping (a name with ' & < > is written as it is)."""
    template = get_template(template_name).template
    return template.render(Context(context, autoescape=False))


def contact_footer(context: dict | None = None) -> str:
    """The end of every e-mail: the portal's address and the 問い合わせ先 (portal/contact.py)."""
    from .contact import contact_context

    return _render_text("emails/_contact.txt", {
        **contact_context(), "portal_name": settings.PORTAL_NAME, **(context or {})}).strip("\n")


def render_email(name: str, context: dict) -> tuple[str, str]:
    subject = _render_text(f"emails/{name}_subject.txt", context).strip().replace("\n", " ")
    body = _render_text(f"emails/{name}_body.txt", context).rstrip("\n")
    body = f"{body}\n\n{contact_footer()}\n"
    return settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body


def notify(*, to: list[str], name: str, context: dict, headers: dict | None = None) -> None:
    """`headers`: extra e-mail headers (e.g. List-Unsubscribe of a reminder)."""
    recipients = sorted({address for address in to if address})
    if not recipients:
        return
    subject, body = render_email(name, context)

    def _send() -> None:
        from portal.tasks import send_email

        if headers:
            send_email.delay(subject=subject, body=body, to=recipients, headers=headers)
        else:
            send_email.delay(subject=subject, body=body, to=recipients)

    transaction.on_commit(_send)

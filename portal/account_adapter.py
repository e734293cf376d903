"""allauth's e-mails name the portal (PORTAL_NAME), never the server's host and port, and
their links point at PORTAL_BASE_URL when it is set (behind a proxy the request's own host may
be an internal one); without it, at the host the user came to."""

from urllib.parse import urlsplit, urlunsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

# Context values of allauth's e-mails that hold absolute links.
_LINKS = ("activate_url", "password_reset_url", "signup_url")


def on_portal(url: str) -> str:
    """`url` with the scheme and host of PORTAL_BASE_URL (when set)."""
    base = getattr(settings, "PORTAL_BASE_URL", "")
    if not base or not url:
        return url
    target, link = urlsplit(base), urlsplit(url)
    path = target.path.rstrip("/") + link.path
    return urlunsplit((target.scheme, target.netloc, path, link.query, link.fragment))


class AccountAdapter(DefaultAccountAdapter):
    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return on_portal(super().get_email_confirmation_url(request, emailconfirmation))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return on_portal(super().get_reset_password_from_key_url(key))

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        from .notifications import contact_footer

        # The same end as every other e-mail: the portal's address and the 問い合わせ先.
        context = {**context, "portal_name": settings.PORTAL_NAME,
                   "contact_footer": contact_footer()}
        for key in _LINKS:
            if isinstance(context.get(key), str):
                context[key] = on_portal(context[key])
        super().send_mail(template_prefix, email, context)

"""The demo (`manage.py load_demo`): each app adds its part in its `AppConfig.ready`
(`add_part`), so that the kernel names no app; the parts run in the order of
INSTALLED_APPS (facilities, then eligibility, then subsidies), each idempotent. A part returns
the log-ins it made (shown by the command), or nothing. An app may also add notes
(`add_notes`): lines the command prints after the log-ins (what a newcomer can try).

The kernel's own part is the 問い合わせ先 (portal/contact.py), set before the others."""

import os
import secrets
from collections.abc import Callable

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

_PARTS: list[Callable[[], list | None]] = []
_NOTES: list[Callable[[], list[str]]] = []

# The demo's 問い合わせ先: a made-up office (example.jp), in the shape of a real one.
DEMO_CONTACT = {
    "name": "オンライン資格確認ポータル 問い合わせ窓口（デモ）",
    "phone": "0120-000-000",
    "hours": "平日 9:00〜17:00（土日祝日・年末年始を除く）",
    "postcode": "100-8916",
    "address": "東京都千代田区霞が関1-2-2",
    "url": "https://portal.example.jp/contact/",
}


def add_part(part: Callable[[], list | None]) -> None:
    if part not in _PARTS:
        _PARTS.append(part)


def add_notes(notes: Callable[[], list[str]]) -> None:
    if notes not in _NOTES:
        _NOTES.append(notes)


def contact_point():
    """The demo's 問い合わせ先, set once (one kept already is left as it is)."""
    from .models import ContactPoint

    contact, _ = ContactPoint.objects.get_or_create(pk=1, defaults=DEMO_CONTACT)
    return contact


def load_demo() -> list:
    contact_point()
    logins: list = []
    for part in _PARTS:
        logins += part() or []
    return logins


def demo_notes() -> list[str]:
    lines: list[str] = []
    for notes in _NOTES:
        lines += notes() or []
    return lines


def served_url() -> str:
    """The address the demo is served at: PORTAL_BASE_URL when set, else where `scripts/serve`
    binds runserver (PORT_BIND, 127.0.0.1:8000 by default; a server bound to every address
    is reached at 127.0.0.1)."""
    from django.conf import settings

    if getattr(settings, "PORTAL_BASE_URL", ""):
        return settings.PORTAL_BASE_URL.rstrip("/") + "/"
    bind = os.environ.get("PORT_BIND", "") or "127.0.0.1:8000"
    host, _, port = bind.rpartition(":") if ":" in bind else ("127.0.0.1", "", bind)
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 - read, not bound
        host = "127.0.0.1"
    return f"http://{host}:{port}/"


def demo_user(email: str, *, staff: bool, full_name: str,
              superuser: bool | None = None) -> tuple[object, str]:
    """A demo account (its address verified) with a fresh password: (user, password)."""
    User = get_user_model()
    password = secrets.token_urlsafe(9).replace("-", "a").replace("_", "b")
    user, _ = User.objects.get_or_create(email=email, defaults={"full_name": full_name})
    user.is_staff = staff
    user.is_superuser = staff if superuser is None else superuser
    user.full_name = full_name
    user.set_password(password)
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user, password

"""The demo (`manage.py load_demo`): each app adds its part in its `AppConfig.ready`
(`add_part`), so that the kernel names no app; the parts run in the order of
INSTALLED_APPS (facilities, then eligibility, then subsidies), each idempotent. A part returns
the log-ins it made (shown by the command), or nothing."""

import secrets
from collections.abc import Callable

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

_PARTS: list[Callable[[], list | None]] = []


def add_part(part: Callable[[], list | None]) -> None:
    if part not in _PARTS:
        _PARTS.append(part)


def load_demo() -> list:
    logins: list = []
    for part in _PARTS:
        logins += part() or []
    return logins


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

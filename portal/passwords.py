"""The portal's password rule (seed 003): 英数字 8 to 100 characters."""

import re

from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.exceptions import ValidationError

_ALNUM = re.compile(r"[A-Za-z0-9]+")
MAX_LENGTH = 100


class PortalPasswordRuleValidator:
    def validate(self, password: str, user=None) -> None:
        if len(password) > MAX_LENGTH:
            raise ValidationError(
                f"パスワードは{MAX_LENGTH}文字以下にしてください。", code="password_too_long"
            )
        if not _ALNUM.fullmatch(password):
            raise ValidationError(
                "パスワードには半角の英字と数字のみを使ってください（記号・全角文字は使えません）。",
                code="password_not_alphanumeric",
            )

    def get_help_text(self) -> str:
        return f"半角英数字で8文字以上{MAX_LENGTH}文字以下。"


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 30 ms of CPU
    per log-in here, against about 370 ms for Django's PBKDF2 (1,000,000 iterations), so the
    rush before a deadline is not spent hashing, and 50 log-ins at once need about 1 GB of
    memory rather than the 5 GB of Django's Argon2 defaults (100 MiB each). The algorithm
    stays "argon2": a hash made with other parameters, or by PBKDF2, is rehashed with these
    at the next successful log-in (settings.PASSWORD_HASHERS lists the older hashers after)."""

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

"""The portal's password rule (seed 003): 英数字 8 to 100 characters."""

import re

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

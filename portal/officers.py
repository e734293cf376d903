"""Who runs an officer's command (`manage.py payout`, `parameters apply`, `adjustments`): the
officer `--by` names, proved as at the admin's log-in — the officer's password and the current
code of their authenticator app (two-factor), read without echo from the terminal, or as two
lines (password, then code) from standard input when it is not a terminal (a script; the
tests). Never from an argument: it would stay in the shell's history and the list of
processes. A wrong password or code is refused (CommandError, exit code 1) and changes
nothing; after RATE_LIMITS["officer_authentication"] failures (5 in 5 minutes per officer, as
the log-in's limit per account; one count for every officer's command) the officer is refused
until the window passes. The failures count in the portal's limiter (portal/ratelimit.py, the
shared cache). What the officer may do is checked by the services."""

import getpass
import logging

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from . import ratelimit

logger = logging.getLogger(__name__)

SCOPE = "officer_authentication"  # failed authentications per officer
WRONG = "パスワードまたは認証アプリの確認コードが正しくありません。何も変更していません。"
LIMITED = ("パスワードまたは確認コードの誤りが続いたため、この担当者ではしばらく操作できません。"
           "時間をおいてから、もう一度お試しください。何も変更していません。")
MISSING = ("パスワードと認証アプリの確認コードを入力してください"
           "（端末でない標準入力からは、1行目にパスワード、2行目に確認コード）。何も変更していません。")


def _failures(user, *, dry_run: bool = False) -> ratelimit.Decision:
    """Spend one attempt of the officer's limit (false: none left); `dry_run`: only look."""
    count = ratelimit.peek if dry_run else ratelimit.limit
    return count(SCOPE, user.pk, ratelimit.rates_for(SCOPE))


def staff_account(email: str):
    """The active staff account `--by` names (not yet proved)."""
    user = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if user is None or not (user.is_active and user.is_staff):
        raise CommandError(f"--by {email}: 有効な管理者アカウントが見つかりません。")
    return user


def read_secrets(stream, email: str) -> tuple[str, str]:
    """The password and the code, typed at a terminal (no echo) or two lines of `stream`."""
    try:
        if callable(getattr(stream, "isatty", None)) and stream.isatty():
            password = getpass.getpass(f"{email} のパスワード: ")
            code = getpass.getpass("認証アプリの確認コード（6桁）: ")
        else:
            password = stream.readline().rstrip("\r\n")
            code = stream.readline().strip()
    except (EOFError, OSError, ValueError):  # nothing to read, or closed
        password = code = ""
    return password, code


def authenticated_officer(email: str, stream, *, command: str):
    """The officer `--by` names, once they typed their password and current code."""
    user = staff_account(email)
    authenticator = Authenticator.objects.filter(
        user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        raise CommandError(f"--by {email}: 二段階認証（認証アプリ）が設定されていないため、"
                           "コマンドでは操作できません。管理画面へのログインで設定してください。")
    if not _failures(user, dry_run=True):
        raise CommandError(LIMITED)
    password, code = read_secrets(stream, user.email)
    if not password or not code:
        raise CommandError(MISSING)
    attempt = _failures(user)
    if not attempt:
        raise CommandError(LIMITED)
    # The code is checked (and spent) only after the right password.
    if not (user.check_password(password) and TOTP(authenticator).validate_code(code)):
        logger.warning("manage.py %s: wrong password or code for user %s", command, user.pk)
        raise CommandError(WRONG)
    attempt.refund()  # a success spends nothing (as allauth's log-in)
    authenticator.record_usage()
    return user

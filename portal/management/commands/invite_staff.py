"""`manage.py invite_staff EMAIL`: e-mail a staff account its one-time link to set up
two-factor authentication (portal/invitations.py), as the user admin's
「二段階認証の招待を送る」 does. Its open invitation, if any, is revoked. The link is sent to
the account's address, never printed: whoever runs the command does not see it. A refusal
(no such account, not staff, inactive, already set up) is a CommandError in Japanese."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal import invitations
from portal.normalize import nfkc
from portal.templatetags.wareki import wareki_datetime_filter


def _storable(address: str) -> bool:
    """Something PostgreSQL can compare with an address (no NUL, no lone surrogate from a
    badly encoded argument, not longer than an address may be)."""
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return bool(address) and len(address) <= 254 and "\x00" not in address


class Command(BaseCommand):
    help = "管理画面を使うアカウントに、二段階認証を設定するための招待メール（1回限りのリンク）を送る"

    def add_arguments(self, parser):
        parser.add_argument("email", help="招待するスタッフアカウントのメールアドレス")

    def handle(self, *args, email: str, **options):
        address = nfkc(email)
        user = get_user_model().objects.filter(email__iexact=address).first() if (
            _storable(address)) else None
        if user is None:
            raise CommandError("そのメールアドレスのアカウントがありません。")
        try:
            invitation, _link = invitations.issue_invitation(user=user)
        except invitations.InvitationRefused as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(f"二段階認証の招待メールを {user.email} に送りました（有効期限 "
                          f"{wareki_datetime_filter(invitation.expires_at)}）。")

"""Two-factor enrolment of staff (admin) accounts by invitation only.

A staff account without an authenticator reaches no page (portal/admin_access.py) until it
sets one up, and it may set one up only through a one-time link e-mailed to its own address:
the link proves the mailbox, the password typed on the link's page proves the person. The
token exists in clear only in the e-mail; the database keeps its SHA-256. A link is bound to
its account, expires (TWO_FACTOR_INVITATION_HOURS), is spent when the authenticator is set
up, and is revoked by a newer invitation. Invitations are sent by a superuser from the user
admin (or when it makes an account staff), by `manage.py invite_staff`, and by `load_demo`.
"""

import hashlib
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from .account_adapter import on_portal
from .models import TwoFactorInvitation
from .notifications import notify

SESSION_KEY = "portal.two_factor_invitation"
# The link's token, hashed, between the link and its password page (the token leaves the URL
# at once: it is not sent on in a Referer nor logged with a refusal).
LINK_SESSION_KEY = "portal.two_factor_invitation_link"
# A token is 43 URL-safe characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 100
# Where the links of a command (no request) point when PORTAL_BASE_URL is not set: the
# development server scripts/serve starts.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:8000"


class InvitationRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def has_authenticator(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def needs_invitation(user) -> bool:
    """A signed-in staff account without an authenticator: it reaches nothing but its
    enrolment by invitation."""
    return bool(user is not None and user.is_authenticated and user.is_staff
                and not has_authenticator(user))


def invitation_link(token: str, request: HttpRequest | None = None) -> str:
    path = reverse("two_factor_invitation", args=[token])
    if request is not None:
        return on_portal(request.build_absolute_uri(path))
    base = getattr(settings, "PORTAL_BASE_URL", "") or DEVELOPMENT_BASE_URL
    return base.rstrip("/") + path


def _open(queryset):
    return queryset.filter(used_at__isnull=True, revoked_at__isnull=True,
                           expires_at__gt=timezone.now())


def issue_invitation(*, user, actor=None,
                     request: HttpRequest | None = None) -> tuple[TwoFactorInvitation, str]:
    """A new invitation for a staff account without an authenticator, e-mailed to its
    address after the transaction commits; its open invitation, if any, is revoked.
    Returns the invitation and its link (the only place the token is seen besides the
    e-mail)."""
    with transaction.atomic():
        # The account's row lock orders two simultaneous invitations: each revokes the one
        # before it, and at most one is open (a constraint says so too).
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        if not user.is_active:
            raise InvitationRefused("このアカウントは無効（is_active がオフ）のため、招待を送れません。")
        if not user.is_staff:
            raise InvitationRefused(
                "スタッフ（管理画面を使う）アカウントではないため、招待は不要です。"
                "施設の担当者は、ご自身で二段階認証を設定できます。")
        if has_authenticator(user):
            raise InvitationRefused(
                "このアカウントは二段階認証を設定済みです。認証アプリを失くした場合は、"
                "その認証器（二段階認証の認証器）を削除してから、招待を送ってください。")
        now = timezone.now()
        TwoFactorInvitation.objects.filter(user=user, used_at__isnull=True,
                                           revoked_at__isnull=True).update(revoked_at=now)
        token = secrets.token_urlsafe(32)
        invitation = TwoFactorInvitation.objects.create(
            user=user, token_hash=token_hash(token), created_by=actor, created_at=now,
            expires_at=now + timedelta(hours=settings.TWO_FACTOR_INVITATION_HOURS))
        link = invitation_link(token, request)
        notify(to=[user.email], name="two_factor_invitation",
               context={"user": user, "link": link, "expires_at": invitation.expires_at,
                        "portal_name": settings.PORTAL_NAME})
    return invitation, link


def open_invitation(token: str) -> TwoFactorInvitation | None:
    """The invitation of this token if it may still be used (not spent, revoked or
    expired), with its account."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return invitation_by_hash(token_hash(token))


def invitation_by_hash(hashed: str, *, lock: bool = False) -> TwoFactorInvitation | None:
    """The open invitation whose token has this SHA-256 (what the link's page keeps in the
    session instead of the token); `lock` takes its row lock (in a transaction)."""
    if not isinstance(hashed, str) or not hashed:
        return None
    invitations = _open(TwoFactorInvitation.objects.select_related("user")).filter(
        token_hash=hashed, user__is_active=True, user__is_staff=True)
    if lock:
        invitations = invitations.select_for_update(of=("self",))
    return invitations.first()


def latest_open_invitation(user) -> TwoFactorInvitation | None:
    return _open(TwoFactorInvitation.objects.filter(user=user)).order_by("-created_at").first()


def invitation_in_session(request: HttpRequest, *, lock: bool = False
                          ) -> TwoFactorInvitation | None:
    """The open invitation this session proved (link and password), for the signed-in
    account; `lock` takes its row lock (in a transaction)."""
    pk = request.session.get(SESSION_KEY)
    if not isinstance(pk, int) or not request.user.is_authenticated:
        return None
    invitations = _open(TwoFactorInvitation.objects.filter(pk=pk, user=request.user))
    if lock:
        invitations = invitations.select_for_update()
    return invitations.first()


def accept_invitation(*, request: HttpRequest, invitation: TwoFactorInvitation) -> None:
    """The link's page has checked the password: the address is verified (the link reached
    it) and this session may set up the authenticator."""
    user = invitation.user
    address = (EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
               or EmailAddress(user=user, email=user.email))
    address.verified = True
    # The log-in address is the primary one unless the account chose another.
    others = EmailAddress.objects.filter(user=user, primary=True)
    if address.pk is not None:
        others = others.exclude(pk=address.pk)
    address.primary = address.primary or not others.exists()
    address.save()
    request.session[SESSION_KEY] = invitation.pk


def spend_invitation(*, request: HttpRequest, invitation: TwoFactorInvitation) -> None:
    """The authenticator was set up through this invitation: it is spent, and the account
    is told by e-mail."""
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    request.session.pop(SESSION_KEY, None)
    user = invitation.user
    notify(to=[user.email], name="two_factor_enrolled",
           context={"user": user, "at": invitation.used_at,
                    "portal_name": settings.PORTAL_NAME})

"""One log-in for everybody: the admin site signs in through allauth (its rate limits and
two-factor authentication apply), and every staff (admin) account must use two-factor
authentication. A staff account without an authenticator reaches no page at all but its
enrolment, which only an invitation e-mailed to its address opens (portal/invitations.py):
a password alone never sets one up. A session that was not confirmed by a code is asked for
one before any admin page is shown."""

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from . import invitations

ADMIN_PREFIX = "/admin/"


def _to(name: str, next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


def admin_login(request: HttpRequest) -> HttpResponseRedirect:
    """/admin/login/ is allauth's log-in page (the admin's own form would bypass it)."""
    return _to("account_login", request.GET.get("next") or ADMIN_PREFIX)


def admin_logout(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("account_logout"))


def session_used_mfa(request: HttpRequest) -> bool:
    return any(record.get("method") == "mfa"
               for record in get_authentication_records(request, request.user))


def open_before_enrolment(request: HttpRequest) -> bool:
    """The pages a staff account without an authenticator may reach: the page saying an
    invitation is needed, the invitation link, the log-out, and, once this session proved an
    invitation (link and password), allauth's set-up page and its password confirmation."""
    path = request.path_info
    if path.startswith(reverse("two_factor_invitation_required")) or path == reverse(
            "account_logout"):
        return True  # the required page and every invitation link below it
    if path in (reverse("mfa_activate_totp"), reverse("account_reauthenticate")):
        return invitations.invitation_in_session(request) is not None
    return False


class AdminRequiresTwoFactor:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            if not invitations.has_authenticator(user):
                if not open_before_enrolment(request):
                    return HttpResponseRedirect(reverse("two_factor_invitation_required"))
            elif request.path.startswith(ADMIN_PREFIX) and not session_used_mfa(request):
                return _to("mfa_reauthenticate", request.get_full_path())
        return self.get_response(request)

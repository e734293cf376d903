"""One log-in for everybody: the admin site signs in through allauth (its rate limits and
two-factor authentication apply), and every staff (admin) account must use two-factor
authentication: without an authenticator it is sent to set one up; a session that was not
confirmed by a code is asked for one before any admin page is shown."""

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

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


class AdminRequiresTwoFactor:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if (request.path.startswith(ADMIN_PREFIX) and user is not None
                and user.is_authenticated and user.is_staff):
            has_totp = Authenticator.objects.filter(
                user=user, type=Authenticator.Type.TOTP).exists()
            if not has_totp:
                return _to("mfa_activate_totp", request.get_full_path())
            if not session_used_mfa(request):
                return _to("mfa_reauthenticate", request.get_full_path())
        return self.get_response(request)

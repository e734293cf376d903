"""The CSRF failure page in the portal's layout and in Japanese (CSRF_FAILURE_VIEW)."""

from django.http import HttpRequest, HttpResponseForbidden
from django.template.loader import render_to_string


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponseForbidden:
    # The reason is for the log, not for the user (Django logs it as django.security.csrf).
    return HttpResponseForbidden(render_to_string("403_csrf.html", request=request))

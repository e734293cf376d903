"""Error pages: the CSRF failure page in the portal's layout and in Japanese
(CSRF_FAILURE_VIEW), and the 403 page, in the admin's words for administrators."""

from django.http import HttpRequest, HttpResponseForbidden
from django.template.loader import render_to_string


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponseForbidden:
    # The reason is for the log, not for the user (Django logs it as django.security.csrf).
    return HttpResponseForbidden(render_to_string("403_csrf.html", request=request))


def permission_denied(request: HttpRequest, exception=None):
    """handler403: an administrator refused an admin page reads it in the admin's layout and
    words (what their roles allow, whom to ask); everyone else the portal's page."""
    from django.urls import reverse
    from django.views.defaults import permission_denied as portal_page

    if request.path.startswith(reverse("admin:index")) and getattr(
            request, "user", None) is not None and request.user.is_staff:
        from django.contrib import admin

        context = {**admin.site.each_context(request), "title": "このページは開けません"}
        return HttpResponseForbidden(render_to_string("admin/403.html", context,
                                                      request=request))
    return portal_page(request, exception)

from django.contrib import admin
from django.urls import include, path

from . import invitation_views, views
from .admin_access import admin_login, admin_logout

# The root urlconf mounts every app's URLs by dotted name and imports no app: it composes the
# project; the kernel below it names no app (docs/architecture.md#layers).

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", include("todos.dashboard_urls")),
    # Staff accounts set up two-factor only through an invitation (portal/invitations.py):
    # allauth's set-up page, at its own address, goes through invitation_views first.
    path("accounts/2fa/invitation/", invitation_views.invitation_required,
         name="two_factor_invitation_required"),
    path("accounts/2fa/invitation/open/", invitation_views.invitation_open,
         name="two_factor_invitation_open"),
    path("accounts/2fa/invitation/<str:token>/", invitation_views.invitation,
         name="two_factor_invitation"),
    path("accounts/2fa/totp/activate/", invitation_views.activate_totp),
    path("accounts/", include("allauth.urls")),
    path("facilities/", include("facilities.urls")),
    path("facilities/", include("incentives.urls")),
    path("facilities/", include("subsidies.urls")),
    path("facilities/", include("payouts.urls")),
    path("facilities/", include("cardreader.page_urls")),
    path("", include("obligation.urls")),
    path("simulator/", include("incentives.simulator_urls")),
    path("todos/", include("todos.urls")),
    path("public/", include("facilities.public_urls")),
    path("api/counter/checks/", include("cardreader.counter_urls")),
    path("api/counter/", include("cardreader.urls")),
    path("admin/login/", admin_login),
    path("admin/logout/", admin_logout),
    path("admin/", admin.site.urls),
]

# An administrator refused an admin page reads it in the admin's words.
handler403 = "portal.error_views.permission_denied"

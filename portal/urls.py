from django.contrib import admin
from django.urls import include, path

from facilities.urls import public_urlpatterns
from incentives import views as incentives_views

from . import invitation_views, views
from .admin_access import admin_login, admin_logout

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
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
    path("simulator/", incentives_views.simulator, name="simulator"),
    path("todos/", include("todos.urls")),
    path("public/", include((public_urlpatterns, "public"))),
    path("api/counter/checks/", include("cardreader.counter_urls")),
    path("api/counter/", include("cardreader.urls")),
    path("admin/login/", admin_login),
    path("admin/logout/", admin_logout),
    path("admin/", admin.site.urls),
]

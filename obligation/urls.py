"""The facility's obligation pages (under /facilities/<facility_id>/obligation/) and the
public explanation-session request (/obligation/sessions/), in one namespace."""

from django.urls import path

from . import views

app_name = "obligation"

FACILITY = "facilities/<int:facility_id>/obligation/"

urlpatterns = [
    path(FACILITY, views.overview, name="overview"),
    path(f"{FACILITY}exemption/", views.exemption, name="exemption"),
    path(f"{FACILITY}exemption/<int:pk>/withdraw/", views.withdraw_exemption,
         name="withdraw_exemption"),
    path(f"{FACILITY}annex/", views.annex, name="annex"),
    path(f"{FACILITY}annex/<int:pk>/<slug:move>/", views.annex_move, name="annex_move"),
    path("obligation/sessions/apply/", views.session_apply, name="session_apply"),
    path("obligation/sessions/apply/done/", views.session_done, name="session_done"),
]

from django.urls import path

from . import views

app_name = "facilities"

urlpatterns = [
    path("link/", views.link_facility, name="link"),
    path("link/<int:pk>/", views.link_request, name="link_request"),
    path("<int:facility_id>/", views.facility_home, name="home"),
    path("<int:facility_id>/applications/", views.applications, name="applications"),
    path("<int:facility_id>/applications/start/", views.application_start,
         name="application_start"),
    path("<int:facility_id>/applications/change/", views.application_change,
         name="application_change"),
    path("<int:facility_id>/applications/<int:pk>/", views.application_detail,
         name="application_detail"),
    path("<int:facility_id>/accounts/", views.accounts, name="accounts"),
    path("<int:facility_id>/accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("<int:facility_id>/accounts/<int:pk>/settings.pdf", views.account_settings_pdf,
         name="account_settings_pdf"),
    path("<int:facility_id>/golive/", views.golive, name="golive"),
    path("<int:facility_id>/history/", views.history, name="history"),
    path("<int:facility_id>/staff/", views.staff, name="staff"),
    path("<int:facility_id>/staff/requests/<int:pk>/<slug:move>/", views.link_request_decide,
         name="link_request_decide"),
]

from django.urls import path

from . import views

app_name = "incentives"

urlpatterns = [
    path("<int:facility_id>/money/", views.overview, name="overview"),
    path("<int:facility_id>/money/<slug:code>/report/", views.report, name="report"),
    path("<int:facility_id>/money/<slug:code>/attest/", views.attest, name="attest"),
]

"""The counter page's checks for the local agent, mounted at /api/counter/checks/."""

from django.urls import path

from . import counter_api

app_name = "counter_checks"

urlpatterns = [
    path("next", counter_api.next_check, name="next"),
    path("<str:check_id>/confirm", counter_api.confirm_check, name="confirm"),
    path("<str:check_id>/fail", counter_api.fail_check, name="fail"),
]

"""The counter's JSON API, mounted at /api/counter/ (portal/urls.py)."""

from django.urls import path

from . import api

app_name = "counter"

urlpatterns = [
    path("token", api.token, name="token"),
    path("challenge", api.challenge, name="challenge"),
    path("confirm", api.confirm, name="confirm"),
]

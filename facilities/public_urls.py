"""The public list (公開リスト), mounted at /public/ by the root urlconf."""

from django.urls import path

from . import views

app_name = "public"

urlpatterns = [
    path("", views.public_list, name="list"),
    path("facilities.csv", views.public_list_csv, name="csv"),
]

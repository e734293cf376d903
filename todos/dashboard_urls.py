"""マイページ (the dashboard), mounted at /dashboard/ by the root urlconf."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]

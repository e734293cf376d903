"""The public simulator, mounted at /simulator/ by the root urlconf."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.simulator, name="simulator"),
]

from django.urls import path

from . import views

app_name = "todos"

urlpatterns = [
    path("reminders/", views.reminders, name="reminders"),
    path("reminders/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

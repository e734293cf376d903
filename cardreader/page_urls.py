from django.urls import path

from . import views

app_name = "cardreader"

urlpatterns = [
    path("<int:facility_id>/counter/", views.counter_page, name="counter"),
    path("<int:facility_id>/counter/<str:check_id>/", views.check_page, name="check"),
]

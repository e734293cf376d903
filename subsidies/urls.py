from django.urls import path

from . import views

app_name = "subsidies"

urlpatterns = [
    path("<int:facility_id>/claims/", views.claims, name="claims"),
    path("<int:facility_id>/claims/start/<slug:code>/", views.start, name="start"),
    path("<int:facility_id>/claims/<int:pk>/", views.claim, name="claim"),
    path("<int:facility_id>/claims/<int:pk>/items/<int:item_pk>/", views.item, name="item"),
    path("<int:facility_id>/claims/<int:pk>/items/<int:item_pk>/delete/", views.delete_item,
         name="delete_item"),
    path("<int:facility_id>/claims/<int:pk>/estimate/", views.estimate, name="estimate"),
    path("<int:facility_id>/claims/<int:pk>/confirm/", views.confirm, name="confirm"),
    path("<int:facility_id>/claims/<int:pk>/documents/<int:doc_pk>/", views.document,
         name="document"),
    path("<int:facility_id>/claims/<int:pk>/notice.pdf", views.notice, name="notice"),
]

from django.urls import path

from . import views

app_name = "payouts"

urlpatterns = [
    path("<int:facility_id>/money/bank/", views.bank_account, name="bank"),
    path("<int:facility_id>/money/payments/", views.payments, name="payments"),
    path("<int:facility_id>/money/payments/<int:pk>/notice.pdf", views.notice, name="notice"),
    path("<int:facility_id>/money/recoveries/<int:pk>/notice.pdf", views.recovery_notice,
         name="recovery_notice"),
]

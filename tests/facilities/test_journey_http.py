"""The facility journey through HTTP with the Django test client."""

import pytest
from django.core import mail
from django.urls import reverse

from facilities.models import ApplicationState, DeviceAccount, GoLive, UsageApplication
from tests.confirming import post_confirmed
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db


def _start_form(**overrides):
    data = {
        "contact_name": "担当 花子", "founder_name": "開設 太郎", "phone": "０３-１１１１-２２２２",
        "email": "tanto@example.jp", "staff_count": "３", "device_count": "2",
        "token": "6f1b7e0c-2c3a-4a51-9d61-7f0b4f1f7a10",
    }
    data.update(overrides)
    return data


def test_start_application_shows_confirmation_before_saving(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    url = reverse("facilities:application_start", args=[facility.pk])

    response = client.post(url, _start_form(review="1"))

    assert response.status_code == 200
    assert "内容の確認" in response.content.decode()
    assert UsageApplication.objects.count() == 0


def test_start_application_submits_once_with_receipt_number(
    client, django_capture_on_commit_callbacks
):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    url = reverse("facilities:application_start", args=[facility.pk])

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, _start_form(submit="1"))
    second = client.post(url, _start_form(submit="1"))  # double click / reload

    application = UsageApplication.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert application.staff_count == 3  # full-width digits normalised
    assert application.phone == "03-1111-2222"
    page = client.get(first["Location"]).content.decode()
    assert application.receipt_number in page
    assert "申請中" in page
    assert any(application.receipt_number in m.subject for m in mail.outbox)


def test_invalid_application_keeps_input_and_saves_nothing(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    url = reverse("facilities:application_start", args=[facility.pk])

    response = client.post(url, _start_form(device_count="0", phone="abc", submit="1"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "入力内容に誤りがあります" in body
    assert "電話番号は0から始まる" in body
    assert 'value="担当 花子"' in body
    assert UsageApplication.objects.count() == 0


def test_accepted_application_gives_accounts_and_allows_golive(client, django_user_model):
    from facilities import services
    from tests.factories import AdminFactory

    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    client.post(reverse("facilities:application_start", args=[facility.pk]),
                _start_form(submit="1"))
    services.accept_application(application=UsageApplication.objects.get(),
                                actor=AdminFactory())

    assert DeviceAccount.objects.filter(facility=facility).count() == 2
    golive_url = reverse("facilities:golive", args=[facility.pk])
    response = post_confirmed(client, golive_url, {"date": "２０２５－０６－１０"})
    assert response.status_code == 302
    assert GoLive.objects.get(facility=facility).date.isoformat() == "2025-06-10"
    page = client.get(golive_url).content.decode()
    assert "令和7年6月10日" in page
    assert "利用可" in page
    assert UsageApplication.objects.get().state == ApplicationState.ACCEPTED

"""Bad input gets a clear message next to the field, keeps what was typed, saves nothing."""

import pytest
from django.urls import reverse

from facilities.models import GoLive, LinkRequest, Membership, UsageApplication
from tests.confirming import post_confirmed
from tests.factories import FacilityFactory, accepted_facility, make_staff, submit_start

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value, message",
    [
        ("2025-02-30", "という日付はありません"),
        ("abcd-ef-gh", "の形で入力してください"),
        ("0000-01-01", "という日付はありません"),
        ("99999-01-01", "の形で入力してください"),
        ("1999-01-01", "までの日付を入力してください"),
        ("2100-01-01", "までの日付を入力してください"),
        ("", "必須"),
    ],
)
def test_bad_golive_dates_are_refused(client, value, message):
    facility, user, _ = accepted_facility()
    client.force_login(user)
    response = client.post(reverse("facilities:golive", args=[facility.pk]), {"date": value})
    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert "入力内容に誤りがあります" in body
    assert not GoLive.objects.exists()


@pytest.mark.parametrize("value", ["2025/06/10", "２０２５－０６－１０", " 2025-06-10 "])
def test_golive_accepts_typed_dates_in_common_forms(client, value):
    facility, user, _ = accepted_facility()
    client.force_login(user)
    response = post_confirmed(client, reverse("facilities:golive", args=[facility.pk]),
                              {"date": value})
    assert response.status_code == 302
    assert GoLive.objects.get().date.isoformat() == "2025-06-10"


@pytest.mark.parametrize(
    "code, last4, message",
    [
        ("0110113718", "1234", "検証番号"),
        ("12345", "1234", "10桁"),
        ("0110113719", "12", "下4桁を数字4桁"),
        ("0110113719", "abcd", "下4桁を数字4桁"),
        ("", "1234", "必須"),
    ],
)
def test_bad_link_input_is_refused_next_to_the_field(staff_client, code, last4, message):
    response = staff_client.post(reverse("facilities:link"),
                                 {"code": code, "account_last4": last4})
    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert f'value="{code}"' in body or not code
    assert not Membership.objects.exists()


def test_full_width_code_makes_a_link_request(staff_client):
    facility = FacilityFactory(kind="clinic", account_last4="0042")
    wide = facility.code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = staff_client.post(reverse("facilities:link"),
                                 {"code": wide, "account_last4": "００４２"})
    assert response.status_code == 302
    assert LinkRequest.objects.filter(facility=facility).exists()
    assert not Membership.objects.filter(facility=facility).exists()  # a request, not staff


@pytest.mark.parametrize(
    "field, value",
    [("staff_count", "-1"), ("staff_count", "abc"), ("device_count", "100"),
     ("device_count", "1e3"), ("email", "not-an-email"), ("phone", "12345"),
     ("token", "not-a-uuid"), ("contact_name", "")],
)
def test_bad_application_fields_save_nothing(client, field, value):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    data = {"contact_name": "担当", "founder_name": "開設", "phone": "03-1111-2222",
            "email": "a@example.jp", "staff_count": "2", "device_count": "2",
            "token": "6f1b7e0c-2c3a-4a51-9d61-7f0b4f1f7a10", "submit": "1", field: value}
    response = client.post(reverse("facilities:application_start", args=[facility.pk]), data)
    assert response.status_code == 200
    assert "入力内容に誤りがあります" in response.content.decode()
    assert not UsageApplication.objects.exists()


def test_application_counts_with_commas_and_full_width_digits_are_read(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    data = {"contact_name": "担当", "founder_name": "開設", "phone": "03-1111-2222",
            "email": "ａ＠ｅｘａｍｐｌｅ．ｊｐ", "staff_count": "1,200人", "device_count": "２",
            "token": "6f1b7e0c-2c3a-4a51-9d61-7f0b4f1f7a10", "submit": "1"}
    response = client.post(reverse("facilities:application_start", args=[facility.pk]), data)
    assert response.status_code == 302
    application = UsageApplication.objects.get()
    assert (application.staff_count, application.device_count, application.email) == (
        1200, 2, "a@example.jp")


def test_the_confirmation_shows_the_counts_as_read(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    data = {"contact_name": "担当", "founder_name": "開設", "phone": "03-1111-2222",
            "email": "a@example.jp", "staff_count": "１２００", "device_count": "2台",
            "token": "6f1b7e0c-2c3a-4a51-9d61-7f0b4f1f7a10"}
    page = client.post(reverse("facilities:application_start", args=[facility.pk]),
                       data).content.decode()
    assert "<dt>職員数</dt><dd>1,200人</dd>" in page and "<dt>申請台数</dt><dd>2台</dd>" in page


def test_oversized_request_is_refused_without_error_page(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    response = client.post(
        reverse("facilities:application_start", args=[facility.pk]),
        {"contact_name": "x" * (3 * 1024 * 1024), "submit": "1"},
    )
    assert response.status_code == 400
    assert not UsageApplication.objects.exists()


def test_too_many_fields_is_refused(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    data = {f"f{i}": "1" for i in range(500)}
    response = client.post(reverse("facilities:application_start", args=[facility.pk]), data)
    assert response.status_code == 400


def test_overlong_field_is_refused(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    data = {"contact_name": "長" * 500, "founder_name": "開設", "phone": "03-1111-2222",
            "email": "a@example.jp", "staff_count": "2", "device_count": "2",
            "token": "6f1b7e0c-2c3a-4a51-9d61-7f0b4f1f7a10", "submit": "1"}
    response = client.post(reverse("facilities:application_start", args=[facility.pk]), data)
    assert "100文字以下" in response.content.decode() or "100 文字" in response.content.decode()
    assert not UsageApplication.objects.exists()


def test_change_form_needs_something_to_change(client):
    facility, user, _ = accepted_facility()
    client.force_login(user)
    data = {"contact_name": "担当", "founder_name": "開設", "phone": "03-1111-2222",
            "email": "a@example.jp", "token": "6f1b7e0c-2c3a-4a51-9d61-7f0b4f1f7a11",
            "submit": "1", "end_action": "change"}
    response = client.post(reverse("facilities:application_change", args=[facility.pk]), data)
    assert "利用終了予定年月日を入力してください" in response.content.decode()
    data.pop("end_action")
    response = client.post(reverse("facilities:application_change", args=[facility.pk]), data)
    assert "台数の変更か利用終了のいずれか" in response.content.decode()
    assert UsageApplication.objects.count() == 1


def test_a_second_start_application_is_refused_before_the_form(client):
    """One is pending: the page says so at once, with its state and a link, and offers no
    form (docs/decisions.md D1.5)."""
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    pending = submit_start(facility, user)
    client.force_login(user)
    url = reverse("facilities:application_start", args=[facility.pk])
    for response in (client.get(url), client.post(url, {"contact_name": "担当"})):
        page = response.content.decode()
        assert response.status_code == 200
        assert "審査中の同じ申請があります" in page and pending.facility_state_label in page
        assert reverse("facilities:application_detail", args=[facility.pk, pending.pk]) in page
        assert 'name="review"' not in page and "確認画面へ" not in page
    assert UsageApplication.objects.count() == 1


def test_an_accepted_start_refuses_a_new_one_before_the_form(client):
    facility, user, _ = accepted_facility()
    application = UsageApplication.objects.get()
    client.force_login(user)
    page = client.get(reverse("facilities:application_start", args=[facility.pk])).content.decode()
    assert "利用開始申請は承認済みです" in page and "確認画面へ" not in page
    assert reverse("facilities:application_detail", args=[facility.pk, application.pk]) in page


def test_a_change_before_the_start_is_accepted_is_refused_before_the_form(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    page = client.get(reverse("facilities:application_change",
                              args=[facility.pk])).content.decode()
    assert "利用開始申請の承認後に申請できます" in page and "確認画面へ" not in page

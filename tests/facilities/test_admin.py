"""Administrators: review in bulk, enter paper applications, import/export the master."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from facilities.codes import with_check_digit
from facilities.models import (
    ApplicationState,
    Channel,
    DeviceAccount,
    Facility,
    GoLive,
    UsageApplication,
)
from portal.imports import import_kind, run_import
from portal.models import ImportJob
from tests.factories import AdminFactory, FacilityFactory, login_admin, make_staff, submit_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = AdminFactory()
    login_admin(client, admin)
    client.admin = admin
    return client


def _applications(n):
    result = []
    for _ in range(n):
        facility = FacilityFactory(kind="judo")
        result.append(submit_start(facility, make_staff(facility)))
    return result


CHANGELIST = "/admin/facilities/usageapplication/"


def test_admin_accepts_applications_in_bulk(admin_client):
    applications = _applications(3)
    response = admin_client.post(
        CHANGELIST,
        {"action": "accept_selected", "_selected_action": [a.pk for a in applications]},
        follow=True,
    )
    assert "3件を承認しました" in response.content.decode()
    assert set(UsageApplication.objects.values_list("state", flat=True)) == {"accepted"}
    assert DeviceAccount.objects.count() == 6


def test_admin_return_in_bulk_needs_a_reason(admin_client):
    applications = _applications(2)
    ids = [a.pk for a in applications]
    response = admin_client.post(
        CHANGELIST, {"action": "return_selected", "_selected_action": ids, "reason": ""},
        follow=True,
    )
    assert "差戻し理由を入力してください" in response.content.decode()
    assert set(UsageApplication.objects.values_list("state", flat=True)) == {"submitted"}

    admin_client.post(
        CHANGELIST,
        {"action": "return_selected", "_selected_action": ids, "reason": "台数をご確認ください"},
    )
    returned = UsageApplication.objects.filter(state=ApplicationState.RETURNED)
    assert returned.count() == 2
    assert {a.return_reason for a in returned} == {"台数をご確認ください"}


def test_admin_bulk_refuses_illegal_moves_and_says_so(admin_client):
    accepted, pending = _applications(2)
    admin_client.post(CHANGELIST, {"action": "accept_selected", "_selected_action": [accepted.pk]})
    response = admin_client.post(
        CHANGELIST,
        {"action": "accept_selected", "_selected_action": [accepted.pk, pending.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "1件を承認しました" in body
    assert "「承認する」はできません" in body
    assert DeviceAccount.objects.filter(facility=accepted.facility).count() == 2


def test_admin_filters_and_searches_applications(admin_client):
    applications = _applications(2)
    response = admin_client.get(CHANGELIST, {"q": applications[0].receipt_number})
    body = response.content.decode()
    assert applications[0].receipt_number in body
    assert applications[1].receipt_number not in body
    assert admin_client.get(CHANGELIST, {"state__exact": "submitted"}).status_code == 200


def test_admin_enters_a_paper_application(admin_client):
    facility = FacilityFactory(kind="ama")
    response = admin_client.post(
        "/admin/facilities/usageapplication/add/",
        {
            "facility": facility.pk, "kind": "start", "channel": "post",
            "contact_name": "郵送 担当", "founder_name": "開設 者", "phone": "03-1234-5678",
            "email": "post@example.jp", "staff_count": 1, "device_count": 1,
            "end_action": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    application = UsageApplication.objects.get()
    assert application.channel == Channel.POST
    assert application.receipt_number
    assert GoLive.objects.get(facility=facility).source == GoLive.Source.POST


def test_admin_searches_and_filters_facilities(admin_client):
    FacilityFactory(kind="judo", name="あおば整骨院")
    FacilityFactory(kind="pharmacy", name="さくら薬局")
    body = admin_client.get("/admin/facilities/facility/", {"q": "あおば"}).content.decode()
    assert "あおば整骨院" in body and "さくら薬局" not in body
    body = admin_client.get("/admin/facilities/facility/", {"kind__exact": "pharmacy"}).content.decode()
    assert "さくら薬局" in body and "あおば整骨院" not in body


MASTER_HEADER = "code,kind,name,prefecture,address,founder_name,phone,account_last4,main_facility_code\n"


def _import_master(tmp_path, text: str, *, dry_run: bool):
    path = tmp_path / "master.csv"
    path.write_text(text, encoding="utf-8")
    return run_import(path, import_kind("facility_master"), dry_run=dry_run)


def test_master_import_dry_run_reports_errors_by_line_and_writes_nothing(tmp_path):
    good = with_check_digit("131999001")
    csv = MASTER_HEADER + (
        f"{good},clinic,よい診療所,13,千代田区1,開設,03-1-1,1234,\n"
        "0110113718,clinic,検証番号違い,01,札幌市,開設,011-1-1,1234,\n"
        f"{with_check_digit('134999002')},clinic,点数表違い,13,千代田区,開設,03-1-1,1234,\n"
        "契1234,judo,整骨院,13,港区,開設,03-1-1,12a4,\n"
        "契5678,unknown,種別不明,13,港区,開設,03-1-1,1234,\n"
    )
    result = _import_master(tmp_path, csv, dry_run=True)
    # The file's line numbers: the header is line 1, as a spreadsheet shows it.
    errors = {error["line"]: error["message"] for error in result.errors}
    assert set(errors) == {3, 4, 5, 6}
    assert "検証番号" in errors[3]
    assert "点数表番号" in errors[4]
    assert "下4桁" in errors[5]
    assert "種別" in errors[6]
    assert result.new == 1
    assert not Facility.objects.exists()


def test_master_import_creates_updates_and_links_annexes(tmp_path):
    csv = MASTER_HEADER + (
        "契１００１,ama_acupuncture,主たる院,13,港区,開設,03-1-1,1234,\n"
        "契1002,ama_acupuncture,従たる院,13,港区,開設,03-1-1,987,契1001\n"
    )
    result = _import_master(tmp_path, csv, dry_run=False)
    assert result.errors == [] and result.new == 2
    sub = Facility.objects.get(code="契1002")
    assert sub.main_facility.code == "契1001"
    assert sub.account_last4 == "0987"
    result = _import_master(tmp_path, csv.replace("従たる院", "従たる院（改称）"), dry_run=False)
    assert (result.new, result.updated, result.unchanged) == (0, 1, 1)
    assert Facility.objects.count() == 2
    assert Facility.objects.get(code="契1002").name == "従たる院（改称）"


def test_admin_import_page_shows_line_errors(admin_client, django_capture_on_commit_callbacks):
    csv = MASTER_HEADER + "0110113718,clinic,検証番号違い,01,札幌市,開設,011-1-1,1234,\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:facilities_facility_import"),
            {"file": SimpleUploadedFile("master.csv", csv.encode(), "text/csv")},
        )
    assert ImportJob.objects.get().state == "checked"
    response = admin_client.get(response["Location"])
    body = response.content.decode()
    assert response.status_code == 200
    assert "検証番号" in body
    assert not Facility.objects.exists()


def test_admin_exports_the_master_as_csv(admin_client):
    facility = FacilityFactory(kind="judo", name="輸出テスト院")
    response = admin_client.get(reverse("admin:facilities_facility_export"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert facility.code in body and "輸出テスト院" in body


def test_an_action_on_every_row_of_the_list_acts_on_what_it_shows(admin_client):
    """「選択した…すべて」 (select_across) on the list opened without conditions (対応待ち) acts
    on the waiting rows only; rows named one by one are acted on wherever they were chosen
    (the refusal above)."""
    accepted, pending = _applications(2)
    admin_client.post(CHANGELIST, {"action": "accept_selected", "_selected_action": [accepted.pk]})
    admin_client.post(CHANGELIST, {"action": "assign_to_me", "select_across": "1",
                                   "_selected_action": [pending.pk]})
    accepted.refresh_from_db()
    pending.refresh_from_db()
    assert accepted.assigned_to is None and pending.assigned_to is not None
    admin_client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [accepted.pk]})
    accepted.refresh_from_db()
    assert accepted.assigned_to == pending.assigned_to

"""The facility's side of the incentives, through HTTP."""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from eligibility import services as eligibility_services
from eligibility.models import ActivityReport, Attestation, Determination, Program
from facilities.models import GoLive
from tests.confirming import post_confirmed
from tests.factories import FacilityFactory, make_staff, previewed

pytestmark = pytest.mark.django_db


@pytest.fixture
def sejutsu(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    return facility


REPORT = {"voice": "on", "flyer": "on", "activity_from": "2025-06-10",
          "activity_to": "2025-07-31"}


def test_report_page_says_exactly_what_is_missing(client, sejutsu):
    body = client.get(reverse("incentives:report", args=[sejutsu.pk, "cooperation-2025"]))
    text = body.content.decode()
    assert "運用開始日 未入力 ✗" in text
    assert "実施期間 未報告 ✗" in text


def test_report_is_saved_once_and_the_result_follows(client, sejutsu,
                                                     django_capture_on_commit_callbacks):
    GoLive.objects.create(facility=sejutsu, date=date(2025, 6, 10))
    url = reverse("incentives:report", args=[sejutsu.pk, "cooperation-2025"])
    with django_capture_on_commit_callbacks(execute=True):
        response = post_confirmed(client, url, REPORT)
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        post_confirmed(client, url, {**REPORT, "poster": "on"})  # edited, still one report
    report = ActivityReport.objects.get()
    assert (report.voice, report.flyer, report.poster) == (True, True, True)
    assert report.receipt_number.startswith("R")
    result = Determination.objects.get(facility=sejutsu)
    assert (result.eligible, result.amount) == (True, 50000)
    overview = client.get(reverse("incentives:overview", args=[sejutsu.pk])).content.decode()
    assert "支給対象 50,000円" in overview
    assert "運用開始日 令和7年6月10日 ✓" in overview
    assert any(report.receipt_number in m.subject for m in mail.outbox)


def test_report_is_locked_after_the_deadline(client, sejutsu):
    Program.objects.filter(code="cooperation-2025").update(report_deadline=date(2025, 9, 30))
    url = reverse("incentives:report", args=[sejutsu.pk, "cooperation-2025"])
    response = client.post(url, REPORT)
    assert "報告期限" in response.content.decode()
    assert not ActivityReport.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({**REPORT, "activity_to": "2025-05-01"}, "終了日は開始日以降"),
        ({"activity_from": "2025-06-10", "activity_to": "2025-07-31"}, "1つ以上選んで"),
        ({**REPORT, "activity_from": "2025-02-30"}, "という日付はありません"),
    ],
)
def test_bad_reports_are_refused(client, sejutsu, data, message):
    url = reverse("incentives:report", args=[sejutsu.pk, "cooperation-2025"])
    assert message in client.post(url, data).content.decode()
    assert not ActivityReport.objects.exists()


def test_a_clinic_cannot_report_for_the_sejutsu_program(client):
    facility = FacilityFactory(kind="clinic")
    client.force_login(make_staff(facility))
    url = reverse("incentives:report", args=[facility.pk, "cooperation-2025"])
    assert client.post(url, REPORT).status_code == 404
    assert not ActivityReport.objects.exists()


def test_attestation(client):
    facility = FacilityFactory(kind="pharmacy")
    client.force_login(make_staff(facility))
    url = reverse("incentives:attest", args=[facility.pk, "lump-sum-2024"])
    assert post_confirmed(client, url, {"poster": "on", "informed": "on"}).status_code == 302
    attestation = Attestation.objects.get()
    assert attestation.poster and attestation.informed


def test_simulator_shows_amount_row_and_column(client):
    body = client.get(reverse("simulator"), {
        "kind": "clinic", "oct_receipts": "1000", "oct_users": "40", "best_users": "200",
        "poster": "on", "informed": "on",
    }).content.decode()
    assert "200,000円" in body
    assert "診療所・薬局" in body
    assert "3.0%以上5.0%未満" in body
    assert "160人以上" in body


def test_simulator_reads_commas_and_full_width_digits(client):
    body = client.get(reverse("simulator"), {
        "kind": "clinic", "oct_receipts": "１，０００", "oct_users": "40人", "best_users": "２００",
        "poster": "on", "informed": "on",
    }).content.decode()
    assert "入力内容に誤りがあります" not in body
    assert "200,000円" in body


def test_simulator_refuses_bad_numbers(client):
    body = client.get(reverse("simulator"), {"kind": "clinic", "oct_receipts": "-5",
                                             "oct_users": "x", "best_users": ""}).content.decode()
    assert "入力内容に誤りがあります" in body


def test_demo_parameters_preview_in_the_admin(admin_client):
    from eligibility.models import ParameterVersion

    eligibility_services.run_all_open_programs()
    version = ParameterVersion.objects.get(program__code="lump-sum-2024", status="active")
    draft = eligibility_services.create_draft_version(
        program=version.program, params=version.params, effective_from=version.effective_from,
        notice="複製",
    )
    page = admin_client.get(reverse("admin:eligibility_parameterversion_preview",
                                    args=[draft.pk])).content.decode()
    assert "適用前の確認を始める" in page
    preview = previewed(draft)
    page = admin_client.get(reverse("admin:eligibility_parameterversion_preview",
                                    args=[draft.pk])).content.decode()
    assert "結果が変わる施設: <strong>" in page
    response = admin_client.post(reverse("admin:eligibility_parameterversion_apply",
                                         args=[draft.pk]), {"preview": preview.pk})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "active"

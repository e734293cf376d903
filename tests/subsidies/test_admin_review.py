"""Administrators review claims in the Django admin: a queue, receipts beside the items,
decisions with reasons, and receipts served only to them and the facility's staff."""

import io
import json
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from eligibility.models import Program
from subsidies import services
from subsidies.models import Claim, ClaimState
from tests.factories import AdminFactory, FacilityFactory, UserFactory, login_admin, make_staff
from tests.samples import PDF

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim_under_review():
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    claim = services.start_claim(user=user, facility=facility,
                                 program=Program.objects.get(code="device-sejutsu"))
    item = services.save_item(claim=claim, data=services.ItemInput(
        "タブレット", 1, 42000, 4200, "家電店", date(2024, 11, 1)))
    services.attach_document(claim=claim, item=item, kind="receipt", user=user,
                             upload=SimpleUploadedFile("r.pdf", PDF))
    claim = services.submit_claim(claim=claim, user=user)
    return services.start_review(claim=claim, actor=AdminFactory())


@pytest.fixture
def admin_client(client):
    login_admin(client, AdminFactory())
    return client


def test_queue_filters_by_program_and_state(admin_client, claim_under_review):
    body = admin_client.get("/admin/subsidies/claim/", {"state__exact": "under_review"}).content
    assert claim_under_review.receipt_number in body.decode()
    body = admin_client.get("/admin/subsidies/claim/", {"state__exact": "approved"}).content
    assert claim_under_review.receipt_number not in body.decode()


def test_review_page_shows_receipts_and_records_a_return(admin_client, claim_under_review):
    url = reverse("admin:subsidies_claim_review", args=[claim_under_review.pk])
    page = admin_client.get(url).content.decode()
    document = claim_under_review.documents.get()
    assert reverse("admin:subsidies_document_file", args=[document.pk]) in page
    item = claim_under_review.items.get()
    admin_client.post(url, {"decision": "return", "reason": "宛名をご確認ください",
                            f"note_{item.pk}": "宛名が違います"})
    claim_under_review.refresh_from_db()
    item.refresh_from_db()
    assert claim_under_review.state == ClaimState.RETURNED
    assert item.return_note == "宛名が違います"


def test_lower_approval_needs_a_reason(admin_client, claim_under_review):
    url = reverse("admin:subsidies_claim_review", args=[claim_under_review.pk])
    page = admin_client.post(url, {"decision": "approve", "amount": "30000"}).content.decode()
    assert "理由を入力してください" in page
    assert Claim.objects.get().state == ClaimState.UNDER_REVIEW
    admin_client.post(url, {"decision": "approve", "amount": "30000", "reason": "一部対象外"})
    claim = Claim.objects.get()
    assert (claim.state, claim.approved_amount) == (ClaimState.APPROVED, 30000)


def test_receipts_are_for_administrators_and_the_facility_only(client, claim_under_review):
    document = claim_under_review.documents.get()
    admin_url = reverse("admin:subsidies_document_file", args=[document.pk])
    assert client.get(admin_url).status_code == 302  # anonymous: to the log-in page
    client.force_login(UserFactory())
    assert client.get(admin_url).status_code == 302  # staff of no facility, not admin
    login_admin(client, AdminFactory())
    response = client.get(admin_url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize(
    "program, line, expected",
    [
        ("reader-expansion-2024",
         {"kind": "hospital", "max_monthly_usage": 1600, "free_readers": 2, "readers": 2,
          "cost": 2000000},
         {"eligible": True, "readers_allowed": 2, "amount": 450000}),
        ("reader-expansion-2024",
         {"kind": "clinic", "max_monthly_usage": 499, "free_readers": 1, "readers": 1,
          "cost": 100000},
         {"eligible": False, "readers_allowed": 0, "amount": 0}),
        ("device-sejutsu", {"cost": 50000}, {"eligible": True, "amount": 41000}),
        ("device-limited", {"cost": 46200, "claimed_on": "2025-01-15"},
         {"eligible": True, "amount": 31000}),
        ("device-limited", {"cost": 46200, "claimed_on": "2025-01-16"},
         {"eligible": False, "amount": 0}),
    ],
)
def test_simulate_subsidy_programs(monkeypatch, program, line, expected):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(line) + "\n{broken\n"))
    out = io.StringIO()
    call_command("simulate", program, stdout=out)
    first, second = (json.loads(row) for row in out.getvalue().strip().splitlines())
    assert {k: first[k] for k in expected} == expected
    assert isinstance(first["reasons"], list)
    assert set(second) == {"error"}


@pytest.mark.parametrize("line, fragment", [
    ({"kind": "hospital", "max_monthly_usage": 1600, "free_readers": 4, "readers": 1,
      "cost": 1}, "free_readers must be 1, 2 or 3"),
    ({"kind": "dentist", "max_monthly_usage": 1, "free_readers": 1, "readers": 1, "cost": 1},
     "kind must be one of"),
    ({"cost": -1}, "must not be negative"),
])
def test_simulate_subsidy_malformed_lines(monkeypatch, line, fragment):
    program = "device-sejutsu" if set(line) == {"cost"} else "reader-expansion-2024"
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(line) + "\n"))
    out = io.StringIO()
    call_command("simulate", program, stdout=out)
    assert fragment in json.loads(out.getvalue())["error"]

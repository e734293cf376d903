"""The admin as a daily tool (docs/architecture.md#roles): the menu ordered by daily work with
Japanese labels, each application and claim decided from its own page offering only the user's
moves, the queue (assigned to me, waiting longest), CSV of exactly the filtered rows, bank accounts
masked but for payout officers."""

import csv
import io

import pytest
from django.urls import reverse

from facilities.models import UsageApplication
from portal import roles
from subsidies import services as claim_services
from subsidies.models import Claim, ClaimState
from tests.factories import (
    FacilityFactory,
    accepted_facility,
    claim_under_review,
    claim_with_receipt,
    login_admin,
    make_admin,
    make_staff,
    submit_start,
)

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_the_menu_puts_review_first_and_schedules_and_accounts_last(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    headings = ["審査", "施設", "協力金・一時金", "制度・マスタ・取り込み", "アカウント", "定期実行"]
    positions = [page.index(f">{heading}<") for heading in headings]
    assert positions == sorted(positions)
    assert page.index("利用申請") < page.index("施設担当者") < page.index("定期実行タスク")


def test_list_columns_are_in_japanese(admin_client):
    claim_under_review()
    page = admin_client.get(reverse("admin:subsidies_claim_changelist")).content.decode()
    for heading in ("施設", "プログラム", "状態", "待ち日数", "審査の担当者"):
        assert heading in page
    assert ">Facility<" not in page and ">FACILITY<" not in page


def test_an_application_is_decided_from_its_own_page_by_a_reviewer(client):
    facility = FacilityFactory(kind="judo")
    application = submit_start(facility, make_staff(facility))
    change = reverse("admin:facilities_usageapplication_change", args=[application.pk])
    move = reverse("admin:facilities_usageapplication_move", args=[application.pk, "send_back"])

    login_admin(client, make_admin(roles.VIEWER))
    page = client.get(change).content.decode()
    assert "差し戻す" not in page and "行える操作はありません" in page
    assert client.post(move, {"reason": "不備"}).status_code == 403

    login_admin(client, make_admin(roles.REVIEWER))
    page = client.get(change).content.decode()
    assert all(label in page for label in ("承認する", "差し戻す", "二次確認に回す"))
    response = client.post(move, {"reason": ""})
    assert response.status_code == 200 and "このフィールドは必須です" in response.content.decode()
    assert UsageApplication.objects.get(pk=application.pk).state == "submitted"
    client.post(move, {"reason": "開設者氏名をご確認ください"})
    application.refresh_from_db()
    assert (application.state, application.return_reason) == ("returned",
                                                              "開設者氏名をご確認ください")


def test_a_claim_is_taken_into_review_from_its_page_and_decided_by_another_person(client):
    claim, staff = claim_with_receipt()
    claim = claim_services.submit_claim(claim=claim, user=staff)
    reviewer, approver = make_admin(roles.REVIEWER), make_admin(roles.APPROVER)
    change = reverse("admin:subsidies_claim_change", args=[claim.pk])

    login_admin(client, reviewer)
    assert "審査を開始する" in client.get(change).content.decode()
    client.post(reverse("admin:subsidies_claim_move", args=[claim.pk, "start_review"]))
    claim.refresh_from_db()
    assert claim.state == ClaimState.UNDER_REVIEW and claim.assigned_to == reviewer
    page = client.get(change).content.decode()
    assert "交付を決定する" not in page  # a reviewer does not decide

    login_admin(client, approver)
    page = client.get(change).content.decode()
    review = reverse("admin:subsidies_claim_review", args=[claim.pk])
    assert "交付を決定する" in page and review in page
    client.post(review, {"decision": "approve", "amount": str(claim.computed_amount)})
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.APPROVED


def test_the_queue_shows_mine_and_waits_longest_first(client):
    reviewer = make_admin(roles.REVIEWER)
    first, second, third = (claim_services.submit_claim(claim=c, user=s)
                            for c, s in (claim_with_receipt() for _ in range(3)))
    login_admin(client, reviewer)
    client.post(reverse("admin:subsidies_claim_changelist"),
                {"action": "assign_to_me", "_selected_action": [second.pk, third.pk]})
    page = client.get(reverse("admin:subsidies_claim_changelist"),
                      {"assigned": "me"}).content.decode()
    assert second.receipt_number in page and third.receipt_number in page
    assert first.receipt_number not in page
    assert page.index(second.receipt_number) < page.index(third.receipt_number)
    viewer_client = login_admin(type(client)(), make_admin(roles.VIEWER))
    viewer_client.post(reverse("admin:subsidies_claim_changelist"),
                       {"action": "assign_to_me", "_selected_action": [first.pk]})
    assert Claim.objects.get(pk=first.pk).assigned_to is None


def test_the_csv_of_a_filtered_claim_list_holds_exactly_the_filtered_rows(client):
    under_review = [claim_under_review() for _ in range(2)]
    submitted, staff = claim_with_receipt()
    submitted = claim_services.submit_claim(claim=submitted, user=staff)
    draft, _staff = claim_with_receipt()
    login_admin(client, make_admin(roles.VIEWER))
    rows = _csv(client.get(reverse("admin:subsidies_claim_csv"),
                           {"state__exact": "under_review"}))
    assert rows[0][0] == "受付番号"
    assert sorted(row[0] for row in rows[1:]) == sorted(c.receipt_number for c in under_review)
    everything = _csv(client.get(reverse("admin:subsidies_claim_csv")))
    assert len(everything) - 1 == Claim.objects.count() == 4
    assert {row[0] for row in everything[1:]} >= {submitted.receipt_number}
    assert draft.pk  # the draft's row has no receipt number yet but is listed
    searched = _csv(client.get(reverse("admin:subsidies_claim_csv"),
                               {"q": under_review[0].receipt_number}))
    assert [row[0] for row in searched[1:]] == [under_review[0].receipt_number]


def test_the_csv_of_applications_and_results_follow_the_filters(client):
    facility, _staff, _admin = accepted_facility(kind="judo")
    other = FacilityFactory(kind="clinic")
    submit_start(other, make_staff(other))
    login_admin(client, make_admin(roles.VIEWER))
    rows = _csv(client.get(reverse("admin:facilities_usageapplication_csv"),
                           {"state__exact": "submitted"}))
    assert [row[1] for row in rows[1:]] == [other.code]
    results = _csv(client.get(reverse("admin:eligibility_determination_csv")))
    assert results[0][:2] == ["医療機関等コード・登録記号番号", "施設名"]


def test_a_facility_name_that_is_a_formula_is_exported_as_text(client):
    facility = FacilityFactory(kind="judo", name='=HYPERLINK("http://x","y")')
    claim, staff = claim_with_receipt(facility)
    claim_services.submit_claim(claim=claim, user=staff)
    login_admin(client, make_admin(roles.VIEWER))
    rows = _csv(client.get(reverse("admin:subsidies_claim_csv")))
    assert rows[1][2].startswith("'=")


def test_bank_accounts_are_masked_but_for_payout_officers(client):
    from payouts.banking import validate_account
    from payouts.services import save_bank_account

    facility, staff, _admin = accepted_facility(kind="judo")
    save_bank_account(user=staff, facility=facility,
                      account=validate_account("0001", "001", "1", "7654321", "ｱｵﾊﾞ"))
    url = reverse("admin:payouts_bankaccount_changelist")
    login_admin(client, make_admin(roles.REVIEWER))
    page = client.get(url).content.decode()
    assert "7654321" not in page and "****321" in page
    account = facility.bank_account
    detail = client.get(reverse("admin:payouts_bankaccount_change", args=[account.pk]))
    assert "7654321" not in detail.content.decode()
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    assert "7654321" in client.get(url).content.decode()
    assert "7654321" in client.get(
        reverse("admin:payouts_bankaccount_change", args=[account.pk])).content.decode()


def test_evidence_is_never_offered_for_deletion(admin_client):
    claim = claim_under_review()
    page = admin_client.get(reverse("admin:subsidies_claim_change", args=[claim.pk]))
    assert "deletelink" not in page.content.decode()
    assert admin_client.get(reverse("admin:subsidies_claim_delete",
                                    args=[claim.pk])).status_code == 403  # superuser too

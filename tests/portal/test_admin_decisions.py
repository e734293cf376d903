"""Decisions at the desk (portal/admin_workflow.py): the moves a role may make are buttons
above the form, the one that moves the object on in the primary colour; 「審査を開始する」 is
made at once (it changes nothing irreversible), the others after one confirmation page in
plain words; a refused administrator reads the admin's own 403 page."""

import pytest
from django.urls import reverse

from portal import roles
from subsidies.models import Claim, ClaimState
from tests.factories import claim_with_receipt, login_admin, make_admin

pytestmark = pytest.mark.django_db


def _submitted_claim():
    from subsidies import services

    claim, staff = claim_with_receipt()
    return services.submit_claim(claim=claim, user=staff)


def test_taking_a_claim_into_review_is_one_button_on_its_page(client):
    claim = _submitted_claim()
    login_admin(client, make_admin(roles.REVIEWER))
    page = client.get(reverse("admin:subsidies_claim_change", args=[claim.pk])).content.decode()
    move = reverse("admin:subsidies_claim_move", args=[claim.pk, "start_review"])
    assert f'<form method="post" action="{move}">' in page
    assert 'class="button workflow-move default">審査を開始する</button>' in page
    response = client.post(move, follow=True)
    assert "「審査を開始する」を行いました" in response.content.decode()
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.UNDER_REVIEW


def test_a_decision_is_a_primary_button_and_a_send_back_an_ordinary_one(client):
    from facilities.models import UsageApplication
    from tests.factories import FacilityFactory, make_staff, submit_start

    facility = FacilityFactory(kind="judo")
    application = submit_start(facility, make_staff(facility))
    assert application.state == UsageApplication._meta.get_field("state").default
    login_admin(client, make_admin(roles.REVIEWER))
    page = client.get(reverse("admin:facilities_usageapplication_change",
                              args=[application.pk])).content.decode()
    decisions = page.split('class="workflow-decisions"')[1].split("</div>")[0]
    assert 'class="button workflow-move default"' in decisions and ">承認する</a>" in decisions
    assert 'class="button workflow-move" href=' in decisions and ">差し戻す</a>" in decisions


def test_the_confirmation_is_worded_plainly(client):
    from facilities.models import UsageApplication  # noqa: F401
    from tests.factories import FacilityFactory, make_staff, submit_start

    facility = FacilityFactory(kind="judo")
    application = submit_start(facility, make_staff(facility))
    login_admin(client, make_admin(roles.REVIEWER))
    page = client.get(reverse("admin:facilities_usageapplication_move",
                              args=[application.pk, "accept"])).content.decode()
    assert "について「承認する」を行います" in page and "」します" not in page
    assert 'value="承認する"' in page and "（確定）" not in page


def test_a_refused_administrator_reads_the_admins_403_page(client):
    login_admin(client, make_admin(roles.VIEWER))
    response = client.get(reverse("admin:payouts_payoutrun_create"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>このページは開けません</h1>" in page and "管理メニューへ戻る" in page
    assert "あなたの役割（閲覧のみ）では行えません" in page
    assert "施設のページは" not in page


def test_others_still_read_the_portals_403_page(staff_client):
    from tests.factories import FacilityFactory

    response = staff_client.get(reverse("facilities:home", args=[FacilityFactory().pk]))
    assert response.status_code in (403, 404)
    if response.status_code == 403:
        assert "施設のページは" in response.content.decode()
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 302  # not staff: to the admin's log-in, as before


def test_a_reviewer_is_told_who_approves_on_the_review_page(client):
    from tests.factories import claim_under_review

    reviewer = make_admin(roles.REVIEWER)
    claim = claim_under_review(reviewer)
    login_admin(client, reviewer)
    page = client.get(reverse("admin:subsidies_claim_review", args=[claim.pk])).content.decode()
    assert "交付決定・不交付は<strong>決定権者</strong>" in page
    client.logout()
    login_admin(client, make_admin(roles.APPROVER))
    page = client.get(reverse("admin:subsidies_claim_review", args=[claim.pk])).content.decode()
    assert "交付決定・不交付は<strong>決定権者</strong>" not in page

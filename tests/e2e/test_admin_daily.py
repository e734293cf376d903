"""The administrators' day in the browser: a reviewer takes a resubmitted claim into review
from the claim's own page, an approver (another person) approves it from there, and a
viewer sees the claim and is offered no move."""

import pytest
from playwright.sync_api import expect

from portal import roles
from subsidies import services
from subsidies.models import Claim, ClaimState
from tests.e2e.conftest import sign_in_as_administrator
from tests.factories import PASSWORD, claim_under_review, make_admin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _resubmitted_claim() -> Claim:
    claim = claim_under_review()
    claim = services.return_claim(claim=claim, actor=make_admin(roles.REVIEWER),
                                  reason="領収書の宛名をご確認ください", item_notes={})
    staff = claim.facility.memberships.first().user
    return services.submit_claim(claim=claim, user=staff)


def test_review_and_approval_from_the_claims_own_page(new_page):
    claim = _resubmitted_claim()
    assert claim.state == ClaimState.RESUBMITTED
    reviewer, approver, viewer = (make_admin(role) for role in
                                  (roles.REVIEWER, roles.APPROVER, roles.VIEWER))

    page = new_page()
    sign_in_as_administrator(page, reviewer.email, PASSWORD)
    page.goto(f"/admin/subsidies/claim/{claim.pk}/change/")
    # Taking a claim into review changes nothing irreversible: one button, no confirmation.
    page.get_by_role("button", name="審査を開始する").click()
    expect(page.locator("ul.messagelist")).to_contain_text("「審査を開始する」を行いました")
    expect(page.get_by_role("link", name="交付を決定する")).to_have_count(0)

    page = new_page()
    sign_in_as_administrator(page, approver.email, PASSWORD)
    page.goto(f"/admin/subsidies/claim/{claim.pk}/change/")
    page.get_by_role("link", name="交付を決定する").click()
    page.locator("input[name=decision][value=approve]").check()
    page.locator("input[type=submit]").click()
    expect(page.locator("ul.messagelist")).to_contain_text("審査結果を登録しました")
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.APPROVED

    page = new_page()
    sign_in_as_administrator(page, viewer.email, PASSWORD)
    page.goto(f"/admin/subsidies/claim/{claim.pk}/change/")
    expect(page.locator("#content")).to_contain_text(claim.receipt_number)
    expect(page.locator("a.workflow-move")).to_have_count(0)
    expect(page.locator("#content")).to_contain_text("行える操作はありません")


def test_the_claims_queue_fits_1280_px_with_its_waiting_days_and_reviewer(new_page):
    """The officer's queue at 1280 px: no sideways scroll, 待ち日数 and 担当者 on screen."""
    reviewer = make_admin(roles.REVIEWER)
    claim_under_review(reviewer)
    page = new_page(viewport={"width": 1280, "height": 800})
    sign_in_as_administrator(page, reviewer.email, PASSWORD)
    page.goto("/admin/subsidies/claim/")
    assert page.evaluate("() => document.scrollingElement.scrollWidth"
                         " <= document.scrollingElement.clientWidth")
    for heading in ("待ち日数", "担当者"):
        box = page.locator("#result_list thead th", has_text=heading).first.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, (heading, box)
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

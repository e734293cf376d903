"""On a 390×844 phone no page of the facility journey is wider than the screen: tables scroll
in their own box, the facility menu wraps, long words break. And a fresh facility's pages
never print "None"."""

from datetime import date

import pytest
from playwright.sync_api import expect

from facilities import services
from facilities.models import Membership
from tests.factories import FacilityFactory, accepted_facility, claim_with_receipt

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
WIDER_THAN_SCREEN = "() => document.scrollingElement.scrollWidth - window.innerWidth"


def _width_problems(page, label, problems):
    overflow = page.evaluate(WIDER_THAN_SCREEN)
    if overflow > 0:
        problems.append(f"{label} ({page.url}): {overflow}px wider than the screen")


def test_the_facility_journey_fits_a_phone(new_page, log_in):
    facility, user, _admin = accepted_facility(kind="judo", devices=2)
    facility.name = "医療法人社団オンライン資格確認推進会あおば中央整骨院駅前本院"
    facility.address = "東京都千代田区霞が関一丁目二番二号中央合同庁舎第五号館別館二十三階"
    facility.save()
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    claim, _staff = claim_with_receipt(facility)
    fresh = FacilityFactory(kind="clinic")
    Membership.objects.create(user=user, facility=fresh)
    services.rebuild_public_list()

    page = new_page()
    page.set_viewport_size(PHONE)
    log_in(page, user.email)
    problems: list[str] = []
    _width_problems(page, "dashboard", problems)
    base = f"/facilities/{facility.pk}"
    for label, url in [
        ("facility top", f"{base}/"),
        ("applications", f"{base}/applications/"),
        ("accounts", f"{base}/accounts/"),
        ("go-live", f"{base}/golive/"),
        ("incentives", f"{base}/money/"),
        ("report", f"{base}/money/cooperation-2025/report/"),
        ("bank account", f"{base}/money/bank/"),
        ("claims", f"{base}/claims/"),
        ("a claim", f"{base}/claims/{claim.pk}/"),
        ("claim confirmation", f"{base}/claims/{claim.pk}/confirm/"),
        ("history", f"{base}/history/"),
        ("public list", "/public/"),
    ]:
        response = page.goto(url)
        assert response.ok, f"{url}: {response.status}"
        _width_problems(page, label, problems)

    page.goto(f"/facilities/{fresh.pk}/applications/start/")
    _width_problems(page, "application form", problems)
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.locator(".error-summary")).to_be_visible()
    _width_problems(page, "application form with errors", problems)
    page.get_by_label("担当者名").fill("担当 花子")
    page.get_by_label("電話番号").fill("03-1234-5678")
    page.get_by_label("職員数").fill("2")
    page.get_by_label("申請台数").fill("1")
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("内容の確認")
    _width_problems(page, "application confirmation", problems)
    assert not problems, "\n".join(problems)


def test_the_facility_menu_marks_the_page_shown(new_page, log_in):
    facility, user, _admin = accepted_facility(kind="judo")
    page = new_page()
    page.set_viewport_size(PHONE)
    log_in(page, user.email)
    page.goto(f"/facilities/{facility.pk}/history/")
    menu = page.get_by_role("navigation", name="施設のメニュー")
    expect(menu.get_by_role("link", name="履歴")).to_have_attribute("aria-current", "page")
    expect(menu.locator("[aria-current]")).to_have_count(1)


def test_a_fresh_facility_never_shows_none(new_page, log_in):
    facility = FacilityFactory(kind="judo")
    from tests.factories import make_staff

    user = make_staff(facility)
    page = new_page()
    log_in(page, user.email)
    base = f"/facilities/{facility.pk}"
    for url in ("/dashboard/", f"{base}/", f"{base}/applications/", f"{base}/accounts/",
                f"{base}/golive/", f"{base}/money/", f"{base}/money/cooperation-2025/report/",
                f"{base}/money/bank/", f"{base}/claims/", f"{base}/history/"):
        page.goto(url)
        assert "None" not in page.locator("main").inner_text(), url

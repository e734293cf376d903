"""A date can be typed as YYYY-MM-DD (any width) or picked from the calendar beside it."""

import pytest
from playwright.sync_api import expect

from facilities.models import GoLive
from tests.factories import PASSWORD, accepted_facility

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _go_live_page(new_page):
    facility, user, _admin = accepted_facility()
    page = new_page()
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"/facilities/{facility.pk}/golive/")
    return facility, page


def test_a_typed_date_in_full_width_is_accepted(new_page):
    facility, page = _go_live_page(new_page)
    page.get_by_label("運用開始日").click()
    page.keyboard.type("２０２５－０６－１０")
    page.keyboard.press("Enter")
    # The confirmation step names the effect on the money before anything is saved.
    expect(page.get_by_role("heading", level=1)).to_contain_text("確認")
    page.get_by_role("button", name="この内容で登録する").click()
    expect(page.locator("main")).to_contain_text("令和7年6月10日")
    assert GoLive.objects.get(facility=facility).date.isoformat() == "2025-06-10"


def test_a_date_picked_from_the_calendar_fills_the_field(new_page):
    facility, page = _go_live_page(new_page)
    page.locator("input.date-picker").fill("2025-07-01")
    expect(page.get_by_label("運用開始日")).to_have_value("2025-07-01")
    page.get_by_role("button", name="送信").click()
    page.get_by_role("button", name="この内容で登録する").click()
    expect(page.locator("main")).to_contain_text("令和7年7月1日")

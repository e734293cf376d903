"""Accessibility: axe-core finds no serious or critical violation on the pages staff use, and
the journey's forms work with the keyboard alone."""

import re
from datetime import date

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from facilities import services
from facilities.models import UsageApplication
from tests.factories import PASSWORD, FacilityFactory, UserFactory, accepted_facility, make_staff

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

AXE = Axe()


def _log_in(page, user):
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def _serious_violations(page) -> list[str]:
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_public_pages_have_no_serious_violations(new_page):
    page = new_page()
    problems = {}
    for url in ["/", "/accounts/login/", "/accounts/signup/", "/public/", "/simulator/",
                "/simulator/?kind=clinic&oct_receipts=1000&oct_users=40&best_users=200"
                "&poster=on&informed=on"]:
        page.goto(url)
        if found := _serious_violations(page):
            problems[url] = found
    assert not problems, problems


def test_staff_pages_have_no_serious_violations(new_page):
    facility, user, _admin = accepted_facility(kind="judo", devices=1)
    services.set_golive_date(user=user, facility=facility,
                             golive_date=date(2025, 6, 10))
    page = new_page()
    _log_in(page, user)
    base = f"/facilities/{facility.pk}"
    problems = {}
    for url in ["/dashboard/", f"{base}/", f"{base}/applications/",
                f"{base}/applications/change/", f"{base}/accounts/", f"{base}/golive/",
                f"{base}/history/", f"{base}/money/", f"{base}/money/bank/",
                f"{base}/money/cooperation-2025/report/", f"{base}/claims/",
                "/facilities/link/"]:
        page.goto(url)
        if found := _serious_violations(page):
            problems[url] = found
    # A form with its errors shown, and a confirmation page.
    page.goto(f"{base}/golive/")
    page.get_by_label("運用開始日").fill("")
    page.get_by_role("button", name="送信").click()
    expect(page.locator(".error-summary")).to_be_visible()
    if found := _serious_violations(page):
        problems["golive with errors"] = found
    assert not problems, problems


def test_skip_link_is_the_first_tab_stop(new_page):
    page = new_page()
    page.goto("/accounts/login/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("本文へ移動")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_attribute("id", "main")


def test_application_form_works_with_the_keyboard_alone(new_page):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    page = new_page()
    _log_in(page, user)
    page.goto(f"/facilities/{facility.pk}/applications/start/")
    page.get_by_label("担当者名").focus()
    page.keyboard.type("鍵盤 太郎")
    for label, value in [("開設者氏名（漢字）", "開設 太郎"), ("電話番号", "0312345678"),
                         ("メールアドレス", None), ("職員数", "1"), ("申請台数", "1")]:
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_attribute(
            "id", page.get_by_label(label).get_attribute("id"))
        if value is not None:
            page.keyboard.press("Control+A")
            page.keyboard.type(value)
    page.keyboard.press("Enter")  # submits the form: the confirmation page
    expect(page.locator("h1")).to_contain_text("内容の確認")
    page.get_by_role("button", name="申請する").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".receipt")).to_contain_text("受付番号")
    assert UsageApplication.objects.filter(facility=facility).count() == 1


def test_signup_shows_password_errors_next_to_the_field(new_page):
    page = new_page()
    page.goto("/accounts/signup/")
    page.locator("input[name=email]").fill("weak@example.jp")
    page.locator("input[name=password1]").fill("password")
    page.locator("input[name=password2]").fill("password")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("よく使われる")
    expect(page.locator("input[name=email]")).to_have_value("weak@example.jp")
    assert not UserFactory._meta.model.objects.filter(email="weak@example.jp").exists()

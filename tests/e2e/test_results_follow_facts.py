"""Results follow the facts: a go-live date entered by the facility shows on its results
page at once (the re-determination task ran in-process after the save committed), never the
verdict stored before it (docs/architecture.md#how-a-request-flows)."""

import re

import pytest
from playwright.sync_api import expect

from eligibility import services as eligibility_services
from eligibility.models import Determination, PendingDetermination, Program
from tests.factories import accepted_facility

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in_page(new_page, live_server, user):
    """A page whose browser holds the user's session (the log-in page itself is tested in
    test_journey.py; here only what follows matters)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    page = new_page()
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    return page


def test_go_live_entered_then_results_page_shows_it_met(new_page, live_server):
    facility, user, _admin = accepted_facility(kind="judo")
    # The nightly batch had judged the facility before its go-live date was entered.
    eligibility_services.run_eligibility(program=Program.objects.get(code="cooperation-2025"))
    stale = Determination.objects.get(facility=facility)
    assert "運用開始日 未入力 ✗" in stale.reasons

    staff = logged_in_page(new_page, live_server, user)
    staff.goto(f"/facilities/{facility.pk}/")
    menu = staff.get_by_role("navigation", name="施設のメニュー")
    menu.get_by_role("link", name="運用開始日登録").click()
    staff.get_by_label("運用開始日").fill("2025-06-10")
    staff.get_by_role("button", name="送信").click()
    staff.get_by_role("button", name="この内容で登録する").click()
    expect(staff.get_by_role("status")).to_contain_text("運用開始日を登録しました")

    staff.get_by_role("navigation", name="施設のメニュー").get_by_role(
        "link", name="協力金・一時金").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("協力金・一時金")
    section = staff.get_by_role("region", name=re.compile("協力金"))
    expect(section).to_contain_text("運用開始日 令和7年6月10日 ✓")
    expect(section).not_to_contain_text("運用開始日 未入力")
    expect(section).to_contain_text(re.compile(r"令和\d+年\d+月\d+日 \d+:\d\d判定"))
    assert not PendingDetermination.objects.filter(facility=facility).exists()

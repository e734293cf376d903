"""The Content-Security-Policy in a real browser: the portal's pages and the admin run their
scripts (the live estimate, the admin's widgets) and Chromium reports no violation."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import current_totp_code
from tests.factories import PASSWORD, FacilityFactory, make_admin, make_staff

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


def _watch(page) -> list[str]:
    """Every CSP violation the page reports (console and the DOM event)."""
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " console.error('Content Security Policy violation: ' + e.violatedDirective"
        " + ' ' + e.blockedURI); });")
    return violations


def test_pages_and_the_admin_run_under_the_policy_without_violations(new_page, log_in):
    facility = FacilityFactory(kind="judo")
    staff = new_page()
    violations = _watch(staff)
    log_in(staff, make_staff(facility).email)
    staff.goto(f"/facilities/{facility.pk}/")
    staff.goto(f"/facilities/{facility.pk}/claims/")
    staff.locator("tr", has_text="施術所のモバイル端末等") \
        .get_by_role("button", name="申請を始める").click()
    # The live estimate is a script of ours: it runs and reaches the server.
    staff.wait_for_load_state("load")
    staff.get_by_label("数量").fill("1")
    staff.get_by_label("単価（税抜・円）").fill("30000")
    expect(staff.locator("#estimate")).to_contain_text("30,000円")
    staff.goto("/public/")
    staff.goto("/simulator/")

    admin = new_page()
    violations += _watch(admin)
    administrator = make_admin(superuser=True)
    admin.goto("/admin/")
    admin.locator("input[name=login]").fill(administrator.email)
    admin.locator("input[name=password]").fill(PASSWORD)
    admin.get_by_role("button", name="ログイン").click()
    admin.locator("input[name=code]").fill(current_totp_code(administrator.email))
    admin.locator("input[name=code]").press("Enter")
    for path in ("/admin/", "/admin/subsidies/claim/", "/admin/facilities/facility/",
                 f"/admin/facilities/facility/{facility.pk}/change/"):
        admin.goto(path)
        expect(admin.locator("#site-name")).to_be_visible()
    assert violations == []

"""Headless Chromium (Debian's chromium-headless-shell: Blink without the full browser's
window machinery, which costs about twice the CPU per page) driven by Playwright against pytest-django's live
server. The server runs in a thread of this process, so the tests share its database (a
transactional one) and django.core.mail.outbox with it."""

import os
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.conftest import services_required

if TYPE_CHECKING:
    from facilities.models import DeviceAccount, Facility, UsageApplication
    from obligation.models import AnnexPairing, ExemptionDeclaration
    from portal.models import User
    from subsidies.models import Claim, ClaimItem

# Playwright's sync API keeps an event loop running in this thread; the ORM calls the tests
# make around it are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium-headless-shell")
# Without the background-networking switches Chromium calls out to Google's services, which
# this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 15_000


def _static_files_kept_by_the_browser() -> None:
    """The live server serves the static files from the project's folders, with no caching
    header: each page loaded all its style sheets and scripts again (a dozen on an admin
    page). They do not change while the tests run, so the browser may keep them."""
    from django.contrib.staticfiles.handlers import StaticFilesHandlerMixin

    serve = StaticFilesHandlerMixin.serve

    def serve_kept(self, request):
        response = serve(self, request)
        response["Cache-Control"] = "max-age=86400"
        return response

    StaticFilesHandlerMixin.serve = serve_kept


_static_files_kept_by_the_browser()


def stop_reloading(page) -> None:
    """Press 「自動更新を止める」 on a page that reloads itself (static/js/auto-refresh.js)
    until it says 「自動更新を再開する」: a press that meets the page's own reload on its way
    (the click lands on the page being left) finds the button again on the reloaded page,
    as a person would."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    stop = page.get_by_role("button", name="自動更新を止める")
    resumed = page.get_by_role("button", name="自動更新を再開する")
    for _attempt in range(4):
        if resumed.is_visible():
            return
        try:
            stop.click(timeout=3_000)
            expect(resumed).to_be_visible(timeout=3_000)
            return
        except (AssertionError, PlaywrightTimeout):
            continue
    expect(resumed).to_be_visible()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item: `new_page` looks at it to keep a snapshot
    of the pages of a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _next_two_factor_code_accepted(settings):
    """allauth accepts the codes of the windows either side of the current one (as an
    authenticator app a few seconds off would need): a second log-in of one account types
    the next window's code at once instead of waiting up to 30 seconds for it
    (tests/factories.py: totp_code_to_type). Wrong and used codes are still refused."""
    settings.MFA_TOTP_TOLERANCE = 1


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if services_required():
            pytest.fail(f"Chromium is missing at {CHROMIUM}: CI must run the browser tests")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(request, browser, live_server, migration_data, tmp_path):
    """A factory of pages, each in a fresh browser context (its own cookies: another person
    or another visit). The database is transactional (the server runs in another thread)
    and keeps the rows the migrations made (programs and their parameters), restored for
    every test. A failed test leaves a screenshot and the HTML of each page in tmp_path."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    contexts = []

    def make(**options):
        """`options` go to the new context (e.g. viewport, device_scale_factor)."""
        context = browser.new_context(base_url=live_server.url, locale="ja-JP",
                                      timezone_id="Asia/Tokyo", accept_downloads=True,
                                      **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    report = getattr(request.node, "report_call", None)
    for number, context in enumerate(contexts):
        if report is not None and report.failed:
            for index, page in enumerate(context.pages):
                stem = tmp_path / f"page-{number}-{index}"
                try:
                    page.screenshot(path=f"{stem}.png", full_page=True)
                    stem.with_suffix(".html").write_text(page.content(), encoding="utf-8")
                except Exception as error:  # noqa: BLE001 - a snapshot must not hide the failure
                    print(f"no snapshot of {page.url}: {error}")
                else:
                    print(f"snapshot of {page.url}: {stem}.png")
        context.close()


@pytest.fixture
def log_in():
    """Log a portal user in through the log-in page; lands on the dashboard."""
    from playwright.sync_api import expect

    from tests.factories import PASSWORD

    def log_in(page, email, password=PASSWORD):
        page.goto("/accounts/login/")
        page.get_by_label("メールアドレス").fill(email)
        page.get_by_label("パスワード 必須", exact=True).fill(password)
        page.get_by_role("button", name="ログイン").click()
        expect(page).to_have_url(re.compile(r"/dashboard/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("マイページ")

    return log_in


def current_totp_code(email: str) -> str:
    """The code to type for an account's authenticator: one that does not expire while it
    is typed and was not typed before (tests/factories.py: totp_code_to_type)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import decrypt

    from tests.factories import totp_code_to_type

    secret = decrypt(Authenticator.objects.get(user__email=email, type="totp").data["secret"])
    return totp_code_to_type(secret)


def sign_in_as_administrator(page, email, password):
    """The admin's log-in is allauth's: e-mail and password, then the two-factor code."""
    from playwright.sync_api import expect

    page.goto("/admin/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    page.locator("input[name=code]").fill(current_totp_code(email))
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("#site-name")).to_contain_text("オンライン資格確認ポータル 管理")


@pytest.fixture
def admin_log_in():
    """Log an administrator in as a person would: allauth's log-in with two-factor."""
    from tests.factories import PASSWORD

    def admin_log_in(page, email, password=PASSWORD):
        sign_in_as_administrator(page, email, password)

    return admin_log_in


@dataclass(frozen=True)
class FacilityWorld:
    """What `facility_world` made: the staff member, the facilities and the rows their pages
    show."""
    user: "User"
    facility: "Facility"  # the 施術所 far along its journey
    clinic: "Facility"  # a clinic not applied yet
    declaring: "Facility"  # a 施術所 with an exemption declaration
    application: "UsageApplication"  # the facility's accepted 利用開始申請
    account: "DeviceAccount"  # one of its device accounts
    claim: "Claim"  # its draft claim
    item: "ClaimItem"  # the claim's item
    declaration: "ExemptionDeclaration"  # the declaring 施術所's
    pairing: "AnnexPairing"  # the facility's, proposed

    @property
    def base(self) -> str:
        return f"/facilities/{self.facility.pk}"


@pytest.fixture
def facility_world(migration_data) -> FacilityWorld:
    """Every facility page with something to show, all of one staff member: a 施術所 far
    along its journey (accepted with two device accounts, go-live entered, a long name and
    address, a draft claim with its item and receipt, a 併設 pairing proposed with another
    施術所), a clinic not applied yet, and a 施術所 with an exemption declaration. The public
    list is rebuilt."""
    import uuid
    from datetime import date

    from facilities import services
    from facilities.models import Membership, UsageApplication
    from obligation import services as obligation_services
    from obligation.rules import Practitioner
    from tests.factories import FacilityFactory, accepted_facility, claim_with_receipt

    facility, user, _admin = accepted_facility(kind="judo", devices=2)
    facility.name = "医療法人社団オンライン資格確認推進会あおば中央整骨院駅前本院"
    facility.address = "東京都千代田区霞が関一丁目二番二号中央合同庁舎第五号館別館二十三階"
    facility.save()
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    claim, _staff = claim_with_receipt(facility)
    clinic = FacilityFactory(kind="clinic")
    Membership.objects.create(user=user, facility=clinic)
    declaring = FacilityFactory(kind="judo")
    Membership.objects.create(user=user, facility=declaring)
    declaration = obligation_services.declare_exemption(
        user=user, facility=declaring, token=uuid.uuid4(),
        data=obligation_services.DeclarationInput(
            reason="1-1", contact_name="担当 花子", practitioners=(
                Practitioner(birth_date=date(1950, 1, 1), full_time=True, name="柔整 一郎"),)))
    pairing = obligation_services.propose_annex(
        user=user, facility=facility, partner=FacilityFactory(kind="judo"), facility_is_main=True)
    services.rebuild_public_list()
    return FacilityWorld(
        user=user, facility=facility, clinic=clinic, declaring=declaring,
        application=UsageApplication.objects.filter(facility=facility).first(),
        account=facility.device_accounts.first(), claim=claim, item=claim.items.get(),
        declaration=declaration, pairing=pairing)

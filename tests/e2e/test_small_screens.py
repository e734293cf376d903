"""On a 390×844 phone and at 200 % zoom (a 640 CSS px viewport at device scale factor 2) no
page the public or a facility's staff sees, nor its forms with their errors shown, scrolls
sideways (document.scrollingElement.scrollWidth <= clientWidth): tables scroll in their own
box, the facility menu wraps, long words break. On the phone the tables of money, state and
history read as summary lists, no amount, date, 受付番号 or state breaks inside itself, and the
facility's menu is folded so that the page's heading is on the first screen
(docs/decisions.md D1.7). And a fresh facility's pages never print "None"."""

import pytest
from playwright.sync_api import expect

from tests.factories import FacilityFactory, accepted_facility

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
WIDER_THAN_SCREEN = ("() => document.scrollingElement.scrollWidth"
                     " - document.scrollingElement.clientWidth")


# Amounts, dates, 受付番号 and states (their classes) shown on more than one line.
WRAPPED = """() => {
  const words = [...document.querySelectorAll(
    'main .amount, main .date, main .state, main .nowrap')];
  const shown = words.filter((el) => el.getClientRects().length > 0);
  return [shown.length, shown.filter((el) => el.getClientRects().length > 1)
    .map((el) => el.textContent.trim())];
}"""
# The facility's menu and the page's heading, measured from the top of the page.
MENU = """() => {
  const nav = document.querySelector('nav.facility-nav');
  if (!nav) return null;
  const h1 = document.querySelector('main h1');
  return {navBottom: nav.getBoundingClientRect().bottom,
          navHeight: nav.getBoundingClientRect().height,
          h1Bottom: h1 ? h1.getBoundingClientRect().bottom : 0,
          screen: window.innerHeight};
}"""


def _phone_problems(page, label, problems):
    """What only a phone checks; returns how many amounts, dates and states were shown."""
    shown, wrapped = page.evaluate(WRAPPED)
    if wrapped:
        problems.append(f"{label}: broken inside itself: {wrapped}")
    menu = page.evaluate(MENU)
    if menu and (menu["navHeight"] > menu["screen"] / 4 or menu["h1Bottom"] > menu["screen"]):
        problems.append(f"{label}: the facility menu takes {menu['navHeight']:.0f}px of "
                        f"{menu['screen']}px; the heading ends at {menu['h1Bottom']:.0f}px")
    return shown


def _width_problems(page, label, problems):
    overflow = page.evaluate(WIDER_THAN_SCREEN)
    if overflow > 0:
        problems.append(f"{label} ({page.url}): {overflow}px wider than the screen")


def _facility_pages(world):
    """The pages of `facility_world` (long name and address, a draft claim with its item,
    declarations; a clinic not applied yet) and its forms: (page URLs, forms)."""
    base, fresh, claim = world.base, world.clinic, world.claim
    urls = [
        "/dashboard/", "/facilities/link/", "/todos/reminders/", "/accounts/2fa/",
        "/accounts/email/",
        f"{base}/", f"{base}/applications/", f"{base}/applications/{world.application.pk}/",
        f"{base}/applications/change/", f"/facilities/{fresh.pk}/applications/start/",
        f"{base}/accounts/", f"{base}/accounts/{world.account.pk}/", f"{base}/golive/",
        f"{base}/history/", f"{base}/money/", f"{base}/money/cooperation-2025/report/",
        f"/facilities/{fresh.pk}/money/lump-sum-2024/attest/", f"{base}/money/bank/",
        f"{base}/money/payments/", f"{base}/claims/", f"{base}/claims/{claim.pk}/",
        f"{base}/claims/{claim.pk}/items/{world.item.pk}/",
        f"{base}/claims/{claim.pk}/confirm/",
        f"{base}/counter/", f"{base}/obligation/", f"{base}/obligation/exemption/",
        f"/facilities/{world.declaring.pk}/obligation/exemption/{world.declaration.pk}"
        "/withdraw/",
        f"{base}/obligation/annex/", f"{base}/obligation/annex/{world.pairing.pk}/withdraw/",
    ]
    # Forms sent empty: their errors shown (URL, button).
    forms = [(f"/facilities/{fresh.pk}/applications/start/", "確認画面へ"),
             (f"{base}/money/bank/", "確認画面へ"),
             (f"{base}/obligation/exemption/", "確認画面へ"),
             (f"{base}/claims/{claim.pk}/", "明細と領収書を保存"),
             ("/facilities/link/", "確認する")]
    return urls, forms


def _link_request_pages(world):
    """Someone asking to join the facility's staff (its 担当者 page and the decision page),
    and the user's own request to become a 施術所's first staff, its letter made: (page URLs,
    forms)."""
    from facilities import services
    from tests.factories import AdminFactory, UserFactory

    joining = services.request_facility_link(user=UserFactory(), code=world.facility.code,
                                             account_last4=world.facility.account_last4)
    first = FacilityFactory(kind="judo")
    own = services.request_facility_link(user=world.user, code=first.code,
                                         account_last4=first.account_last4)
    services.issue_link_letters(link_requests=[own], actor=AdminFactory())
    own_page = f"/facilities/link/{own.pk}/"
    return ([f"{world.base}/staff/", f"{world.base}/staff/requests/{joining.pk}/approve/",
             own_page], [(own_page, "確認コードを送信する")])


PUBLIC_URLS = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/",
               "/public/", "/public/?name=存在しない施設", "/simulator/",
               "/simulator/?kind=clinic&oct_receipts=1000&oct_users=40&best_users=200"
               "&poster=on&informed=on", "/obligation/sessions/apply/"]
PUBLIC_FORMS = [("/accounts/signup/", "ユーザー登録"), ("/obligation/sessions/apply/", "確認画面へ")]

# The two small screens: a phone 390 CSS px wide, and 200 % zoom emulated as a viewport of
# 640 CSS px at a device scale factor of 2 (what a 1280 px wide window shows at 200 %).
SCREENS = {"a 390px phone": {"viewport": PHONE},
           "200% zoom": {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}}


def _walk(page, label, urls, forms, problems, phone=False):
    """Each page and form in turn; returns how many amounts, dates and states a phone saw."""
    shown = 0
    for url in urls:
        response = page.goto(url)
        assert response.ok, f"{url}: {response.status}"
        _width_problems(page, f"{label}: {url}", problems)
        if phone:
            shown += _phone_problems(page, f"{label}: {url}", problems)
    for url, button in forms:
        page.goto(url)
        page.get_by_role("main").get_by_role("button", name=button, exact=True).click()
        expect(page.locator(".error-summary").first).to_be_visible()
        _width_problems(page, f"{label}: {url} with errors", problems)
    return shown


def test_every_page_fits_a_phone_and_200_percent_zoom(facility_world, new_page, log_in):
    urls, forms = _facility_pages(facility_world)
    link_urls, link_forms = _link_request_pages(facility_world)
    urls, forms = urls + link_urls, forms + link_forms
    problems: list[str] = []
    for label, options in SCREENS.items():
        page = new_page(**options)
        _walk(page, label, PUBLIC_URLS, PUBLIC_FORMS, problems)
        log_in(page, facility_world.user.email)
        phone = options["viewport"] == PHONE
        shown = _walk(page, label, urls, forms, problems, phone=phone)
        if phone:
            # The walk did meet amounts, dates and states (the history's dates, the claim's).
            assert shown > 20, shown
            _phone_reads_summary_lists(page, facility_world, problems)
    assert not problems, "\n".join(problems)


def _phone_reads_summary_lists(page, world, problems):
    """On the phone a claim's items read as a summary list: each value under its column's
    name."""
    page.goto(f"{world.base}/claims/{world.claim.pk}/")
    row = page.locator("table.reflow tbody tr").first
    cell = row.locator("td[data-label=金額]")
    label = cell.evaluate("(el) => getComputedStyle(el, '::before').content")
    if label != '"金額"' or cell.evaluate("(el) => getComputedStyle(el).display") != "block":
        problems.append(f"a claim's items on a phone: not a summary list ({label})")


def test_the_application_confirmation_fits_a_phone(new_page, log_in):
    facility = FacilityFactory(kind="clinic")
    from tests.factories import make_staff

    user = make_staff(facility)
    page = new_page(viewport=PHONE)
    log_in(page, user.email)
    page.goto(f"/facilities/{facility.pk}/applications/start/")
    page.get_by_label("担当者名").fill("担当 花子")
    page.get_by_label("電話番号").fill("03-1234-5678")
    page.get_by_label("職員数").fill("2")
    page.get_by_label("申請台数").fill("1")
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("内容の確認")
    problems: list[str] = []
    _width_problems(page, "application confirmation", problems)
    assert not problems, "\n".join(problems)


def test_the_facility_menu_marks_the_page_shown(new_page, log_in):
    facility, user, _admin = accepted_facility(kind="judo")
    page = new_page()
    page.set_viewport_size(PHONE)
    log_in(page, user.email)
    page.goto(f"/facilities/{facility.pk}/history/")
    menu = page.get_by_role("navigation", name="施設のメニュー")
    # Folded on the phone; its summary opens it by keyboard.
    expect(menu.get_by_role("link", name="履歴")).to_have_count(0)
    menu.locator("summary").focus()
    page.keyboard.press("Enter")
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

"""Accessibility: axe-core finds no violation of any WCAG 2.0/2.1 A or AA rule on the pages
the public and the facilities' staff use (forms with their errors shown included; the
administrators' pages are in test_admin_accessibility, the account pages in
test_account_pages, every journey by keyboard in test_keyboard_journeys), and the journey works
with the keyboard alone: the skip link comes first and the application form is filled in,
corrected and submitted with Tab, typing and Enter."""

import re
from datetime import date

import pytest
from axe_playwright_python.sync_playwright import Axe
from dateutil.relativedelta import relativedelta
from django.utils import timezone
from playwright.sync_api import expect

from facilities import services
from facilities.models import DeviceAccount, Membership, UsageApplication
from payouts import services as payout_services
from tests.e2e.conftest import stop_reloading
from tests.factories import (
    AdminFactory,
    FacilityFactory,
    UserFactory,
    accepted_facility,
    make_staff,
)
from tests.payouts.helpers import eligible, import_on_the_day, lump_sum, officers, transfer_day

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

AXE = Axe()
# Only the rules of WCAG 2.0 and 2.1, levels A and AA, run; any violation of one fails.
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
           "resultTypes": ["violations"]}

# What axe's preloading (it fetches and parses every style sheet, and loads audio and video)
# is for: css-orientation-lock reads the style sheets, no-autoplay-audio the media. A page
# whose style sheets (the same files, the same inline styles) were already checked with them
# in this process, and that has no audio or video, gives those two rules nothing new: axe runs
# on it without preloading (about half of its time on an admin page). Every other rule runs
# on every page.
STYLE_AND_MEDIA = """() => ({
    sheets: [...document.styleSheets].map(sheet => sheet.href || sheet.ownerNode.textContent),
    media: document.querySelectorAll("audio, video").length,
})"""
_sheets_checked: set[tuple[str, ...]] = set()


def _axe_violations(page) -> list[dict]:
    found = page.evaluate(STYLE_AND_MEDIA)
    sheets = tuple(found["sheets"])
    preload = found["media"] > 0 or sheets not in _sheets_checked
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.axe_script)
        if not getattr(page.context, "_portal_axe", False):
            # axe's half a megabyte sent to the browser once per context, not once per
            # page: every page the context opens from now on has it from the start.
            page.context.add_init_script(AXE.axe_script)
            page.context._portal_axe = True
    options = WCAG_AA if preload else {**WCAG_AA, "preload": False}
    violations = page.evaluate("options => axe.run(options).then(r => r.violations)", options)
    if preload:
        _sheets_checked.add(sheets)
    return violations


# axe only asks for a review of an aria-describedby naming a missing element; a screen reader
# then reads nothing, so any reference to an id that is not on the page is reported here.
DANGLING_REFERENCES = """() => {
    const found = [];
    for (const attribute of ["aria-describedby", "aria-labelledby", "aria-controls", "for"]) {
        for (const element of document.querySelectorAll(`[${attribute}]`)) {
            for (const id of element.getAttribute(attribute).split(/\\s+/).filter(Boolean)) {
                if (!document.getElementById(id)) {
                    found.push(`${element.tagName.toLowerCase()}[${attribute}] names #${id}`);
                }
            }
        }
    }
    return found;
}"""


def _check(page, label, problems, exclude=()):
    """Run axe's WCAG 2.1 A and AA rules on the page as it is now; keep every violation, and
    any reference to a missing id, readably, under `label`. `exclude` names (rule id,
    selector) pairs known and explained by the caller; only those nodes are let through."""
    found = [f"  dangling reference: {text}" for text in page.evaluate(DANGLING_REFERENCES)]
    for violation in _axe_violations(page):
        violation["nodes"] = [node for node in violation["nodes"]
                              if (violation["id"], " > ".join(node["target"])) not in exclude]
        if not violation["nodes"]:
            continue
        found.append(f"  {violation['id']} [{violation['impact']}] {violation['help']}"
                     f" — {violation['helpUrl']}")
        for node in violation["nodes"][:5]:
            summary = " ".join(line.strip() for line in node["failureSummary"].splitlines()[1:])
            found.append(f"    at {' > '.join(node['target'])}: {summary}")
        if len(violation["nodes"]) > 5:
            found.append(f"    … and {len(violation['nodes']) - 5} more")
    if found:
        problems[f"{label} ({page.url})"] = found


def _report(problems) -> str:
    lines = ["axe found violations of WCAG 2.1 A/AA:"]
    for label, found in problems.items():
        lines += [label, *found]
    report = "\n".join(lines)
    print(report)
    return report


def test_public_pages_have_no_wcag_violations(new_page):
    listed, user, _admin = accepted_facility(kind="judo", devices=1)
    services.set_golive_date(user=user, facility=listed, golive_date=date(2025, 6, 10))
    services.rebuild_public_list()  # the public list has a row to show

    page = new_page()
    problems = {}
    for label, url in [
        ("home", "/"),
        ("log-in", "/accounts/login/"),
        ("sign-up", "/accounts/signup/"),
        ("public list", "/public/"),
        ("public list, nothing found", "/public/?name=存在しない施設"),
        ("simulator", "/simulator/"),
        ("explanation session request", "/obligation/sessions/apply/"),
        ("simulator with a result", "/simulator/?kind=clinic&oct_receipts=1000&oct_users=40"
                                    "&best_users=200&poster=on&informed=on"),
    ]:
        page.goto(url)
        _check(page, label, problems)

    page.goto("/public/")
    expect(page.get_by_role("row", name=listed.name)).to_be_visible()

    # Forms with their errors shown.
    page.goto("/accounts/login/")
    page.get_by_label("メールアドレス").fill("nobody@example.jp")
    page.get_by_label("パスワード 必須", exact=True).fill("Wrong2025Password")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("main")).to_contain_text("正しくありません")
    _check(page, "log-in with an error", problems)

    page.goto("/accounts/signup/")
    page.get_by_label("メールアドレス").fill("weak@example.jp")
    page.get_by_label("パスワード 必須", exact=True).fill("password")
    page.get_by_label("パスワード（確認用）").fill("password")
    page.get_by_role("button", name="ユーザー登録").click()
    expect(page.get_by_role("main").locator("form")).to_contain_text("よく使われる")
    _check(page, "sign-up with an error", problems)

    page.goto("/obligation/sessions/apply/")
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    _check(page, "explanation session request with errors", problems)
    from datetime import timedelta

    for name, value in [("organisation", "東京都柔道整復師会"),
                        ("address", "東京都千代田区霞が関1-2-2"),
                        ("contact_furigana", "やまだ はなこ"), ("contact_name", "山田 花子"),
                        ("phone", "03-1111-2222"), ("email", "kai@example.jp"),
                        ("preferred_date", (date.today() + timedelta(days=14)).isoformat()),
                        ("preferred_start", "14:00"), ("preferred_end", "15:30"),
                        ("attendees", "40"), ("occupation", "柔道整復師")]:
        page.locator(f"main form [name={name}]").fill(value)
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.get_by_role("button", name="申し込む")).to_be_visible()
    _check(page, "explanation session confirmation", problems)
    page.get_by_role("button", name="申し込む").click()
    expect(page.get_by_role("main")).to_contain_text("W")
    _check(page, "explanation session requested", problems)
    assert not problems, _report(problems)


def _paid(facility):
    """A 一時金 paid to the facility."""
    eligible(facility, program=lump_sum())
    creator, releaser = officers()
    run = payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                     actor=creator)
    run = payout_services.release_run(run=run, actor=releaser)
    import_on_the_day(
        run=run, data=f"顧客コード1,結果コード\r\n{run.lines.get().pk},0\r\n".encode(),
        actor=releaser)


def test_staff_pages_have_no_wcag_violations(new_page, log_in):
    # One facility far along (accepted, go-live entered) and one not applied yet: the
    # dashboard shows every status of the task list but 対応中 (完了, 未着手, まだ始められません).
    facility, user, _admin = accepted_facility(kind="judo", devices=1)
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    fresh = FacilityFactory(kind="clinic")
    Membership.objects.create(user=user, facility=fresh)
    account = facility.device_accounts.get()
    application = UsageApplication.objects.get(facility=facility)
    _paid(fresh)  # its payments page shows the table and a notice link
    # A request to join the facility's staff (its staff page and the decision page), and the
    # user's own request to become a facility's first staff, its letter made (the code form).
    joining = services.request_facility_link(user=UserFactory(), code=facility.code,
                                             account_last4=facility.account_last4)
    first = FacilityFactory(kind="judo")
    own = services.request_facility_link(user=user, code=first.code,
                                         account_last4=first.account_last4)
    services.issue_link_letters(link_requests=[own], actor=AdminFactory())

    page = new_page()
    log_in(page, user.email)
    for status in ("done", "not_started", "cannot_start"):
        expect(page.locator(f".task-list .tag.status-{status}").first).to_be_visible()
    problems = {}
    _check(page, "dashboard", problems)

    base = f"/facilities/{facility.pk}"
    for label, url in [
        ("facility home", f"{base}/"),
        ("applications", f"{base}/applications/"),
        ("application", f"{base}/applications/{application.pk}/"),
        ("change application form", f"{base}/applications/change/"),
        ("device accounts", f"{base}/accounts/"),
        ("device account", f"{base}/accounts/{account.pk}/"),
        ("go-live", f"{base}/golive/"),
        ("history", f"{base}/history/"),
        ("incentives", f"{base}/money/"),
        ("bank account", f"{base}/money/bank/"),
        ("payments", f"/facilities/{fresh.pk}/money/payments/"),
        ("activity report", f"{base}/money/cooperation-2025/report/"),
        ("subsidy claims", f"{base}/claims/"),
        ("link a facility", "/facilities/link/"),
        ("own link request with the code form", f"/facilities/link/{own.pk}/"),
        ("staff and requests", f"{base}/staff/"),
        ("approving a request", f"{base}/staff/requests/{joining.pk}/approve/"),
        ("go-live before acceptance", f"/facilities/{fresh.pk}/golive/"),
        ("obligation overview", f"{base}/obligation/"),
        ("exemption declaration", f"{base}/obligation/exemption/"),
        ("annex declaration", f"{base}/obligation/annex/"),
    ]:
        response = page.goto(url)
        assert response.ok, f"{url}: {response.status}"
        _check(page, label, problems)

    # The application form with its errors shown, then its confirmation page.
    page.goto(f"/facilities/{fresh.pk}/applications/start/")
    page.get_by_label("担当者名").fill("")
    page.get_by_label("電話番号").fill("12-345")
    page.get_by_label("職員数").fill("0")
    page.get_by_role("button", name="確認画面へ").click()
    summary = page.get_by_role("alert")
    for message in ("担当者名", "電話番号", "職員数", "申請台数"):
        expect(summary).to_contain_text(message)
    _check(page, "application form with errors", problems)
    page.get_by_label("担当者名").fill("担当 花子")
    page.get_by_label("電話番号").fill("03-1234-5678")
    page.get_by_label("職員数").fill("2")
    page.get_by_label("申請台数").fill("1")
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("内容の確認")
    _check(page, "application confirmation", problems)

    # The confirmation code sent empty: its error shown.
    page.goto(f"/facilities/link/{own.pk}/")
    page.get_by_role("button", name="確認コードを送信する").click()
    expect(page.get_by_role("alert")).to_contain_text("確認コード")
    _check(page, "link code with an error", problems)

    # The go-live form with its error shown.
    page.goto(f"{base}/golive/")
    expect(page.get_by_label("運用開始日")).to_have_value("2025-06-10")
    page.get_by_label("運用開始日").fill("")
    page.get_by_role("button", name="送信").click()
    expect(page.get_by_role("alert")).to_contain_text("運用開始日")
    _check(page, "go-live with an error", problems)

    # Its confirmation step, naming the effect on the money (docs/decisions.md D5.4.5).
    page.get_by_label("運用開始日").fill("2025-08-15")
    page.get_by_role("button", name="送信").click()
    expect(page.get_by_role("region", name="お支払いへの影響")).to_be_visible()
    _check(page, "go-live confirmation", problems)
    assert not problems, _report(problems)


def test_skip_link_is_the_first_tab_stop(new_page):
    page = new_page()
    page.goto("/accounts/login/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="本文へ移動")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused, not only read out
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    # The next Tab goes on from the main content, past the header's menu.
    page.keyboard.press("Tab")
    expect(page.get_by_role("main").get_by_role("link", name="ユーザー登録", exact=True)).to_be_focused()


def _tab_until(page, target, limit):
    """Press Tab until `target` has the focus; fail after `limit` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    focused = page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    pytest.fail(f"{target} not reached in {limit} Tab presses; the focus is on {focused}")


def _skip_to_main(page):
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="本文へ移動")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()


def _replace(page, text):
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(text)


def test_application_form_works_with_the_keyboard_alone(new_page, log_in):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    page = new_page()
    log_in(page, user.email)
    page.goto(f"/facilities/{facility.pk}/applications/start/")

    # From the skip link past the facility's menu to the first field, then field by field
    # in the order they are shown.
    _skip_to_main(page)
    _tab_until(page, page.get_by_label("担当者名"), limit=12)  # a 施術所's menu has ten links
    _replace(page, "鍵盤 太郎")
    page.keyboard.press("Tab")
    expect(page.get_by_label("開設者氏名（漢字）")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("電話番号")).to_be_focused()
    _replace(page, "03-1234-567")  # a digit short
    page.keyboard.press("Tab")
    expect(page.get_by_label("メールアドレス")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("職員数")).to_be_focused()
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    expect(page.get_by_label("申請台数")).to_be_focused()
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="確認画面へ")).to_be_focused()
    page.keyboard.press("Enter")

    # The error summary's link leads to the field; Enter in a field submits the form.
    error_link = page.get_by_role("alert").get_by_role("link", name="電話番号")
    expect(error_link).to_contain_text("10桁または11桁")
    # (The form posts to its own address, #main included: the page opens at the main
    # content and Tab goes on from there.)
    _tab_until(page, error_link, limit=20)
    page.keyboard.press("Enter")
    expect(page.get_by_label("電話番号")).to_be_focused()
    expect(page.get_by_label("電話番号")).to_have_value("03-1234-567")
    expect(page.get_by_label("職員数")).to_have_value("2")
    _replace(page, "03-1234-5678")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text("内容の確認")
    expect(page.get_by_role("main")).to_contain_text("鍵盤 太郎")
    _tab_until(page, page.get_by_role("button", name="申請する"), limit=20)
    page.keyboard.press("Enter")
    expect(page.locator(".receipt")).to_contain_text("受付番号")

    application = UsageApplication.objects.get(facility=facility)
    assert (application.contact_name, application.phone, application.staff_count,
            application.device_count) == ("鍵盤 太郎", "03-1234-5678", 2, 1)


def _submit_empty(page, button):
    """Send the main form as it is (or emptied by the caller); its errors are then shown."""
    page.get_by_role("main").get_by_role("button", name=button, exact=True).click()
    expect(page.locator(".error-summary").first).to_be_visible()


def test_the_other_facility_pages_and_their_forms_with_errors(facility_world, new_page, log_in):
    """Every facility page not walked above (attestation, claim pages, bank account
    confirmation, declarations and their moves, the counter and its check in each state, the
    explanation session's steps), each form sent with errors."""
    world = facility_world
    claim, item, clinic = world.claim, world.item, world.clinic

    page = new_page()
    log_in(page, world.user.email)
    problems = {}
    base = world.base
    for label, url in [
        ("attestation", f"/facilities/{clinic.pk}/money/lump-sum-2024/attest/"),
        ("a claim", f"{base}/claims/{claim.pk}/"),
        ("a claim's item", f"{base}/claims/{claim.pk}/items/{item.pk}/"),
        ("claim confirmation", f"{base}/claims/{claim.pk}/confirm/"),
        ("exemption withdrawal", f"/facilities/{world.declaring.pk}/obligation/exemption/"
                                 f"{world.declaration.pk}/withdraw/"),
        ("annex move", f"{base}/obligation/annex/{world.pairing.pk}/withdraw/"),
        ("annex with a pairing", f"{base}/obligation/annex/"),
        ("counter", f"{base}/counter/"),
        ("counter without device accounts", f"/facilities/{clinic.pk}/counter/"),
        ("reminders", "/todos/reminders/"),
        ("bank code lookup with its results",
         f"{base}/money/bank/?bank_q=みずほ&bank_code=0001&branch_q=001"),
    ]:
        response = page.goto(url)
        assert response.ok, f"{url}: {response.status}"
        _check(page, label, problems)

    # On a phone the tables read as summary lists and the menu is folded (docs/decisions.md
    # D1.7): the same pages, checked again at that width, the menu opened.
    page.set_viewport_size({"width": 390, "height": 844})
    for label, url in [("history on a phone", f"{base}/history/"),
                       ("a claim on a phone", f"{base}/claims/{claim.pk}/"),
                       ("staff and requests on a phone", f"{base}/staff/")]:
        page.goto(url)
        page.locator("nav.facility-nav summary").click()
        _check(page, label, problems)
    page.set_viewport_size({"width": 1280, "height": 720})

    forms = [
        ("link with errors", "/facilities/link/", "確認する"),
        ("activity report with errors", f"{base}/money/cooperation-2025/report/", "報告する"),
        ("claim item with errors", f"{base}/claims/{claim.pk}/", "明細と領収書を保存"),
        ("bank account with errors", f"{base}/money/bank/", "確認画面へ"),
        ("exemption with errors", f"{base}/obligation/exemption/", "確認画面へ"),
        ("annex with errors", f"{base}/obligation/annex/", "確認画面へ"),
    ]
    for label, url, button in forms:
        page.goto(url)
        _submit_empty(page, button)
        _check(page, label, problems)

    page.goto(f"{base}/claims/{claim.pk}/items/{item.pk}/")
    page.get_by_label("単価（税抜・円）").fill("")
    _submit_empty(page, "保存")
    _check(page, "claim item edit with errors", problems)

    page.goto(f"{base}/applications/change/")
    page.get_by_label("担当者名").fill("")
    _submit_empty(page, "確認画面へ")
    _check(page, "change application with errors", problems)

    _counter_checks(page, world, problems)
    assert not problems, _report(problems)


def _start_counter_check(page, base, account, mode) -> str:
    """Start a check on the counter page; the check's page is shown. Its id."""
    page.goto(f"{base}/counter/")
    page.locator("main form [name=device_account]").select_option(str(account.pk))
    page.locator(f"main form [name=mode][value={mode}]").check()
    page.get_by_role("button", name="確認を始める").click()
    expect(page).to_have_url(re.compile(rf"{base}/counter/[a-z]+/$"))
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def _counter_checks(page, world, problems):
    """The counter's check as the staff see it while the facility's agent does it (the
    agent's calls made here, in the server's process): the qualification with the
    certificate's renewal notice, a failed read (a locked PIN: the face check offered); then
    the counter's form with its error (the chosen device account deactivated meanwhile).
    Before that, the check waiting for the card and being read: the page reloads itself
    every 2 seconds, with a button that stops it (WCAG 2.2.1), pressed here so that the
    page stays still while axe reads it (the test reloads it itself)."""
    from cardreader import counter
    from cardreader import services as counter_services
    from tests.cardreader.pki import card_certificate
    from tests.cardreader.test_api import register, trust

    base, account = world.base, world.account
    card = card_certificate(5001, not_after=timezone.localdate() + relativedelta(months=2))
    trust()
    register(card)
    main = page.get_by_role("main")

    check_id = _start_counter_check(page, base, account, "face")
    expect(main).to_contain_text("カードをカードリーダーに置いてください")
    stop_reloading(page)
    _check(page, "counter check waiting for the card", problems)
    assert counter.next_check(device_account=account).id == check_id
    page.reload()
    expect(main).to_contain_text("読み取っています")
    expect(page.get_by_role("button", name="自動更新を再開する")).to_be_visible()  # still stopped
    _check(page, "counter check reading the card", problems)
    confirmed = counter_services.confirm_qualification(device_account=account,
                                                       certificate=card.der, mode="face")
    counter.complete_check(device_account=account, check_id=check_id, answer=confirmed.answer)
    page.reload()
    expect(main.get_by_role("alert")).to_contain_text("3か月を切っています")
    expect(main).to_contain_text("資格の状態: 有効")
    _check(page, "counter check's qualification with a notice", problems)

    check_id = _start_counter_check(page, base, account, "pin")
    counter.next_check(device_account=account)
    counter.fail_check(device_account=account, check_id=check_id, code="pin_locked")
    page.reload()
    expect(main.get_by_role("link", name="目視で確認する")).to_be_visible()
    _check(page, "counter check failed", problems)

    other = counter.device_accounts_for(world.facility).exclude(pk=account.pk).get()
    page.goto(f"{base}/counter/")
    page.locator("main form [name=device_account]").select_option(str(other.pk))
    DeviceAccount.objects.filter(pk=other.pk).update(is_active=False)
    _submit_empty(page, "確認を始める")
    expect(page.get_by_role("alert")).to_contain_text("カードリーダーをつないだ端末")
    _check(page, "counter with an error", problems)

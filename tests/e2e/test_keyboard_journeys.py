"""Every facility journey by keyboard alone: Tab, Shift+Tab, Enter, Space, arrow keys and
typing; no click, no fill. (Opening the e-mailed link is a navigation, and a file is chosen
with set_input_files on the file field the keyboard has reached: that is what the browser's
file dialog does for a keyboard user.)

And errors are announced: after a bad submit the focus is on the error summary (role=alert),
whose first link moves the focus to its field. Checked on every form of the journeys."""

import re
from datetime import date

import pytest
from django.core import mail
from playwright.sync_api import expect

from eligibility.models import ActivityReport, Attestation
from facilities import services
from facilities.models import GoLive, LinkRequest, Membership, UsageApplication
from obligation.models import ExemptionDeclaration
from payouts.models import BankAccount
from subsidies.models import Claim
from tests.e2e.test_accessibility import _replace, _skip_to_main
from tests.factories import AdminFactory, FacilityFactory, accepted_facility
from tests.samples import PDF

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EMAIL = "kenban.seikotsu@example.jp"
PASSWORD = "Kenban2025Seikotsu"


def _is_focused(target) -> bool:
    return target.evaluate("element => element === document.activeElement")


def _tab_to(page, target, limit=40, key="Tab"):
    """Press Tab (or Shift+Tab) until `target` has the focus; fail after `limit` presses."""
    for _ in range(limit):
        page.keyboard.press(key)
        if _is_focused(target):
            return
    focused = page.evaluate("document.activeElement.outerHTML.slice(0, 160)")
    pytest.fail(f"{target} not reached in {limit} presses of {key}; focus on {focused}")


def _enter(page):
    """Press Enter on a link or in a form, and wait for the page it opens."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _type_fields(page, fields):
    """Tab to each field in turn (forward, from where the focus is) and type its text over
    what it holds. `fields` pairs a field's label, or its locator where the label alone is
    ambiguous, with the text."""
    for field, text in fields:
        _tab_to(page, page.get_by_label(field) if isinstance(field, str) else field)
        _replace(page, text)


def _press(page, name, limit=40):
    """Tab to the main content's button or link called `name` and press Enter."""
    main = page.get_by_role("main")
    target = main.get_by_role("button", name=name, exact=True).or_(
        main.get_by_role("link", name=name, exact=True)).first
    _tab_to(page, target, limit=limit)
    _enter(page)


def _errors_announced(page, field=None):
    """The focus is on the error summary, read out as an alert; Tab reaches its first link to
    a field (or the one to `field`), and Enter on it moves the focus to that field."""
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    link = summary.get_by_role("link", name=field).first if field else \
        summary.get_by_role("link").first
    _tab_to(page, link, limit=10)
    target = link.get_attribute("href")
    page.keyboard.press("Enter")
    expect(page.locator(target)).to_be_focused()


def _menu(page, name):
    """Go to a page of the facility's menu: from the skip link, Tab through the menu."""
    _skip_to_main(page)
    menu = page.get_by_role("navigation", name="施設のメニュー")
    _tab_to(page, menu.get_by_role("link", name=name, exact=True), limit=15)
    _enter(page)


def test_sign_up_link_apply_and_go_live_by_keyboard(new_page):
    facility = FacilityFactory(kind="judo", code="契1300777", account_last4="4321")
    page = new_page()

    # Sign-up: the confirmation differs first.
    page.goto("/accounts/signup/")
    _skip_to_main(page)
    _type_fields(page, [("メールアドレス", EMAIL),
                        (page.get_by_label("パスワード 必須", exact=True), PASSWORD),
                        ("パスワード（確認用）", PASSWORD + "x")])
    _enter(page)
    _errors_announced(page)
    expect(page.get_by_label("パスワード（確認用）")).to_be_focused()
    _replace(page, PASSWORD)
    # Passwords are not sent back: the first is typed again, a field up.
    _tab_to(page, page.get_by_label("パスワード 必須", exact=True), key="Shift+Tab")
    _replace(page, PASSWORD)
    _enter(page)
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body)
    page.goto(link.group(0))
    _skip_to_main(page)
    _press(page, "確認する")
    expect(page.get_by_role("heading", level=1)).to_have_text("マイページ")

    # Link the facility: the last 4 digits left out first.
    _skip_to_main(page)
    _tab_to(page, page.get_by_role("main").get_by_role("link", name=re.compile("施設を追加する")))
    _enter(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("施設の確認")
    _skip_to_main(page)
    _type_fields(page, [("医療機関等コード または 登録記号番号", "契1300777")])
    _enter(page)
    _errors_announced(page)
    expect(page.get_by_label("口座番号の下4桁")).to_be_focused()
    page.keyboard.type("4321")
    _enter(page)
    # A facility without staff: the request waits for the letter with its code, which an
    # administrator prints (tests/e2e/test_journey.py does that in the admin).
    expect(page.get_by_role("heading", level=1)).to_have_text("担当者の登録の申請")
    letters, _ = services.issue_link_letters(
        link_requests=list(LinkRequest.objects.filter(facility=facility)), actor=AdminFactory())
    page.reload()
    # The code sent empty first, then typed.
    _skip_to_main(page)
    _press(page, "確認コードを送信する")
    _errors_announced(page)
    expect(page.get_by_label("確認コード")).to_be_focused()
    page.keyboard.type(letters[0].formatted_code)
    _enter(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(facility.name)

    # The usage-start application: sent empty first.
    _menu(page, "各種申請")
    _tab_to(page, page.get_by_role("main").get_by_role("link", name="利用開始申請"))
    _enter(page)
    _skip_to_main(page)
    _press(page, "確認画面へ")
    _errors_announced(page, "担当者名")
    _replace(page, "鍵盤 花子")
    _type_fields(page, [("電話番号", "03-1234-5678"), ("職員数", "2"), ("申請台数", "1")])
    _enter(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("内容の確認")
    _press(page, "申請する")
    expect(page.locator(".receipt")).to_contain_text("受付番号")

    # The administrator accepts it (in the admin; here by its service).
    application = UsageApplication.objects.get(facility=facility)
    services.accept_application(application=application, actor=AdminFactory())

    # The go-live date: sent empty first.
    page.reload()
    _menu(page, "運用開始日登録")
    _skip_to_main(page)
    _press(page, "送信")
    _errors_announced(page, "運用開始日")
    page.keyboard.type("2025-06-10")
    _enter(page)
    # The confirmation names the effect on the money; its button is reached by Tab.
    expect(page.get_by_role("heading", level=1)).to_contain_text("確認")
    _press(page, "この内容で登録する")
    expect(page.get_by_role("status")).to_contain_text("運用開始日を登録しました")
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)


def test_report_attestation_bank_claim_and_exemption_by_keyboard(new_page, log_in):
    facility, user, _admin = accepted_facility(kind="judo", devices=1)
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 5, 1))
    clinic = FacilityFactory(kind="clinic")
    Membership.objects.create(user=user, facility=clinic)
    page = new_page()
    log_in(page, user.email)
    base = f"/facilities/{facility.pk}"

    # The activity report (協力金): sent empty first.
    page.goto(f"{base}/money/cooperation-2025/report/")
    _skip_to_main(page)
    _press(page, "報告する")
    _errors_announced(page, "実施期間（開始日）")
    page.keyboard.type("2025-05-01")
    _type_fields(page, [("実施期間（終了日）", "2025-06-01")])
    _tab_to(page, page.get_by_label("① 患者等へのマイナ保険証利用のお声掛けを行った"),
            key="Shift+Tab")
    page.keyboard.press("Space")
    _press(page, "報告する")
    expect(page.get_by_role("heading", level=1)).to_contain_text("確認")
    _press(page, "この内容で登録する")
    expect(page.get_by_role("status")).to_be_visible()
    assert ActivityReport.objects.filter(facility=facility).exists()

    # The attestation (一時金) of the clinic: two check boxes and Enter.
    page.goto(f"/facilities/{clinic.pk}/money/lump-sum-2024/attest/")
    _skip_to_main(page)
    _tab_to(page, page.get_by_label("共通ポスターを受付等に掲示した"))
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_label("患者へのお声掛け・チラシ配付を行った")).to_be_focused()
    page.keyboard.press("Space")
    _press(page, "登録する")
    _press(page, "この内容で登録する")
    attestation = Attestation.objects.get(facility=clinic)
    assert attestation.poster and attestation.informed

    # The bank account: sent empty first, then confirmed.
    page.goto(f"{base}/money/bank/")
    _skip_to_main(page)
    _press(page, "確認画面へ")
    _errors_announced(page)
    _tab_to(page, page.get_by_label("金融機関（コード4桁または名称）"), key="Shift+Tab")
    _replace(page, "0001")
    _type_fields(page, [("支店（コード3桁または名称）", "001"), ("口座番号", "7654321"),
                        ("口座名義（カナ）", "ｹﾝﾊﾞﾝ ﾊﾅｺ")])
    _enter(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("確認")
    _press(page, "この内容で登録する")
    assert BankAccount.objects.filter(facility=facility).exists()

    # A subsidy claim with its receipt: the item sent empty first.
    page.goto(f"{base}/claims/")
    _skip_to_main(page)
    row = page.locator("tr", has_text="施術所のモバイル端末等")
    _tab_to(page, row.get_by_role("button", name="申請を始める"))
    _enter(page)
    _skip_to_main(page)
    _press(page, "明細と領収書を保存")
    _errors_announced(page, "品名・内容")
    _replace(page, "タブレット端末")
    _type_fields(page, [("数量", "1"), ("単価（税抜・円）", "42000"), ("消費税（円）", "4200"),
                        ("購入先", "家電店"), ("購入日", "2024-11-01")])
    receipt = page.get_by_label("領収書（PDF・JPEG・PNG、10MBまで）")
    _tab_to(page, receipt)
    page.locator(":focus").set_input_files(
        files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    _press(page, "明細と領収書を保存")
    expect(page.locator("#estimate")).to_contain_text("41,000円")
    # (The page comes back where the form was; Tab goes on from there.)
    _tab_to(page, page.get_by_role("main").get_by_role("link", name=re.compile("提出する")),
            limit=60)
    _enter(page)
    _press(page, "提出する")
    expect(page.locator("main")).to_contain_text("提出済み")
    assert Claim.objects.get(facility=facility).state == "submitted"

    # The exemption declaration: sent empty first, then reason 1 with one practitioner.
    page.goto(f"{base}/obligation/exemption/")
    _skip_to_main(page)
    _press(page, "確認画面へ", limit=150)  # past the rows of five practitioners
    _errors_announced(page, "やむを得ない事由")
    page.keyboard.press("Space")  # the first reason, which the link focused
    _type_fields(page, [("担当者名", "鍵盤 花子"), (page.get_by_label("氏名").first, "柔整 一郎"),
                        (page.get_by_label("生年月日").first, "1950-01-01")])
    _tab_to(page, page.get_by_label("常勤（施術所が定める時間すべてに勤務）").first)
    page.keyboard.press("Space")
    _press(page, "確認画面へ", limit=150)
    expect(page.get_by_role("heading", level=1)).to_contain_text("確認")
    _press(page, "申告する")
    assert ExemptionDeclaration.objects.filter(facility=facility).exists()

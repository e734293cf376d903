"""The 施術所 journey through the browser, as its staff and the administrator do it: sign up →
verify the e-mail → link the facility (its first staff: a reviewer prints the letter with the
confirmation code, the staff member types the code) → 利用開始申請 → the administrator accepts it in the
Django admin → download a device's settings PDF → enter the go-live date → appear on the
public list and in its CSV. And an application returned with a reason, then made again."""

import csv
import io
import re

import pytest
from django.core import mail
from playwright.sync_api import expect
from pypdf import PdfReader

from facilities import services
from facilities.models import ApplicationState, DeviceAccount, UsageApplication
from tests.factories import AdminFactory, FacilityFactory, UserFactory, make_staff

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

STAFF_EMAIL = "aoba.seikotsu@example.jp"
# The portal's rule: half-width letters and digits, 8 to 100 characters, not a common one.
STAFF_PASSWORD = "Aoba2025Seikotsu"
START = "マイナ資格確認アプリ利用開始申請"
LINK_MISMATCH = "施設コードと口座番号下4桁の組み合わせが確認できませんでした"


def _summary_value(page, term):
    """The <dd> that follows the <dt> named `term` in the page's summary list."""
    return page.locator("dl.summary dt", has_text=term).locator("xpath=following-sibling::dd[1]")


def _sign_up_and_verify(page, email, password):
    page.goto("/")
    page.get_by_role("main").get_by_role("link", name="ユーザー登録").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ユーザー登録")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード 必須", exact=True).fill(password)
    page.get_by_label("パスワード（確認用）").fill(password)
    sent_before = len(mail.outbox)
    page.get_by_role("button", name="ユーザー登録").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    expect(page.get_by_role("main")).to_contain_text(email)

    messages = [m for m in mail.outbox[sent_before:] if email in m.to]
    assert len(messages) == 1, [m.subject for m in mail.outbox]
    assert messages[0].subject.startswith("【オンライン資格確認ポータル】")
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", messages[0].body)
    assert link, messages[0].body
    page.goto(link.group(0))
    expect(page.get_by_role("main")).to_contain_text(email)
    page.get_by_role("main").get_by_role("button", name="確認する").click()
    # ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION: confirmed and logged in, on the dashboard.
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("main")).to_contain_text(f"{email} でログインしています")


def _link_facility(page, code, last4, wrong_last4=None):
    page.get_by_role("link", name=re.compile("施設を追加する")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("施設の確認")
    page.get_by_label("医療機関等コード または 登録記号番号").fill(code)
    if wrong_last4:
        page.get_by_label("口座番号の下4桁").fill(wrong_last4)
        page.get_by_role("button", name="確認する").click()
        summary = page.get_by_role("alert")
        expect(summary).to_contain_text("入力内容に誤りがあります")
        expect(summary).to_contain_text(LINK_MISMATCH)
        # The message stands above the form, which keeps what was typed.
        form = page.get_by_role("main").locator("form")
        assert summary.bounding_box()["y"] + summary.bounding_box()["height"] \
            <= form.bounding_box()["y"]
        expect(page.get_by_label("医療機関等コード または 登録記号番号")).to_have_value(code)
    page.get_by_label("口座番号の下4桁").fill(last4)
    page.get_by_role("button", name="確認する").click()


def _fill_start_application(page, contact, phone, staff_count, device_count):
    page.get_by_label("担当者名").fill(contact)
    page.get_by_label("電話番号").fill(phone)
    page.get_by_label("職員数").fill(staff_count)
    page.get_by_label("申請台数").fill(device_count)
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{START}（内容の確認）")


def _submit_confirmed(page):
    """Press 申請する on the confirmation page; returns the receipt number shown."""
    page.get_by_role("button", name="申請する").click()
    receipt = page.locator(".receipt")
    expect(receipt).to_have_text(re.compile(r"^受付番号 A\d{8}-\d{7}$"))
    expect(_summary_value(page, "状態")).to_have_text("申請中")
    return receipt.inner_text().removeprefix("受付番号").strip()


def _print_letter(page, facility_name) -> str:
    """A reviewer's work in the admin: the first-staff requests waiting for their letter,
    the letter printed (a PDF download), then marked posted. The code the letter holds."""
    page.goto("/admin/facilities/linkrequest/?letter=to_print")
    row = page.locator("#result_list tbody tr", has_text=facility_name)
    expect(row).to_have_count(1)
    row.locator("input.action-select").check()
    page.get_by_label("操作").select_option(
        label="選択した申請の確認コードの通知書を作成する（PDF。以前の通知書のコードは使えなくなります）")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="実行").click()
    with open(download_info.value.path(), "rb") as handle:
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(handle.read())).pages)
    assert "担当者の登録の確認コードのお知らせ" in text and facility_name in text
    code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", text).group(0)
    page.goto("/admin/facilities/linkrequest/?letter=to_post")
    row = page.locator("#result_list tbody tr", has_text=facility_name)
    row.locator("input.action-select").check()
    page.get_by_label("操作").select_option(label="選択した申請の通知書を発送済みにする")
    page.get_by_role("button", name="実行").click()
    expect(page.locator("ul.messagelist")).to_contain_text("1件を発送済みにしました")
    return code


def _admin_runs_action(page, receipt_number, action, reason=None, expected="1件を"):
    page.goto("/admin/facilities/usageapplication/")
    row = page.locator("#result_list tbody tr", has_text=receipt_number)
    expect(row).to_have_count(1)
    row.locator("input.action-select").check()
    page.get_by_label("操作").select_option(label=action)
    if reason is not None:
        page.get_by_label("差戻し理由").fill(reason)
    page.get_by_role("button", name="実行").click()
    expect(page.locator("ul.messagelist")).to_contain_text(expected)


def test_judo_clinic_signs_up_applies_and_is_listed_publicly(new_page, log_in, admin_log_in):
    facility = FacilityFactory(kind="judo", code="契1300999", account_last4="4321")

    # A new user signs up and confirms the address from the e-mail.
    staff = new_page()
    _sign_up_and_verify(staff, STAFF_EMAIL, STAFF_PASSWORD)

    # Links the facility: wrong last-4 digits first, then the right ones. It has no staff
    # yet: the right digits make a request, and a letter with a code goes to its address.
    _link_facility(staff, "契1300999", "4321", wrong_last4="1234")
    expect(staff.get_by_role("heading", level=1)).to_have_text("担当者の登録の申請")
    expect(staff.get_by_role("status")).to_contain_text("確認コードを記載した通知書を郵送します")
    request_page = staff.url
    assert staff.goto(f"/facilities/{facility.pk}/").status == 404  # not staff yet

    # A reviewer prints the letter in the admin and marks it posted.
    admin = AdminFactory()
    admin_page = new_page()
    admin_log_in(admin_page, admin.email)
    code = _print_letter(admin_page, facility.name)

    # The code typed (lower case, without its hyphen): the staff member is linked.
    staff.goto(request_page)
    staff.get_by_label("確認コード").fill(code.lower().replace("-", ""))
    staff.get_by_role("button", name="確認コードを送信する").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(facility.name)
    expect(staff.get_by_role("status")).to_contain_text(f"{facility.name} の担当者として登録しました")

    # 各種申請 → 利用開始申請, with a full-width phone number.
    staff.get_by_role("navigation", name="施設のメニュー").get_by_role("link", name="各種申請").click()
    staff.get_by_role("link", name="利用開始申請").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(START)
    expect(staff.get_by_label("メールアドレス")).to_have_value(STAFF_EMAIL)
    _fill_start_application(staff, "青葉 花子", "０３－１２３４－５６７８", "3", "2")
    expect(_summary_value(staff, "電話番号")).to_have_text("03-1234-5678")
    expect(_summary_value(staff, "申請台数")).to_have_text("2台")
    receipt_number = _submit_confirmed(staff)
    application = UsageApplication.objects.get(facility=facility)
    assert application.receipt_number == receipt_number
    assert application.phone == "03-1234-5678"

    # The administrator accepts it in the admin.
    _admin_runs_action(admin_page, receipt_number, "選択した申請を承認する",
                       expected="1件を承認しました")
    # It waits no more: the list opens on what waits; 「すべて」 shows it accepted.
    expect(admin_page.locator("#result_list tbody tr", has_text=receipt_number)).to_have_count(0)
    admin_page.goto("/admin/facilities/usageapplication/?waiting=all")
    expect(admin_page.locator("#result_list tbody tr", has_text=receipt_number)) \
        .to_contain_text("承認済み")

    # The staff member comes back another day (a new browser context) and logs in.
    staff = new_page()
    log_in(staff, STAFF_EMAIL, STAFF_PASSWORD)
    staff.get_by_role("main").get_by_role("link", name=facility.name).click()
    expect(_summary_value(staff, "利用状況")).to_have_text("利用可")
    staff.get_by_role("navigation", name="施設のメニュー") \
        .get_by_role("link", name="資格確認アカウント管理").click()
    account = DeviceAccount.objects.filter(facility=facility).order_by("number").first()
    assert DeviceAccount.objects.filter(facility=facility).count() == 2
    staff.get_by_role("link", name=account.login_id, exact=True).click()
    expect(staff.get_by_role("heading", level=1)).to_contain_text(account.login_id)
    with staff.expect_download() as download_info:
        staff.get_by_role("button", name=re.compile("ユーザ設定情報.*ダウンロード")).click()
    download = download_info.value
    assert download.suggested_filename == f"user-settings-{account.login_id}.pdf"
    with open(download.path(), "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "マイナ資格確認アプリ ユーザ設定情報" in text
    assert account.login_id in text
    account.refresh_from_db()
    assert account.issue_count == 1 and account.password_hash

    # 運用開始日登録, shown back in the Japanese era. The field is the browser's own date
    # picker, whose segments follow the browser's language (fill() is language-independent).
    staff.get_by_role("navigation", name="施設のメニュー").get_by_role("link", name="運用開始日登録").click()
    date_field = staff.get_by_label("運用開始日")
    expect(date_field).to_have_value("")
    date_field.fill("2025-06-10")
    staff.get_by_role("button", name="送信").click()
    expect(staff.get_by_role("region", name="お支払いへの影響")).to_be_visible()
    staff.get_by_role("button", name="この内容で登録する").click()
    expect(staff.get_by_role("status")).to_contain_text("運用開始日を登録しました")
    expect(_summary_value(staff, "登録済みの運用開始日")).to_contain_text("令和7年6月10日")

    # The Monday job rebuilds the public list; anyone finds the facility there.
    services.rebuild_public_list()
    visitor = new_page()
    visitor.goto("/public/")
    visitor.get_by_label("名称・所在地").fill(facility.name)
    visitor.get_by_role("button", name="検索").click()
    expect(visitor.get_by_role("main").get_by_role("status")).to_have_text("1件")
    row = visitor.get_by_role("row", name=re.compile(facility.name))
    expect(row).to_contain_text("柔道整復 施術所")
    expect(row).to_contain_text("令和7年6月10日")

    with visitor.expect_download() as csv_info:
        visitor.get_by_role("button", name="この条件でCSVをダウンロード").click()
    with open(csv_info.value.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "医療機関等コード・登録記号番号"
    assert ["契1300999", facility.name, "柔道整復 施術所", "東京都", facility.address,
            "2025-06-10"] in rows[1:]


def test_returned_application_shows_the_reason_and_can_be_made_again(
        new_page, log_in, admin_log_in):
    facility = FacilityFactory(kind="judo", code="契1300998", account_last4="8765")
    user = make_staff(facility, full_name="栄 次郎")
    admin = AdminFactory()

    staff = new_page()
    log_in(staff, user.email)
    staff.get_by_role("main").get_by_role("link", name=facility.name).click()
    staff.get_by_role("navigation", name="施設のメニュー").get_by_role("link", name="各種申請").click()
    staff.get_by_role("link", name="利用開始申請").click()
    expect(staff.get_by_label("担当者名")).to_have_value("栄 次郎")
    _fill_start_application(staff, "栄 次郎", "052-123-4567", "1", "5")
    first_receipt = _submit_confirmed(staff)

    admin_page = new_page()
    admin_log_in(admin_page, admin.email)
    # Returning needs a reason: without one nothing changes.
    _admin_runs_action(admin_page, first_receipt, "選択した申請を差し戻す（理由を入力）",
                       expected="差戻し理由を入力してください")
    assert UsageApplication.objects.get(receipt_number=first_receipt).state == "submitted"
    reason = "申請台数が職員数に比べて多いため、台数をご確認ください。"
    _admin_runs_action(admin_page, first_receipt, "選択した申請を差し戻す（理由を入力）",
                       reason=reason, expected="1件を差戻ししました")
    returned = [m for m in mail.outbox if "差し戻しました" in m.body]
    assert returned and user.email in returned[-1].to and reason in returned[-1].body

    # The facility sees 差戻し and the reason, then applies again.
    staff.get_by_role("navigation", name="施設のメニュー").get_by_role("link", name="各種申請").click()
    first_row = staff.get_by_role("row", name=re.compile(first_receipt))
    expect(first_row).to_contain_text("差戻し")
    first_row.get_by_role("link", name=first_receipt).click()
    expect(_summary_value(staff, "状態")).to_have_text("差戻し")
    expect(_summary_value(staff, "差戻し理由")).to_have_text(reason)
    staff.get_by_role("link", name="内容を直して再度申請する").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(START)
    _fill_start_application(staff, "栄 次郎", "052-123-4567", "1", "1")
    second_receipt = _submit_confirmed(staff)
    assert second_receipt != first_receipt
    assert list(
        UsageApplication.objects.filter(facility=facility).order_by("pk")
        .values_list("state", "device_count")
    ) == [(ApplicationState.RETURNED, 5), (ApplicationState.SUBMITTED, 1)]

    staff.get_by_role("navigation", name="施設のメニュー").get_by_role("link", name="各種申請").click()
    expect(staff.get_by_role("row", name=re.compile(second_receipt))).to_contain_text("申請中")
    expect(staff.get_by_role("row", name=re.compile(first_receipt))).to_contain_text("差戻し")


def test_sign_up_explains_the_password_rule_next_to_the_field(new_page):
    page = new_page()
    page.goto("/accounts/signup/")
    page.get_by_label("メールアドレス").fill("weak@example.jp")
    for password, message in [("Pass-word-2025", "半角の英字と数字のみ"),
                              ("password", "よく使われる"), ("Ab3", "8 文字")]:
        page.get_by_label("パスワード 必須", exact=True).fill(password)
        page.get_by_label("パスワード（確認用）").fill(password)
        page.get_by_role("button", name="ユーザー登録").click()
        expect(page.get_by_role("main").locator("form")).to_contain_text(message)
        expect(page.get_by_label("メールアドレス")).to_have_value("weak@example.jp")
    assert not UserFactory._meta.model.objects.filter(email="weak@example.jp").exists()
    assert not mail.outbox

"""The 施術所 journey end to end in headless Chromium: register → verify e-mail → link the
facility → apply → administrator accepts → download the settings PDF → enter the go-live
date → appear on the public list."""

import io
import re

import pytest
from django.core import mail
from playwright.sync_api import expect
from pypdf import PdfReader

from facilities import services
from facilities.models import DeviceAccount
from tests.factories import PASSWORD, AdminFactory, FacilityFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

STAFF_EMAIL = "aoba@example.jp"
STAFF_PASSWORD = "Aoba2025Seikotsuin"


def _sign_up_and_verify(page):
    page.goto("/accounts/signup/")
    page.get_by_label("メールアドレス").fill(STAFF_EMAIL)
    page.locator("input[name=password1]").fill(STAFF_PASSWORD)
    page.locator("input[name=password2]").fill(STAFF_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("確認")
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def _admin_runs_action(page, action_label, receipt_number, reason=None):
    admin = AdminFactory()
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(admin.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.goto("/admin/facilities/usageapplication/")
    row = page.locator("#result_list tbody tr", has_text=receipt_number)
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label=action_label)
    if reason:
        page.locator("input[name=reason]").fill(reason)
    page.locator("button[name=index], input[name=index]").first.click()
    expect(page.locator("ul.messagelist")).to_contain_text("1件")


def _apply(page, facility_name):
    page.get_by_role("link", name="各種申請").first.click()
    page.get_by_role("link", name="利用開始申請").click()
    page.get_by_label("担当者名").fill("青葉 花子")
    page.get_by_label("電話番号").fill("０３－１２３４－５６７８")
    page.get_by_label("職員数").fill("2")
    page.get_by_label("申請台数").fill("2")
    page.get_by_role("button", name="確認画面へ").click()
    expect(page.locator("h1")).to_contain_text("内容の確認")
    expect(page.locator("main")).to_contain_text("03-1234-5678")
    page.get_by_role("button", name="申請する").click()
    expect(page.locator(".receipt")).to_contain_text("受付番号")
    expect(page.locator("main")).to_contain_text("申請中")
    return page.locator(".receipt").inner_text().replace("受付番号", "").strip()


def test_sejutsu_goes_from_registration_to_the_public_list(new_page):
    facility = FacilityFactory(kind="judo", code="契1300999", account_last4="4321",
                               name="あおば整骨院")
    staff = new_page()
    _sign_up_and_verify(staff)

    staff.get_by_role("link", name=re.compile("施設を追加する")).click()
    staff.get_by_label("医療機関等コード または 登録記号番号").fill("契１３００９９９")
    staff.get_by_label("口座番号の下4桁").fill("1111")
    staff.get_by_role("button", name="確認する").click()
    expect(staff.locator(".error-summary")).to_contain_text("確認できませんでした")
    staff.get_by_label("口座番号の下4桁").fill("4321")
    staff.get_by_role("button", name="確認する").click()
    expect(staff.locator("h1")).to_have_text("あおば整骨院")

    receipt_number = _apply(staff, facility.name)

    _admin_runs_action(new_page(), "選択した申請を承認する", receipt_number)

    staff.reload()
    expect(staff.locator("main")).to_contain_text("承認済み")
    staff.get_by_role("link", name="資格確認アカウント管理").first.click()
    account = DeviceAccount.objects.filter(facility=facility).order_by("number").first()
    staff.get_by_role("link", name=account.login_id).click()
    with staff.expect_download() as download_info:
        staff.get_by_role("button", name=re.compile("ユーザ設定情報")).click()
    pdf = download_info.value
    with open(pdf.path(), "rb") as handle:
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(handle.read())).pages)
    assert "マイナ資格確認アプリ ユーザ設定情報" in text
    assert account.login_id in text

    staff.get_by_role("link", name="運用開始日登録").first.click()
    staff.get_by_label("運用開始日").fill("2025-06-10")
    staff.get_by_role("button", name="送信").click()
    expect(staff.locator("main")).to_contain_text("令和7年6月10日")

    services.rebuild_public_list()  # what the Monday beat job runs
    visitor = new_page()
    visitor.goto("/public/")
    visitor.get_by_label("名称・所在地").fill("あおば")
    visitor.get_by_role("button", name="検索").click()
    expect(visitor.locator("table")).to_contain_text("あおば整骨院")
    expect(visitor.locator("table")).to_contain_text("令和7年6月10日")
    with visitor.expect_download() as csv_info:
        visitor.get_by_role("link", name="CSVでダウンロード").click()
    with open(csv_info.value.path(), encoding="utf-8-sig") as handle:
        csv_text = handle.read()
    assert "契1300999" in csv_text and "2025-06-10" in csv_text


def test_returned_application_is_fixed_and_applied_again(new_page):
    FacilityFactory(kind="ama", code="協2300777", account_last4="2468", name="さかえ指圧院")
    staff = new_page()
    _sign_up_and_verify(staff)
    staff.goto("/facilities/link/")
    staff.get_by_label("医療機関等コード または 登録記号番号").fill("協2300777")
    staff.get_by_label("口座番号の下4桁").fill("2468")
    staff.get_by_role("button", name="確認する").click()
    receipt_number = _apply(staff, "さかえ指圧院")

    _admin_runs_action(new_page(), "選択した申請を差し戻す（理由を入力）", receipt_number,
                       reason="申請台数をご確認ください")

    staff.reload()
    expect(staff.locator("main")).to_contain_text("差戻し")
    expect(staff.locator("main")).to_contain_text("申請台数をご確認ください")
    staff.get_by_role("link", name="内容を直して再度申請する").click()
    staff.get_by_label("担当者名").fill("栄 次郎")
    staff.get_by_label("電話番号").fill("052-123-4567")
    staff.get_by_label("職員数").fill("1")
    staff.get_by_label("申請台数").fill("1")
    staff.get_by_role("button", name="確認画面へ").click()
    staff.get_by_role("button", name="申請する").click()
    expect(staff.locator("main")).to_contain_text("申請中")
    assert staff.locator(".receipt").inner_text() != receipt_number

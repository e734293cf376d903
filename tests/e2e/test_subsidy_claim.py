"""A subsidy claim in headless Chromium: the facility claims with a receipt, the
administrator returns it with a note on the item, the facility fixes it and resubmits, the
administrator approves, and the facility downloads its decision notice."""

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from portal import roles
from subsidies.models import Claim
from tests.e2e.conftest import sign_in_as_administrator
from tests.factories import PASSWORD, FacilityFactory, make_admin, make_staff
from tests.samples import PDF

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


def _log_in(page, email, admin=False):
    if admin:
        sign_in_as_administrator(page, email, PASSWORD)
        return
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def _fill_item(page, unit_price, tax, receipt):
    page.get_by_label("品名・内容").fill("タブレット端末")
    page.get_by_label("数量").fill("1")
    page.get_by_label("単価（税抜・円）").fill(unit_price)
    page.get_by_label("消費税（円）").fill(tax)
    page.get_by_label("購入先").fill("家電店")
    page.get_by_label("購入日").fill("2024-11-01")
    page.locator("input[name=receipt]").set_input_files(
        files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": receipt}])


def _review(admin_page, claim, decision, reason="", note=""):
    admin_page.goto(f"/admin/subsidies/claim/{claim.pk}/review/")
    if note:
        admin_page.locator("input[name^=note_]").first.fill(note)
    admin_page.locator(f"input[name=decision][value={decision}]").check()
    if reason:
        admin_page.locator("textarea[name=reason]").fill(reason)
    admin_page.locator("input[type=submit]").click()
    expect(admin_page.locator("ul.messagelist")).to_contain_text("審査結果を登録しました")


def test_claim_returned_fixed_and_approved_with_its_notice(new_page):
    facility = FacilityFactory(kind="judo", name="あおば整骨院")
    staff_user = make_staff(facility)
    reviewer, approver = make_admin(roles.REVIEWER), make_admin(roles.APPROVER)
    staff = new_page()
    _log_in(staff, staff_user.email)
    staff.goto(f"/facilities/{facility.pk}/claims/")
    row = staff.locator("tr", has_text="施術所のモバイル端末等")
    row.get_by_role("button", name="申請を始める").click()

    # A forged receipt is refused and nothing typed is lost.
    _fill_item(staff, "42000", "4200", b"MZ\x90\x00not a pdf")
    staff.get_by_role("button", name="明細と領収書を保存").click()
    expect(staff.locator(".error-summary")).to_contain_text("PDF・JPEG・PNG")
    expect(staff.get_by_label("購入先")).to_have_value("家電店")

    staff.locator("input[name=receipt]").set_input_files(
        files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    staff.get_by_role("button", name="明細と領収書を保存").click()
    expect(staff.locator("#estimate")).to_contain_text("41,000円")
    staff.get_by_role("link", name=re.compile("提出する")).click()
    expect(staff.locator("main")).to_contain_text("事業費 46,200円 → 上限 41,000円")
    staff.get_by_role("button", name="提出する").click()
    expect(staff.locator("main")).to_contain_text("提出済み")

    claim = Claim.objects.get(facility=facility)
    admin_page = new_page()
    _log_in(admin_page, reviewer.email, admin=True)
    admin_page.goto("/admin/subsidies/claim/")
    admin_page.locator("#result_list tbody tr", has_text=claim.receipt_number) \
        .locator("input.action-select").check()
    admin_page.locator("select[name=action]").select_option(label="選択した申請の審査を開始する")
    admin_page.locator("button[name=index], input[name=index]").first.click()
    _review(admin_page, claim, "return", reason="領収書の金額をご確認ください",
            note="税込金額が領収書と違います")

    staff.reload()
    expect(staff.locator("main")).to_contain_text("税込金額が領収書と違います")
    staff.get_by_role("link", name=re.compile(r"^修正.*タブレット端末")).click()
    staff.get_by_label("単価（税抜・円）").fill("30000")
    staff.get_by_label("消費税（円）").fill("3000")
    staff.get_by_role("button", name="保存").click()
    staff.get_by_role("link", name=re.compile("再提出する")).click()
    staff.get_by_role("button", name="再提出する").click()
    expect(staff.locator("main")).to_contain_text("再提出済み")

    admin_page.goto("/admin/subsidies/claim/")
    admin_page.locator("#result_list tbody tr", has_text=claim.receipt_number) \
        .locator("input.action-select").check()
    admin_page.locator("select[name=action]").select_option(label="選択した申請の審査を開始する")
    admin_page.locator("button[name=index], input[name=index]").first.click()
    # The reviewer may not decide; another person, an approver, does (four-eyes).
    admin_page.goto(f"/admin/subsidies/claim/{claim.pk}/review/")
    expect(admin_page.locator("input[name=decision][value=approve]")).to_have_count(0)
    expect(admin_page.locator("input[name=decision][value=return]")).to_have_count(1)
    approver_page = new_page()
    _log_in(approver_page, approver.email, admin=True)
    _review(approver_page, claim, "approve")

    staff.reload()
    expect(staff.locator("main")).to_contain_text("交付決定")
    with staff.expect_download() as info:
        staff.get_by_role("link", name=re.compile("交付決定通知書")).click()
    with open(info.value.path(), "rb") as handle:
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(handle.read())).pages)
    assert "交付決定通知書" in text and "33,000円" in text

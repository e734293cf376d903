"""The bank form shows the block the radio chose; the lookup keeps what was typed."""

import pytest
from playwright.sync_api import expect

from tests.factories import FacilityFactory, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_radio_shows_one_block_and_the_lookup_keeps_the_form(new_page, log_in):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    page = new_page()
    log_in(page, user.email)
    page.goto(f"/facilities/{facility.pk}/money/bank/")
    bank_block = page.locator("fieldset[data-method-block=bank]")
    post_block = page.locator("fieldset[data-method-block=japan_post]")
    expect(bank_block).to_be_visible()
    expect(post_block).to_be_hidden()
    page.get_by_label("ゆうちょ銀行（記号・番号）").check()
    expect(post_block).to_be_visible()
    expect(bank_block).to_be_hidden()

    page.get_by_label("銀行・信用金庫など（金融機関コード・支店コード）").check()
    page.get_by_label("口座番号").fill("7654321")
    page.get_by_label("口座名義（カナ）").fill("ヤマダ ハナコ")
    page.get_by_text("金融機関・支店のコードを調べる").click()
    page.get_by_label("金融機関名またはコード").fill("みずほ")
    page.get_by_role("button", name="コードを調べる").click()
    expect(page.get_by_role("region", name="金融機関の検索結果")).to_contain_text("0001")
    expect(page.get_by_label("口座番号")).to_have_value("7654321")
    expect(page.get_by_label("口座名義（カナ）")).to_have_value("ヤマダ ハナコ")

    # The lookup sits under the 金融機関 field (docs/decisions.md D1.7): its results are next
    # to the field, and a result chosen by a click, or by Enter, fills the field in place.
    bank = page.get_by_label("金融機関（コード4桁または名称）")
    results = page.get_by_role("region", name="金融機関の検索結果")
    assert results.bounding_box()["y"] - bank.bounding_box()["y"] < 500
    results.get_by_role("button", name="みずほ（0001）", exact=True).click()
    expect(bank).to_have_value("0001")
    expect(bank).to_be_focused()
    expect(page.get_by_label("支店を調べる金融機関コード（4桁）")).to_have_value("0001")
    page.get_by_label("支店名またはコード").fill("001")
    page.get_by_label("支店名またはコード").press("Enter")
    branches = page.get_by_role("region", name="支店の検索結果")
    branches.get_by_role("button").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("支店（コード3桁または名称）")).to_have_value("001")
    expect(page.get_by_role("heading", level=1)).to_contain_text("振込先口座の登録")
    expect(page.get_by_label("口座番号")).to_have_value("7654321")

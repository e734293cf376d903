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

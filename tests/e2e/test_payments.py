"""A payment the bank refused, in headless Chromium with the keyboard: the staff member opens
振込先口座・支払状況 from the facility's menu, reads 振込不能 and what to do, follows the link,
corrects the account through the form and its confirmation page, and sees the payment
waiting for the corrected account. axe finds no WCAG A/AA violation on the page before or after."""

import pytest
from playwright.sync_api import expect

from payouts import services
from payouts.models import BankAccount, PaymentLine
from tests.e2e.test_accessibility import _check, _report, _skip_to_main, _tab_until
from tests.factories import FacilityFactory, make_staff
from tests.payouts.helpers import (
    eligible,
    import_on_the_day,
    lump_sum,
    officers,
    transfer_day,
    with_account,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OLD_NUMBER = "8642097"  # the account the bank refused: never shown in full


def _refused_payment(facility, user) -> PaymentLine:
    """A 一時金 of 200,000円 the bank could not pay: the holder's name did not match."""
    eligible(facility, account=False)
    with_account(facility, number=OLD_NUMBER, user=user)
    creator, releaser = officers()
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    run = services.release_run(run=run, actor=releaser)
    line = run.lines.get()
    import_on_the_day(run=run, data=f"顧客コード1,結果コード\r\n{line.pk},3\r\n".encode(),
                      actor=releaser)
    return line


def test_a_refused_payment_is_corrected_with_the_keyboard(new_page, log_in):
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    line = _refused_payment(facility, user)
    page = new_page()
    log_in(page, user.email)
    problems = {}

    # From the facility's menu to its payments.
    page.goto(f"/facilities/{facility.pk}/")
    _skip_to_main(page)
    menu = page.get_by_role("navigation", name="施設のメニュー")
    _tab_until(page, menu.get_by_role("link", name="振込先口座・支払状況"), limit=10)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("振込先口座・支払状況")
    row = page.get_by_role("row", name="一時金（医療機関・薬局・2024年）")
    expect(row).to_contain_text("200,000円")
    expect(row).to_contain_text("振込不能（名義相違）")
    expect(row).to_contain_text("通帳に記載の名義（カナ）のとおりに振込先口座を登録し直してください")
    expect(page.get_by_role("main")).to_contain_text("****097")
    assert OLD_NUMBER not in page.content()
    _check(page, "payments with a refused payment", problems)

    # What to do is a link in the payment's row.
    _skip_to_main(page)
    _tab_until(page, row.get_by_role("link", name="振込先口座を直す"), limit=20)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("振込先口座の変更")

    # The form, field by field; Enter in the last field goes to the confirmation.
    _skip_to_main(page)
    _tab_until(page, page.get_by_label("金融機関（コード4桁または名称）"), limit=20)
    page.keyboard.type("みずほ")
    # Past the code lookup, which sits under the 金融機関 field (folded).
    _tab_until(page, page.get_by_label("支店（コード3桁または名称）"), limit=3)
    page.keyboard.type("東京営業部")
    page.keyboard.press("Tab")
    expect(page.get_by_label("預金種目")).to_be_focused()
    expect(page.get_by_label("預金種目")).to_have_value("1")  # 普通
    page.keyboard.press("Tab")
    expect(page.get_by_label("口座番号")).to_be_focused()
    page.keyboard.type("7531864")
    _tab_until(page, page.get_by_label("口座名義（カナ）"), limit=5)  # past the hidden ゆうちょ block
    page.keyboard.type("まいな はなこ")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text("内容の確認")
    main = page.get_by_role("main")
    for text in ("みずほ", "東京営業部", "7531864", "ﾏｲﾅ ﾊﾅｺ"):
        expect(main).to_contain_text(text)
    _tab_until(page, page.get_by_role("button", name="登録する"), limit=20)
    page.keyboard.press("Enter")

    # Back on the payments page: the payment waits for the corrected account.
    expect(page.get_by_role("heading", level=1)).to_have_text("振込先口座・支払状況")
    expect(page.get_by_role("status")).to_contain_text("振込先口座を登録しました")
    refused = page.get_by_role("row").filter(has_text="振込不能")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("振込不能（口座修正済み）")
    expect(refused).to_contain_text("修正された振込先口座へ、次回の支払で振り込みます")
    expect(refused.get_by_role("link")).to_have_count(0)  # nothing left to do
    expect(main).to_contain_text("****864")
    content = page.content()
    assert "7531864" not in content and OLD_NUMBER not in content
    _check(page, "payments after the correction", problems)

    line.refresh_from_db()
    assert line.state == PaymentLine.State.REISSUED
    account = BankAccount.objects.get(facility=facility)
    assert (account.account_number, account.holder_name) == ("7531864", "ﾏｲﾅ ﾊﾅｺ")
    assert not problems, _report(problems)

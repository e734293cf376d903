"""A new administrator's first day in a browser (docs/decisions.md D1.1): its password alone reaches
only the page saying an invitation is needed; the superuser presses 「二段階認証の招待を送る」; the
e-mail's link, with the password, opens the authenticator set-up; the code typed reaches the
admin. Each page is checked by axe (WCAG 2.1 A/AA)."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from portal import roles
from tests.e2e.conftest import current_totp_code
from tests.e2e.test_accessibility import _check, _report
from tests.factories import PASSWORD, AdminFactory, UserFactory, totp_code_to_type

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"https?://\S+/accounts/2fa/invitation/\S+/")


def _password_log_in(page, email, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード 必須", exact=True).fill(password)
    page.get_by_role("button", name="ログイン").click()


def test_an_administrator_enrols_through_the_invitation_and_reaches_the_admin(
        new_page, admin_log_in):
    from django.contrib.auth.models import Group

    problems = {}
    newcomer = UserFactory(is_staff=True)
    newcomer.groups.set(Group.objects.filter(name=roles.REVIEWER))

    # The password alone: the page saying an invitation is needed, and nothing else.
    page = new_page()
    _password_log_in(page, newcomer.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("二段階認証の招待メールが必要です")
    _check(page, "invitation needed", problems)
    for url in ("/admin/", "/accounts/2fa/totp/activate/", "/dashboard/"):
        page.goto(url)
        expect(page).to_have_url(re.compile(r"/accounts/2fa/invitation/$"))
    expect(page.locator("input[name=code]")).to_have_count(0)

    # The superuser sends the invitation from the user's admin page.
    superuser = AdminFactory()
    admin = new_page()
    admin_log_in(admin, superuser.email)
    admin.goto(f"/admin/portal/user/{newcomer.pk}/change/")
    admin.get_by_role("button", name="二段階認証の招待を送る").click()
    expect(admin.locator(".messagelist")).to_contain_text(
        f"二段階認証の招待メールを {newcomer.email} に送りました")
    link = LINK.search(mail.outbox[-1].body).group(0)

    # The link, in the browser that logged in: the password again, then the set-up.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("二段階認証の設定（招待）")
    _check(page, "invitation", problems)
    page.get_by_label("パスワード 必須").fill("WrongPassw0rd")
    page.get_by_role("button", name="パスワードを確認して設定に進む").click()
    expect(page.locator("#id_password_error")).to_contain_text("パスワードが正しくありません")
    _check(page, "invitation with a wrong password", problems)
    page.get_by_label("パスワード 必須").fill(PASSWORD)
    page.get_by_role("button", name="パスワードを確認して設定に進む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("認証アプリの設定")
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("確認コード").fill(totp_code_to_type(secret))
    page.get_by_role("button", name="設定する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("リカバリーコード")

    # The admin asks for a code (a second one in this window waits for the next window).
    page.goto("/admin/")
    page.get_by_label("確認コード").fill(current_totp_code(newcomer.email))
    page.get_by_role("button", name="確認する").click()
    expect(page.locator("#site-name")).to_contain_text("オンライン資格確認ポータル 管理")

    # Spent: the link now says so.
    spent = new_page()
    spent.goto(link)
    expect(spent.get_by_role("heading", level=1)).to_have_text("招待リンクが使えません")
    _check(spent, "invitation spent", problems)
    assert not problems, _report(problems)

"""axe-core (every WCAG 2.0/2.1 A and AA rule, as test_accessibility runs it) on the account
pages and the error pages, with and without errors shown; the e-mail's link completes the
sign-up."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from playwright.sync_api import expect

from tests.e2e.test_accessibility import _check, _report
from tests.factories import PASSWORD, UserFactory, make_admin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_up_log_in_and_password_reset_pages(new_page):
    page = new_page()
    problems = {}

    page.goto("/accounts/signup/")
    _check(page, "sign-up", problems)
    page.get_by_label("メールアドレス").fill("new@example.jp")
    page.get_by_label("パスワード 必須", exact=True).fill("Kagawa2025Seikotsu")
    page.get_by_label("パスワード（確認用）").fill("Kagawa2025Seikotu")
    page.get_by_role("button", name="ユーザー登録").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()  # the focus moves to the summary of errors
    expect(summary.get_by_role("link")).to_have_attribute("href", "#id_password2")
    expect(page.locator("#id_password2_error")).to_contain_text("一致しません")
    expect(page.locator("#id_password2")).to_have_css("border-top-color", "rgb(176, 0, 32)")
    _check(page, "sign-up with a mismatch", problems)

    page.get_by_label("パスワード 必須", exact=True).fill("Kagawa2025Seikotsu")
    page.get_by_label("パスワード（確認用）").fill("Kagawa2025Seikotsu")
    page.get_by_role("button", name="ユーザー登録").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("確認のメールを送りました")
    _check(page, "verification sent", problems)
    from django.core import mail

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body)
    confirm = new_page()
    confirm.goto(link.group(0))
    expect(confirm.get_by_role("main")).to_contain_text("new@example.jp")
    _check(confirm, "e-mail confirmation", problems)
    confirm.goto("/accounts/confirm-email/no-such-key/")
    _check(confirm, "e-mail confirmation, a bad link", problems)

    login = new_page()
    login.goto("/accounts/login/")
    _check(login, "log-in", problems)
    login.get_by_role("button", name="ログイン").click()
    expect(login.locator(".error-summary")).to_be_visible()
    _check(login, "log-in with errors", problems)

    login.goto("/accounts/password/reset/")
    _check(login, "password reset", problems)
    login.get_by_role("button", name="再設定のメールを送る").click()
    expect(login.locator(".error-summary")).to_be_visible()
    _check(login, "password reset with an error", problems)
    login.get_by_label("メールアドレス").fill("new@example.jp")
    login.get_by_role("button", name="再設定のメールを送る").click()
    expect(login.get_by_role("heading", level=1)).to_have_text("再設定のメールを送りました")
    _check(login, "password reset done", problems)
    assert not problems, _report(problems)


def test_two_factor_pages(new_page, log_in):
    problems = {}
    protected = UserFactory()
    TOTP.activate(protected, generate_totp_secret())
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_label("メールアドレス").fill(protected.email)
    page.get_by_label("パスワード 必須", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("二段階認証")
    _check(page, "two-factor authenticate", problems)
    page.get_by_label("確認コード").fill("000000")
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator(".error-summary")).to_be_visible()
    _check(page, "two-factor authenticate with an error", problems)

    user = UserFactory()
    setup = new_page()
    log_in(setup, user.email)
    setup.goto("/accounts/2fa/totp/activate/")
    # A change to two-factor asks for the password again first.
    expect(setup.get_by_role("heading", level=1)).to_have_text("ご本人の確認")
    _check(setup, "reauthenticate", problems)
    setup.get_by_label("パスワード 必須", exact=True).fill(PASSWORD)
    setup.get_by_role("button", name="確認する").click()
    expect(setup.get_by_role("heading", level=1)).to_have_text("認証アプリの設定")
    _check(setup, "TOTP activate", problems)
    setup.get_by_label("確認コード").fill("123")
    setup.get_by_role("button", name="設定する").click()
    expect(setup.locator(".error-summary")).to_be_visible()
    _check(setup, "TOTP activate with an error", problems)
    assert not problems, _report(problems)


def test_error_pages(new_page, admin_log_in):
    problems = {}
    page = new_page()
    response = page.goto("/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("ページが見つかりません")
    _check(page, "404", problems)

    # A form sent after its session (and CSRF cookie) is gone.
    page.goto("/accounts/login/")
    page.context.clear_cookies()
    page.get_by_label("メールアドレス").fill("someone@example.jp")
    page.get_by_label("パスワード 必須", exact=True).fill("Kagawa2025Seikotsu")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("もう一度操作してください")
    _check(page, "CSRF failure", problems)

    # An administrator without any role opens a list that needs one.
    administrator = make_admin()
    admin = new_page()
    admin_log_in(admin, administrator.email)
    response = admin.goto("/admin/subsidies/claim/")
    assert response.status == 403
    expect(admin.get_by_role("heading", level=1)).to_have_text("このページは開けません")
    _check(admin, "403", problems)
    assert not problems, _report(problems)


def test_the_emailed_link_completes_the_sign_up(new_page):
    from django.core import mail

    page = new_page()
    page.goto("/accounts/signup/")
    page.get_by_label("メールアドレス").fill("link@example.jp")
    page.get_by_label("パスワード 必須", exact=True).fill("Kagawa2025Seikotsu")
    page.get_by_label("パスワード（確認用）").fill("Kagawa2025Seikotsu")
    page.get_by_role("button", name="ユーザー登録").click()
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("マイページ")


def _reauthenticate_if_asked(page):
    """allauth asks for the password again before a change to the account's security."""
    if page.get_by_role("heading", level=1, name="ご本人の確認").count():
        page.get_by_label("パスワード 必須", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="確認する").click()


def test_signed_in_account_pages(new_page, log_in):
    """The pages of a signed-in person's account, each form with its errors shown: e-mail
    addresses, password change, log-out, two-factor (set up: its codes and its removal), and
    the password reset's e-mailed link (a good one and a bad one)."""
    from django.core import mail

    problems = {}
    user = UserFactory()
    TOTP.activate(user, generate_totp_secret())
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_label("メールアドレス").fill(user.email)
    page.get_by_label("パスワード 必須", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    from tests.e2e.conftest import current_totp_code

    page.get_by_label("確認コード").fill(current_totp_code(user.email))
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("マイページ")

    page.goto("/accounts/email/")
    _check(page, "e-mail addresses", problems)
    page.locator("#id_email").fill("not-an-address")
    page.locator("main form button[name=action_add]").click()
    expect(page.locator(".error-summary, .errorlist").first).to_be_visible()
    _check(page, "e-mail addresses with an error", problems)

    page.goto("/accounts/password/change/")
    _reauthenticate_if_asked(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("パスワードの変更")
    _check(page, "password change", problems)
    page.get_by_role("button", name="パスワードを変更する").click()
    expect(page.locator(".error-summary")).to_be_visible()
    _check(page, "password change with errors", problems)

    for label, url in [("two-factor", "/accounts/2fa/"),
                       ("recovery codes generate", "/accounts/2fa/recovery-codes/generate/"),
                       ("two-factor deactivate", "/accounts/2fa/totp/deactivate/"),
                       ("log-out", "/accounts/logout/")]:
        page.goto(url)
        _reauthenticate_if_asked(page)
        _check(page, label, problems)

    reset = new_page()
    reset.goto("/accounts/password/reset/key/1-bad-key/")
    _check(reset, "password reset link, a bad one", problems)
    reset.goto("/accounts/password/reset/")
    reset.get_by_label("メールアドレス").fill(user.email)
    sent = len(mail.outbox)
    reset.get_by_role("button", name="再設定のメールを送る").click()
    expect(reset.get_by_role("heading", level=1)).to_have_text("再設定のメールを送りました")
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.outbox[sent].body)
    reset.goto(link.group(0))
    _check(reset, "password reset from the link", problems)
    reset.locator("main form button[type=submit]").click()
    expect(reset.locator(".error-summary")).to_be_visible()
    _check(reset, "password reset from the link with errors", problems)
    assert not problems, _report(problems)

"""The account pages and e-mails in the portal's own words: Japanese, the site's field and
error pattern, the portal named (never a host and port), error pages in the site layout."""

import re

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _main(response) -> str:
    return response.content.decode().split("<main", 1)[1]


def test_a_password_mismatch_is_reported_next_to_the_second_password(client):
    response = client.post(reverse("account_signup"), {
        "email": "new@example.jp", "password1": "Kagawa2025Seikotsu",
        "password2": "Kagawa2025Seikotu"})
    form = response.context["form"]
    assert form.errors["password2"] and "password1" not in form.errors
    page = _main(response)
    assert 'id="id_password2_error"' in page and "一致しません" in page
    assert 'href="#id_password2"' in page  # the summary links to the field


def test_a_mismatch_is_reported_even_when_the_first_password_breaks_a_rule(client):
    response = client.post(reverse("account_signup"), {
        "email": "new@example.jp", "password1": "password", "password2": "passwort"})
    errors = response.context["form"].errors
    assert "password1" in errors and "一致しません" in " ".join(errors["password2"])


def test_the_password_rule_is_stated_once(client):
    page = _main(client.get(reverse("account_signup")))
    assert page.count("8文字以上") == 1
    assert "<ul><li>" not in page  # not the validators' list as well


def test_the_log_in_page_uses_the_site_field_pattern(client):
    response = client.post(reverse("account_login"),
                           {"login": "nobody@example.jp", "password": "Wrong2025Password"})
    page = _main(response)
    assert 'class="error-summary"' in page
    assert 'class="field' in page and "必須" in page
    assert "&lt;a href" not in page  # no help text escaped into view
    assert "パスワードを忘れた方" in page


@pytest.mark.parametrize("name", ["account_login", "account_signup", "account_reset_password",
                                  "account_email_verification_sent"])
def test_account_pages_are_japanese_in_the_site_layout(client, name):
    page = client.get(reverse(name)).content.decode()
    assert '<html lang="ja">' in page and "site-header" in page
    for english in ("Sign In", "Sign Up", "Password Reset", "Verify Your Email", "Menu:"):
        assert english not in page


def test_mfa_pages_say_nidankai_ninsho(client):
    user = UserFactory()
    client.force_login(user)
    page = client.get(reverse("mfa_index")).content.decode()
    assert "二段階認証" in page and "多要素認証" not in page


def test_the_verification_email_names_the_portal_not_the_host(client):
    client.post(reverse("account_signup"), {
        "email": "new@example.jp", "password1": "Kagawa2025Seikotsu",
        "password2": "Kagawa2025Seikotsu"}, HTTP_HOST="127.0.0.1:8000")
    message = mail.outbox[0]
    assert message.subject.startswith("【オンライン資格確認ポータル】")
    assert "オンライン資格確認ポータル" in message.body
    # The host appears only inside the link, never as who is writing.
    body_without_links = re.sub(r"https?://\S+", "", message.body)
    assert "127.0.0.1" not in body_without_links and "example.com" not in body_without_links
    assert re.search(r"https?://\S+/accounts/confirm-email/\S+", message.body)


@override_settings(PORTAL_BASE_URL="https://portal.example.jp")
def test_links_in_emails_use_the_portal_base_url(client):
    client.post(reverse("account_signup"), {
        "email": "new@example.jp", "password1": "Kagawa2025Seikotsu",
        "password2": "Kagawa2025Seikotsu"}, HTTP_HOST="10.0.0.5:8000")
    assert "https://portal.example.jp/accounts/confirm-email/" in mail.outbox[0].body
    assert "10.0.0.5" not in mail.outbox[0].body


def test_the_password_reset_email_names_the_portal(client):
    user = UserFactory(email="staff@example.jp")
    client.post(reverse("account_reset_password"), {"email": user.email})
    body = mail.outbox[0].body
    assert "パスワードの再設定" in body and "オンライン資格確認ポータル" in body
    assert "/accounts/password/reset/key/" in body


def test_404_is_japanese_in_the_site_layout(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "ページが見つかりません" in page and "site-header" in page and 'lang="ja"' in page


def test_500_renders_without_a_request_context():
    from django.template.loader import get_template

    page = get_template("500.html").render()
    assert "ただいま表示できません" in page and 'lang="ja"' in page


def test_the_csrf_failure_page_is_japanese():
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("account_login"), {"login": "a@example.jp", "password": "x"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "もう一度操作してください" in page and "site-header" in page


def test_an_input_in_error_is_described_by_its_error_and_help(client):
    """A screen reader reaching the input reads its rule and its error (aria-describedby)."""
    from django.urls import reverse

    from tests.factories import FacilityFactory, make_staff

    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    page = client.post(reverse("facilities:link"), {"code": "0110113719", "account_last4": ""})
    body = page.content.decode()
    assert 'aria-invalid="true"' in body
    assert 'aria-describedby="id_account_last4_helptext id_account_last4_error"' in body
    assert 'id="id_account_last4_error"' in body

"""Registration and log-in (django-allauth): e-mail verification, password rules, rate
limits, two-factor authentication."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _signup(client, password, email="new@example.jp"):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": password, "password2": password},
    )


def test_signup_sends_verification_and_verified_user_reaches_dashboard(client):
    response = _signup(client, "Kagawa2025Seikotsu")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+", mail.outbox[0].body).group(0)
    path = link.split("testserver", 1)[1]
    client.post(path)
    assert EmailAddress.objects.get(email="new@example.jp").verified
    assert client.get(reverse("dashboard")).status_code == 200


def test_unverified_user_cannot_log_in(client):
    _signup(client, "Kagawa2025Seikotsu")
    client.logout()
    response = client.post(reverse("account_login"),
                           {"login": "new@example.jp", "password": "Kagawa2025Seikotsu"})
    assert response.status_code == 302
    assert "confirm-email" in response["Location"]
    assert client.get(reverse("dashboard")).status_code == 302


@pytest.mark.parametrize(
    "password, message",
    [
        ("Ab1", "短すぎ"),
        ("password123", "よく使われる"),
        ("Pass word 2025", "半角の英字と数字のみ"),
        ("パスワード2025abc", "半角の英字と数字のみ"),
        ("A1" * 51, "100文字以下"),
    ],
)
def test_signup_password_rules(client, password, message):
    response = _signup(client, password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not EmailAddress.objects.exists()


def test_login_is_rate_limited(client):
    user = UserFactory()
    with override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "3/5m/key"}):
        for _ in range(3):
            client.post(reverse("account_login"), {"login": user.email, "password": "wrong1234"})
        response = client.post(reverse("account_login"),
                               {"login": user.email, "password": PASSWORD})
    assert response.status_code == 429 or "_auth_user_id" not in client.session


def test_two_factor_totp_is_offered(client):
    user = UserFactory()
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    # Turning on 2FA is a sensitive change: allauth asks for the password again first.
    first = client.get(reverse("mfa_activate_totp"))
    assert reverse("account_reauthenticate") in first["Location"]
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "data:image/svg+xml" in body or "<svg" in body  # the QR code to scan
    assert 'name="code"' in body


def test_pages_are_japanese(client):
    for url in [reverse("home"), reverse("account_login"), reverse("account_signup"),
                reverse("public:list")]:
        body = client.get(url).content.decode()
        assert '<html lang="ja">' in body, url
    assert "ログイン" in client.get(reverse("account_login")).content.decode()

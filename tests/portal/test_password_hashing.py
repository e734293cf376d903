"""Passwords are hashed with Argon2id at OWASP's minimum (portal/passwords.py); hashes made
before (Django's PBKDF2, Argon2 with other parameters) still log in and are rehashed with
these parameters at that log-in. (The other tests hash with MD5 for speed: the production
list is put in place here.)"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.test import override_settings
from django.urls import reverse

from portal.settings.base import PASSWORD_HASHERS
from tests.factories import PASSWORD, UserFactory

ARGON2ID = "argon2$argon2id$v=19$m=19456,t=2,p=1$"


@pytest.fixture(autouse=True)
def production_hashers():
    with override_settings(PASSWORD_HASHERS=PASSWORD_HASHERS):
        yield


@pytest.mark.django_db
def test_a_new_password_is_hashed_with_argon2id_at_owasp_parameters():
    assert make_password(PASSWORD).startswith(ARGON2ID)


@pytest.mark.django_db
@pytest.mark.parametrize("older", ["pbkdf2_sha256", "argon2 with Django's defaults"])
def test_an_older_hash_logs_in_and_is_rehashed(client, older):
    user = UserFactory()
    if older == "pbkdf2_sha256":
        user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    else:
        from django.contrib.auth.hashers import Argon2PasswordHasher

        user.password = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
        assert "m=102400,t=2,p=8" in user.password
    user.save(update_fields=["password"])

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and client.get(reverse("dashboard")).status_code == 200
    rehashed = get_user_model().objects.get(pk=user.pk).password
    assert rehashed.startswith(ARGON2ID) and PASSWORD not in rehashed


@pytest.mark.django_db
def test_a_wrong_password_against_an_older_hash_changes_nothing(client):
    user = UserFactory()
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    client.post(reverse("account_login"), {"login": user.email, "password": "Wrong2025Pass"})
    assert get_user_model().objects.get(pk=user.pk).password == user.password

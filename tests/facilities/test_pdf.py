"""The 「マイナ資格確認アプリ ユーザ設定情報」 PDF: Japanese text, extractable, only for staff."""

import io

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse
from pypdf import PdfReader

from facilities.models import DeviceAccount
from tests.factories import accepted_facility

pytestmark = pytest.mark.django_db


def _pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_settings_pdf_holds_the_account_id_and_working_secrets(client):
    facility, user, _ = accepted_facility(devices=2)
    account = DeviceAccount.objects.filter(facility=facility).order_by("number").last()
    client.force_login(user)

    response = client.post(
        reverse("facilities:account_settings_pdf", args=[facility.pk, account.pk])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"  # as every signed-in answer
    text = _pdf_text(response.content)
    assert account.login_id in text
    assert "マイナ資格確認アプリ ユーザ設定情報" in text
    assert facility.institution_code in text
    assert facility.name in text
    account.refresh_from_db()
    # The password printed is the one that now works (found by trying each printed token).
    tokens = {t for line in text.splitlines() for t in line.split()}
    assert any(check_password(t, account.password_hash) for t in tokens)
    assert any(check_password(t, account.activation_code_hash) for t in tokens)


def test_settings_pdf_is_not_issued_by_get(client):
    facility, user, _ = accepted_facility(devices=1)
    account = DeviceAccount.objects.get(facility=facility)
    client.force_login(user)
    response = client.get(reverse("facilities:account_settings_pdf", args=[facility.pk, account.pk]))
    assert response.status_code == 405
    account.refresh_from_db()
    assert account.issue_count == 0

"""The bank account form through HTTP: confirm, then save (and land on the payments page);
every change audited and told to the staff with the number masked; bad input kept."""

import pytest
from django.core import mail
from django.urls import reverse

from facilities.models import Activity
from payouts.models import BankAccount
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def sejutsu(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    return facility


BANK = {"method": "bank", "bank": "みずほ", "branch": "東京営業部", "account_type": "1",
        "account_number": "１２３４５６７", "holder_name": "かぶしきがいしゃ　あおば"}


def test_bank_account_by_name_confirm_then_save(client, sejutsu,
                                                django_capture_on_commit_callbacks):
    other_staff = make_staff(sejutsu)
    url = reverse("payouts:bank", args=[sejutsu.pk])
    confirm = client.post(url, {**BANK, "review": "1"}).content.decode()
    assert "内容の確認" in confirm and "ｶﾌﾞｼｷｶﾞｲｼﾔ ｱｵﾊﾞ" in confirm
    assert not BankAccount.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**BANK, "submit": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("payouts:payments", args=[sejutsu.pk])
    account = BankAccount.objects.get()
    assert (account.bank_code, account.branch_code, account.account_number) == (
        "0001", "001", "1234567")
    message = mail.outbox[-1]
    assert other_staff.email in message.to
    assert "****567" in message.body and "1234567" not in message.body
    assert "1234567" not in Activity.objects.get(verb="bank_account_registered").summary


def test_japan_post_account_is_shown_converted_before_saving(client, sejutsu):
    url = reverse("payouts:bank", args=[sejutsu.pk])
    data = {"method": "japan_post", "kigo": "12345", "bango": "67890121",
            "holder_name": "ヤマダ タロウ"}
    confirm = client.post(url, {**data, "review": "1"}).content.decode()
    assert "二三八（238）" in confirm and "6789012" in confirm
    response = client.post(url, {**data, "submit": "1"})
    assert response["Location"] == reverse("payouts:payments", args=[sejutsu.pk])
    account = BankAccount.objects.get()
    assert (account.bank_code, account.branch_code, account.account_type,
            account.account_number, account.japan_post_kigo) == (
        "9900", "238", "1", "6789012", "12345")


def test_bank_account_change_is_audited(client, sejutsu):
    url = reverse("payouts:bank", args=[sejutsu.pk])
    client.post(url, {**BANK, "submit": "1"})
    client.post(url, {**BANK, "account_number": "7654321", "submit": "1"})
    account = BankAccount.objects.get()
    assert account.account_number == "7654321"
    assert list(account.history.values_list("account_number", flat=True)) == [
        "7654321", "1234567"]


@pytest.mark.parametrize(
    "changes, field_message",
    [
        ({"bank": "存在しない銀行"}, "見つかりません"),
        ({"bank": "0001", "branch": "999"}, "支店コード"),
        ({"holder_name": "山田太郎"}, "使えない文字"),
        ({"account_number": "12345678"}, "7桁以内"),
        ({"bank": "信用"}, "複数あります"),
    ],
)
def test_bad_bank_input_keeps_the_form_and_saves_nothing(client, sejutsu, changes,
                                                         field_message):
    url = reverse("payouts:bank", args=[sejutsu.pk])
    body = client.post(url, {**BANK, **changes, "submit": "1"}).content.decode()
    assert field_message in body
    assert "入力内容に誤りがあります" in body
    assert not BankAccount.objects.exists()


def test_bank_search_lists_codes(client, sejutsu):
    body = client.get(reverse("payouts:bank", args=[sejutsu.pk]),
                      {"bank_q": "みずほ"}).content.decode()
    assert "0001" in body

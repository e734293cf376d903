"""The bank form without JavaScript: both blocks are on the page, the server reads only the
one the radio chose; the code lookup keeps what was typed."""

import pytest
from django.urls import reverse

from payouts.models import BankAccount
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db

JAPAN_POST = {"kigo": "12340", "bango": "56789011", "holder_name": "ヤマダ タロウ"}
BANK = {"bank": "0001", "branch": "001", "account_type": "1", "account_number": "1234567",
        "holder_name": "ヤマダ タロウ"}


@pytest.fixture
def url(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    return reverse("payouts:bank", args=[facility.pk])


def test_both_blocks_are_on_the_page_for_a_browser_without_javascript(client, url):
    page = client.get(url).content.decode()
    assert 'data-method-block="bank"' in page and 'data-method-block="japan_post"' in page
    assert 'name="kigo"' in page and 'name="bank"' in page


def test_japan_post_typed_with_the_radio_on_bank_gives_one_clear_message(client, url):
    response = client.post(url, {"method": "bank", **JAPAN_POST, "review": "1"})
    errors = response.context["form"].errors
    assert list(errors) == ["method"]
    assert "「ゆうちょ銀行」を選んでください" in errors["method"][0]
    assert not BankAccount.objects.exists()


def test_a_bank_typed_with_the_radio_on_japan_post_gives_one_clear_message(client, url):
    response = client.post(url, {"method": "japan_post", **BANK, "review": "1"})
    errors = response.context["form"].errors
    assert list(errors) == ["method"]
    assert "「銀行・信用金庫など」を選んでください" in errors["method"][0]


def test_the_other_block_filled_too_is_ignored(client, url):
    """The chosen block is complete: what is left in the other one is not read."""
    response = client.post(url, {"method": "japan_post", **BANK, **JAPAN_POST, "review": "1"})
    assert response.status_code == 200
    assert "form" not in response.context or not response.context["form"].errors
    assert "9900" in response.content.decode() or "ゆうちょ" in response.content.decode()


def test_the_lookup_keeps_what_was_typed(client, url):
    typed = {"method": "bank", "bank": "みずほ", "branch": "", "account_type": "1",
             "account_number": "7654321", "holder_name": "ヤマダ ハナコ"}
    response = client.post(url, {**typed, "bank_q": "みずほ", "lookup": "1"})
    page = response.content.decode()
    assert "0001" in page  # the result
    assert 'value="7654321"' in page and 'value="ヤマダ ハナコ"' in page
    assert 'value="みずほ"' in page
    assert "入力内容に誤りがあります" not in page  # a lookup is not a submit
    assert not BankAccount.objects.exists()


def test_a_result_chosen_without_javascript_fills_its_field(client, url):
    """A result is a button of the form (docs/decisions.md D1.7): chosen, the page comes back
    with its code in the field, the branch lookup set to that bank, and the rest as typed;
    a malformed code fills nothing."""
    typed = {"method": "bank", "bank": "みず", "branch": "", "account_type": "1",
             "account_number": "7654321", "holder_name": "ヤマダ ハナコ", "bank_q": "みずほ"}
    response = client.post(url, {**typed, "pick_bank": "0001"})
    assert response.context["form"]["bank"].value() == "0001"
    assert response.context["lookup"]["bank_code"] == "0001"
    page = response.content.decode()
    assert 'value="7654321"' in page and "金融機関の欄に 0001 を入力しました。" in page
    assert "入力内容に誤りがあります" not in page
    response = client.post(url, {**typed, "bank_code": "0001", "branch_q": "東京",
                                 "pick_branch": "001"})
    assert response.context["form"]["branch"].value() == "001"
    assert 'name="pick_branch" value="001"' in response.content.decode()
    response = client.post(url, {**typed, "pick_bank": "１２３４"})
    assert response.context["form"]["bank"].value() == "みず"
    assert not BankAccount.objects.exists()
    assert "{#" not in client.get(url).content.decode()  # no template comment shown

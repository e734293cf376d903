"""Numbers and e-mail addresses as people type them (docs/decisions.md D1.3, D1.4): commas and
full-width digits are read, a full-width address is read as half width, and a refusal says
what to type next to the field, keeping what was typed."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from portal.forms import NumberField
from portal.normalize import NotAnInteger, integer
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("typed", "number"), [
    ("38000", 38000), ("38,000", 38000), ("３８０００", 38000), ("３８，０００", 38000),
    ("38、000", 38000), (" 1,234,567 ", 1234567), ("38,000円", 38000), ("３８，０００円", 38000),
    ("0", 0), ("-5", -5), ("－５", -5),
])
def test_numbers_are_read_as_typed(typed, number):
    assert integer(typed, unit="円") == number


@pytest.mark.parametrize("typed", ["3,80", "38,00,0", "12.5", "1e3", "abc", "三千", "", "円",
                                   "38000人", "1" * 31, ",000"])
def test_what_is_not_a_whole_number_is_refused(typed):
    with pytest.raises(NotAnInteger):
        integer(typed, unit="円")


@pytest.mark.parametrize(("typed", "message"), [
    ("-5", "0以上の数を入力してください（マイナスは入力できません）"),
    ("abc", "数字で入力してください（例: 1200 または 1,200）"),
    ("3,80", "数字で入力してください"),
    ("1,000,001", "1,000,000以下"),
])
def test_a_refusal_says_what_to_type(typed, message):
    field = NumberField(min_value=0, max_value=1_000_000, unit="円")
    with pytest.raises(Exception) as refused:
        field.clean(typed)
    assert message in str(refused.value)


def test_the_box_is_text_so_the_browser_keeps_what_was_typed():
    html = NumberField(min_value=0).widget.render("n", "38,000")
    assert 'type="text"' in html and 'value="38,000"' in html and 'inputmode="numeric"' in html
    assert "min=" not in html


def test_log_in_with_a_full_width_address(client):
    UserFactory(email="taro@example.jp")
    response = client.post(reverse("account_login"),
                           {"login": "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


def test_sign_up_with_a_full_width_address_registers_the_half_width_one(client):
    client.post(reverse("account_signup"), {
        "email": "ｈａｎａ＠ｅｘａｍｐｌｅ．ｊｐ", "password1": "Kagawa2025Seikotsu",
        "password2": "Kagawa2025Seikotsu"})
    assert EmailAddress.objects.filter(email="hana@example.jp").exists()
    assert mail.outbox and mail.outbox[0].to == ["hana@example.jp"]


@pytest.mark.parametrize(("url", "field", "extra"), [
    ("account_signup", "email", {"password1": "Kagawa2025Seikotsu",
                                 "password2": "Kagawa2025Seikotsu"}),
    ("account_login", "login", {"password": "x"}),
    ("account_reset_password", "email", {}),
])
def test_an_address_that_is_not_half_width_is_refused_saying_hankaku(client, url, field, extra):
    response = client.post(reverse(url), {field: "はなこ＠ｅｘａｍｐｌｅ．ｊｐ", **extra})
    page = response.content.decode()
    assert response.status_code == 200
    assert "半角の英数字と記号で" in page
    assert 'value="はなこ@example.jp"' in page  # what was typed stays (read as half width)
    assert not EmailAddress.objects.exists()


def test_the_passwords_are_not_widened(client):
    """A password is compared as typed: a full-width password is not the half-width one."""
    UserFactory(email="taro@example.jp")
    wide = PASSWORD.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    response = client.post(reverse("account_login"), {"login": "taro@example.jp",
                                                      "password": wide})
    assert response.status_code == 200

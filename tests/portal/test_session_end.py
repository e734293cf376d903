"""An ended session is said on the log-in page; the user goes back to the page they were on
and finds what they typed there, secrets left out (docs/decisions.md D1.6)."""

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from facilities.models import UsageApplication
from portal.session_end import ENDED, KEPT
from tests.factories import PASSWORD, FacilityFactory, make_staff

pytestmark = pytest.mark.django_db

NOTICE = "一定時間操作がなかったため"


def _signed_in(client):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    client.force_login(user)
    client.get(reverse("dashboard"))  # the browser now carries the signed-in marker
    return facility, user


def _end_sessions():
    Session.objects.all().delete()  # idle too long, expired, or ended elsewhere


def test_a_form_posted_after_the_session_ended_is_kept_through_the_log_in(client):
    facility, user = _signed_in(client)
    url = reverse("facilities:application_start", args=[facility.pk])
    client.get(url)
    _end_sessions()
    response = client.post(url, {
        "contact_name": "受付 花子", "founder_name": "開設 太郎", "phone": "03-1111-2222",
        "email": "uketsuke@example.jp", "staff_count": "3", "device_count": "2",
        "token": "6f1b7e0c-2c3a-4a51-9d61-7f0b4f1f7a10", "review": ""},
        HTTP_REFERER=f"http://testserver{url}")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    login_page = client.get(response["Location"]).content.decode()
    assert ENDED in login_page and KEPT in login_page
    assert not UsageApplication.objects.exists()

    response = client.post(response["Location"], {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == url
    page = client.get(url).content.decode()
    assert "ログアウトする前に入力していた内容を表示しています" in page
    assert 'value="受付 花子"' in page and 'value="3"' in page
    assert "6f1b7e0c" not in page  # the submission token is never given back
    assert not UsageApplication.objects.exists()  # shown again, not submitted
    again = client.get(url).content.decode()  # given back once
    assert "受付 花子" not in again and "ログアウトする前に" not in again


def test_secrets_are_never_kept(client):
    facility, user = _signed_in(client)
    url = reverse("payouts:bank", args=[facility.pk])
    _end_sessions()
    client.post(url, {"method": "bank", "bank": "0001", "branch": "001", "account_type": "1",
                      "account_number": "7654321", "holder_name": "ｾｲｺﾂｲﾝ"})
    kept = client.session.get("portal_kept_input")
    assert kept is not None and kept["data"]["holder_name"] == ["ｾｲｺﾂｲﾝ"]
    assert "account_number" not in kept["data"] and "csrfmiddlewaretoken" not in kept["data"]


def test_a_page_opened_after_the_session_ended_says_why_and_comes_back(client):
    facility, user = _signed_in(client)
    _end_sessions()
    url = reverse("facilities:applications", args=[facility.pk])
    response = client.get(url)
    assert response["Location"] == f"{reverse('account_login')}?next={url.replace('/', '%2F')}"
    page = client.get(response["Location"]).content.decode()
    assert NOTICE in page and KEPT not in page


def test_no_such_word_after_logging_out_or_for_a_visitor(client):
    facility, user = _signed_in(client)
    client.post(reverse("account_logout"))
    url = reverse("facilities:applications", args=[facility.pk])
    assert NOTICE not in client.get(client.get(url)["Location"]).content.decode()
    client.cookies.clear()
    assert NOTICE not in client.get(client.get(url)["Location"]).content.decode()


def test_what_was_kept_goes_only_to_the_same_user(client):
    facility, user = _signed_in(client)
    url = reverse("facilities:application_start", args=[facility.pk])
    _end_sessions()
    client.post(url, {"contact_name": "受付 花子"})
    other = make_staff(facility)
    client.post(reverse("account_login"), {"login": other.email, "password": PASSWORD})
    assert "受付 花子" not in client.get(url).content.decode()


def test_a_scripts_request_does_not_spend_the_notice(client):
    facility, user = _signed_in(client)
    _end_sessions()
    url = reverse("facilities:applications", args=[facility.pk])
    client.get(url, HTTP_SEC_FETCH_MODE="cors")  # a live estimate or a poll in the background
    page = client.get(client.get(url, HTTP_SEC_FETCH_MODE="navigate")["Location"])
    assert NOTICE in page.content.decode()


@pytest.mark.parametrize("typed", ["123456789012", "１２３４５６７８９０１２", "1234-5678-9012",
                                   "番号は 1234 5678 9012 です"])
def test_a_value_holding_twelve_digits_is_never_kept(client, typed):
    """What looks like an individual number (個人番号) is never stored in the session,
    whatever field it was typed in."""
    facility, _user = _signed_in(client)
    url = reverse("facilities:application_start", args=[facility.pk])
    _end_sessions()
    client.post(url, {"contact_name": typed, "founder_name": "開設 太郎", "staff_count": "3"},
                HTTP_REFERER=f"http://testserver{url}")
    kept = client.session.get("portal_kept_input")
    assert kept is not None and kept["data"]["founder_name"] == ["開設 太郎"]
    assert "contact_name" not in kept["data"]
    assert not any(digits in str(kept) for digits in ("1234", "１２３４"))

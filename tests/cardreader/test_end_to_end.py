"""The counter end to end over the real stack: an emulated My Number card on the virtual
reader (pcscd + vpcd) → the reader side (pyscard) and the local agent → the portal's API over
HTTP (a live server) → the qualification on the counter page and the confirmation counted in
the month's statistics. In PIN mode and in face-check mode; with certificates expired two
months ago (grace), four months ago (refused) and expiring in two months (warning); and a
wrong PIN until the card locks, then the face check."""

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse
from django.utils import timezone

from cardreader import agent, reader
from cardreader.apdu import CardError
from eligibility.models import MonthlyStatistic
from tests.cardreader.conftest import READER
from tests.cardreader.jpki_card import TEST_PIN
from tests.cardreader.pki import card_certificate
from tests.cardreader.test_api import device_accounts, register, trust
from tests.factories import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counter_site(live_server, client, pcscd):
    """A clinic with its device account's agent talking to the live portal, and its staff
    on the counter page."""
    facility, accounts = device_accounts()
    account, password = accounts[0]
    trust()
    client.force_login(make_staff(facility))
    portal = agent.PortalClient(live_server.url, account.login_id, password)
    return {"facility": facility, "account": account, "portal": portal, "client": client}


def start_check(site, mode: str) -> str:
    response = site["client"].post(reverse("cardreader:counter", args=[site["facility"].pk]),
                                   {"device_account": site["account"].pk, "mode": mode})
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"].rstrip("/").rsplit("/", 1)[-1]


def run_agent_once(site, pin: str = TEST_PIN) -> list:
    """The agent (as `manage.py counter --agent` runs it) does the waiting check, once."""
    outcomes: list = []
    agent.serve_counter(site["portal"], READER, lambda: pin, poll=0.05,
                        stop=lambda: bool(outcomes),
                        on_result=lambda check, answer, error: outcomes.append(
                            (check, answer, error)), timeout=5)
    return outcomes


def page(site, check_id: str) -> str:
    response = site["client"].get(reverse("cardreader:check",
                                          args=[site["facility"].pk, check_id]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    return response.content.decode()


def counted() -> tuple[int, int]:
    row = MonthlyStatistic.objects.filter(month=timezone.localdate().replace(day=1)).first()
    return (row.counter_usage_count, row.counter_card_users) if row else (0, 0)


@pytest.mark.parametrize("mode", ["pin", "face"])
def test_a_card_is_confirmed_shown_large_and_counted(counter_site, card_slot, mode):
    card = card_slot.insert(card_certificate(2001, not_after=timezone.localdate()
                                             + timedelta(days=900)))
    register(card.certificate)
    check_id = start_check(counter_site, mode)
    waiting = page(counter_site, check_id)
    assert "カードをカードリーダーに置いてください" in waiting
    # It reloads itself until the result comes, with a button that stops it (WCAG 2.2.1).
    assert 'data-auto-refresh="2"' in waiting and "data-refresh-toggle" in waiting
    [(check, answer, error)] = run_agent_once(counter_site)
    assert error is None and answer["qualification"]["status"] == "有効"
    body = page(counter_site, check_id)
    assert "資格の状態: 有効" in body and "山田 太郎" in body and "06132013" in body
    assert "data-auto-refresh" not in body  # finished: no more reloading
    assert counted() == (1, 1)
    received = [bytes(apdu) for apdu in card.received]
    assert any(apdu[:2] == b"\x00\x20" for apdu in received) is (mode == "pin")  # VERIFY


@pytest.mark.parametrize("months, shown, counted_as", [
    (-2, "までは保険証として利用できます", (1, 1)),  # expired 2 months ago: grace
    (-4, "確認できませんでした", (0, 0)),  # expired 4 months ago: refused
    (2, "3か月を切っています", (1, 1)),  # expiring in 2 months: warning
])
def test_certificate_validity_at_the_counter(counter_site, card_slot, months, shown,
                                             counted_as):
    not_after = timezone.localdate() + relativedelta(months=months)
    card = card_slot.insert(card_certificate(3000 + months, not_after=not_after))
    register(card.certificate)
    check_id = start_check(counter_site, "face")
    run_agent_once(counter_site)
    body = page(counter_site, check_id)
    assert shown in body
    assert counted() == counted_as


def test_a_wrong_pin_until_locked_then_the_face_check(counter_site, card_slot):
    card = card_slot.insert(card_certificate(4001, not_after=timezone.localdate()
                                             + timedelta(days=900)))
    register(card.certificate)
    for tries_left in (2, 1):
        check_id = start_check(counter_site, "pin")
        [(_, _, error)] = run_agent_once(counter_site, pin="0000")
        assert isinstance(error, reader.WrongPin) and error.tries_left == tries_left
        assert f"残りの入力回数は{tries_left}回" in page(counter_site, check_id)
    check_id = start_check(counter_site, "pin")
    [(_, _, error)] = run_agent_once(counter_site, pin="0000")
    assert isinstance(error, CardError) and error.code == "pin_locked"
    body = page(counter_site, check_id)
    assert "ロックされています" in body and "目視で確認する" in body
    assert counted() == (0, 0)
    # The right PIN no longer opens the card; the face check does.
    check_id = start_check(counter_site, "pin")
    [(_, _, error)] = run_agent_once(counter_site, pin=TEST_PIN)
    assert error.code == "pin_locked"
    check_id = start_check(counter_site, "face")
    [(_, answer, error)] = run_agent_once(counter_site)
    assert error is None and "資格の状態: 有効" in page(counter_site, check_id)
    assert counted() == (1, 1)


def test_another_facilitys_staff_cannot_see_a_check(counter_site, card_slot, client):
    check_id = start_check(counter_site, "face")
    other, _ = device_accounts()
    client.force_login(make_staff(other))
    assert client.get(reverse("cardreader:check", args=[other.pk, check_id])).status_code == 404
    assert client.get(reverse("cardreader:check", args=[counter_site["facility"].pk,
                                                        check_id])).status_code == 404

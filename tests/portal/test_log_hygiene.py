"""No full account number, password, activation code or 12-digit number in any log record:
the check runs after every test (tests/conftest.py); here it is shown to catch each kind,
and the flows that log the most are run under it."""

import logging

import pytest
from django.urls import reverse

from tests.conftest import leaked_secrets
from tests.factories import PASSWORD, FacilityFactory, accepted_facility

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("message, secrets", [
    ("個人番号 123456789012 を受信", set()),
    ("activation ABCD-EFGH-JKLM-NPQR", set()),
    ("password Passw0rdForTests", {"Passw0rdForTests"}),
    ("口座 1234567 を登録", {"1234567"}),
])
def test_the_check_catches_each_kind_of_secret(message, secrets):
    assert leaked_secrets([message], secrets) == [message]


@pytest.mark.parametrize("message", ["受付番号 A20261125-0000123", "施設 0110113719",
                                     "口座 ****567 を登録", "2026-11-25 10:00:00"])
def test_the_check_lets_ordinary_lines_pass(message):
    assert leaked_secrets([message], {"1234567"}) == []


@pytest.mark.leaks_on_purpose
def test_a_leaking_log_line_is_seen(caplog):
    logging.getLogger("portal").warning("leak %s", "987654321098")
    assert leaked_secrets([r.getMessage() for r in caplog.records], set())


def test_flows_that_log_keep_secrets_out(client):
    """Failed and successful log-ins, a wrong facility link, credentials issued, a bank
    account registered: the autouse check fails this test if any of them logged a secret."""
    facility, user, _admin = accepted_facility(kind="judo")
    client.post(reverse("account_login"), {"login": user.email, "password": "wrong-" + PASSWORD})
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    client.force_login(user)
    other = FacilityFactory(kind="clinic")
    client.post(reverse("facilities:link"), {"code": other.code, "account_last4": "9999"})
    account = facility.device_accounts.first()
    response = client.post(reverse("facilities:account_settings_pdf",
                                   args=[facility.pk, account.pk]))
    assert response.status_code in (200, 302)
    from payouts.banking import validate_account
    from payouts.services import save_bank_account

    normalized = validate_account("0001", "001", "1", "1234567", "ﾃｽﾄ")
    save_bank_account(user=user, facility=facility, account=normalized)
    logging.getLogger("facilities").info("口座 %s を登録しました", "****567")

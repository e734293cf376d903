"""Defects of the outside review outside the claims: sign-up timing, the Content-Security-
Policy, formulas in the public CSV, escaped plain-text e-mails, credentials issued per click,
the client address behind a proxy, and a process-local cache in production."""

import csv
import io
from datetime import date

import pytest
from allauth.account.adapter import get_adapter
from django.contrib.auth.hashers import get_hasher
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from facilities import services
from facilities.models import DeviceAccount, LinkAttempt
from portal.notifications import render_email
from portal.ratelimit import client_ip
from tests.factories import FacilityFactory, UserFactory, accepted_facility

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- sign-up timing (10b)


@pytest.fixture
def password_hashes(monkeypatch):
    """Counts the passwords hashed (the default hasher's encode)."""
    hasher = type(get_hasher())
    calls = []
    encode = hasher.encode

    def counted(self, password, salt, *args, **kwargs):
        calls.append(1)
        return encode(self, password, salt, *args, **kwargs)

    monkeypatch.setattr(hasher, "encode", counted)
    return calls


def _sign_up(client, email):
    return client.post(reverse("account_signup"),
                       {"email": email, "password1": "Abcd1234xyz", "password2": "Abcd1234xyz"})


def test_sign_up_hashes_one_password_for_a_new_and_for_a_registered_address(client,
                                                                          password_hashes):
    registered = UserFactory(email="taken@example.jp")
    password_hashes.clear()
    new_response = _sign_up(client, "new@example.jp")
    new_hashes = len(password_hashes)
    client.logout()
    password_hashes.clear()
    taken_response = _sign_up(client, registered.email)
    assert new_hashes == 1
    assert len(password_hashes) == 1
    # And the two answers look alike.
    assert new_response.status_code == taken_response.status_code == 302
    assert new_response["Location"] == taken_response["Location"]


# ---------------------------------------------------------------- CSP (10c)


def _assert_strict_csp(response):
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_a_facility_page_has_a_content_security_policy(client):
    facility, user, _ = accepted_facility(devices=1)
    client.force_login(user)
    response = client.get(reverse("facilities:home", args=[facility.pk]))
    assert response.status_code == 200
    _assert_strict_csp(response)


def test_the_public_list_has_a_content_security_policy(client):
    response = client.get(reverse("public:list"))
    assert response.status_code == 200
    _assert_strict_csp(response)


def test_an_admin_page_has_a_content_security_policy(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    _assert_strict_csp(response)


def test_html_pages_carry_no_inline_script_or_style(admin_client):
    facility, user, _ = accepted_facility(devices=1)
    client = Client()
    client.force_login(user)
    pages = [client.get(reverse(name, args=args)) for name, args in [
        ("facilities:home", [facility.pk]), ("subsidies:claims", [facility.pk]),
        ("public:list", []), ("dashboard", [])]]
    pages += [admin_client.get(reverse("admin:index")),
              admin_client.get(reverse("admin:subsidies_claim_changelist"))]
    for response in pages:
        body = response.content.decode()
        assert response.status_code == 200
        assert "<script>" not in body and "<style" not in body and " style=" not in body


def test_a_receipt_download_keeps_its_own_stricter_policy(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from eligibility.models import Program
    from subsidies import services as subsidy_services
    from tests.factories import make_staff
    from tests.samples import PDF

    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    claim = subsidy_services.start_claim(user=user, facility=facility,
                                         program=Program.objects.get(code="device-sejutsu"))
    document = subsidy_services.attach_document(
        claim=claim, item=None, kind="receipt", upload=SimpleUploadedFile("r.pdf", PDF),
        user=user)
    client.force_login(user)
    response = client.get(reverse("subsidies:document",
                                  args=[facility.pk, claim.pk, document.pk]))
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


# ---------------------------------------------------------------- CSV formulas (10d)


def test_formulas_in_the_public_csv_are_written_as_text(client):
    names = ['=HYPERLINK("http://evil.example/","クリック")', "+1+2", "-3", "@SUM(A1)",
             "\t=1", "\r=1", "あおば整骨院"]
    for name in names:
        facility, user, _ = accepted_facility(kind="judo")
        facility.name = name
        facility.save()
        services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    call_command("build_public_list")
    response = client.get(reverse("public:csv"))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    written = {row[1] for row in csv.reader(io.StringIO(text, newline=""))}
    assert {"'" + name for name in names[:-1]} | {"あおば整骨院"} <= written
    assert not any(cell[:1] in "=+-@\t\r" for row in csv.reader(io.StringIO(text, newline=""))
                   for cell in row if cell)


# ---------------------------------------------------------------- e-mail text (10e)


def test_plain_text_emails_are_not_html_escaped():
    facility = FacilityFactory(name="O'Neil & <Sons> 整骨院")
    subject, body = render_email("staff_linked", {
        "facility": facility, "staff": UserFactory(email="a'b&c@example.jp")})
    assert "O'Neil & <Sons> 整骨院" in body
    assert "a'b&c@example.jp" in body
    assert "&#x27;" not in body + subject and "&amp;" not in body and "&lt;" not in body


# ---------------------------------------------------------------- credentials (10f)


def test_two_posts_of_the_same_download_form_issue_the_credentials_once(client):
    facility, user, _ = accepted_facility(devices=1)
    account = DeviceAccount.objects.get(facility=facility)
    client.force_login(user)
    detail = client.get(reverse("facilities:account_detail", args=[facility.pk, account.pk]))
    assert 'name="issue_count" value="0"' in detail.content.decode()
    url = reverse("facilities:account_settings_pdf", args=[facility.pk, account.pk])
    first = client.post(url, {"issue_count": "0"})
    second = client.post(url, {"issue_count": "0"})
    account.refresh_from_db()
    assert account.issue_count == 1
    assert first["Content-Type"] == "application/pdf"
    assert second.status_code == 302
    page = client.get(second["Location"]).content.decode()
    assert "発行されました" in page and "ボタンをあらためて押してください" in page
    # The button pressed again (a fresh form) issues new ones.
    assert client.post(url, {"issue_count": "1"})["Content-Type"] == "application/pdf"
    account.refresh_from_db()
    assert account.issue_count == 2


# ---------------------------------------------------------------- client address (10g)


@pytest.mark.parametrize("proxies, expected", [(0, "10.0.0.9"), (1, "203.0.113.7")])
def test_the_client_address_follows_the_trusted_proxy_count(settings, proxies, expected):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9",
                                   HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    assert client_ip(request) == expected == get_adapter().get_client_ip(request)


@pytest.mark.parametrize("proxies, expected", [(0, "10.0.0.9"), (1, "203.0.113.7")])
def test_the_link_attempt_log_records_the_address_the_rate_limits_see(client, settings,
                                                                      proxies, expected):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    user = UserFactory()
    client.force_login(user)
    client.post(reverse("facilities:link"), {"code": "0110113719", "account_last4": "0000"},
                REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert LinkAttempt.objects.get(user=user).ip_address == expected


# ---------------------------------------------------------------- shared cache (10h)


@pytest.mark.parametrize("backend", ["django.core.cache.backends.locmem.LocMemCache",
                                     "django.core.cache.backends.dummy.DummyCache"])
def test_deploy_check_warns_of_a_process_local_cache(settings, backend):
    settings.CACHES = {"default": {"BACKEND": backend}}
    found = [m for m in run_checks(include_deployment_checks=True) if m.id == "portal.W001"]
    assert len(found) == 1 and "CACHE_URL" in found[0].hint
    assert not [m for m in run_checks() if m.id == "portal.W001"]  # only with --deploy


def test_deploy_check_accepts_a_shared_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/1"}}
    assert not [m for m in run_checks(include_deployment_checks=True)
                if m.id == "portal.W001"]


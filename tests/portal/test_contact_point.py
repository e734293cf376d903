"""No dead ends: the 問い合わせ先 kept in the admin (one row, with its history) and the portal's
address (PORTAL_BASE_URL, checked for production) reach every confirmation page, e-mail and
PDF through one include each; the 説明会 page is linked from where a 施術所 looks, and its
example date is one the form accepts; the demo sets what a newcomer needs and says where it
is served (docs/decisions.md D8b.3)."""

import io
import re
import uuid
from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from portal import roles
from portal.contact import normalise_postcode, postal_address, starts_with_prefecture
from portal.demo import DEMO_CONTACT, contact_point
from portal.models import ContactPoint
from tests.factories import FacilityFactory, login_admin, make_admin, make_staff

pytestmark = pytest.mark.django_db

BASE = "https://portal.example.jp"
ADD = "/admin/portal/contactpoint/add/"
VALID = {"name": "問い合わせ窓口", "phone": "0120-111-222", "hours": "平日 9:00〜17:00",
         "postcode": "〒１００－８９１６", "address": "東京都千代田区霞が関1-2-2",
         "url": "https://portal.example.jp/contact/"}


def flat(text: str) -> str:
    """PDF text without the spaces and line breaks the extraction puts between glyphs."""
    return re.sub(r"\s+", "", text)


def pdf_text(content: bytes) -> str:
    return flat("".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages))


# ---------------------------------------------------------------- the record and its admin


@pytest.mark.parametrize(("typed", "kept"), [("1008916", "100-8916"), ("〒100-8916", "100-8916"),
                                             ("１００ー８９１６", "100-8916"), ("100-891", None),
                                             ("abcdefg", None), ("", None)])
def test_a_postcode_is_read_in_any_width_and_written_123_4567(typed, kept):
    assert normalise_postcode(typed) == kept


def test_an_address_is_written_with_its_postcode_and_prefecture():
    assert postal_address(prefecture="東京都", address="港区芝公園1-1-1",
                          postcode="1058511") == "〒105-8511 東京都港区芝公園1-1-1"
    assert postal_address(prefecture="東京都", address="東京都港区") == "東京都港区"
    assert starts_with_prefecture("北海道札幌市") and not starts_with_prefecture("札幌市")


def test_the_system_administrator_keeps_one_contact_point_with_its_history(client):
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    response = client.post(ADD, VALID)
    assert response.status_code == 302, response.content.decode()
    contact = ContactPoint.objects.get()
    assert contact.pk == 1 and contact.postcode == "100-8916"
    assert contact.postal_address == "〒100-8916 東京都千代田区霞が関1-2-2"
    assert client.get(ADD).status_code == 403  # one row: changed, never added again
    change = reverse("admin:portal_contactpoint_change", args=[1])
    assert client.post(change, {**VALID, "phone": "03-0000-1111"}).status_code == 302
    assert ContactPoint.objects.get().phone == "03-0000-1111"
    assert contact.history.count() == 2


def test_a_wrong_postcode_or_address_is_refused_next_to_the_field_and_kept(client):
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    response = client.post(ADD, {**VALID, "postcode": "100-891", "address": "千代田区霞が関"})
    body = response.content.decode()
    assert response.status_code == 200 and not ContactPoint.objects.exists()
    assert "郵便番号は数字7桁で入力してください" in body and "住所は都道府県から入力してください" in body
    assert 'value="100-891"' in body and 'value="千代田区霞が関"' in body


def test_other_administrators_read_the_contact_point_but_do_not_change_it(client):
    contact = contact_point()
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    change = reverse("admin:portal_contactpoint_change", args=[contact.pk])
    page = client.get(change).content.decode()
    assert DEMO_CONTACT["phone"] in page and 'name="phone"' not in page
    assert client.post(change, {**VALID, "phone": "03-9999-9999"}).status_code == 403
    assert ContactPoint.objects.get().phone == DEMO_CONTACT["phone"]


# ---------------------------------------------------------------- the portal's address


@pytest.mark.parametrize(("base", "found"), [("", "portal.E020"), ("http://portal.example.jp",
                                                                   "portal.W020"), (BASE, None)])
def test_production_is_told_when_the_portal_address_is_missing_or_not_https(base, found):
    with override_settings(PORTAL_BASE_URL=base):
        ids = {m.id for m in run_checks(include_deployment_checks=True)} & {
            "portal.E020", "portal.W020"}
        assert ids == ({found} if found else set())
        assert not {m.id for m in run_checks()} & {"portal.E020", "portal.W020"}  # deploy only


def test_production_is_told_when_the_portal_address_was_guessed():
    with override_settings(PORTAL_BASE_URL=BASE, PORTAL_BASE_URL_GUESSED=True):
        assert "portal.W021" in {m.id for m in run_checks(include_deployment_checks=True)}


# ---------------------------------------------------------------- e-mails


@override_settings(PORTAL_BASE_URL=BASE)
def test_every_email_ends_with_the_portal_address_and_where_to_ask(client,
                                                                   django_capture_on_commit_callbacks):
    contact_point()
    facility = FacilityFactory(kind="judo")
    from obligation import services as obligation_services
    from obligation.rules import Practitioner

    with django_capture_on_commit_callbacks(execute=True):
        obligation_services.declare_exemption(
            user=make_staff(facility), facility=facility, token=uuid.uuid4(),
            data=obligation_services.DeclarationInput(
                reason="1-1", contact_name="担当 花子", practitioners=(
                    Practitioner(birth_date=date(1950, 1, 1), full_time=True, name="柔整 一郎"),)))
    client.post("/accounts/password/reset/", {"email": facility.memberships.get().user.email})
    assert len(mail.outbox) >= 2
    for message in mail.outbox:  # the portal's own and allauth's alike
        assert f"{BASE}/" in message.body, message.subject
        for expected in (DEMO_CONTACT["name"], DEMO_CONTACT["phone"], DEMO_CONTACT["hours"],
                         "〒100-8916 東京都千代田区霞が関1-2-2"):
            assert expected in message.body, (message.subject, expected)
        assert message.body.count("お問い合わせ先") == 1


# ---------------------------------------------------------------- pages


def session_form(**changes) -> dict:
    day = timezone.localdate() + timedelta(days=14)
    return {"token": str(uuid.uuid4()), "organisation": "東京都柔道整復師会",
            "address": "東京都千代田区霞が関1-2-2", "contact_furigana": "やまだ はなこ",
            "contact_name": "山田 花子", "phone": "03-1111-2222", "email": "kai@example.jp",
            "preferred_date": day.isoformat(), "preferred_start": "14:00",
            "preferred_end": "15:30", "attendees": "40", "occupation": "柔道整復師",
            **changes}


@override_settings(PORTAL_BASE_URL=BASE)
def test_the_confirmation_and_done_pages_say_what_happens_next_and_where_to_ask(client):
    contact_point()
    url = reverse("obligation:session_apply")
    confirm = client.post(url, session_form()).content.decode()
    assert "このあとの流れ" in confirm and "開催日時と参加方法" in confirm
    assert DEMO_CONTACT["phone"] in confirm and f'href="{BASE}/"' in confirm
    done = client.post(url, {**session_form(), "submit": "1"})
    page = client.get(done.url).content.decode()
    assert "お問い合わせ先" in page and "〒100-8916 東京都千代田区霞が関1-2-2" in page


def test_a_facility_confirmation_page_says_what_happens_next(client):
    contact_point()
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    data = {"contact_name": "担当", "founder_name": "開設", "phone": "03-1111-2222",
            "email": "a@example.jp", "staff_count": "2", "device_count": "2",
            "token": str(uuid.uuid4())}
    url = reverse("facilities:application_start", args=[facility.pk])
    page = client.post(url, data).content.decode()
    assert "内容の確認" in page, page
    assert "このあとの流れ" in page and "審査の結果はメールでお知らせします" in page
    assert DEMO_CONTACT["phone"] in page


def test_without_a_contact_point_pages_still_give_the_portal_address(client):
    page = client.post(reverse("obligation:session_apply"), session_form()).content.decode()
    assert "お問い合わせ先" in page and "127.0.0.1:8000/" in page


def test_the_session_page_is_linked_from_the_top_and_a_sejutsu_home():
    from django.test import Client

    url = reverse("obligation:session_apply")
    assert f'href="{url}"' in Client().get("/").content.decode()
    facility = FacilityFactory(kind="judo")
    client = Client()
    client.force_login(make_staff(facility))
    for page in (reverse("facilities:home", args=[facility.pk]),
                 reverse("obligation:overview", args=[facility.pk])):
        assert f'href="{url}"' in client.get(page).content.decode(), page


def test_the_session_date_example_is_a_date_the_form_accepts(client):
    from obligation.forms import SessionRequestForm, session_date_example

    example = session_date_example()
    assert example > timezone.localdate()
    page = client.get(reverse("obligation:session_apply")).content.decode()
    assert f"例: {example.isoformat()}" in page and "2026-02-10" not in page
    for typed in (example.isoformat(), re.search(r"または (\S+?日)", page).group(1)):
        form = SessionRequestForm(session_form(preferred_date=typed))
        assert form.is_valid(), (typed, form.errors)
        assert form.cleaned_data["preferred_date"] == example


# ---------------------------------------------------------------- PDFs


@override_settings(PORTAL_BASE_URL=BASE)
def test_the_payment_notice_says_where_to_ask_and_writes_the_address_with_its_prefecture(client):
    from tests.payouts.helpers import with_account

    contact_point()
    facility = FacilityFactory(kind="clinic", prefecture="13", address="港区芝公園1-1-1")
    staff = make_staff(facility)
    with_account(facility, user=staff)
    from tests.payouts.test_views import notice_url, with_result

    client.force_login(staff)
    line = with_result(facility, staff, "0")
    text = pdf_text(client.get(notice_url(facility, line)).content)
    for expected in ("東京都港区芝公園1-1-1", "お問い合わせ先", DEMO_CONTACT["phone"],
                     "〒100-8916東京都千代田区霞が関1-2-2", f"{BASE}/", "振込先口座・支払状況"):
        assert flat(expected) in text, expected


# ---------------------------------------------------------------- the demo


def test_the_demo_sets_the_consignor_and_contact_and_prints_what_to_try(monkeypatch):
    from facilities.models import Facility
    from payouts.models import Consignor

    monkeypatch.setenv("PORT_BIND", "0.0.0.0:8123")
    out = io.StringIO()
    with override_settings(PORTAL_BASE_URL=""):
        call_command("load_demo", stdout=out)
    text = out.getvalue()
    assert Consignor.objects.get().account_number and ContactPoint.objects.get()
    unlinked = Facility.objects.filter(memberships__isnull=True)
    assert unlinked.exists()
    for facility in unlinked:
        assert re.search(rf"{re.escape(facility.code)}\s+口座番号下4桁: {facility.account_last4}\b",
                         text), facility.code
    for facility in Facility.objects.filter(memberships__isnull=False):
        assert f"{facility.code} " not in text
    assert Consignor.objects.get().account_number not in text  # no full account number
    assert "ポータル: http://127.0.0.1:8123/  管理画面: http://127.0.0.1:8123/admin/" in text
    out = io.StringIO()
    with override_settings(PORTAL_BASE_URL=BASE):
        call_command("load_demo", stdout=out)
    assert f"ポータル: {BASE}/  管理画面: {BASE}/admin/" in out.getvalue()
    assert ContactPoint.objects.count() == Consignor.objects.count() == 1

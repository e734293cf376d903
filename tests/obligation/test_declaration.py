"""The facility's やむを得ない事由の申告 through its pages (docs/domain.md §7): form → confirmation
with the rule's explanation → submit; a refusal keeps everything typed and stores nothing."""

import html
import re
import uuid
from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from facilities.models import Activity
from obligation.models import DeclarationState, ExemptionDeclaration
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def declaration_form(reason="1-1", practitioners=(), planned="", token=None, rows=5):
    data = {"token": str(token or uuid.uuid4()), "reason": reason, "contact_name": "担当 花子",
            "phone": "03-1111-2222", "planned_date": planned,
            "practitioners-TOTAL_FORMS": str(rows), "practitioners-INITIAL_FORMS": "0",
            "practitioners-MIN_NUM_FORMS": "0", "practitioners-MAX_NUM_FORMS": "30"}
    for i, (name, birth, full_time, impaired) in enumerate(practitioners):
        data[f"practitioners-{i}-name"] = name
        data[f"practitioners-{i}-birth_date"] = birth
        if full_time:
            data[f"practitioners-{i}-full_time"] = "on"
        if impaired:
            data[f"practitioners-{i}-visually_impaired"] = "on"
    return data


def hidden_fields(page: str) -> dict:
    """What the confirmation page posts back (its hidden inputs)."""
    return {html.unescape(k): html.unescape(v) for k, v in HIDDEN.findall(page)}


@pytest.fixture
def judo(client):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    client.force_login(staff)
    return facility


def _url(facility):
    return reverse("obligation:exemption", args=[facility.pk])


def test_a_refused_declaration_keeps_what_was_typed_and_stores_nothing(client, judo):
    data = declaration_form(practitioners=[("柔整 一郎", "1954-04-02", True, False),
                                           ("柔整 二郎", "昭和20年1月1日", False, False)])
    response = client.post(_url(judo), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in page and "70歳未満です" in page
    assert 'value="柔整 一郎"' in page and 'value="1954-04-02"' in page
    assert 'value="柔整 二郎"' in page and 'value="昭和20年1月1日"' in page
    assert 'value="担当 花子"' in page
    assert not ExemptionDeclaration.objects.exists()
    # Straight to the final button (no confirmation page): refused the same way.
    response = client.post(_url(judo), {**data, "submit": "1"})
    assert response.status_code == 200 and "70歳未満です" in response.content.decode()
    assert 'value="柔整 一郎"' in response.content.decode()
    assert not ExemptionDeclaration.objects.exists() and not mail.outbox


def test_an_accepted_declaration_goes_through_the_confirmation_page(
        client, judo, django_capture_on_commit_callbacks):
    data = declaration_form(practitioners=[("柔整 一郎", "昭和29年4月1日", True, False)])
    confirm = client.post(_url(judo), data).content.decode()
    assert "内容の確認" in confirm and "令和6年4月時点で70歳以上です" in confirm
    assert not ExemptionDeclaration.objects.exists()  # nothing before the final button
    posted = hidden_fields(confirm)
    assert posted["practitioners-0-name"] == "柔整 一郎"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(judo), {**posted, "submit": "1"})
    assert response.status_code == 302
    declaration = ExemptionDeclaration.objects.get(facility=judo)
    assert declaration.state == DeclarationState.DECLARED
    assert declaration.practitioners.get().birth_date.isoformat() == "1954-04-01"
    assert "70歳以上" in declaration.determination
    assert Activity.objects.filter(facility=judo, verb="exemption_declared").exists()
    assert any(declaration.receipt_number in m.subject for m in mail.outbox)
    history = client.get(reverse("facilities:history", args=[judo.pk])).content.decode()
    assert "やむを得ない事由の申告（事由1-1）を受け付けました" in history
    page = client.get(_url(judo)).content.decode()
    assert declaration.receipt_number in page and "申告済み（確認をお待ちください）" in page


def test_the_edit_button_brings_back_the_form_with_everything(client, judo):
    data = declaration_form(practitioners=[("柔整 一郎", "1950-01-01", True, False)])
    posted = hidden_fields(client.post(_url(judo), data).content.decode())
    page = client.post(_url(judo), {**posted, "edit": "1"}).content.decode()
    assert 'value="柔整 一郎"' in page and 'value="1950-01-01"' in page
    assert "確認画面へ" in page and not ExemptionDeclaration.objects.exists()


@pytest.mark.parametrize(("planned", "accepted"), [("2025-12-03", False), ("2025-12-02", True),
                                                   ("令和7年12月2日", True)])
def test_reason_2_is_accepted_up_to_2025_12_02(client, judo, planned, accepted):
    data = declaration_form(reason="2", planned=planned)
    page = client.post(_url(judo), data).content.decode()
    if not accepted:
        assert "令和7年12月2日より後です" in page and 'role="alert"' in page
        assert f'value="{planned}"' in page
        client.post(_url(judo), {**data, "submit": "1"})
        assert not ExemptionDeclaration.objects.exists()
    else:
        assert "内容の確認" in page
        assert client.post(_url(judo), {**data, "submit": "1"}).status_code == 302
        declaration = ExemptionDeclaration.objects.get()
        assert declaration.planned_date.isoformat() == "2025-12-02"


def test_reason_2_without_a_planned_date_is_a_field_error(client, judo):
    page = client.post(_url(judo), declaration_form(reason="2")).content.decode()
    assert "事由2・3では予定日を入力してください" in page


def test_the_same_submission_twice_makes_one_declaration(client, judo):
    data = {**declaration_form(reason="3", planned="2025-06-30"), "submit": "1"}
    assert client.post(_url(judo), data).status_code == 302
    assert client.post(_url(judo), data).status_code == 302
    assert ExemptionDeclaration.objects.filter(facility=judo).count() == 1


def test_a_second_declaration_while_one_is_live_is_refused(client, judo):
    client.post(_url(judo), {**declaration_form(reason="3", planned="2025-06-30"),
                             "submit": "1"})
    page = client.get(_url(judo)).content.decode()
    assert "先にその申告を取り下げてください" in page and "確認画面へ" not in page
    for step in ({}, {"submit": "1"}):
        response = client.post(_url(judo), {**declaration_form(reason="2",
                                                                planned="2025-06-30"), **step})
        assert "先にその申告を取り下げてください" in response.content.decode()
    assert ExemptionDeclaration.objects.filter(facility=judo).count() == 1


def test_one_one_is_not_offered_to_ahaki_and_one_two_counts_visual_impairment(client):
    facility = FacilityFactory(kind="acupuncture")
    client.force_login(make_staff(facility))
    page = client.get(_url(facility)).content.decode()
    assert 'value="1-2"' in page and 'value="1-1"' not in page
    data = declaration_form(reason="1-2", practitioners=[("鍼 花子", "1980-05-05", True, True)])
    assert "視覚障害者です" in client.post(_url(facility), data).content.decode()
    assert client.post(_url(facility), {**data, "submit": "1"}).status_code == 302
    assert ExemptionDeclaration.objects.get(facility=facility).reason == "1-2"


def test_no_full_time_practitioner_is_refused(client, judo):
    data = declaration_form(practitioners=[("柔整 一郎", "1940-01-01", False, False)])
    page = client.post(_url(judo), data).content.decode()
    assert "常勤の施術者が一人もいません" in page and not ExemptionDeclaration.objects.exists()


def test_a_half_filled_row_is_a_field_error_and_blank_rows_are_ignored(client, judo):
    data = declaration_form(practitioners=[("柔整 一郎", "", True, False)])
    page = client.post(_url(judo), data).content.decode()
    assert "生年月日を入力してください" in page and "1人目の生年月日" in page


def test_more_rows_keep_what_was_typed(client, judo):
    data = declaration_form(practitioners=[("柔整 一郎", "1950-01-01", True, False)])
    page = client.post(_url(judo), {**data, "more_rows": "1"}).content.decode()
    assert "10人目の施術者" in page and 'value="柔整 一郎"' in page


def test_a_medical_facility_gets_a_message_and_no_form(client):
    clinic = FacilityFactory(kind="clinic")
    client.force_login(make_staff(clinic))
    page = client.get(_url(clinic)).content.decode()
    assert "施術所のみが行えます" in page and "確認画面へ" not in page
    client.post(_url(clinic), {**declaration_form(reason="2", planned="2025-06-30"),
                               "submit": "1"})
    assert not ExemptionDeclaration.objects.exists()


def test_withdraw_needs_the_confirmation_page_and_only_the_facility_staff(
        client, judo, django_capture_on_commit_callbacks):
    client.post(_url(judo), {**declaration_form(reason="3", planned="2025-06-30"),
                             "submit": "1"})
    declaration = ExemptionDeclaration.objects.get()
    url = reverse("obligation:withdraw_exemption", args=[judo.pk, declaration.pk])
    page = client.get(url).content.decode()
    assert "取り下げる" in page
    # Another facility's staff: not found, under either facility's URL.
    other = FacilityFactory(kind="judo")
    intruder = make_staff(other)
    client.force_login(intruder)
    assert client.post(url).status_code == 404
    assert client.post(reverse("obligation:withdraw_exemption",
                               args=[other.pk, declaration.pk])).status_code == 404
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.DECLARED
    client.force_login(judo.memberships.first().user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.WITHDRAWN
    assert any("取り下げました" in m.subject for m in mail.outbox)
    # Withdrawn: a new declaration may be made.
    assert "確認画面へ" in client.get(_url(judo)).content.decode()
    again = client.get(url).content.decode()
    assert "はできません" in again and "<form" not in again.split("<main")[1]


def test_the_facility_reads_its_compliance_status(client, judo):
    from django.utils import timezone

    from obligation.models import ComplianceState, ComplianceStatus

    overview = reverse("obligation:overview", args=[judo.pk])
    assert "まだ算定されていません" in client.get(overview).content.decode()
    ComplianceStatus.objects.create(
        facility=judo, prefecture=judo.prefecture, state=ComplianceState.EXEMPT,
        exemption_reason="2", valid_until=date(2025, 11, 30),
        basis="事由2の申告が受理されています（予定日 令和7年11月30日）。",
        computed_at=timezone.now())
    for url in (overview, _url(judo)):
        page = client.get(url).content.decode()
        assert "やむを得ない事由あり" in page and "令和7年11月30日" in page
        assert "事由2の申告が受理されています" in page
    home = client.get(reverse("facilities:home", args=[judo.pk])).content.decode()
    assert overview in home and _url(judo) in home


def test_a_medical_facility_home_has_no_obligation_links(client):
    clinic = FacilityFactory(kind="clinic")
    client.force_login(make_staff(clinic))
    home = client.get(reverse("facilities:home", args=[clinic.pk])).content.decode()
    assert "/obligation/" not in home


def test_a_returned_declaration_shows_its_reason_and_the_mail_says_it(
        client, judo, django_capture_on_commit_callbacks):
    from obligation import services
    from portal import roles
    from tests.factories import make_admin

    client.post(_url(judo), {**declaration_form(reason="3", planned="2025-06-30"),
                             "submit": "1"})
    declaration = ExemptionDeclaration.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.return_declaration(declaration=declaration, actor=make_admin(roles.REVIEWER),
                                    reason="予定日の根拠を添えてください")
    sent = mail.outbox[-1]
    assert "差戻し" in sent.subject and "予定日の根拠を添えてください" in sent.body
    page = client.get(_url(judo)).content.decode()
    assert "差戻し（内容をご確認ください）" in page and "予定日の根拠を添えてください" in page
    assert "確認画面へ" in page  # a returned declaration is not live: a new one may be made

"""説明会（Web）参加申込書 (seed 004, 別紙4): a public page, no account; confirmation page,
then the request with a 受付番号 and an e-mail to the applicant. Bad input gives field
errors, never a 500; the final submit is rate limited per address."""

import uuid
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from obligation import services
from obligation.models import SessionRequest, SessionState
from tests.factories import make_admin

pytestmark = pytest.mark.django_db

URL = "/obligation/sessions/apply/"


def session_form(**changes) -> dict:
    day = timezone.localdate() + timedelta(days=14)
    data = {"token": str(uuid.uuid4()), "organisation": "東京都柔道整復師会",
            "address": "東京都千代田区霞が関1-2-2", "contact_furigana": "やまだ はなこ",
            "contact_name": "山田 花子", "phone": "03-1111-2222", "email": "kai@example.jp",
            "preferred_date": day.isoformat(), "preferred_start": "14:00",
            "preferred_end": "15:30", "attendees": "40", "occupation": "柔道整復師",
            "topics": "義務化とやむを得ない事由について", "notes": "Zoomを希望します"}
    data.update(changes)
    return data


def test_the_url_is_public_and_in_the_obligation_namespace(client):
    assert reverse("obligation:session_apply") == URL
    page = client.get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Zoom" in text and "Teams" in text and "Webex" in text


def test_the_public_flow_sends_the_applicant_a_receipt(client, django_capture_on_commit_callbacks):
    data = session_form()
    confirm = client.post(URL, data).content.decode()
    assert "内容の確認" in confirm and "東京都柔道整復師会" in confirm
    assert not SessionRequest.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(URL, {**data, "submit": "1"})
        client.post(URL, {**data, "submit": "1"})  # the button pressed twice
    assert done.status_code == 302
    session = SessionRequest.objects.get()
    assert session.receipt_number.startswith("W") and session.state == SessionState.REQUESTED
    assert (session.contact_furigana, session.attendees) == ("やまだ はなこ", 40)
    page = client.get(done.url).content.decode()
    assert session.receipt_number in page
    sent = [m for m in mail.outbox if session.receipt_number in m.subject]
    assert len(sent) == 1 and sent[0].to == ["kai@example.jp"]


def test_the_edit_button_keeps_everything(client):
    data = session_form()
    page = client.post(URL, {**data, "edit": "1"}).content.decode()
    assert 'value="東京都柔道整復師会"' in page and 'value="やまだ はなこ"' in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"preferred_start": "15:00", "preferred_end": "14:00"}, "preferred_end",
     "終了時刻は開始時刻より後にしてください"),
    ({"preferred_start": "15:00", "preferred_end": "15:00"}, "preferred_end",
     "終了時刻は開始時刻より後にしてください"),
    ({"preferred_date": "2020-01-01"}, "preferred_date", "までの日付を入力してください"),
    ({"contact_furigana": "ヤマダ ハナコ"}, "contact_furigana", "ひらがなで入力してください"),
    ({"contact_furigana": "yamada hanako"}, "contact_furigana", "ひらがなで入力してください"),
    ({"contact_furigana": "ﾔﾏﾀﾞ"}, "contact_furigana", "ひらがなで入力してください"),
    ({"attendees": "0"}, "attendees", "1以上"),
    ({"attendees": "-3"}, "attendees", "1以上"),
    ({"attendees": "四十"}, "attendees", "数字で入力してください"),
    ({"attendees": "1001"}, "attendees", "1,000以下"),
    ({"topics": "あ" * 10_000}, "topics", "2000"),
    ({"organisation": "x" * 10_000}, "organisation", "200"),
    ({"email": "not-an-address"}, "email", "半角の英数字と記号で"),
    ({"email": "たろう＠ｅｘａｍｐｌｅ．ｊｐ"}, "email", "半角"),
    ({"phone": "12345"}, "phone", "電話番号は0から始まる"),
    ({"preferred_start": "25:00"}, "preferred_start", ""),
])
def test_bad_input_is_a_field_error(client, changes, field, message):
    for step in ({}, {"submit": "1"}):
        response = client.post(URL, {**session_form(**changes), **step})
        assert response.status_code == 200
        page = response.content.decode()
        assert f'id="id_{field}_error"' in page and message in page
    assert not SessionRequest.objects.exists() and not mail.outbox


def test_full_width_input_is_read(client):
    data = session_form(phone="０３－１１１１－２２２２", attendees="４０人",
                        preferred_start="１４：００", preferred_end="１５：３０",
                        email="ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ")
    assert client.post(URL, {**data, "submit": "1"}).status_code == 302
    session = SessionRequest.objects.get()
    assert (session.phone, session.attendees, session.preferred_start.hour, session.email) == (
        "03-1111-2222", 40, 14, "taro@example.jp")


def test_the_final_submit_is_rate_limited_per_address(client, settings):
    settings.RATE_LIMITS = {"session_request": "2/h"}
    for _ in range(2):
        assert client.post(URL, {**session_form(), "submit": "1"}).status_code == 302
    limited = client.post(URL, {**session_form(), "submit": "1"})
    assert limited.status_code == 429
    assert "短時間に多くの申込" in limited.content.decode()
    assert 'value="東京都柔道整復師会"' in limited.content.decode()  # nothing lost
    assert SessionRequest.objects.count() == 2


def test_scheduled_and_cancelled_mails_tell_the_applicant(client,
                                                           django_capture_on_commit_callbacks):
    from portal import roles

    client.post(URL, {**session_form(), "submit": "1"})
    session = SessionRequest.objects.get()
    admin = make_admin(roles.REVIEWER)
    start = timezone.make_aware(datetime(2026, 2, 10, 14, 0))
    with django_capture_on_commit_callbacks(execute=True):
        services.schedule_session(session=session, actor=admin, start=start,
                                  end=start + timedelta(hours=1),
                                  meeting_info="https://zoom.example.jp/j/123")
    scheduled = mail.outbox[-1]
    assert "日程が決まりました" in scheduled.subject
    assert "令和8年2月10日 14:00" in scheduled.body and "zoom.example.jp" in scheduled.body
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_session(session=session, actor=admin, reason="講師の都合のため")
    cancelled = mail.outbox[-1]
    assert "取り消しました" in cancelled.subject and "講師の都合のため" in cancelled.body

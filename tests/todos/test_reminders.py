"""The weekly reminder: only to users with something due within 14 days, once a week, never
to one who turned it off; its one-click unsubscribe link works without log-in and cannot be
made for another user; its beat entry."""

import json
import re
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core import mail, signing
from django.test import override_settings
from django.urls import reverse

from eligibility.models import Program
from tests.factories import FacilityFactory, make_staff
from todos import services
from todos.models import ReminderPreference, ReminderSent

pytestmark = pytest.mark.django_db

MONDAY = date(2025, 6, 16)


@pytest.fixture
def due_in_10_days():
    Program.objects.filter(code="cooperation-2025").update(
        report_deadline=MONDAY + timedelta(days=10))


def _send(capture, today=MONDAY):
    with capture(execute=True):
        return services.send_reminders(today=today)


def _reminders_to(user):
    return [m for m in mail.outbox if user.email in m.to and "期限が近い手続き" in m.subject]


@override_settings(PORTAL_BASE_URL="https://portal.example.jp")
def test_a_user_with_a_report_due_in_10_days_is_reminded_once_a_week(
        due_in_10_days, django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo", name="あおば整骨院")
    user = make_staff(facility)
    assert _send(django_capture_on_commit_callbacks) == 1
    [message] = _reminders_to(user)
    assert message.subject == "【オンライン資格確認ポータル】期限が近い手続きがあります（2件）"
    assert "■ 協力金（施術所・2025年）の取組の実施報告\n" in message.body
    assert "施設: あおば整骨院" in message.body and "期限: 令和7年6月26日" in message.body
    assert "オンライン資格確認ポータル" in message.body
    # Links are the portal's configured address, never a host and port.
    assert "https://portal.example.jp/dashboard/" in message.body
    # Three in the text, and the portal's address at the end of every e-mail (no 問い合わせ先 set).
    assert re.findall(r"https?://[^/\s]+", message.body) == ["https://portal.example.jp"] * 4
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.strip("<>") in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Again the same week (Friday): nothing; the next week: again.
    assert _send(django_capture_on_commit_callbacks, MONDAY + timedelta(days=4)) == 0
    assert len(_reminders_to(user)) == 1
    assert _send(django_capture_on_commit_callbacks, MONDAY + timedelta(days=7)) == 1
    assert ReminderSent.objects.filter(user=user).count() == 2


def test_nothing_due_within_14_days_sends_nothing(django_capture_on_commit_callbacks):
    Program.objects.filter(code="cooperation-2025").update(
        report_deadline=MONDAY + timedelta(days=15))
    user = make_staff(FacilityFactory(kind="judo"))  # report and bank account open, not due
    assert _send(django_capture_on_commit_callbacks) == 0
    assert _reminders_to(user) == [] and not ReminderSent.objects.exists()


def test_a_reminder_goes_14_days_before_the_end_of_the_period(
        django_capture_on_commit_callbacks):
    """No 報告期限 set: the deadline is the period's end in the parameters in force
    (2025-07-31), reminded of from 14 days before; the obligation's date, passed long ago,
    is not."""
    user = make_staff(FacilityFactory(kind="judo"))
    assert _send(django_capture_on_commit_callbacks, date(2025, 7, 16)) == 0  # 15 days
    assert _send(django_capture_on_commit_callbacks, date(2025, 7, 17)) == 1  # 14 days
    [message] = _reminders_to(user)
    assert "期限: 令和7年7月31日" in message.body
    assert "協力金（施術所・2025年）の取組の実施報告" in message.body
    assert "期限なし" not in message.body


def test_no_reminder_for_a_program_whose_period_has_ended(django_capture_on_commit_callbacks):
    user = make_staff(FacilityFactory(kind="judo"))  # the obligation's date is past too
    assert _send(django_capture_on_commit_callbacks, date(2025, 8, 4)) == 0
    assert _reminders_to(user) == [] and not ReminderSent.objects.exists()


def test_an_unsubscribed_user_gets_nothing(due_in_10_days, django_capture_on_commit_callbacks):
    user = make_staff(FacilityFactory(kind="judo"))
    other = make_staff(FacilityFactory(kind="judo"))
    services.set_reminder_preference(user=user, receives=False)
    assert _send(django_capture_on_commit_callbacks) == 1
    assert _reminders_to(user) == [] and len(_reminders_to(other)) == 1


def test_the_unsubscribe_link_works_without_log_in(client, due_in_10_days):
    user = make_staff(FacilityFactory(kind="judo"))
    url = reverse("todos:unsubscribe", args=[services.unsubscribe_token(user)])
    page = client.get(url)
    assert page.status_code == 200
    assert "お知らせメールを停止する" in page.content.decode()
    assert services.receives_reminders(user)  # a link followed by a mail scanner stops nothing
    response = client.post(url)  # the page's button, or the mail program's one-click POST
    assert response.status_code == 200
    assert "お知らせメールを停止しました" in response.content.decode()
    assert not services.receives_reminders(user)
    assert services.send_reminders(today=MONDAY) == 0


def test_the_unsubscribe_link_cannot_be_forged_for_another_user(client):
    me = make_staff(FacilityFactory(kind="judo"))
    victim = make_staff(FacilityFactory(kind="judo"))
    token = services.unsubscribe_token(me)
    value, signature = token.rsplit(":", 1)
    victim_payload = signing.b64_encode(json.dumps({"user": victim.pk}).encode()).decode()
    forged = [
        signing.dumps({"user": victim.pk}, salt="another salt", compress=True),
        signing.dumps({"user": victim.pk}, key="x" * 50, salt=services.UNSUBSCRIBE_SALT),
        f"{victim_payload}:{signature}",  # the victim's payload under my signature
        f"{value}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        "", "x", "..", "%00",
    ]
    for candidate in forged:
        if not candidate:
            continue
        response = client.post(reverse("todos:unsubscribe", args=[candidate]))
        assert response.status_code == 400, candidate
        assert "このリンクは正しくないか" in response.content.decode()
    assert services.receives_reminders(victim) and services.receives_reminders(me)
    assert not ReminderPreference.objects.exists()


def test_the_setting_page_turns_reminders_off_and_on(client):
    user = make_staff(FacilityFactory(kind="judo"))
    client.force_login(user)
    url = reverse("todos:reminders")
    assert 'checked' in client.get(url).content.decode()
    assert client.post(url, {}).status_code == 302
    assert not services.receives_reminders(user)
    assert client.post(url, {"receives_reminders": "on"}).status_code == 302
    assert services.receives_reminders(user)


def test_the_setting_page_needs_a_log_in(client):
    response = client.get(reverse("todos:reminders"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_weekly_task_is_in_beat_and_runs_the_service(due_in_10_days, monkeypatch):
    entry = settings.CELERY_BEAT_SCHEDULE["send-reminders-weekly"]
    assert entry["task"] == "todos.tasks.send_reminders"
    assert entry["schedule"].day_of_week == {1}  # Monday (celery counts from Sunday = 0)
    from todos import tasks

    monkeypatch.setattr(services, "send_reminders", lambda: 3)
    assert tasks.send_reminders.delay().get() == 3

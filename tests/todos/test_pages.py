"""The to-do list on マイページ and the facility's top page, and 「前回のご利用以降」."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from eligibility.models import Determination, ParameterVersion, Program
from facilities import services as facility_services
from facilities.models import Activity, Membership
from obligation.compliance import compute_statuses
from obligation.models import DeclarationState, ExemptionDeclaration
from portal import roles
from tests.factories import FacilityFactory, accepted_facility, make_admin, make_staff, submit_start
from todos import services
from todos.models import LastVisit

pytestmark = pytest.mark.django_db


def _body(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_dashboard_and_facility_page_show_the_task_list_with_statuses_as_text(client):
    Program.objects.filter(code="cooperation-2025").update(
        report_deadline=timezone.localdate() + timedelta(days=7))
    facility, user, _ = accepted_facility(kind="judo")
    client.force_login(user)
    for url in (reverse("dashboard"), reverse("facilities:home", args=[facility.pk])):
        body = _body(client, url)
        assert "協力金（施術所・2025年）の取組の実施報告" in body
        # Each status written as text, beside the colour.
        for label in ("未着手", "完了"):
            assert f'">{label}</strong>' in body
        # 「至急」 only next to a real deadline, never next to 「期限なし」.
        assert "至急" in body and "期限なし" not in body
        assert "令和" in body
        assert (f'<a href="{reverse("facilities:golive", args=[facility.pk])}" '
                f'aria-describedby="task-{facility.pk}-2-status">'
                "運用開始日を入力する（運用開始日登録へ）</a>") in body
    home = _body(client, reverse("facilities:home", args=[facility.pk]))
    assert '<h2 id="todos-title">やること（未完了 4件）</h2>' in home
    assert "未完了の手続きが4件あります" in _body(client, reverse("dashboard"))


def test_a_new_clinics_page_starts_with_the_usage_start_application(client):
    facility = FacilityFactory(kind="clinic")
    client.force_login(make_staff(facility))
    body = _body(client, reverse("facilities:home", args=[facility.pk]))
    tasks = body[body.index('<ol class="todo-list'):]
    assert tasks.index("マイナ資格確認アプリの利用開始申請") < tasks.index("ユーザ設定情報のダウンロード")
    assert "まだ始められません" in tasks
    assert "次の手続き" not in body


def test_dashboard_without_anything_to_do_says_so(client):
    facility = FacilityFactory(kind="judo")  # exempt: its obligation task is done
    ExemptionDeclaration.objects.create(facility=facility, reason="1-1", contact_name="担当",
                                        state=DeclarationState.ACCEPTED, receipt_number="E1")
    compute_statuses([facility.pk])
    client.force_login(make_staff(facility))
    body = _body(client, reverse("dashboard"))
    assert "いま必要な手続きはありません" in body and ">完了</strong>" in body
    assert "利用開始申請" not in body


def test_what_changed_shows_a_decision_since_the_last_visit_and_not_after_it(client):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    client.force_login(user)
    earlier = timezone.now() - timedelta(days=2)
    LastVisit.objects.create(user=user, visited_at=earlier)
    application = submit_start(facility, user)  # the user's own move is not news
    facility_services.return_application(application=application,
                                         actor=make_admin(roles.REVIEWER), reason="不備")
    body = _body(client, reverse("dashboard"))
    assert "前回のご利用以降のお知らせ（1件）" in body
    assert "審査・決定:" in body and application.receipt_number in body
    # Still shown within the same visit (a reload, the facility's page) ...
    assert "前回のご利用以降のお知らせ" in _body(client, reverse("facilities:home",
                                                               args=[facility.pk]))
    # ... and gone at the next visit, once this one is recorded. (Time moves on: the
    # decision two hours ago, the visit that showed it an hour ago.)
    now = timezone.now()
    Activity.objects.filter(facility=facility).update(created_at=now - timedelta(hours=2))
    LastVisit.objects.filter(user=user).update(visited_at=now - timedelta(hours=1))
    assert "前回のご利用以降のお知らせ" not in _body(client, reverse("dashboard"))


def test_what_changed_shows_a_new_result(client):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    client.force_login(user)
    LastVisit.objects.create(user=user, visited_at=timezone.now() - timedelta(days=1))
    program = Program.objects.get(code="cooperation-2025")
    Determination.objects.create(
        facility=facility, program=program, eligible=True, amount=50000,
        parameter_version=program.versions.get(status=ParameterVersion.Status.ACTIVE),
        determined_at=timezone.now())
    body = _body(client, reverse("dashboard"))
    assert "判定結果: 協力金（施術所・2025年）の判定結果が更新されました" in body
    assert "支給対象 50,000円" in body


def test_the_first_visit_has_no_news_and_records_the_visit(client):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    client.force_login(user)
    assert "前回のご利用以降" not in _body(client, reverse("dashboard"))
    assert LastVisit.objects.get(user=user).previous_visited_at is None


def test_visits_within_the_gap_are_one_visit():
    user = make_staff(FacilityFactory())
    start = timezone.now()
    assert services.record_visit(user=user, now=start) is None
    assert services.record_visit(user=user, now=start + timedelta(minutes=10)) is None
    later = start + timedelta(minutes=10) + services.VISIT_GAP
    assert services.record_visit(user=user, now=later) == start + timedelta(minutes=10)
    assert services.record_visit(user=user, now=later + timedelta(minutes=1)) == \
        start + timedelta(minutes=10)


def test_another_facilitys_changes_are_not_shown(client):
    mine = FacilityFactory(kind="judo")
    user = make_staff(mine)
    other = FacilityFactory(kind="judo")
    other_staff = make_staff(other)
    LastVisit.objects.create(user=user, visited_at=timezone.now() - timedelta(days=1))
    application = submit_start(other, other_staff)
    facility_services.return_application(application=application,
                                         actor=make_admin(roles.REVIEWER), reason="他施設")
    client.force_login(user)
    body = _body(client, reverse("dashboard"))
    assert application.receipt_number not in body and "前回のご利用以降" not in body
    assert not Membership.objects.filter(user=user, facility=other).exists()

"""The admin's 履歴 page of an object (portal/admin_history.py, portal/history.py): every audit
trail (simple-history's field changes, the workflow's StateLog, the facility's Activity, the
admin's own log) merged in time order; masked fields said to have changed, never their values;
only for those who may view the object; a fixed number of queries however long the history."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from facilities.activity import record_activity
from portal import roles
from portal.history import (
    ACTIVITY,
    ADMIN_LOG,
    FIELDS,
    MOVES,
    NOT_SHOWN,
    SYSTEM,
    TRAIL_LABELS,
    history_of,
)
from portal.workflow import moves
from subsidies.models import Claim, ClaimState
from tests.factories import (
    FacilityFactory,
    UserFactory,
    accepted_facility,
    claim_under_review,
    login_admin,
    make_admin,
    make_staff,
)

pytestmark = pytest.mark.django_db

R, V, P, S = roles.REVIEWER, roles.VIEWER, roles.PAYOUT_OFFICER, roles.SYSTEM_ADMIN


def _history_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk])


def _page(client, obj) -> str:
    response = client.get(_history_url(obj))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _rows(body: str) -> list[tuple[str, str]]:
    """(the time's datetime attribute, the trail's label) of every row, in page order."""
    table = body[body.index("<tbody>"):body.index("</tbody>")]
    return re.findall(r'<time datetime="([^"]+)">.*?</time></th>\s*<td>.*?</td>\s*'
                      r"<td>(.*?)(?:<br>.*?)?</td>", table, flags=re.S)


def _interleave(claim: Claim) -> list[str]:
    """Gives the claim's rows of the three trails times that take turns (a field change, a
    move, an activity, a field change, …), one minute apart; returns the trails in that order."""
    kinds = ContentType.objects.get_for_model(Claim)
    trails = {
        FIELDS: (Claim.history.model, list(Claim.history.filter(id=claim.pk)
                                           .order_by("history_date", "history_id")),
                 "history_date"),
        MOVES: (StateLog, list(StateLog.objects.filter(content_type=kinds, object_id=claim.pk)
                               .order_by("timestamp", "pk")), "timestamp"),
        ACTIVITY: (claim.facility.activities.model, list(claim.facility.activities.filter(
            target_type=kinds, target_id=claim.pk).order_by("created_at", "pk")), "created_at"),
    }
    assert all(rows for _model, rows, _field in trails.values()), "a trail is empty"
    start = timezone.now() - timedelta(days=3)
    order: list[str] = []
    turn = 0
    while any(rows for _model, rows, _field in trails.values()):
        for trail, (model, rows, field) in trails.items():
            if rows:
                row = rows.pop(0)
                model.objects.filter(pk=row.pk).update(**{field: start + timedelta(minutes=turn)})
                order.append(trail)
                turn += 1
    return order


def test_a_claims_three_trails_are_merged_in_time_order(client):
    reviewer = make_admin(R, full_name="審査 一郎")
    claim = claim_under_review(reviewer=reviewer)
    expected = _interleave(claim)
    assert expected[:3] == [FIELDS, MOVES, ACTIVITY]

    entries = history_of(claim)
    assert [entry.trail for entry in entries] == expected
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)

    login_admin(client, make_admin(V))
    body = _page(client, claim)
    rows = _rows(body)
    assert [trail for _at, trail in rows] == [TRAIL_LABELS[trail] for trail in expected]
    assert [at for at, _trail in rows] == sorted(at for at, _trail in rows)
    # The move with its label, its states as the administrators call them, and its actor.
    start_review = moves(Claim)["start_review"].label
    assert f"「{start_review}」" in body
    assert (f"状態: {ClaimState.SUBMITTED.label} → {ClaimState.UNDER_REVIEW.label}") in body
    assert "審査 一郎" in body
    # The field changes: labels from verbose_name, choices as their labels, old → new.
    assert f"審査の担当者: （なし） → {reviewer}" in body
    assert f"受付番号: （なし） → {claim.receipt_number}" in body
    # Times as the portal writes them (和暦), Japanese headings, a focusable scrolling box.
    assert "令和" in body and "<th scope=\"col\">操作者</th>" in body
    assert 'class="table-scroll" tabindex="0"' in body
    # Each change links to simple-history's version page of that moment.
    record = Claim.history.filter(id=claim.pk).first()
    assert reverse("admin:subsidies_claim_simple_history",
                   args=[claim.pk, record.history_id]) in body


def test_the_change_pages_history_link_leads_to_the_merged_page(client):
    claim = claim_under_review()
    login_admin(client, make_admin(V))
    change = client.get(reverse("admin:subsidies_claim_change", args=[claim.pk]))
    assert f'href="{_history_url(claim)}"' in change.content.decode()
    assert TRAIL_LABELS[MOVES] in _page(client, claim)


def test_a_facilitys_page_lists_its_whole_history_and_what_each_entry_is_about(client):
    facility, _user, admin = accepted_facility(kind="judo")
    application = facility.applications.get()
    record_activity(facility=facility, actor=None, verb="note", summary="管理者だけの記録",
                    visible_to_facility=False)
    login_admin(client, make_admin(V))
    body = _page(client, facility)
    # The acceptance is an entry about the application, linked to that application's history.
    assert f'<a href="{_history_url(application)}">利用申請 #{application.pk}</a>' in body
    assert TRAIL_LABELS[ACTIVITY] in body and TRAIL_LABELS[FIELDS] in body
    assert "管理者だけの記録" in body and "（管理者のみ）" in body
    assert SYSTEM in body  # an entry with no actor
    # The application's own page: its moves and its entries.
    application_body = _page(client, application)
    assert TRAIL_LABELS[MOVES] in application_body and str(admin.email) in application_body


def test_the_admins_own_log_is_kept_on_the_page(client):
    """What Django's own history page showed (changes made through the admin) stays."""
    facility = FacilityFactory(name="旧名")
    editor = make_admin(S)
    LogEntry.objects.log_actions(user_id=editor.pk, queryset=[facility], action_flag=CHANGE,
                                 change_message=[{"changed": {"fields": ["名称"]}}])
    login_admin(client, make_admin(V))
    body = _page(client, facility)
    assert TRAIL_LABELS[ADMIN_LOG] in body and "名称" in body and editor.email in body


def _account_changed(facility, first: str, second: str):
    from tests.payouts.helpers import with_account

    account = with_account(facility, number=first)
    account.account_number = second
    account.save()
    return account


@pytest.mark.parametrize("role", [R, V, S])
def test_a_masked_fields_values_never_appear(client, role):
    facility = FacilityFactory(account_last4="5311")
    facility.account_last4 = "0864"
    facility.save()
    account = _account_changed(facility, "3456561", "7654329")
    login_admin(client, make_admin(role))
    body = _page(client, account)
    for value in ("3456561", "7654329"):  # (the masked forms ****561 are the object's name)
        assert value not in body, value
    assert "口座番号" in body and NOT_SHOWN in body
    facility_body = _page(client, facility)
    assert "請求口座番号下4桁" in facility_body
    if role != S:  # the link secret: whole for the master's keepers only
        assert "5311" not in facility_body and "0864" not in facility_body
        assert NOT_SHOWN in facility_body


def test_those_who_see_a_masked_field_whole_see_its_change(client):
    facility = FacilityFactory()
    account = _account_changed(facility, "3456561", "7654329")
    login_admin(client, make_admin(P))
    body = _page(client, account)
    assert "3456561 → 7654329" in body and NOT_SHOWN not in body


def test_no_device_secret_appears_in_the_histories(client):
    """A device's password and activation code (issued twice: the first ones replaced) and
    their hashes are on none of the pages: the history leaves the hashes out."""
    from facilities import services as facility_services

    facility, user, _admin = accepted_facility(kind="judo", devices=2)
    secrets = set()
    for account in facility.device_accounts.all():
        for _ in range(2):
            issued = facility_services.issue_device_credentials(account=account, actor=user)
            account.refresh_from_db()
            secrets |= {issued.password, issued.activation_code, account.password_hash,
                        account.activation_code_hash}
    assert len(secrets) == 16
    login_admin(client, make_admin(S))
    for obj in [facility, *facility.device_accounts.all(), *facility.applications.all()]:
        body = _page(client, obj)
        assert not [secret for secret in secrets if secret in body], obj
        if obj in facility.device_accounts.all():
            assert "ユーザ設定情報を再発行しました" in body


def test_history_is_for_those_who_may_view_the_object():
    claim = claim_under_review()
    url = _history_url(claim)
    # Staff in no group, and staff who may view only another model: refused.
    nobody = make_admin()
    other = make_admin()
    other.user_permissions.add(Permission.objects.get(codename="view_consignor"))
    for user in (nobody, other):
        assert login_admin(Client(), user).get(url).status_code == 403
    # A facility's staff, even the claim's own, and anyone not logged in: to the log-in.
    staff = Client()
    staff.force_login(make_staff(claim.facility))
    for client in (staff, Client()):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]
    # The view permission of the model is enough.
    viewer = make_admin()
    viewer.user_permissions.add(Permission.objects.get(codename="view_claim"))
    assert login_admin(Client(), viewer).get(url).status_code == 200
    # An unknown object: back to the list, as Django's own page does.
    assert login_admin(Client(), viewer).get(
        _history_url(Claim(pk=claim.pk + 1000))).status_code == 302


def test_a_staff_account_without_two_factor_reaches_no_history():
    claim = claim_under_review()
    unconfirmed = Client()
    unconfirmed.force_login(make_admin(R))  # no two-factor code in this session
    response = unconfirmed.get(_history_url(claim))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))


# ------------------------------------------------------------------------- query count

def _long_history(n: int) -> Claim:
    """A claim under review with n more of everything: field changes (a new reviewer each
    time, so a related name to read), moves, activities, admin log entries, each by a
    different person."""
    claim = claim_under_review()
    kinds = ContentType.objects.get_for_model(Claim)
    for i in range(n):
        person = UserFactory()
        changed = Claim.objects.get(pk=claim.pk)
        changed.assigned_to, changed.calculation = person, f"算定 {i}"
        changed._history_user = person
        changed.save()
        StateLog.objects.create(by=person, source_state=ClaimState.SUBMITTED,
                                state=ClaimState.UNDER_REVIEW, transition="start_review",
                                content_type=kinds, object_id=claim.pk, description=f"記録 {i}")
        record_activity(facility=claim.facility, actor=person, verb="note",
                        summary=f"メモ {i}", target=claim)
        LogEntry.objects.log_actions(user_id=person.pk, queryset=[claim], action_flag=CHANGE,
                                     change_message="変更しました")
    return claim


def _count(client, url) -> int:
    assert client.get(url).status_code == 200  # what a first request caches is not counted
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_however_long_the_history(
        django_assert_max_num_queries):
    client = login_admin(Client(), make_admin(V))
    short, long = _long_history(1), _long_history(12)
    assert len(history_of(long)) >= len(history_of(short)) + 4 * 11
    few = _count(client, _history_url(short))
    many = _count(client, _history_url(long))
    assert few == many, (few, many)
    with django_assert_max_num_queries(20):
        client.get(_history_url(long))
    facility_client = login_admin(Client(), make_admin(V))
    assert _count(facility_client, _history_url(short.facility)) == _count(
        facility_client, _history_url(long.facility))

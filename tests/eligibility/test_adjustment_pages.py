"""Adjustments (調整) where people meet them: `manage.py adjustments` (list, review, approve,
with the officer's password and authenticator code), the admin's list, page, actions and CSV,
and the facility's money page (協力金・一時金)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from eligibility import adjustments
from eligibility.models import Adjustment, AdjustmentState
from portal import roles
from tests.eligibility.test_adjustments import best_month, open_one, paid, rerun
from tests.eligibility.test_batch import clinic
from tests.factories import PASSWORD, login_admin, make_admin, make_staff
from tests.payouts.helpers import totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _code_of_the_last_30_seconds_too(settings):
    settings.MFA_TOTP_TOLERANCE = 1


def two_adjustments():
    """One paid clinic now owed less (200,000 → 70,000) and one owed more (70,000 →
    200,000: paid at +60, now at +160)."""
    down, up = clinic(), clinic()
    best_month(up, 100)
    rerun()
    paid(down)
    paid(up)
    best_month(down, 100)
    best_month(up, 200)
    rerun()
    return open_one(down), open_one(up)


def command(*args, by=None, password=PASSWORD, code=None) -> tuple[list[str], str]:
    typing = StringIO("")
    if by is not None:
        args = (*args, "--by", by.email)
        typing = StringIO(f"{password}\n{totp_code(by) if code is None else code}\n")
    out, err = StringIO(), StringIO()
    try:
        call_command("adjustments", *args, stdout=out, stderr=err, stdin=typing)
    finally:
        command.stderr = err.getvalue()
    return out.getvalue().splitlines(), err.getvalue()


# ---------------------------------------------------------------- the command


def test_list_prints_json_lines_with_the_exact_differences():
    down, up = two_adjustments()
    lines, _ = command("list", "--program", "lump-sum-2024")
    rows = sorted((json.loads(line) for line in lines), key=lambda row: row["difference"])
    assert rows == [
        {"facility_code": down.facility.code, "kind": "施設の入力内容・統計の変更",
         "paid": 200000, "now": 70000, "difference": -130000, "direction": "recover",
         "state": "proposed"},
        {"facility_code": up.facility.code, "kind": "施設の入力内容・統計の変更",
         "paid": 70000, "now": 200000, "difference": 130000, "direction": "pay",
         "state": "proposed"},
    ]


def test_review_then_approve_by_another_person():
    two_adjustments()
    reviewer, approver = make_admin(roles.REVIEWER), make_admin(roles.APPROVER)
    lines, _ = command("review", "--program", "lump-sum-2024", by=reviewer)
    assert lines == ["一時金（医療機関・薬局・2024年）: 2件を審査しました（追加支払 1件 +130,000円、"
                     "返還 1件 -130,000円）。"]
    assert set(Adjustment.objects.values_list("state", flat=True)) == {"reviewed"}
    lines, _ = command("approve", "--program", "lump-sum-2024", by=approver)
    assert lines[0].startswith("一時金（医療機関・薬局・2024年）: 2件を決定しました")
    assert set(Adjustment.objects.values_list("state", flat=True)) == {"approved"}
    assert set(Adjustment.objects.values_list("decided_by", flat=True)) == {approver.pk}


def test_approve_refuses_the_ones_this_person_reviewed_and_exits_1():
    down, up = two_adjustments()
    both = make_admin(roles.REVIEWER, roles.APPROVER)
    adjustments.review(adjustment=down, actor=both)
    adjustments.review(adjustment=up, actor=make_admin(roles.REVIEWER))
    with pytest.raises(CommandError, match="1件は行えませんでした"):
        command("approve", "--program", "lump-sum-2024", by=both)
    assert f"{down.facility.code}（差額 -130,000円）: この調整を審査した方は決定できません" \
        in command.stderr
    down.refresh_from_db()
    up.refresh_from_db()
    assert (down.state, up.state) == (AdjustmentState.REVIEWED, AdjustmentState.APPROVED)


def test_a_wrong_code_changes_nothing():
    two_adjustments()
    reviewer = make_admin(roles.REVIEWER)
    with pytest.raises(CommandError, match="正しくありません"):
        command("review", "--program", "lump-sum-2024", by=reviewer, code="000000")
    assert set(Adjustment.objects.values_list("state", flat=True)) == {"proposed"}


def test_a_role_without_the_permission_is_refused():
    two_adjustments()
    with pytest.raises(CommandError, match="権限がありません"):
        command("review", "--program", "lump-sum-2024", by=make_admin(roles.VIEWER))
    assert set(Adjustment.objects.values_list("state", flat=True)) == {"proposed"}


def test_an_unknown_program_names_those_with_adjustments():
    with pytest.raises(CommandError, match="lump-sum-2024"):
        command("list", "--program", "nothing")


# ---------------------------------------------------------------- the admin


def admin_client(*groups) -> tuple[Client, object]:
    user = make_admin(*groups)
    return login_admin(Client(), user), user


def test_admin_list_filters_and_search():
    down, up = two_adjustments()
    client, _ = admin_client(roles.VIEWER)
    changelist = reverse("admin:eligibility_adjustment_changelist")
    page = client.get(changelist, {"direction": "recover"}).content.decode()
    assert down.facility.code in page and up.facility.code not in page
    page = client.get(changelist, {"q": up.facility.code}).content.decode()
    assert up.facility.code in page and down.facility.code not in page
    page = client.get(changelist, {"state": "proposed", "program__id__exact":
                                   down.program_id}).content.decode()
    assert "-130,000円" in page and "+130,000円" in page


def test_admin_page_shows_the_reasons_before_and_after():
    down, _up = two_adjustments()
    client, _ = admin_client(roles.VIEWER)
    page = client.get(reverse("admin:eligibility_adjustment_change",
                              args=[down.pk])).content.decode()
    assert "支払済みの判定の理由（支払時）" in page and "再判定の理由（提案時の文面）" in page
    assert "→ 200,000円 ✓" in page  # as paid
    assert "→ 70,000円 ✓" in page  # as re-determined


def test_admin_actions_confirm_then_move_and_refuse_the_reviewer_as_approver():
    down, up = two_adjustments()
    changelist = reverse("admin:eligibility_adjustment_changelist")
    reviewer_client, reviewer = admin_client(roles.REVIEWER, roles.APPROVER)
    selected = {"action": "review_selected", "_selected_action": [down.pk, up.pk]}
    page = reviewer_client.post(changelist, selected)
    assert page.status_code == 200 and "「審査する」を行います" in page.content.decode()
    assert set(Adjustment.objects.values_list("state", flat=True)) == {"proposed"}
    reviewer_client.post(changelist, {**selected, "confirm": "1"})
    assert set(Adjustment.objects.values_list("state", flat=True)) == {"reviewed"}

    decide = {"action": "approve_selected", "_selected_action": [down.pk]}
    page = reviewer_client.post(changelist, decide).content.decode()
    assert "この調整を審査した方は決定できません" in page  # said before confirming
    response = reviewer_client.post(changelist, {**decide, "confirm": "1"}, follow=True)
    assert "この調整を審査した方は決定できません" in response.content.decode()
    down.refresh_from_db()
    assert down.state == AdjustmentState.REVIEWED

    approver_client, approver = admin_client(roles.APPROVER)
    approver_client.post(changelist, {**decide, "confirm": "1"})
    approver_client.post(changelist, {"action": "reject_selected", "_selected_action": [up.pk],
                                      "confirm": "1"})
    down.refresh_from_db()
    up.refresh_from_db()
    assert (down.state, down.decided_by, up.state) == (AdjustmentState.APPROVED, approver,
                                                       AdjustmentState.REJECTED)


def test_admin_csv_exports_what_the_list_shows():
    down, up = two_adjustments()
    client, _ = admin_client(roles.VIEWER)
    response = client.get(reverse("admin:eligibility_adjustment_csv"), {"direction": "pay"})
    text = b"".join(response.streaming_content if response.streaming else
                    [response.content]).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0] == ("医療機関等コード・登録記号番号,施設名,プログラム,これまでの支給額（円）,"
                        "再判定の金額（円）,差額（円）,向き,状態")
    assert lines[1:] == [f"{up.facility.code},{up.facility.name},一時金（医療機関・薬局・2024年）,"
                         "70000,200000,130000,追加のお支払い,提案（審査待ち）"]


# ---------------------------------------------------------------- the facility's page


def test_the_facility_sees_its_adjustment_with_the_frozen_reasons():
    down, _up = two_adjustments()
    staff = make_staff(down.facility)
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("incentives:overview", args=[down.facility.pk])).content.decode()
    assert "支給額の調整" in page
    assert "これまでの支給額</th><td><span class=\"amount\">200,000円" in page
    assert "再判定の金額</th><td><span class=\"amount\">70,000円" in page
    assert "-130,000円</span>（返還）" in page
    assert "施設の入力内容・統計の変更" in page
    assert "審査中" in page  # the facility's label of 提案（審査待ち）
    assert "→ 70,000円 ✓" in page  # the re-determination's reasons as proposed
    adjustments.review(adjustment=down, actor=make_admin(roles.REVIEWER))
    adjustments.approve(adjustment=down, actor=make_admin(roles.APPROVER))
    page = client.get(reverse("incentives:overview", args=[down.facility.pk])).content.decode()
    assert "状態</th><td><span class=\"state\">決定" in page

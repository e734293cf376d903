"""The officer's work queue (portal/admin_queues.py): the index shows what waits for this
officer's roles (count, oldest age, a link to the list filtered on it); the lists open on
what waits, with 「すべて」 beside it, and a search looks at every row."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal import roles
from portal.admin_queues import QUEUES
from subsidies.models import Claim
from tests.factories import claim_under_review, claim_with_receipt, login_admin, make_admin

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
CLAIMS = reverse("admin:subsidies_claim_changelist")


def _page(client, url, user) -> str:
    login_admin(client, user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_every_queue_is_acted_on_by_some_role():
    from django.contrib.auth.models import Group

    from portal.roles import ROLE_PERMISSIONS

    held = {permission for permissions in ROLE_PERMISSIONS.values() for permission in permissions}
    assert {queue.permission for queue in QUEUES} <= held
    assert Group.objects.filter(name__in=roles.ROLES).count() == len(roles.ROLES)


def test_the_index_shows_a_reviewer_what_waits_with_its_age(client):
    claim = claim_under_review()
    Claim.objects.filter(pk=claim.pk).update(submitted_at=timezone.now() - timedelta(days=5))
    page = _page(client, INDEX, make_admin(roles.REVIEWER))
    assert "あなたの対応待ち" in page
    assert f'<a href="{CLAIMS}?waiting=yes">補助金の申請を審査する</a>' in page
    row = page.split("補助金の申請を審査する</a>")[1].split("</tr>")[0]
    assert "1件" in row and "5日" in row
    assert "支払バッチを確認・承認する" not in page and "補助金の交付を決定する" not in page


def test_each_role_sees_its_own_queues(client):
    page = _page(client, INDEX, make_admin(roles.PAYOUT_OFFICER))
    assert "支払バッチを確認・承認する" in page and "補助金の申請を審査する" not in page
    row = page.split("支払バッチを確認・承認する</a>")[1].split("</tr>")[0]
    assert "0件" in row and "—" in row
    client.logout()
    page = _page(client, INDEX, make_admin(roles.APPROVER))
    assert "補助金の交付を決定する" in page and "調整を決定する" in page
    client.logout()
    assert "あなたの対応待ち" not in _page(client, INDEX, make_admin(roles.VIEWER))


def test_the_claims_list_opens_on_what_waits_and_offers_everything(client):
    waiting = claim_under_review()
    draft, _staff = claim_with_receipt()
    reviewer = make_admin(roles.REVIEWER)
    page = _page(client, CLAIMS, reviewer)
    assert waiting.receipt_number in page
    assert f"/subsidies/claim/{draft.pk}/change/" not in page
    assert "対応待ち（あなたの役割で行えるもの）" in page and "?waiting=all" in page
    everything = client.get(CLAIMS + "?waiting=all").content.decode()
    assert f"/subsidies/claim/{draft.pk}/change/" in everything
    # Any condition of the officer's own looks at every row.
    searched = client.get(CLAIMS + f"?q={draft.facility.code}").content.decode()
    assert f"/subsidies/claim/{draft.pk}/change/" in searched


def test_the_claims_list_shows_waiting_days_and_reviewer_in_few_columns(client):
    claim_under_review()
    page = _page(client, CLAIMS, make_admin(roles.REVIEWER))
    header = page.split("<thead>")[1].split("</thead>")[0]
    for heading in ("待ち日数", "担当者", "補助", "算定額"):
        assert heading in header
    assert header.count('scope="col"') <= 8  # the checkbox and seven columns


def test_a_viewer_sees_every_row_and_no_waiting_filter(client):
    draft, _staff = claim_with_receipt()
    page = _page(client, CLAIMS, make_admin(roles.VIEWER))
    assert f"/subsidies/claim/{draft.pk}/change/" in page and "対応待ち" not in page

from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse

from facilities import services
from facilities.models import DeviceAccount, Facility, Membership, UsageApplication
from tests.factories import (
    AdminFactory,
    FacilityFactory,
    accepted_facility,
    make_staff,
    submit_start,
)
from todos import selectors as todo_selectors

pytestmark = pytest.mark.django_db


def _statuses(user, facility):
    return [(t.kind, t.status.label) for t in todo_selectors.todos_for(user=user)
            if t.facility_id == facility.pk and t.kind in STEPS]


STEPS = ("usage_start", "application_returned", "device_settings", "golive_missing")


def test_the_task_list_moves_from_apply_to_go_live():
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    assert _statuses(user, facility) == [("usage_start", "未着手"),
                                         ("device_settings", "まだ始められません"),
                                         ("golive_missing", "まだ始められません")]
    submit_start(facility, user)
    assert _statuses(user, facility)[0] == ("usage_start", "対応中")
    facility, user, _ = accepted_facility(kind="clinic", devices=1)
    assert _statuses(user, facility) == [("device_settings", "未着手"),
                                         ("golive_missing", "未着手"), ("usage_start", "完了")]
    services.issue_device_credentials(account=DeviceAccount.objects.get(facility=facility),
                                      actor=user)
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    assert {s for _, s in _statuses(user, facility)} == {"完了"}


def test_dashboard_shows_each_facility_with_its_task_list(client):
    facility, user, _ = accepted_facility(devices=1)
    other = FacilityFactory(kind="judo", name="併設の院")
    Membership.objects.create(user=user, facility=other)
    client.force_login(user)
    body = client.get(reverse("dashboard")).content.decode()
    assert facility.name in body and "併設の院" in body
    assert body.count('<ol class="todo-list task-list">') == 2
    assert "未着手" in body and "次の手続き" not in body


def test_dashboard_without_facility_invites_linking(staff_client):
    body = staff_client.get(reverse("dashboard")).content.decode()
    assert "施設を追加する" in body
    assert reverse("facilities:link") in body


def test_returned_application_shows_reason_on_the_dashboard(client):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    application = submit_start(facility, user)
    services.return_application(application=application, actor=AdminFactory(),
                                reason="開設者氏名をご確認ください")
    client.force_login(user)
    body = client.get(reverse("dashboard")).content.decode()
    assert "開設者氏名をご確認ください" in body


def test_demo_loader_is_idempotent():
    call_command("load_demo")
    counts = (Facility.objects.count(), UsageApplication.objects.count(),
              DeviceAccount.objects.count())
    call_command("load_demo")
    assert (Facility.objects.count(), UsageApplication.objects.count(),
            DeviceAccount.objects.count()) == counts
    assert {f.kind for f in Facility.objects.all()} == {
        "hospital", "clinic", "dental", "pharmacy", "judo", "ama", "acupuncture",
        "ama_acupuncture",
    }


def test_demo_has_one_administrator_per_role_and_prints_them():
    from io import StringIO

    from django.contrib.auth import get_user_model

    from portal import roles

    out = StringIO()
    call_command("load_demo", stdout=out)
    printed = out.getvalue()
    for role in roles.ROLES:
        user = get_user_model().objects.get(groups__name=role)
        assert user.is_staff and not user.is_superuser
        assert role in printed and user.email in printed
    assert "二段階認証" in printed


def test_demo_has_results_and_a_preview_of_the_three_month_version():
    from eligibility import services as eligibility_services
    from eligibility.models import Determination, ParameterVersion

    call_command("load_demo")
    assert Determination.objects.filter(program__code="lump-sum-2024", eligible=True).exists()
    assert Determination.objects.filter(program__code="cooperation-2025", eligible=True).exists()
    active = ParameterVersion.objects.get(program__code="lump-sum-2024", status="active")
    draft = eligibility_services.create_draft_version(
        program=active.program,
        params={**active.params, "evaluation_months": ["2024-05", "2024-06", "2024-07"]},
        effective_from=active.effective_from, notice="延長前の3か月",
    )
    preview = eligibility_services.preview_version(draft)
    assert preview.changes and preview.total_difference < 0

"""Parameters are read at a date (`parameters_in_force(program, on=...)`, docs/decisions.md D5.4.4):
a version applied ahead of its effective_from waits (適用待ち) and changes no result until that day;
the nightly job makes it 適用中 and determines under it on the day. Dates are frozen by the
`on=` / `today=` parameters, never by sleeping."""

import io
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from eligibility import engine, services
from eligibility.models import Determination, ParameterVersion, Program
from incentives import selectors as incentive_selectors
from tests.eligibility.test_batch import sejutsu
from tests.factories import AdminFactory, previewed

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 1)
DAY = date(2026, 4, 1)  # the future version's effective_from


def lump_sum():
    return Program.objects.get(code="lump-sum-2024")


def cooperation():
    return Program.objects.get(code="cooperation-2025")


def future_draft(program, **changes):
    in_force = engine.parameters_in_force(program, on=TODAY)
    return services.create_draft_version(program=program, params={**in_force.params, **changes},
                                         effective_from=DAY, notice="次の版（試験）")


def test_a_future_version_waits_and_changes_no_result_until_its_day(
        django_capture_on_commit_callbacks):
    facility = sejutsu()
    services.run_nightly(today=TODAY)
    old = engine.parameters_in_force(cooperation(), on=TODAY)
    draft = future_draft(cooperation(), amount=70000)

    preview = previewed(draft)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        applied = services.apply_version(version=draft, actor=AdminFactory(), today=TODAY,
                                         preview=preview)
    assert applied.waiting and not applied.queued and callbacks == []
    draft.refresh_from_db()
    assert draft.status == ParameterVersion.Status.SCHEDULED
    assert engine.parameters_in_force(cooperation(), on=TODAY) == old
    assert engine.parameters_in_force(cooperation(), on=DAY - timedelta(days=1)) == old
    assert engine.parameters_in_force(cooperation(), on=DAY) == draft

    services.run_nightly(today=DAY - timedelta(days=1))  # the night before
    assert Determination.objects.get(facility=facility).amount == 50000
    assert Determination.objects.get(facility=facility).parameter_version == old

    services.run_nightly(today=DAY)  # the night of the day
    result = Determination.objects.get(facility=facility)
    assert (result.amount, result.parameter_version) == (70000, draft)
    statuses = dict(ParameterVersion.objects.filter(program=cooperation())
                    .values_list("pk", "status"))
    assert statuses[draft.pk] == ParameterVersion.Status.ACTIVE
    assert statuses[old.pk] == ParameterVersion.Status.SUPERSEDED


def test_the_nightly_task_reads_today(monkeypatch):
    from eligibility import tasks

    facility = sejutsu()
    draft = future_draft(cooperation(), amount=70000)
    services.apply_version(version=draft, actor=AdminFactory(), today=TODAY,
                           preview=previewed(draft))
    monkeypatch.setattr(timezone, "localdate", lambda *args: DAY - timedelta(days=1))
    tasks.run_eligibility.delay()
    assert Determination.objects.get(facility=facility).amount == 50000
    monkeypatch.setattr(timezone, "localdate", lambda *args: DAY)
    tasks.run_eligibility.delay()
    assert Determination.objects.get(facility=facility).amount == 70000


def test_the_live_result_and_redetermination_use_the_parameters_in_force_today(monkeypatch):
    facility = sejutsu()
    draft = future_draft(cooperation(), amount=70000)
    services.apply_version(version=draft, actor=AdminFactory(), today=TODAY,
                           preview=previewed(draft))
    monkeypatch.setattr(timezone, "localdate", lambda *args: TODAY)
    assert incentive_selectors.current_result(facility, cooperation())["amount"] == 50000
    services.request_redetermination([facility.pk], enqueue=False)
    services.redetermine_pending()
    assert Determination.objects.get(facility=facility).amount == 50000
    monkeypatch.setattr(timezone, "localdate", lambda *args: DAY)
    assert incentive_selectors.current_result(facility, cooperation())["amount"] == 70000


def test_simulate_command_reads_the_parameters_in_force_on_a_date(monkeypatch):
    draft = future_draft(cooperation(), amount=70000)
    services.apply_version(version=draft, actor=AdminFactory(), today=TODAY,
                           preview=previewed(draft))
    line = json.dumps({"kind": "judo", "golive": "2025-06-10", "voice": True, "flyer": True,
                       "poster": False, "activity_from": "2025-06-10",
                       "activity_to": "2025-07-31", "annex_role": None,
                       "partner_introduced": False}) + "\n"
    amounts = []
    for on in (TODAY, DAY):
        monkeypatch.setattr("sys.stdin", io.StringIO(line))
        out = io.StringIO()
        call_command("simulate", "cooperation-2025", "--on", on.isoformat(), stdout=out)
        amounts.append(json.loads(out.getvalue())["amount"])
    assert amounts == [50000, 70000]


def test_of_two_versions_for_the_same_day_the_later_applied_waits_the_other_is_past():
    """docs/domain.md §5.4: the most recently applied version governs its dates; only one version
    can still wait for a day."""
    first = future_draft(cooperation(), amount=60000)
    services.apply_version(version=first, actor=AdminFactory(), today=TODAY,
                           preview=previewed(first))
    second = future_draft(cooperation(), amount=70000)
    services.apply_version(version=second, actor=AdminFactory(), today=TODAY,
                           preview=previewed(second))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ParameterVersion.Status.SUPERSEDED,
                                             ParameterVersion.Status.SCHEDULED)
    assert engine.parameters_in_force(cooperation(), on=DAY) == second
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database says so too
        ParameterVersion.objects.filter(pk=first.pk).update(status="scheduled")


def test_a_version_whose_day_has_come_applies_at_once(django_capture_on_commit_callbacks):
    draft = future_draft(lump_sum())
    preview = previewed(draft)
    with django_capture_on_commit_callbacks() as callbacks:
        applied = services.apply_version(version=draft, actor=AdminFactory(), today=DAY,
                                         preview=preview)
    assert applied.version.status == ParameterVersion.Status.ACTIVE and applied.queued
    assert len(callbacks) == 1


def test_the_admin_says_a_future_version_waits_for_its_day(admin_client):
    draft = services.create_draft_version(
        program=lump_sum(), params=engine.parameters_in_force(lump_sum()).params,
        effective_from=timezone.localdate() + timedelta(days=30), notice="来月から")
    response = admin_client.post(
        reverse("admin:eligibility_parameterversion_apply", args=[draft.pk]),
        {"preview": previewed(draft).pk}, follow=True)
    assert "適用待ちにしました" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ParameterVersion.Status.SCHEDULED


# ---------------------------------------------------------------- what the parameters say


def test_simulator_labels_name_the_months_of_the_parameters_in_force(client):
    params = engine.parameters_in_force(lump_sum()).params
    draft = services.create_draft_version(
        program=lump_sum(), params={**params, "baseline_month": "2023-11",
                                    "evaluation_months": ["2024-05", "2024-06", "2024-07"]},
        effective_from=date(2024, 5, 1), notice="月の違う版（試験）")
    services.apply_version(version=draft, actor=AdminFactory(), preview=previewed(draft))
    page = client.get(reverse("simulator")).content.decode()
    assert "令和5年11月のレセプト件数" in page
    assert "評価対象月（令和6年5月〜7月）のうち最も多い月の利用人数" in page
    assert "令和5年10月" not in page and "5月〜8月" not in page


def test_the_kinds_of_the_parameters_are_the_facilities_determined():
    judo, ama = sejutsu(kind="judo"), sejutsu(kind="ama")
    params = engine.parameters_in_force(cooperation()).params
    draft = services.create_draft_version(program=cooperation(),
                                          params={**params, "kinds": ["judo"]},
                                          effective_from=date(2025, 5, 1), notice="柔整のみ（試験）")
    services.apply_version(version=draft, actor=AdminFactory(), preview=previewed(draft))
    services.run_eligibility(program=cooperation())
    assert set(Determination.objects.values_list("facility_id", flat=True)) == {judo.pk}
    assert ama.pk not in Determination.objects.values_list("facility_id", flat=True)

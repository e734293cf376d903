"""Parameters with a history (docs/domain.md §5.4 "Parameters at a date", D5.4.4): the version in
force on a date D is the most recently applied version whose effective_from is on or before D
— superseded versions included —, statuses say what holds today, applying takes a second
officer, the preview counts the paid results that would change, and where no version covers
a date there is no amount (never a default from code)."""

import io
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from eligibility import engine, services
from eligibility.models import Determination, ParameterVersion, Program
from portal import roles
from portal.errors import NotPermitted
from tests.eligibility.test_batch import sejutsu
from tests.factories import AdminFactory, login_admin, make_admin, previewed

pytestmark = pytest.mark.django_db

Status = ParameterVersion.Status
V1_FROM = date(2025, 5, 1)  # version 1 of cooperation-2025 (migration 0002)
V2_FROM = date(2026, 4, 1)
V3_FROM = date(2026, 6, 1)
APPLIED_ON = date(2026, 3, 1)  # v2 and v3 are applied on this day, ahead of their days
DAY = timedelta(days=1)


def cooperation() -> Program:
    return Program.objects.get(code="cooperation-2025")


def draft(program: Program, effective_from: date, amount: int, actor=None) -> ParameterVersion:
    params = {**engine.parameters_in_force(program, on=V1_FROM).params, "amount": amount}
    return services.create_draft_version(program=program, params=params,
                                         effective_from=effective_from,
                                         notice=f"{amount}円の版（試験）", actor=actor)


def apply(version: ParameterVersion, today: date, actor=None) -> ParameterVersion:
    services.apply_version(version=version, actor=actor or AdminFactory(), today=today,
                           preview=previewed(version))
    version.refresh_from_db()
    return version


@pytest.fixture
def three_versions():
    program = cooperation()
    v1 = ParameterVersion.objects.get(program=program, version=1)
    v2 = apply(draft(program, V2_FROM, 60000), APPLIED_ON)
    v3 = apply(draft(program, V3_FROM, 70000), APPLIED_ON)
    return program, v1, v2, v3


def in_force(program, on):
    version = engine.parameters_in_force(program, on=on)
    return version.version if version else None


BOUNDARIES = [
    (V1_FROM - DAY, None), (V1_FROM, 1), (V1_FROM + DAY, 1),
    (V2_FROM - DAY, 1), (V2_FROM, 2), (V2_FROM + DAY, 2),
    (date(2026, 5, 1), 2),
    (V3_FROM - DAY, 2), (V3_FROM, 3), (V3_FROM + DAY, 3),
    (date(2030, 1, 1), 3),
]


@pytest.mark.parametrize(("on", "expected"), BOUNDARIES, ids=[str(d) for d, _ in BOUNDARIES])
def test_every_day_around_three_versions_boundaries(three_versions, on, expected):
    program, *_ = three_versions
    assert in_force(program, on) == expected


@pytest.mark.parametrize(("on", "expected"), BOUNDARIES, ids=[str(d) for d, _ in BOUNDARIES])
def test_superseded_versions_still_answer_for_their_days(three_versions, on, expected):
    """After both later versions took effect (v1, v2 past versions) every date answers the
    same: asking 2026-05-01 after v3 is applied and in force gives v2."""
    program, v1, v2, v3 = three_versions
    services.take_effect_due_versions(today=V3_FROM + DAY)
    assert [Status(v.status) for v in (v1, v2, v3) if v.refresh_from_db() is None] == [
        Status.SUPERSEDED, Status.SUPERSEDED, Status.ACTIVE]
    assert in_force(program, on) == expected


RETROACTIVE_FROM = date(2026, 5, 1)
AFTER_RETROACTIVE = [
    (V2_FROM - DAY, 1), (V2_FROM, 2), (V2_FROM + DAY, 2),
    (RETROACTIVE_FROM - DAY, 2), (RETROACTIVE_FROM, 4), (RETROACTIVE_FROM + DAY, 4),
    (V3_FROM - DAY, 4), (V3_FROM, 4), (V3_FROM + DAY, 4),
]


@pytest.mark.parametrize(("on", "expected"), AFTER_RETROACTIVE,
                         ids=[str(d) for d, _ in AFTER_RETROACTIVE])
def test_a_retroactive_version_applied_last_governs_every_day_from_its_start(
        three_versions, on, expected):
    """v4 from 2026-05-01, applied on 2026-07-01 (after v3 took effect): the most recently
    applied version starting on or before D wins, so v4 holds from 2026-05-01 on, over v3
    too; before it, v2 and v1 still answer."""
    program, v1, v2, v3 = three_versions
    services.take_effect_due_versions(today=V3_FROM)
    v4 = apply(draft(program, RETROACTIVE_FROM, 55000), date(2026, 7, 1))
    assert in_force(program, on) == expected
    for version in (v1, v2, v3):
        version.refresh_from_db()
    assert [v.status for v in (v1, v2, v3, v4)] == [
        Status.SUPERSEDED, Status.SUPERSEDED, Status.SUPERSEDED, Status.ACTIVE]


def test_a_waiting_version_overridden_by_a_later_applied_one_becomes_a_past_version(
        three_versions):
    """On 2026-04-15 (v2 in force, v3 waiting) a version from 2026-04-10 is applied: it is in
    force today and governs 2026-06-01 too, so v3 will never be in force: 過去の版 at once."""
    program, v1, v2, v3 = three_versions
    services.take_effect_due_versions(today=V2_FROM)
    v4 = apply(draft(program, date(2026, 4, 10), 65000), date(2026, 4, 15))
    for version in (v1, v2, v3):
        version.refresh_from_db()
    assert [v.status for v in (v1, v2, v3, v4)] == [
        Status.SUPERSEDED, Status.SUPERSEDED, Status.SUPERSEDED, Status.ACTIVE]
    assert in_force(program, V3_FROM) == 4 and in_force(program, date(2026, 4, 9)) == 2


def test_the_nightly_job_keeps_the_statuses_of_today(three_versions):
    program, v1, v2, v3 = three_versions

    def statuses():
        return [ParameterVersion.objects.get(pk=v.pk).status for v in (v1, v2, v3)]

    assert statuses() == [Status.ACTIVE, Status.SCHEDULED, Status.SCHEDULED]
    services.take_effect_due_versions(today=V2_FROM - DAY)
    assert statuses() == [Status.ACTIVE, Status.SCHEDULED, Status.SCHEDULED]
    services.take_effect_due_versions(today=V2_FROM)
    assert statuses() == [Status.SUPERSEDED, Status.ACTIVE, Status.SCHEDULED]
    services.take_effect_due_versions(today=V3_FROM)
    assert statuses() == [Status.SUPERSEDED, Status.SUPERSEDED, Status.ACTIVE]


def test_missed_nights_move_a_waiting_version_straight_to_past(three_versions):
    """No nightly run between 2026-03-01 and 2026-06-02: v2 never was 適用中 on a night, it
    becomes a past version directly, v3 is in force."""
    program, v1, v2, v3 = three_versions
    services.take_effect_due_versions(today=V3_FROM + DAY)
    assert [ParameterVersion.objects.get(pk=v.pk).status for v in (v1, v2, v3)] == [
        Status.SUPERSEDED, Status.SUPERSEDED, Status.ACTIVE]


def test_the_batch_determines_under_the_version_of_the_day(three_versions):
    facility = sejutsu()
    for day, amount in ((V2_FROM - DAY, 50000), (V2_FROM, 60000), (V3_FROM, 70000)):
        services.run_nightly(today=day)
        assert Determination.objects.get(facility=facility).amount == amount, day


# ---------------------------------------------------------------- four-eyes


def test_the_drafter_may_not_apply_a_second_officer_may():
    drafter, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    version = draft(cooperation(), date(2026, 4, 1), 60000, actor=drafter)
    preview = previewed(version)
    with pytest.raises(NotPermitted, match="二者確認"):
        services.apply_version(version=version, actor=drafter, today=APPLIED_ON,
                               preview=preview)
    version.refresh_from_db()
    assert version.status == Status.DRAFT and version.applied_at is None
    services.apply_version(version=version, actor=second, today=APPLIED_ON, preview=preview)
    version.refresh_from_db()
    assert version.status == Status.SCHEDULED


def test_whoever_changed_the_parameters_may_not_apply_either():
    drafter, editor, third = (make_admin(roles.SYSTEM_ADMIN) for _ in range(3))
    version = draft(cooperation(), date(2026, 4, 1), 60000, actor=drafter)
    version.params = {**version.params, "amount": 65000}
    version._history_user = editor
    version.save()
    version.notice = "通知名だけ直した"  # a change that is not of the parameters
    version._history_user = third
    version.save()
    assert version.authors() == {drafter.pk, editor.pk}
    preview = previewed(version)
    with pytest.raises(NotPermitted, match="パラメータを変更した方"):
        services.apply_version(version=version, actor=editor, today=APPLIED_ON,
                               preview=preview)
    services.apply_version(version=version, actor=third, today=APPLIED_ON, preview=preview)
    assert ParameterVersion.objects.get(pk=version.pk).status == Status.SCHEDULED


def test_the_admin_refuses_the_drafter_on_the_preview_and_on_apply(client):
    drafter, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    login_admin(client, drafter)
    params = engine.parameters_in_force(cooperation()).params
    response = client.post(reverse("admin:eligibility_parameterversion_add"), {
        "program": cooperation().pk, "version": 9, "effective_from": "2026-04-01",
        "notice": "管理画面で作った版", "params": json.dumps({**params, "amount": 60000})})
    assert response.status_code == 302, response.content.decode()[:2000]
    version = ParameterVersion.objects.get(program=cooperation(), version=9)
    assert version.created_by == drafter
    preview = previewed(version)
    page = client.get(reverse("admin:eligibility_parameterversion_preview", args=[version.pk]))
    assert "作成した方・パラメータを変更した方とは別の方が行ってください" in page.content.decode()
    response = client.post(reverse("admin:eligibility_parameterversion_apply",
                                   args=[version.pk]), {"preview": preview.pk}, follow=True)
    assert "二者確認" in response.content.decode()
    assert ParameterVersion.objects.get(pk=version.pk).status == Status.DRAFT

    login_admin(client, second)
    page = client.get(reverse("admin:eligibility_parameterversion_preview", args=[version.pk]))
    assert "別の方が行ってください" not in page.content.decode()  # the refusal is the drafter's
    client.post(reverse("admin:eligibility_parameterversion_apply", args=[version.pk]),
                {"preview": preview.pk})
    assert ParameterVersion.objects.get(pk=version.pk).status != Status.DRAFT


# ---------------------------------------------------------------- the preview of paid results


def test_the_preview_counts_paid_results_up_and_down_in_yen(admin_client):
    """Two paid results: one paid 50,000, one paid 80,000 (under an older version). A version
    of 70,000 changes neither (they are frozen) and shows +20,000 for one, −10,000 for the
    other; an unpaid result is counted as a change."""
    up, down, unpaid = sejutsu(), sejutsu(), sejutsu()
    services.run_eligibility(program=cooperation())
    Determination.objects.filter(facility__in=[up, down]).update(payout_locked=True)
    Determination.objects.filter(facility=down).update(amount=80000)
    version = draft(cooperation(), V1_FROM, 70000)

    preview = previewed(version)
    assert (preview.paid_up_count, preview.paid_up_yen) == (1, 20000)
    assert (preview.paid_down_count, preview.paid_down_yen) == (1, 10000)
    assert (preview.changed, preview.total_difference, preview.locked_changes) == (1, 20000, 2)
    page = admin_client.get(reverse("admin:eligibility_parameterversion_preview",
                                    args=[version.pk])).content.decode()
    assert "+20,000円" in page and "−10,000円" in page and "調整として提案" in page
    assert Determination.objects.get(facility=unpaid).amount == 50000  # nothing written


# ---------------------------------------------------------------- no version, no amount


def test_simulate_on_a_date_no_version_covers_says_so(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"kind": "judo"}\n'))
    with pytest.raises(CommandError, match="パラメータの版がありません"):
        call_command("simulate", "cooperation-2025", "--on", (V1_FROM - DAY).isoformat(),
                     stdout=io.StringIO())


def test_the_public_simulator_says_there_is_no_version(client, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args: date(2024, 4, 30))
    page = client.get(reverse("simulator")).content.decode()
    assert "適用される一時金のパラメータの版がありません" in page
    assert "計算する" not in page


def test_the_facilitys_pages_say_there_is_no_version(client, monkeypatch):
    from eligibility.models import PendingDetermination
    from tests.factories import accepted_facility

    facility, staff, _ = accepted_facility(kind="judo")
    PendingDetermination.objects.all().delete()  # its facts are determined
    client.force_login(staff)
    monkeypatch.setattr(timezone, "localdate", lambda *args: V1_FROM - DAY)
    for url in (reverse("incentives:overview", args=[facility.pk]),
                reverse("incentives:report", args=[facility.pk, "cooperation-2025"])):
        page = client.get(url).content.decode()
        assert "今日に適用されるパラメータの版がないため" in page, url


def test_no_runtime_module_reads_a_default_of_the_rules():
    """The notices' values (DEFAULT_*) are seed data for the migrations and the tests: no
    module the portal runs reads them (docs/domain.md §5.4: no default from code)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    readers = []
    for path in root.glob("*/**/*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".venv", "tests/", "bench/")) or "/migrations/" in relative:
            continue
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"\bDEFAULT_(?:COOPERATION|LUMP_SUM|DEVICE|READER|RECECOM|"
                               r"EXEMPTION)\w*", text):
            if not re.search(rf"^{name}\b.*=", text, re.MULTILINE):  # not its definition
                readers.append((relative, name))
    assert readers == []

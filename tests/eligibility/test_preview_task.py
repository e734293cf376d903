"""「適用前の確認」 as a background task: queued from the admin, its progress on its page, its
result kept (tied to the draft and the hash of its parameters) and the apply step resting on
it; a preview made before the parameters were edited is never taken for theirs, and a
batch program's draft is never applied without a finished one (a claim-based one has none)."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility import services
from eligibility.models import (
    Attestation,
    Determination,
    MonthlyStatistic,
    ParameterPreview,
    ParameterVersion,
    PreviewState,
    Program,
)
from portal import roles
from tests.factories import AdminFactory, FacilityFactory, login_admin, make_admin, previewed

pytestmark = pytest.mark.django_db


def lump_sum():
    return Program.objects.get(code="lump-sum-2024")


def clinic(best_may, best_august):
    facility = FacilityFactory(kind="clinic")
    for month, users, receipts in ((date(2023, 10, 1), 40, 1000), (date(2024, 5, 1), best_may, 1000),
                                   (date(2024, 8, 1), best_august, 1000)):
        MonthlyStatistic.objects.create(facility=facility, month=month, receipts=receipts,
                                        card_users=users, imported_at=timezone.now())
    Attestation.objects.create(facility=facility, program=lump_sum(), poster=True, informed=True)
    return facility


@pytest.fixture
def draft():
    """Facilities paid for August's users, and a draft without August (they lose 200,000)."""
    clinic(41, 200)
    clinic(200, 10)
    services.run_eligibility(program=lump_sum())
    active = ParameterVersion.objects.get(program=lump_sum(), status="active")
    return services.create_draft_version(
        program=lump_sum(),
        params={**active.params, "evaluation_months": ["2024-05", "2024-06", "2024-07"]},
        effective_from=date(2024, 5, 1), notice="延長前（比較用）")


def test_a_preview_is_queued_and_then_kept_with_its_numbers(draft,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        preview = services.start_preview(version=draft, actor=AdminFactory())
    assert preview.state == PreviewState.QUEUED and preview.total >= 2
    assert len(callbacks) == 1  # the task, after commit
    callbacks[0]()
    preview.refresh_from_db()
    plain = services.preview_version(draft)
    assert preview.state == PreviewState.DONE and preview.done == preview.total
    assert (preview.changed, preview.total_difference, preview.no_longer_eligible) == (
        plain.changed, plain.total_difference, plain.no_longer_eligible) == (1, -200000, 1)
    assert [row["facility_id"] for row in preview.rows] == [c.facility_id for c in plain.changes]
    assert preview.rows[0]["code"] and preview.rows[0]["difference"] == -200000
    assert services.current_preview(draft) == preview
    services.make_preview(preview.pk)  # delivered twice: nothing more
    assert ParameterPreview.objects.get(pk=preview.pk).finished_at == preview.finished_at


def test_progress_is_written_as_the_facilities_are_judged(draft, monkeypatch):
    for _ in range(4):
        FacilityFactory(kind="pharmacy")
    monkeypatch.setattr(services, "PREVIEW_CHUNK", 2)
    seen = []
    preview = ParameterPreview.objects.create(
        version=draft, params_hash=services.params_hash(draft.params), total=6)
    original = ParameterPreview.objects.filter

    def watch(*args, **kwargs):
        rows = original(*args, **kwargs)
        seen.append(ParameterPreview.objects.values_list("done", flat=True).get(pk=preview.pk))
        return rows

    monkeypatch.setattr(ParameterPreview.objects, "filter", watch)
    services.make_preview(preview.pk)
    assert {2, 4} <= set(seen)  # updated between chunks
    assert ParameterPreview.objects.values_list("done", flat=True).get(pk=preview.pk) == 6


def test_the_page_starts_it_shows_its_progress_then_its_result(
        admin_client, draft, django_capture_on_commit_callbacks):
    page = reverse("admin:eligibility_parameterversion_preview", args=[draft.pk])
    body = admin_client.get(page).content.decode()
    assert "適用前の確認を始める" in body and "この版を適用して再判定する" not in body

    running = ParameterPreview.objects.create(
        version=draft, params_hash=services.params_hash(draft.params), total=10, done=4,
        state=PreviewState.RUNNING)
    body = admin_client.get(page).content.decode()
    assert '<progress value="40" max="100">' in body and 'data-auto-refresh="3"' in body
    assert 'http-equiv="refresh"' not in body
    running.delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:eligibility_parameterversion_preview_start", args=[draft.pk]))
    assert response.status_code == 302 and response["Location"] == page
    body = admin_client.get(page).content.decode()
    preview = ParameterPreview.objects.get()
    assert "結果が変わる施設: <strong>1施設</strong>" in body and "-200,000円" in body
    assert f'name="preview" value="{preview.pk}"' in body
    assert "<progress" not in body


def test_apply_rests_on_the_kept_preview_and_names_it(admin_client, draft,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        preview = services.start_preview(version=draft, actor=AdminFactory())
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:eligibility_parameterversion_apply", args=[draft.pk]),
                          {"preview": preview.pk})
    draft.refresh_from_db()
    assert draft.status == ParameterVersion.Status.ACTIVE
    from django_fsm_log.models import StateLog

    assert StateLog.objects.for_(draft).filter(
        transition="apply", description__contains=f"適用前の確認 #{preview.pk}").exists()


def test_a_preview_of_parameters_edited_since_is_not_theirs(admin_client, draft,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        preview = services.start_preview(version=draft, actor=AdminFactory())
    draft.params = {**draft.params, "small_max_receipts": 100}
    draft.save()
    assert services.current_preview(draft) is None
    page = admin_client.get(reverse("admin:eligibility_parameterversion_preview",
                                    args=[draft.pk])).content.decode()
    assert "前回の確認の後にパラメータが変更されました" in page
    response = admin_client.post(
        reverse("admin:eligibility_parameterversion_apply", args=[draft.pk]),
        {"preview": preview.pk}, follow=True)
    assert "もう一度確認してください" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ParameterVersion.Status.DRAFT


def test_only_a_draft_is_previewed_and_only_by_who_may_apply(client, draft):
    active = ParameterVersion.objects.get(program=lump_sum(), status="active")
    with pytest.raises(services.ParameterError):
        services.start_preview(version=active, actor=AdminFactory())
    login_admin(client, make_admin(roles.REVIEWER))
    start = reverse("admin:eligibility_parameterversion_preview_start", args=[draft.pk])
    assert client.post(start).status_code == 403
    assert not ParameterPreview.objects.exists()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=st.one_of(st.text(min_size=1, max_size=30), st.integers().map(str),
                       st.sampled_from([" ", "0", "-1", str(2**63), str(2**70), "1e9", "NaN",
                                        "１", "<script>", "1; DROP TABLE x"])))
def test_a_forged_preview_number_is_refused_without_a_failure(admin_client, draft, value):
    """(No number at all is an apply on the finished preview kept for the parameters as
    they are, refused without one: tested below.)"""
    response = admin_client.post(
        reverse("admin:eligibility_parameterversion_apply", args=[draft.pk]), {"preview": value})
    assert response.status_code in (302, 400)  # 400: a NUL in the form, refused by the portal
    draft.refresh_from_db()
    assert draft.status == ParameterVersion.Status.DRAFT


# ---------------------------------------------------------------- no apply without a preview


def unchanged(draft, active, amounts):
    """Nothing the refused apply could have touched has moved."""
    from django_fsm_log.models import StateLog

    draft.refresh_from_db()
    active.refresh_from_db()
    assert draft.status == ParameterVersion.Status.DRAFT
    assert active.status == ParameterVersion.Status.ACTIVE
    assert not StateLog.objects.for_(draft).exists()  # no history entry
    assert dict(Determination.objects.values_list("facility_id", "amount")) == amounts


@pytest.mark.parametrize("waits", [False, True], ids=["in force at once", "set waiting"])
def test_a_batch_program_is_not_applied_without_a_preview(draft, waits,
                                                          django_capture_on_commit_callbacks):
    if waits:
        draft.effective_from = timezone.localdate() + timedelta(days=30)
        draft.save()
    active = ParameterVersion.objects.get(program=lump_sum(), status="active")
    amounts = dict(Determination.objects.values_list("facility_id", "amount"))
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(
            services.ParameterError, match="適用前の確認がまだです。確認を実行し、結果を見てから"):
        services.apply_version(version=draft, actor=AdminFactory())
    assert callbacks == []  # no batch queued
    unchanged(draft, active, amounts)


def test_the_admin_refuses_an_apply_without_a_finished_preview_on_the_preview_page(
        admin_client, draft, django_capture_on_commit_callbacks):
    active = ParameterVersion.objects.get(program=lump_sum(), status="active")
    amounts = dict(Determination.objects.values_list("facility_id", "amount"))
    apply = reverse("admin:eligibility_parameterversion_apply", args=[draft.pk])
    page = reverse("admin:eligibility_parameterversion_preview", args=[draft.pk])
    ParameterPreview.objects.create(  # one still running is not one seen
        version=draft, params_hash=services.params_hash(draft.params), total=10, done=4,
        state=PreviewState.RUNNING)
    for running in (True, False):
        if not running:
            ParameterPreview.objects.all().delete()
        with django_capture_on_commit_callbacks() as callbacks:
            response = admin_client.post(apply, follow=True)
        assert response.redirect_chain == [(page, 302)]
        assert '<li class="error">適用前の確認がまだです。' in response.content.decode()
        assert callbacks == []
        unchanged(draft, active, amounts)


def test_a_preview_made_before_the_parameters_were_edited_is_refused(
        draft, django_capture_on_commit_callbacks):
    active = ParameterVersion.objects.get(program=lump_sum(), status="active")
    amounts = dict(Determination.objects.values_list("facility_id", "amount"))
    preview = previewed(draft)
    draft.params = {**draft.params, "small_max_receipts": 100}
    draft.save()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(
            services.ParameterError, match="もう一度確認してください"):
        services.apply_version(version=draft, actor=AdminFactory(), preview=preview)
    assert callbacks == []
    unchanged(draft, active, amounts)


def test_an_edit_the_caller_has_not_seen_is_read_at_the_apply(draft):
    """The preview is checked against the parameters stored at the apply, not the caller's
    copy of the version read before someone edited it."""
    preview = previewed(draft)
    ParameterVersion.objects.filter(pk=draft.pk).update(
        params={**draft.params, "small_max_receipts": 100})
    with pytest.raises(services.ParameterError, match="もう一度確認してください"):
        services.apply_version(version=draft, actor=AdminFactory(), preview=preview)
    assert ParameterVersion.objects.get(pk=draft.pk).status == ParameterVersion.Status.DRAFT


def test_a_preview_of_another_draft_is_refused(draft):
    other = services.create_draft_version(program=lump_sum(), params=draft.params,
                                          effective_from=draft.effective_from, notice="別の下書き")
    with pytest.raises(services.ParameterError, match="確認が済んでいません"):
        services.apply_version(version=draft, actor=AdminFactory(), preview=previewed(other))
    assert ParameterVersion.objects.get(pk=draft.pk).status == ParameterVersion.Status.DRAFT


def test_a_claim_based_program_still_applies_without_a_preview(
        admin_client, django_capture_on_commit_callbacks):
    program = Program.objects.get(rule=Program.Rule.DEVICE_LIMITED)
    in_force = ParameterVersion.objects.get(program=program, status="active")
    copy = {"program": program, "params": in_force.params,
            "effective_from": in_force.effective_from}
    draft = services.create_draft_version(**copy, notice="写し（サービス）")
    with django_capture_on_commit_callbacks() as callbacks:
        applied = services.apply_version(version=draft, actor=AdminFactory())
    assert applied.version.status == ParameterVersion.Status.ACTIVE and not applied.queued
    assert callbacks == []  # each claim is computed when made: no batch

    draft = services.create_draft_version(**copy, notice="写し（管理画面）")
    page = admin_client.get(reverse("admin:eligibility_parameterversion_preview",
                                    args=[draft.pk])).content.decode()
    assert "一括の影響確認はありません" in page and "この版を適用して再判定する" in page
    response = admin_client.post(
        reverse("admin:eligibility_parameterversion_apply", args=[draft.pk]), follow=True)
    assert f"第{draft.version}版（下書き） を適用しました。</li>" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ParameterVersion.Status.ACTIVE

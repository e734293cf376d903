"""「適用前の確認」 as a background task: queued from the admin, its progress on its page, its
result kept (tied to the draft and the hash of its parameters) and the apply step resting on
it; a preview made before the parameters were edited is never taken for theirs."""

from datetime import date

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility import services
from eligibility.models import (
    Attestation,
    MonthlyStatistic,
    ParameterPreview,
    ParameterVersion,
    PreviewState,
    Program,
)
from portal import roles
from tests.factories import AdminFactory, FacilityFactory, login_admin, make_admin

pytestmark = pytest.mark.django_db


def lump_sum():
    return Program.objects.get(code="lump-sum-2024")


def clinic(best_may, best_august):
    facility = FacilityFactory(kind="clinic")
    for month, users, receipts in ((date(2023, 10, 1), 40, 1000), (date(2024, 5, 1), best_may, 1000),
                                   (date(2024, 8, 1), best_august, 1000)):
        MonthlyStatistic.objects.create(facility=facility, month=month, receipts=receipts,
                                        card_users=users)
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
    assert '<progress value="40" max="100">' in body and 'http-equiv="refresh"' in body
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
    """(No number at all is the apply of a version without a kept preview, as before.)"""
    response = admin_client.post(
        reverse("admin:eligibility_parameterversion_apply", args=[draft.pk]), {"preview": value})
    assert response.status_code in (302, 400)  # 400: a NUL in the form, refused by the portal
    draft.refresh_from_db()
    assert draft.status == ParameterVersion.Status.DRAFT

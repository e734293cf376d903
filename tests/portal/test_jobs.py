"""The background-job kernel (portal/jobs.py): a job's progress moves and is capped at its
total, each of its moves is kept in its history (StateLog), a second delivery of the same
task does nothing, a stale worker cannot move a job that ended, a failed job keeps its error,
and the three kinds of job (CSV imports, 適用前の確認, 文書の一括作成) all go through it."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_fsm_log.models import StateLog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligibility import services as eligibility_services
from eligibility.models import ParameterPreview, ParameterVersion, PreviewState, Program
from facilities.models import Facility
from obligation.compliance import compute_statuses
from obligation.letters import make_letters, start_letter_batch
from obligation.models import FollowUpStep, LetterBatch, LetterBatchState
from portal import import_jobs, jobs, roles
from portal.errors import NotPermitted
from portal.jobs import BackgroundJob
from portal.models import ImportJob, ImportJobState
from portal.workflow import moves, refusal
from tests.factories import AdminFactory, FacilityFactory, login_admin, make_admin

pytestmark = pytest.mark.django_db

STATS_HEADER = "facility_code,year_month,receipts,card_users,usage_count\n"


def _batch(total: int = 10, state: str = LetterBatchState.QUEUED) -> LetterBatch:
    return LetterBatch.objects.create(kind=LetterBatch.Kind.REQUEST, state=state,
                                      facility_ids=list(range(1, total + 1)), total=total,
                                      created_by=AdminFactory())


def _moves_of(job) -> list[tuple[str, str, str]]:
    return list(StateLog.objects.for_(job).order_by("timestamp", "pk")
                .values_list("transition", "source_state", "state"))


def _judo(count: int) -> list[Facility]:
    facilities = [FacilityFactory(kind="judo") for _ in range(count)]
    compute_statuses([f.pk for f in facilities])  # 未導入: they get letters
    return facilities


# --- progress and history ----------------------------------------------------------------

def test_progress_moves_only_while_the_job_runs_and_never_past_its_total():
    batch = _batch(total=10)
    assert not jobs.progress(LetterBatch, batch.pk, 3)  # queued: nothing written
    assert LetterBatch.objects.get(pk=batch.pk).done == 0

    assert jobs.step(LetterBatch, batch.pk, "start")
    assert jobs.progress(LetterBatch, batch.pk, 4, message="4件を作成しました")
    batch.refresh_from_db()
    assert (batch.state, batch.done, batch.percent, batch.message) == (
        "running", 4, 40, "4件を作成しました")
    assert batch.started_at is not None and batch.in_progress

    assert jobs.progress(LetterBatch, batch.pk, 25)  # more than its total: capped
    assert LetterBatch.objects.get(pk=batch.pk).done == 10

    assert jobs.step(LetterBatch, batch.pk, "finish", done=10)
    assert not jobs.progress(LetterBatch, batch.pk, 2)  # finished: a late report is dropped
    batch.refresh_from_db()
    assert (batch.state, batch.done, batch.percent, batch.in_progress) == ("done", 10, 100, False)
    assert batch.finished_at >= batch.started_at


def test_each_move_is_kept_in_the_jobs_history():
    batch = _batch(total=2)
    jobs.step(LetterBatch, batch.pk, "start")
    jobs.step(LetterBatch, batch.pk, "finish", done=2)
    assert _moves_of(batch) == [("start", "queued", "running"), ("finish", "running", "done")]
    assert all(log.by is None for log in StateLog.objects.for_(batch))  # the worker's moves
    history = batch.state_history()
    assert [(entry["source"], entry["target"]) for entry in history] == [
        ("作成待ち", "作成中"), ("作成中", "作成完了")]


def test_a_failed_job_keeps_its_error_on_the_row_and_in_its_history():
    batch = _batch()
    jobs.step(LetterBatch, batch.pk, "start")
    assert jobs.fail(LetterBatch, batch.pk, "フォントが見つかりません。")
    batch.refresh_from_db()
    assert (batch.state, batch.failure) == ("failed", "フォントが見つかりません。")
    assert batch.finished_at is not None and not batch.in_progress
    log = StateLog.objects.for_(batch).get(transition="fail")
    assert (log.source_state, log.state, log.description) == (
        "running", "failed", "フォントが見つかりません。")
    # A worker that did not know it failed cannot finish it, fail it again or report on it.
    assert not jobs.step(LetterBatch, batch.pk, "finish", done=10)
    assert not jobs.fail(LetterBatch, batch.pk, "もう一度")
    assert not jobs.progress(LetterBatch, batch.pk, 5)
    batch.refresh_from_db()
    assert (batch.state, batch.failure, batch.done) == ("failed", "フォントが見つかりません。", 0)
    assert StateLog.objects.for_(batch).count() == 2


def test_a_finished_job_is_never_moved_by_a_stale_worker():
    batch = _batch(total=1)
    jobs.step(LetterBatch, batch.pk, "start")
    jobs.step(LetterBatch, batch.pk, "finish", done=1, stored_name="a.zip")
    assert not jobs.fail(LetterBatch, batch.pk, "遅れて届いた失敗")
    assert not jobs.step(LetterBatch, batch.pk, "start")
    batch.refresh_from_db()
    assert (batch.state, batch.stored_name, batch.failure) == ("done", "a.zip", "")


def test_an_import_counts_lines_of_a_file_of_unknown_length():
    job = ImportJob.objects.create(kind="monthly_statistics", stored_name="x.csv",
                                   original_name="x.csv", created_by=AdminFactory())
    jobs.step(ImportJob, job.pk, "start")
    assert jobs.progress(ImportJob, job.pk, 5000)  # total unknown (0): not capped
    assert ImportJob.objects.get(pk=job.pk).done == 5000


def test_a_job_that_is_gone_is_no_ones_to_move():
    assert not jobs.step(LetterBatch, 2**40, "start")
    assert not jobs.progress(LetterBatch, 2**40, 1)
    assert not jobs.fail(LetterBatch, 2**40, "x")


def test_no_person_makes_a_workers_move():
    queued, running = _batch(), _batch()
    jobs.step(LetterBatch, running.pk, "start")
    running.refresh_from_db()
    for user in (AdminFactory(), make_admin(roles.SYSTEM_ADMIN), make_admin(superuser=True)):
        assert isinstance(refusal(queued, "start", user), NotPermitted)
        assert isinstance(refusal(running, "finish", user), NotPermitted)
        assert isinstance(refusal(running, "fail", user), NotPermitted)
    assert refusal(queued, "start", None) is None  # the worker (no actor) may


# --- the second delivery of a task ---------------------------------------------------------

def test_a_letter_batch_delivered_twice_is_made_once(django_capture_on_commit_callbacks):
    facilities = _judo(2)
    with django_capture_on_commit_callbacks(execute=True):
        batch = start_letter_batch(actor=AdminFactory(), kind=LetterBatch.Kind.REQUEST,
                                   facility_ids=[f.pk for f in facilities])
    batch.refresh_from_db()
    assert batch.state == "done", batch.failure
    make_letters(batch.pk)  # the same task again
    again = LetterBatch.objects.get(pk=batch.pk)
    assert (again.stored_name, again.finished_at) == (batch.stored_name, batch.finished_at)
    assert [move for move, _, _ in _moves_of(batch)] == ["start", "finish"]
    assert FollowUpStep.objects.filter(letter=batch).count() == 2


def _draft() -> ParameterVersion:
    program = Program.objects.get(code="lump-sum-2024")
    FacilityFactory(kind="clinic")
    active = ParameterVersion.objects.get(program=program, status="active")
    return eligibility_services.create_draft_version(
        program=program, params=dict(active.params), effective_from=date(2024, 5, 1),
        notice="比較用")


def test_a_preview_delivered_twice_is_computed_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        preview = eligibility_services.start_preview(version=_draft(), actor=AdminFactory())
    preview.refresh_from_db()
    assert preview.state == PreviewState.DONE, preview.failure
    eligibility_services.make_preview(preview.pk)
    assert ParameterPreview.objects.get(pk=preview.pk).finished_at == preview.finished_at
    assert [move for move, _, _ in _moves_of(preview)] == ["start", "finish"]


def test_an_import_delivered_twice_is_checked_once_and_imported_once(
        django_capture_on_commit_callbacks, monkeypatch):
    facility = FacilityFactory(kind="clinic")
    admin = make_admin(roles.SYSTEM_ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        job = import_jobs.start_import(actor=admin, kind="monthly_statistics",
                                       upload=SimpleUploadedFile(
                                           "s.csv", (STATS_HEADER + f"{facility.code},2024-05,1,1,1\n")
                                           .encode()))
    import_jobs.check_import_job(job.pk)  # the dry run again: nothing
    job.refresh_from_db()
    assert job.state == ImportJobState.CHECKED and job.done == job.total == 1

    runs = []
    original = import_jobs.run_import

    def counting(path, kind, *, dry_run, progress=None):
        runs.append(dry_run)
        return original(path, kind, dry_run=dry_run, progress=progress)

    monkeypatch.setattr(import_jobs, "run_import", counting)
    with django_capture_on_commit_callbacks(execute=True):
        import_jobs.confirm_import(actor=admin, job=job)
    import_jobs.run_confirmed_import(job.pk)  # the import again: nothing
    import_jobs.check_import_job(job.pk)  # a late dry run: nothing either
    assert runs == [False]
    job.refresh_from_db()
    assert job.state == ImportJobState.DONE and job.new_count == 1
    assert _moves_of(job) == [("start", "uploaded", "checking"), ("finish", "checking", "checked"),
                              ("confirm", "checked", "confirmed"),
                              ("start", "confirmed", "importing"),
                              ("finish", "importing", "done")]
    assert StateLog.objects.for_(job).get(transition="confirm").by_id == admin.pk


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_the_same_moment_start_the_job_once(migration_data):
    from django.db import connection

    from tests.concurrency import run_in_parallel
    from tests.conftest import services_required

    if connection.vendor != "postgresql":
        if services_required():
            pytest.fail("needs PostgreSQL in CI")
        pytest.skip("row locks are tested on PostgreSQL")
    batch = _batch(total=3)
    outcomes = run_in_parallel([lambda: jobs.step(LetterBatch, batch.pk, "start")] * 2)
    assert sorted(outcomes) == [False, True]
    assert [move for move, _, _ in _moves_of(batch)] == ["start"]


# --- every kind of job ---------------------------------------------------------------------

@pytest.mark.parametrize("model", [ImportJob, ParameterPreview, LetterBatch])
def test_every_kind_of_job_is_a_background_job_with_the_workers_moves(model):
    assert issubclass(model, BackgroundJob)
    declared = moves(model)
    for name in ("start", "finish", "fail"):
        assert declared[name].system and not declared[name].visible_to_facility
    assert {field.name for field in model._meta.concrete_fields} >= {
        "state", "total", "done", "message", "failure", "created_by", "created_at",
        "started_at", "finished_at"}
    assert set(model.running_states()) | set(model.queued_states()) <= {
        value for value, _ in model._meta.get_field("state").choices}


def test_a_jobs_history_is_shown_on_its_admin_page(client, django_capture_on_commit_callbacks):
    facilities = _judo(1)
    with django_capture_on_commit_callbacks(execute=True):
        batch = start_letter_batch(actor=AdminFactory(), kind=LetterBatch.Kind.REQUEST,
                                   facility_ids=[f.pk for f in facilities])
    login_admin(client, make_admin(roles.VIEWER))
    page = client.get(reverse("admin:obligation_letterbatch_change", args=[batch.pk]))
    text = page.content.decode()
    assert "処理の履歴" in text and "作成待ち → 作成中" in text and "作成中 → 作成完了" in text


# --- fuzz: any order of deliveries, reports and ends ---------------------------------------

OPERATIONS = st.lists(st.one_of(
    st.just(("start",)), st.just(("finish",)),
    st.tuples(st.just("progress"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("fail"), st.text(min_size=1, max_size=20))), max_size=12)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations=OPERATIONS, total=st.integers(min_value=0, max_value=20))
def test_any_sequence_of_worker_calls_keeps_the_job_consistent(operations, total):
    """Whatever the order (a task delivered again, a late report, a failure after the end):
    the job starts at most once, ends at most once, never reports past its total, and its
    history is the chain of its moves."""
    batch = _batch(total=total)
    ended = None
    for operation in operations:
        before = LetterBatch.objects.get(pk=batch.pk)
        if operation[0] == "start":
            moved = jobs.step(LetterBatch, batch.pk, "start")
            assert moved == (before.state == "queued")
        elif operation[0] == "finish":
            moved = jobs.step(LetterBatch, batch.pk, "finish", done=total)
            assert moved == (before.state == "running")
        elif operation[0] == "progress":
            written = jobs.progress(LetterBatch, batch.pk, operation[1])
            assert written == (before.state == "running")
        else:
            moved = jobs.fail(LetterBatch, batch.pk, operation[1])
            assert moved == (before.state == "running")
        after = LetterBatch.objects.get(pk=batch.pk)
        assert after.done <= after.total
        if ended is not None:
            assert (after.state, after.finished_at, after.failure) == ended
        elif after.state in ("done", "failed"):
            ended = (after.state, after.finished_at, after.failure)
    history = _moves_of(batch)
    assert len([m for m in history if m[0] == "start"]) <= 1
    assert len([m for m in history if m[0] in ("finish", "fail")]) <= 1
    state = "queued"
    for _, source, target in history:
        assert source == state
        state = target
    assert state == LetterBatch.objects.get(pk=batch.pk).state

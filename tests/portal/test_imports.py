"""Administrators' CSV imports as background jobs (issue "Trust" 1, 5, 8, 10): permissions on
every page, nothing invented for a missing column or a blank cell, Shift_JIS and BOM files,
errors by line in Japanese, a dry run that writes nothing, one import per confirmation."""

import stat
from datetime import date

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from eligibility.models import MonthlyStatistic
from facilities.models import Facility
from portal import import_jobs, imports, roles
from portal.csv_export import neutralise
from portal.models import ImportJob
from tests.factories import FacilityFactory, login_admin, make_admin

pytestmark = pytest.mark.django_db

MASTER_HEADER = "code,kind,name,prefecture,address,founder_name,phone,account_last4,main_facility_code\n"
STATS_HEADER = "facility_code,year_month,receipts,card_users,usage_count\n"
FACILITY_URLS = ("admin:facilities_facility_import", "admin:facilities_facility_export")
STATS_URLS = ("admin:eligibility_monthlystatistic_import",
              "admin:eligibility_monthlystatistic_export")


@pytest.fixture
def system_admin(client):
    user = make_admin(roles.SYSTEM_ADMIN)
    login_admin(client, user)
    client.user = user
    return client


@pytest.fixture
def viewer(client):
    user = make_admin(roles.VIEWER)
    login_admin(client, user)
    client.user = user
    return client


def upload(client, url_name: str, content: bytes, capture, name: str = "data.csv"):
    with capture(execute=True):
        response = client.post(reverse(url_name),
                               {"file": SimpleUploadedFile(name, content, "text/csv")})
    return response


def confirm(client, job: ImportJob, capture, url_name="admin:facilities_facility_import_confirm"):
    with capture(execute=True):
        return client.post(reverse(url_name, args=[job.pk]))


def latest_job() -> ImportJob:
    return ImportJob.objects.latest("pk")


# --- 1. permissions ------------------------------------------------------------------------

def test_a_viewer_gets_403_for_master_upload_confirm_and_export_and_nothing_is_written(
        viewer, django_capture_on_commit_callbacks):
    csv = (MASTER_HEADER + "契1001,judo,整骨院,13,港区,開設,03-1-1,1234,\n").encode()
    for url_name in FACILITY_URLS:
        assert viewer.get(reverse(url_name)).status_code == 403
    assert upload(viewer, FACILITY_URLS[0], csv, django_capture_on_commit_callbacks
                  ).status_code == 403
    assert not ImportJob.objects.exists()
    # A job checked by someone who may import: the viewer still cannot confirm it.
    job = import_jobs.start_import(actor=make_admin(roles.SYSTEM_ADMIN), kind="facility_master",
                                   upload=SimpleUploadedFile("m.csv", csv))
    import_jobs.check_import_job(job.pk)
    assert confirm(viewer, job, django_capture_on_commit_callbacks).status_code == 403
    assert viewer.get(reverse("admin:facilities_facility_import_job",
                              args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.state == "checked"
    assert not Facility.objects.exists()


def test_a_viewer_gets_403_for_statistics_upload_and_confirm(
        viewer, django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="clinic")
    csv = (STATS_HEADER + f"{facility.code},2024-05,100,5,7\n").encode()
    assert upload(viewer, STATS_URLS[0], csv, django_capture_on_commit_callbacks
                  ).status_code == 403
    job = import_jobs.start_import(actor=make_admin(roles.SYSTEM_ADMIN),
                                   kind="monthly_statistics",
                                   upload=SimpleUploadedFile("s.csv", csv))
    import_jobs.check_import_job(job.pk)
    response = confirm(viewer, job, django_capture_on_commit_callbacks,
                       "admin:eligibility_monthlystatistic_import_confirm")
    assert response.status_code == 403
    assert not MonthlyStatistic.objects.exists()


def test_statistics_export_needs_the_view_permission(client):
    login_admin(client, make_admin())  # staff in no group
    assert client.get(reverse(STATS_URLS[1])).status_code == 403
    viewer = make_admin(roles.VIEWER)
    login_admin(client, viewer)
    assert client.get(reverse(STATS_URLS[1])).status_code == 200


def test_buttons_are_shown_only_to_those_who_may_use_them(client):
    login_admin(client, make_admin(roles.VIEWER))
    page = client.get(reverse("admin:facilities_facility_changelist")).content.decode()
    assert reverse(FACILITY_URLS[0]) not in page and reverse(FACILITY_URLS[1]) not in page
    page = client.get(reverse("admin:eligibility_monthlystatistic_changelist")).content.decode()
    assert reverse(STATS_URLS[0]) not in page and reverse(STATS_URLS[1]) in page
    assert reverse("admin:portal_importjob_changelist") not in page
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    page = client.get(reverse("admin:facilities_facility_changelist")).content.decode()
    assert ">取り込み</a>" in page and ">書き出し</a>" in page
    assert reverse(FACILITY_URLS[0]) in page and reverse(FACILITY_URLS[1]) in page


def test_import_jobs_are_read_only_in_the_admin(system_admin, django_capture_on_commit_callbacks):
    upload(system_admin, FACILITY_URLS[0], MASTER_HEADER.encode(),
           django_capture_on_commit_callbacks)
    job = latest_job()
    assert system_admin.get(reverse("admin:portal_importjob_changelist")).status_code == 200
    assert system_admin.get(reverse("admin:portal_importjob_change",
                                    args=[job.pk])).status_code == 200
    assert system_admin.get(reverse("admin:portal_importjob_add")).status_code == 403
    assert system_admin.post(reverse("admin:portal_importjob_delete",
                                     args=[job.pk]), {"post": "yes"}).status_code == 403
    assert ImportJob.objects.filter(pk=job.pk).exists()


# --- 5. nothing invented -------------------------------------------------------------------

def test_master_without_the_last4_column_is_refused_whole(
        system_admin, django_capture_on_commit_callbacks):
    csv = "code,kind,name,prefecture\n契1001,judo,整骨院,13\n"
    upload(system_admin, FACILITY_URLS[0], csv.encode(), django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.state == "failed"
    assert "「account_last4」" in job.failure and "ありません" in job.failure
    assert not Facility.objects.exists()
    page = system_admin.get(reverse("admin:facilities_facility_import_job", args=[job.pk]))
    assert "「account_last4」" in page.content.decode()
    assert "取り込みを確定する" not in page.content.decode()


def test_a_blank_last4_cell_is_an_error_on_its_line_and_the_row_is_not_written(
        system_admin, django_capture_on_commit_callbacks):
    csv = MASTER_HEADER + ("契1001,judo,空欄院,13,港区,開設,03-1-1,,\n"
                           "契1002,judo,よい院,13,港区,開設,03-1-1,5678,\n")
    upload(system_admin, FACILITY_URLS[0], csv.encode(), django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.state == "checked"
    assert (job.new_count, job.error_count) == (1, 1)
    assert job.errors == [{"line": 2, "message": "account_last4（口座番号下4桁）が空欄です。"}]
    confirm(system_admin, job, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.state == "done"
    assert list(Facility.objects.values_list("code", "account_last4")) == [("契1002", "5678")]


def test_statistics_without_the_usage_count_column_are_refused_whole(
        system_admin, django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="clinic")
    csv = f"facility_code,year_month,receipts,card_users\n{facility.code},2024-05,100,5\n"
    upload(system_admin, STATS_URLS[0], csv.encode(), django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.state == "failed" and "「usage_count」" in job.failure
    assert not MonthlyStatistic.objects.exists()


def test_a_blank_count_is_an_error_never_a_zero(system_admin,
                                                django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="clinic")
    csv = STATS_HEADER + f"{facility.code},2024-05,100,5,\n"
    upload(system_admin, STATS_URLS[0], csv.encode(), django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.errors == [{"line": 2, "message":
                           "usage_count（利用件数）が空欄です。0件のときも 0 と入力してください。"}]
    assert job.new_count == 0


def test_an_absent_optional_column_leaves_the_stored_value(tmp_path):
    facility = FacilityFactory(kind="judo", code="契1001", address="港区1-1", phone="03-9")
    path = tmp_path / "m.csv"
    path.write_text("code,kind,name,prefecture,account_last4\n契1001,judo,改称院,13,1234\n")
    result = imports.run_import(path, imports.import_kind("facility_master"), dry_run=False)
    assert (result.updated, result.error_lines) == (1, 0)
    facility.refresh_from_db()
    assert (facility.name, facility.address, facility.phone) == ("改称院", "港区1-1", "03-9")


# --- 10. encodings and errors in Japanese ----------------------------------------------------

def test_a_shift_jis_file_with_japanese_names_imports(system_admin,
                                                       django_capture_on_commit_callbacks):
    csv = MASTER_HEADER + "契1001,judo,さくら整骨院,13,港区芝公園,開設 花子,03-1-1,1234,\n"
    upload(system_admin, FACILITY_URLS[0], csv.encode("cp932"), django_capture_on_commit_callbacks)
    job = latest_job()
    assert (job.state, job.new_count, job.errors) == ("checked", 1, [])
    confirm(system_admin, job, django_capture_on_commit_callbacks)
    facility = Facility.objects.get(code="契1001")
    assert (facility.name, facility.address, facility.founder_name) == (
        "さくら整骨院", "港区芝公園", "開設 花子")


def test_a_utf8_file_with_a_bom_imports(system_admin, django_capture_on_commit_callbacks):
    csv = MASTER_HEADER + "契1001,judo,ＢＯＭ整骨院,13,港区,開設,03-1-1,1234,\n"
    upload(system_admin, FACILITY_URLS[0], csv.encode("utf-8-sig"),
           django_capture_on_commit_callbacks)
    job = latest_job()
    assert (job.state, job.new_count) == ("checked", 1)  # the BOM is not part of "code"
    confirm(system_admin, job, django_capture_on_commit_callbacks)
    assert Facility.objects.get(code="契1001").name == "ＢＯＭ整骨院"


def test_a_file_in_neither_encoding_is_refused_in_japanese(system_admin,
                                                            django_capture_on_commit_callbacks):
    csv = MASTER_HEADER + "契1001,judo,さくら整骨院,13,港区,開設,03-1-1,1234,\n"
    upload(system_admin, FACILITY_URLS[0], csv.encode("utf-16"),
           django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.state == "failed"
    assert "文字コード" in job.failure and "Shift_JIS" in job.failure
    assert "UnicodeDecodeError" not in job.failure
    assert not Facility.objects.exists()


def test_errors_are_reported_by_line_number_in_japanese(system_admin,
                                                         django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="clinic")
    csv = STATS_HEADER + (
        f"{facility.code},2023-10,1000,40,55\n"
        "0110113719,2023-10,10,1,1\n"
        f"{facility.code},2023-13,10,1,1\n"
        f"{facility.code},2024-05,-3,1,1\n"
    )
    upload(system_admin, STATS_URLS[0], csv.encode(), django_capture_on_commit_callbacks)
    job = latest_job()
    assert [error["line"] for error in job.errors] == [3, 4, 5]
    assert "施設マスタにありません" in job.errors[0]["message"]
    assert "実在する年月ではありません" in job.errors[1]["message"]
    assert "0以上の整数" in job.errors[2]["message"]
    page = system_admin.get(reverse("admin:eligibility_monthlystatistic_import_job",
                                    args=[job.pk])).content.decode()
    assert "4行目" in page and "実在する年月ではありません" in page
    assert "Traceback" not in page


def test_only_the_first_hundred_errors_are_kept_but_all_are_counted(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(STATS_HEADER + "".join(f"0110113719,2024-{m:02d},1,1,1\n" for m in range(1, 13))
                    + "".join("x,2024-99,1,1,1\n" for _ in range(150)))
    result = imports.run_import(path, imports.import_kind("monthly_statistics"), dry_run=True)
    assert result.error_lines == 162 and len(result.errors) == 100
    assert result.errors[0]["line"] == 2


# --- 8. background jobs, bounded work -------------------------------------------------------

def test_the_dry_run_writes_nothing_and_the_job_page_shows_the_confirm_button(
        system_admin, django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="clinic")
    csv = STATS_HEADER + f"{facility.code},2024-05,100,5,7\n"
    response = upload(system_admin, STATS_URLS[0], csv.encode(),
                      django_capture_on_commit_callbacks)
    job = latest_job()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:eligibility_monthlystatistic_import_job",
                                           args=[job.pk])
    assert (job.state, job.new_count, job.lines_done) == ("checked", 1, 1)
    assert job.dry_run["new"] == 1
    assert not MonthlyStatistic.objects.exists()
    page = system_admin.get(response["Location"]).content.decode()
    assert "取り込みを確定する" in page and "data-auto-refresh" not in page


def test_a_running_job_page_refreshes_itself(system_admin):
    job = ImportJob.objects.create(kind="facility_master", stored_name="x.csv",
                                   original_name="x.csv", created_by=system_admin.user)
    page = system_admin.get(reverse("admin:facilities_facility_import_job", args=[job.pk]))
    # By a script, with a button to stop it (WCAG 2.2.1), not by a <meta> refresh.
    content = page.content.decode()
    assert 'data-auto-refresh="2"' in content and "js/auto-refresh.js" in content
    assert 'http-equiv="refresh"' not in content


def test_the_file_is_kept_privately(system_admin, django_capture_on_commit_callbacks):
    upload(system_admin, FACILITY_URLS[0], MASTER_HEADER.encode(),
           django_capture_on_commit_callbacks)
    job = latest_job()
    path = settings.PRIVATE_STORAGE_ROOT / "imports" / job.stored_name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert job.stored_name != "data.csv" and job.original_name == "data.csv"


def test_a_second_confirmation_imports_nothing_more(system_admin,
                                                    django_capture_on_commit_callbacks,
                                                    monkeypatch):
    facility = FacilityFactory(kind="clinic")
    csv = STATS_HEADER + f"{facility.code},2024-05,100,5,7\n"
    upload(system_admin, STATS_URLS[0], csv.encode(), django_capture_on_commit_callbacks)
    job = latest_job()
    real_runs = []
    original = import_jobs.run_import

    def counting(path, kind, *, dry_run, progress=None):
        if not dry_run:
            real_runs.append(path)
        return original(path, kind, dry_run=dry_run, progress=progress)

    monkeypatch.setattr(import_jobs, "run_import", counting)
    url = "admin:eligibility_monthlystatistic_import_confirm"
    confirm(system_admin, job, django_capture_on_commit_callbacks, url)
    response = confirm(system_admin, job, django_capture_on_commit_callbacks, url)
    assert response.status_code == 302
    assert len(real_runs) == 1
    assert StateLog.objects.for_(job).filter(transition="confirm").count() == 1
    job.refresh_from_db()
    assert (job.state, job.new_count, job.confirmed_by) == ("done", 1, system_admin.user)
    assert MonthlyStatistic.objects.get().usage_count == 7
    page = system_admin.get(reverse("admin:eligibility_monthlystatistic_import_job",
                                    args=[job.pk]), follow=True).content.decode()
    assert "取り込み完了" in page


def test_chunks_are_written_separately_and_a_main_facility_of_an_earlier_chunk_is_found(
        tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_LINES", 2)
    path = tmp_path / "m.csv"
    path.write_text(MASTER_HEADER + "".join(
        f"契{n},ama_acupuncture,院{n},13,港区,開設,03-1-1,1234,{'契1000' if n > 1000 else ''}\n"
        for n in range(1000, 1005)))
    kind = imports.import_kind("facility_master")
    checked = imports.run_import(path, kind, dry_run=True)
    assert (checked.new, checked.error_lines) == (5, 0)
    assert not Facility.objects.exists()
    done = imports.run_import(path, kind, dry_run=False)
    assert (done.new, done.error_lines) == (5, 0)
    assert Facility.objects.filter(main_facility__code="契1000").count() == 4
    again = imports.run_import(path, kind, dry_run=False)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5)


def test_a_line_repeated_in_one_chunk_is_an_error(tmp_path):
    facility = FacilityFactory(kind="clinic")
    path = tmp_path / "s.csv"
    path.write_text(STATS_HEADER + f"{facility.code},2024-05,1,1,1\n{facility.code},2024/5,2,2,2\n")
    result = imports.run_import(path, imports.import_kind("monthly_statistics"), dry_run=False)
    assert result.errors == [{"line": 3, "message": "2行目と同じ対象の行です。1行にまとめてください。"}]
    assert MonthlyStatistic.objects.get().usage_count == 1


def test_the_master_import_keeps_history(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(MASTER_HEADER + "契1001,judo,院,13,港区,開設,03-1-1,1234,\n")
    imports.run_import(path, imports.import_kind("facility_master"), dry_run=False)
    path.write_text(MASTER_HEADER + "契1001,judo,改称院,13,港区,開設,03-1-1,1234,\n")
    imports.run_import(path, imports.import_kind("facility_master"), dry_run=False)
    facility = Facility.objects.get()
    assert [h.name for h in facility.history.order_by("history_date", "history_id")] == [
        "院", "改称院"]


# --- export --------------------------------------------------------------------------------

def test_the_master_export_streams_utf8_with_bom_and_neutralises_formulas(system_admin):
    FacilityFactory(kind="judo", code="契1001", name="=HYPERLINK(\"x\")", account_last4="0123")
    response = system_admin.get(reverse(FACILITY_URLS[1]))
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0] == ("code,kind,name,prefecture,postcode,address,founder_name,phone,"
                                    "account_last4,paper_claims,main_facility_code")
    assert "'=HYPERLINK" in text and ",0123," in text


def test_an_export_imports_back_unchanged(system_admin, tmp_path):
    facility = FacilityFactory(kind="clinic")
    MonthlyStatistic.objects.create(facility=facility, month=date(2024, 5, 1), receipts=10,
                                    card_users=2, usage_count=3, imported_at=timezone.now())
    response = system_admin.get(reverse(STATS_URLS[1]))
    path = tmp_path / "s.csv"
    path.write_bytes(b"".join(response.streaming_content))
    result = imports.run_import(path, imports.import_kind("monthly_statistics"), dry_run=True)
    assert (result.lines, result.unchanged, result.error_lines) == (1, 1, 0)


@pytest.mark.parametrize(("value", "written"), [
    ("=1+1", "'=1+1"), ("+81", "'+81"), ("-3", "'-3"), ("@SUM", "'@SUM"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("さくら", "さくら"), ("03-1", "03-1"),
])
def test_cells_that_a_spreadsheet_would_run_are_quoted(value, written):
    assert neutralise(value) == written


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_confirmations_import_once(monkeypatch):
    """Two administrators press 「取り込みを確定する」 at the same moment: one move, one import."""
    from django.db import connection

    from portal.errors import IllegalTransition
    from tests.conftest import services_required
    from tests.facilities.test_races import run_in_parallel

    if connection.vendor != "postgresql":
        if services_required():
            pytest.fail("needs PostgreSQL in CI")
        pytest.skip("row locks are tested on PostgreSQL")
    facility = FacilityFactory(kind="clinic")
    first, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    job = import_jobs.start_import(  # runs its dry run on commit (no transaction here)
        actor=first, kind="monthly_statistics",
        upload=SimpleUploadedFile("s.csv", (STATS_HEADER + f"{facility.code},2024-05,1,1,1\n")
                                  .encode()))
    assert ImportJob.objects.get(pk=job.pk).state == "checked"
    real_runs = []
    original = import_jobs.run_import

    def counting(path, kind, *, dry_run, progress=None):
        if not dry_run:
            real_runs.append(path)
        return original(path, kind, dry_run=dry_run, progress=progress)

    monkeypatch.setattr(import_jobs, "run_import", counting)
    results = run_in_parallel([
        lambda: import_jobs.confirm_import(actor=first, job=job),
        lambda: import_jobs.confirm_import(actor=second, job=job),
    ])
    assert sum(isinstance(result, ImportJob) for result in results) == 1
    assert sum(isinstance(result, IllegalTransition) for result in results) == 1
    assert len(real_runs) == 1
    assert ImportJob.objects.get(pk=job.pk).state == "done"
    assert MonthlyStatistic.objects.count() == 1


def test_the_master_reads_a_postcode_in_any_width_and_letters_write_it(tmp_path):
    """docs/decisions.md D8b.3: a facility's address on a letter is 〒, prefecture, the rest."""
    path = tmp_path / "m.csv"
    path.write_text("code,kind,name,prefecture,postcode,address,account_last4\n"
                    "契1001,judo,郵便院,13,〒１００８９１６,千代田区霞が関1-2-2,1234\n"
                    "契1002,judo,誤記院,13,100-891,千代田区,1234\n")
    result = imports.run_import(path, imports.import_kind("facility_master"), dry_run=False)
    facility = Facility.objects.get(code="契1001")
    assert facility.postcode == "100-8916"
    assert facility.postal_address == "〒100-8916 東京都千代田区霞が関1-2-2"
    assert [error["line"] for error in result.errors] == [3]
    assert "postcode" in result.errors[0]["message"]
    assert not Facility.objects.filter(code="契1002").exists()

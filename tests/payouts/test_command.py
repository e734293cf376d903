"""`manage.py payout`: the same services as the admin, from the command line; a refusal is
the services' Japanese message with exit code 1."""

import os
import sqlite3
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from payouts import services
from payouts.models import PaymentLine, PayoutRun
from portal import roles
from tests.factories import make_admin
from tests.payouts.helpers import lump_sum, officers, payables, set_consignor, transfer_day


def payout(*args) -> list[str]:
    """Run the command; its stdout as lines."""
    out = StringIO()
    call_command("payout", *[str(arg) for arg in args], stdout=out)
    return out.getvalue().splitlines()


def create(officer, day=None) -> list[str]:
    return payout("create", "--program", lump_sum().code, "--transfer-date",
                  (day or transfer_day()).isoformat(), "--by", officer.email)


def results_csv(rows) -> bytes:
    return ("顧客コード1,結果コード\r\n" + "".join(f"{pk},{code}\r\n" for pk, code in rows)).encode()


@pytest.mark.django_db
class TestCreate:
    def test_prints_the_summary_and_the_runs_number_alone_on_the_last_line(self):
        payables(3, amount=100_000)
        creator, _ = officers()
        lines = create(creator)
        run = PayoutRun.objects.get()
        assert lines[-1] == str(run.pk)
        assert (run.state, run.line_count, run.created_by) == (PayoutRun.State.CREATED, 3,
                                                               creator)
        summary = "\n".join(lines)
        assert "合計: 3件 300,000円" in summary and "東京都: 3件 300,000円" in summary
        assert "承認待ち" in summary and lump_sum().code in summary

    def test_nothing_payable_is_an_error(self):
        creator, _ = officers()
        with pytest.raises(CommandError, match="支払の対象がありませんでした"):
            create(creator)
        assert PayoutRun.objects.get().state == PayoutRun.State.EMPTY

    def test_a_holiday_is_refused_with_the_next_business_day(self):
        payables(1)
        creator, _ = officers()
        with pytest.raises(CommandError, match="成人の日.*次の営業日は令和9年1月12日です"):
            payout("create", "--program", lump_sum().code, "--transfer-date", "2027-01-11",
                   "--by", creator.email)
        assert not PayoutRun.objects.exists()

    @pytest.mark.parametrize("typed", ["2027-02-30", "tomorrow", "9999-12-31", "1999-01-04"])
    def test_a_date_that_is_no_date_or_out_of_range_is_refused(self, typed):
        payables(1)
        creator, _ = officers()
        with pytest.raises(CommandError, match="振込指定日"):
            payout("create", "--program", lump_sum().code, "--transfer-date", typed,
                   "--by", creator.email)
        assert not PayoutRun.objects.exists()

    def test_an_unknown_program_lists_those_paid(self):
        creator, _ = officers()
        with pytest.raises(CommandError, match="lump-sum-2024"):
            payout("create", "--program", "nothing", "--transfer-date",
                   transfer_day().isoformat(), "--by", creator.email)

    def test_by_must_be_an_active_staff_account(self):
        from tests.factories import UserFactory

        payables(1)
        inactive = make_admin(roles.PAYOUT_OFFICER, is_active=False)
        for email in ("nobody@example.jp", UserFactory().email, inactive.email):
            with pytest.raises(CommandError, match="有効な管理者アカウントが見つかりません"):
                payout("create", "--program", lump_sum().code, "--transfer-date",
                       transfer_day().isoformat(), "--by", email)
        assert not PayoutRun.objects.exists()

    def test_an_administrator_without_the_permission_is_refused(self):
        payables(1)
        reviewer = make_admin(roles.REVIEWER)
        with pytest.raises(CommandError, match="権限がありません"):
            create(reviewer)
        assert not PayoutRun.objects.exists()


@pytest.mark.django_db
class TestRelease:
    def test_the_creator_may_not_release_but_a_second_officer_may(self):
        payables(2)
        creator, releaser = officers()
        number = create(creator)[-1]
        with pytest.raises(CommandError, match="二者確認"):
            payout("release", number, "--by", creator.email)
        assert PayoutRun.objects.get().state == PayoutRun.State.CREATED
        [line] = payout("release", number, "--by", releaser.email)
        assert line.startswith(f"支払バッチ{number}を承認しました: 2件")
        run = PayoutRun.objects.get()
        assert (run.state, run.released_by) == (PayoutRun.State.RELEASED, releaser)

    def test_an_unknown_run_is_refused(self):
        _, releaser = officers()
        with pytest.raises(CommandError, match="支払バッチ999はありません"):
            payout("release", 999, "--by", releaser.email)

    def test_a_run_released_twice_is_refused_the_second_time(self):
        payables(1)
        creator, releaser = officers()
        number = create(creator)[-1]
        payout("release", number, "--by", releaser.email)
        with pytest.raises(CommandError, match="承認済み"):
            payout("release", number, "--by", releaser.email)


@pytest.mark.django_db
class TestFileAndResults:
    def released(self, count=2):
        payables(count)
        creator, releaser = officers()
        run = services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                  actor=creator)
        return services.release_run(run=run, actor=releaser), releaser

    def test_the_file_is_written_as_the_services_make_it(self, tmp_path):
        set_consignor()
        run, _ = self.released()
        target = tmp_path / "furikomi.txt"
        [line] = payout("file", run.pk, "--output", target)
        assert target.read_bytes() == services.transfer_file(run=run)
        assert "2件" in line and "0123456" not in line
        payout("file", run.pk, "--output", target)  # again: the same bytes
        assert target.read_bytes() == services.transfer_file(run=run)

    def test_no_file_before_release_nor_into_a_missing_folder(self, tmp_path):
        set_consignor()
        payables(1)
        creator, _ = officers()
        run = services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                  actor=creator)
        with pytest.raises(CommandError, match="承認後"):
            payout("file", run.pk, "--output", tmp_path / "x.txt")
        run, _ = self.released()
        with pytest.raises(CommandError, match="書き出せません"):
            payout("file", run.pk, "--output", tmp_path / "missing" / "x.txt")
        assert not (tmp_path / "x.txt").exists()

    def test_the_file_with_by_checks_the_permission(self, tmp_path):
        set_consignor()
        run, _ = self.released()
        with pytest.raises(CommandError, match="権限がありません"):
            payout("file", run.pk, "--output", tmp_path / "x.txt", "--by",
                   make_admin(roles.VIEWER).email)
        assert not (tmp_path / "x.txt").exists()

    def test_results_are_imported_and_settle_the_run(self, tmp_path):
        run, releaser = self.released()
        first, second = run.lines.order_by("pk")
        path = tmp_path / "kekka.csv"
        path.write_bytes(results_csv([(first.pk, 0), (second.pk, 2)]))
        lines = payout("results", run.pk, "--file", path, "--by", releaser.email)
        assert "振込済 1件、振込不能 1件" in lines[0] and "振込結果取込済み" in lines[-1]
        assert PayoutRun.objects.get().state == PayoutRun.State.SETTLED

    def test_a_bad_results_file_changes_nothing(self, tmp_path):
        run, releaser = self.released()
        path = tmp_path / "kekka.csv"
        path.write_bytes("顧客コード1,結果コード\r\n1,7\r\nx,0\r\n".encode())
        with pytest.raises(CommandError, match="何も変更していません(.|\n)*2行目(.|\n)*3行目"):
            payout("results", run.pk, "--file", path, "--by", releaser.email)
        assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.RELEASED}
        with pytest.raises(CommandError, match="読めません"):
            payout("results", run.pk, "--file", tmp_path / "none.csv", "--by", releaser.email)

    def test_results_need_the_permission(self, tmp_path):
        run, _ = self.released(1)
        path = tmp_path / "kekka.csv"
        path.write_bytes(results_csv([(run.lines.get().pk, 0)]))
        with pytest.raises(CommandError, match="権限がありません"):
            payout("results", run.pk, "--file", path, "--by", make_admin(roles.APPROVER).email)
        assert run.lines.get().state == PaymentLine.State.RELEASED


# ------------------------------------------------------------ a real process, exit codes


def _database_for_a_process(tmp_path) -> str:
    """A DATABASE_URL another process can open holding this test's (committed) rows: the
    test database itself on PostgreSQL, a copy of the in-memory one on SQLite."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"
    copy = tmp_path / "copy.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(copy) as target:
        connection.connection.backup(target)
    return f"sqlite:///{copy}"


def _manage(database_url: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test",
           "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "manage.py", "payout", *map(str, args)], env=env,
                          capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_as_a_process_the_number_is_the_last_line_and_nothing_payable_exits_1(
        migration_data, tmp_path):
    payables(2)
    creator, _ = officers()
    database_url = _database_for_a_process(tmp_path)
    day = transfer_day().isoformat()

    created = _manage(database_url, "create", "--program", lump_sum().code,
                      "--transfer-date", day, "--by", creator.email)
    assert created.returncode == 0, created.stderr
    number = created.stdout.splitlines()[-1]
    assert number.isdigit()

    again = _manage(database_url, "create", "--program", lump_sum().code,
                    "--transfer-date", day, "--by", creator.email)
    assert again.returncode == 1
    assert "支払の対象がありませんでした" in again.stderr
    assert again.stdout.strip() == ""

    refused = _manage(database_url, "release", number, "--by", creator.email)
    assert refused.returncode == 1 and "二者確認" in refused.stderr


@pytest.mark.django_db
def test_a_results_file_that_is_no_csv_at_all_is_refused(tmp_path):
    payables(1)
    creator, releaser = officers()
    run = services.release_run(run=services.create_run(
        program=lump_sum(), transfer_date=transfer_day(), actor=creator), actor=releaser)
    path = tmp_path / "kekka.csv"
    path.write_bytes(b"\r\x01")
    with pytest.raises(CommandError, match="CSVとして読めません"):
        payout("results", run.pk, "--file", path, "--by", releaser.email)
    assert run.lines.get().state == PaymentLine.State.RELEASED

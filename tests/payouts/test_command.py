"""`manage.py payout`: the same services as the admin, from the command line; a refusal is
the services' Japanese message with exit code 1. Whoever runs it is the officer `--by`
names, proved by that officer's password and current authenticator code, typed (here: read
from standard input, which is not a terminal)."""

import logging
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
from payouts.management.commands.payout import LIMITED, WRONG
from payouts.models import PaymentLine, PayoutRun
from portal import roles
from tests.factories import PASSWORD, make_admin
from tests.payouts.helpers import (
    checked,
    lump_sum,
    officers,
    on_the_day,
    payables,
    results_csv,
    set_consignor,
    totp_code,
    transfer_day,
    write_file,
)


@pytest.fixture(autouse=True)
def _code_of_the_last_30_seconds_too(settings):
    """As tests/payouts/command_settings.py: a code typed at the end of its 30 seconds is
    still good when it is checked a moment later."""
    settings.MFA_TOTP_TOLERANCE = 1


def typed(user, *, password: str = PASSWORD, code: str | None = None) -> StringIO:
    """What is typed at the command's two prompts: a password, then a code (by default the
    officer's own password and the code their authenticator shows now)."""
    return StringIO(f"{password}\n{totp_code(user) if code is None else code}\n")


def payout(*args, typing: StringIO | None = None) -> list[str]:
    """Run the command; its stdout as lines. Unless `typing` says otherwise, the officer
    `--by` names types their own password and current code."""
    args = [str(arg) for arg in args]
    if typing is None and "--by" in args:
        from django.contrib.auth import get_user_model

        named = get_user_model().objects.filter(email=args[args.index("--by") + 1],
                                                authenticator__type="totp").first()
        typing = typed(named) if named is not None else StringIO("")
    out = StringIO()
    call_command("payout", *args, stdout=out, stdin=typing or StringIO(""))
    return out.getvalue().splitlines()


def create(officer, day=None, **typing) -> list[str]:
    return payout("create", "--program", lump_sum().code, "--transfer-date",
                  (day or transfer_day()).isoformat(), "--by", officer.email, **typing)


def created_run(count: int = 2):
    creator, releaser = officers()
    payables(count)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    return run, creator, releaser


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

    @pytest.mark.parametrize("typed_day", ["2027-02-30", "tomorrow", "9999-12-31",
                                           "1999-01-04"])
    def test_a_date_that_is_no_date_or_out_of_range_is_refused(self, typed_day):
        payables(1)
        creator, _ = officers()
        with pytest.raises(CommandError, match="振込指定日"):
            payout("create", "--program", lump_sum().code, "--transfer-date", typed_day,
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
        run, creator, releaser = created_run()
        with pytest.raises(CommandError, match="二者確認"):
            payout("release", run.pk, "--by", creator.email)
        assert PayoutRun.objects.get().state == PayoutRun.State.CREATED
        [line] = payout("release", run.pk, "--by", releaser.email)
        assert line.startswith(f"支払バッチ{run.pk}を承認しました: 2件")
        run = PayoutRun.objects.get()
        assert (run.state, run.released_by) == (PayoutRun.State.RELEASED, releaser)

    def test_an_unknown_run_is_refused(self):
        _, releaser = officers()
        with pytest.raises(CommandError, match="支払バッチ999はありません"):
            payout("release", 999, "--by", releaser.email)

    def test_a_run_released_twice_is_refused_the_second_time(self):
        run, _, releaser = created_run(1)
        payout("release", run.pk, "--by", releaser.email)
        with pytest.raises(CommandError, match="承認済み"):
            payout("release", run.pk, "--by", make_admin(roles.PAYOUT_OFFICER).email)


# ---------------------------------------------------- the officer named is the one typing


@pytest.mark.django_db
class TestAuthentication:
    def test_the_creator_cannot_release_in_another_officers_name(self):
        """`payout release RUN --by OTHER@` run by the creator must not release the run: the
        command asks OTHER's password and current code (docs/decisions.md D5.4.2)."""
        run, creator, releaser = created_run()
        releasers_password = "Releaser-Only-2468"  # the creator does not know it
        releaser.set_password(releasers_password)
        releaser.save()
        attempts = [
            typed(creator),  # the creator's own password and code
            typed(creator, code=totp_code(releaser)),  # the other's code, without its password
            typed(releaser, password=releasers_password, code="000000"),  # a guessed code
            StringIO(""),  # nothing typed
        ]
        for typing in attempts:
            with pytest.raises(CommandError) as refused:
                payout("release", run.pk, "--by", releaser.email, typing=typing)
            assert "何も変更していません" in refused.value.args[0]
        run.refresh_from_db()
        assert (run.state, run.released_by) == (PayoutRun.State.CREATED, None)
        assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.SCHEDULED}
        payout("release", run.pk, "--by", releaser.email,  # the officer named, typing
               typing=typed(releaser, password=releasers_password))
        assert PayoutRun.objects.get().released_by == releaser

    def test_every_action_that_moves_money_asks_the_named_officer(self, tmp_path):
        """create, check, release, file, results: a wrong password or code changes nothing,
        exit code 1 with the same message (which of the two was wrong is not said)."""
        payables(1)
        creator, releaser = officers()
        wrong = {"password": "not-the-password"}
        with pytest.raises(CommandError, match=WRONG):
            create(creator, typing=typed(creator, **wrong))
        assert not PayoutRun.objects.exists()

        from payouts.tasks import create_scheduled_runs

        create_scheduled_runs()
        run = PayoutRun.objects.get()
        with pytest.raises(CommandError, match=WRONG):
            payout("check", run.pk, "--by", creator.email, typing=typed(creator, **wrong))
        assert PayoutRun.objects.get().state == PayoutRun.State.TO_CHECK
        checked(run, creator)
        with pytest.raises(CommandError, match=WRONG):
            payout("release", run.pk, "--by", releaser.email, typing=typed(releaser, **wrong))
        assert PayoutRun.objects.get().state == PayoutRun.State.CREATED

        services.release_run(run=run, actor=releaser)
        set_consignor()
        target = tmp_path / "furikomi.txt"
        with pytest.raises(CommandError, match=WRONG):
            payout("file", run.pk, "--output", target, "--by", releaser.email,
                   typing=typed(releaser, **wrong))
        assert not target.exists() and not os.listdir(tmp_path)  # not even the temporary
        assert not PayoutRun.objects.get().file_sha256

        write_file(run, releaser)
        path = tmp_path / "kekka.csv"
        path.write_bytes(results_csv([(run.lines.get().pk, 0)]))
        with on_the_day(run.transfer_date), pytest.raises(CommandError, match=WRONG):
            payout("results", run.pk, "--file", path, "--by", releaser.email,
                   typing=typed(releaser, **wrong))
        assert run.lines.get().state == PaymentLine.State.RELEASED

    def test_failures_are_limited_per_officer(self):
        """Five wrong attempts in five minutes (the log-in's limit per account): the sixth is
        refused before anything is checked, the right password and code too."""
        run, _, releaser = created_run(1)
        other = make_admin(roles.PAYOUT_OFFICER)
        for _ in range(5):
            with pytest.raises(CommandError, match=WRONG):
                payout("release", run.pk, "--by", releaser.email,
                       typing=typed(releaser, password="guess"))
        with pytest.raises(CommandError, match=LIMITED):
            payout("release", run.pk, "--by", releaser.email)
        assert PayoutRun.objects.get().state == PayoutRun.State.CREATED
        payout("release", run.pk, "--by", other.email)  # another officer is not limited
        assert PayoutRun.objects.get().released_by == other

    def test_a_success_spends_nothing_of_the_limit(self, settings):
        settings.RATE_LIMITS = {"officer_authentication": "2/5m"}
        run, creator, _ = created_run(1)
        for code in (totp_code(creator), _previous_code(creator)):
            with pytest.raises(CommandError, match="二者確認"):  # authenticated, then refused
                payout("release", run.pk, "--by", creator.email,
                       typing=typed(creator, code=code))
        for _ in range(2):
            with pytest.raises(CommandError, match=WRONG):
                payout("release", run.pk, "--by", creator.email,
                       typing=typed(creator, password="guess"))
        with pytest.raises(CommandError, match=LIMITED):
            payout("release", run.pk, "--by", creator.email)

    def test_a_code_typed_once_is_refused_the_second_time(self):
        run, creator, releaser = created_run(1)
        code = totp_code(creator)
        with pytest.raises(CommandError, match="二者確認"):
            payout("release", run.pk, "--by", creator.email, typing=typed(creator, code=code))
        with pytest.raises(CommandError, match=WRONG):  # seen over the shoulder: spent
            payout("release", run.pk, "--by", creator.email, typing=typed(creator, code=code))

    def test_an_officer_without_two_factor_cannot_use_the_command(self):
        from allauth.mfa.models import Authenticator

        run, _, releaser = created_run(1)
        Authenticator.objects.filter(user=releaser).delete()
        with pytest.raises(CommandError, match="二段階認証"):
            payout("release", run.pk, "--by", releaser.email, typing=StringIO("x\n1\n"))
        assert PayoutRun.objects.get().state == PayoutRun.State.CREATED

    def test_the_password_and_code_are_never_arguments_nor_written_anywhere(self, caplog):
        run, _, releaser = created_run(1)
        with pytest.raises(CommandError):
            payout("release", run.pk, "--by", releaser.email, "--password", "x")
        caplog.set_level(logging.DEBUG)
        code = totp_code(releaser)
        out, err = StringIO(), StringIO()
        for password in ("wrong-password", PASSWORD):
            try:
                call_command("payout", "release", str(run.pk), "--by", releaser.email,
                             stdout=out, stderr=err,
                             stdin=StringIO(f"{password}\n{code}\n"))
            except CommandError as error:
                err.write(str(error))
        assert PayoutRun.objects.get().state == PayoutRun.State.RELEASED
        written = out.getvalue() + err.getvalue() + caplog.text
        assert "wrong-password" not in written and PASSWORD not in written
        assert code not in written
        assert f"wrong password or code for user {releaser.pk}" in caplog.text


def _previous_code(user) -> str:
    """The code the authenticator showed 30 seconds ago (accepted: tolerance 1)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )
    from allauth.mfa.utils import decrypt

    secret = decrypt(Authenticator.objects.get(user=user, type="totp").data["secret"])
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


# --------------------------------------------- a scheduled run: one checks, another releases


@pytest.mark.django_db
def test_a_scheduled_run_is_checked_by_one_officer_and_released_by_another():
    from payouts.tasks import create_scheduled_runs

    payables(2)
    create_scheduled_runs()
    run = PayoutRun.objects.get()
    checker, releaser = officers()
    with pytest.raises(CommandError, match="承認の前に支払担当者の確認"):
        payout("release", run.pk, "--by", releaser.email)
    lines = payout("check", run.pk, "--by", checker.email)
    assert lines[0].startswith(f"支払バッチ{run.pk}を確認しました: 2件")
    assert "確認した方とは別の支払担当者" in lines[1]
    assert PayoutRun.objects.get().checked_by == checker
    with pytest.raises(CommandError, match="二者確認"):
        payout("release", run.pk, "--by", checker.email,
               typing=typed(checker, code=_previous_code(checker)))
    payout("release", run.pk, "--by", releaser.email)
    assert PayoutRun.objects.get().released_by == releaser


@pytest.mark.django_db
class TestFileAndResults:
    def released(self, count=2):
        run, _, releaser = created_run(count)
        return services.release_run(run=run, actor=releaser), releaser

    def test_the_file_is_written_as_the_services_make_it(self, tmp_path):
        set_consignor()
        run, releaser = self.released()
        target = tmp_path / "furikomi.txt"
        [line] = payout("file", run.pk, "--output", target, "--by", releaser.email)
        assert target.read_bytes() == services.transfer_file(run=run, actor=releaser)
        assert "2件" in line and "0123456" not in line
        payout("file", run.pk, "--output", target, "--by",  # again: the same bytes
               make_admin(roles.PAYOUT_OFFICER).email)
        assert target.read_bytes() == services.transfer_file(run=run, actor=releaser)

    def test_no_file_before_release_nor_into_a_missing_folder(self, tmp_path):
        set_consignor()
        run, _, releaser = created_run(1)
        with pytest.raises(CommandError, match="承認後"):
            payout("file", run.pk, "--output", tmp_path / "x.txt", "--by", releaser.email)
        run, releaser = self.released()
        with pytest.raises(CommandError, match="書き出せません"):
            payout("file", run.pk, "--output", tmp_path / "missing" / "x.txt", "--by",
                   releaser.email)
        assert not (tmp_path / "x.txt").exists()
        assert not PayoutRun.objects.get(pk=run.pk).file_sha256

    def test_the_file_needs_an_officer_with_the_permission(self, tmp_path):
        """`payout file` needs `--by` an officer with the permission (docs/decisions.md D5.4.3)."""
        set_consignor()
        run, _ = self.released()
        with pytest.raises(CommandError, match="--by"):
            payout("file", run.pk, "--output", tmp_path / "x.txt")
        with pytest.raises(CommandError, match="権限がありません"):
            payout("file", run.pk, "--output", tmp_path / "x.txt", "--by",
                   make_admin(roles.VIEWER).email)
        assert not os.listdir(tmp_path)
        assert not PayoutRun.objects.get(pk=run.pk).file_sha256

    def test_results_are_imported_and_settle_the_run(self, tmp_path):
        run, releaser = self.released()
        write_file(run, releaser)
        first, second = run.lines.order_by("pk")
        path = tmp_path / "kekka.csv"
        path.write_bytes(results_csv([(first.pk, 0), (second.pk, 2)]))
        with on_the_day(run.transfer_date):
            lines = payout("results", run.pk, "--file", path, "--by", releaser.email)
        assert "振込済 1件、振込不能 1件" in lines[0] and "振込結果取込済み" in lines[-1]
        assert PayoutRun.objects.get().state == PayoutRun.State.SETTLED

    def test_results_before_the_file_or_the_transfer_date_are_refused(self, tmp_path):
        """Results are refused for a run whose file was never written, and before its
        transfer date (docs/decisions.md D5.4.3)."""
        from portal.wareki import to_wareki

        run, releaser = self.released(1)
        path = tmp_path / "kekka.csv"
        path.write_bytes(results_csv([(run.lines.get().pk, 0)]))
        with on_the_day(run.transfer_date), pytest.raises(
                CommandError, match="振込データがまだ作成されていません"):
            payout("results", run.pk, "--file", path, "--by", releaser.email)
        write_file(run, releaser)
        with pytest.raises(CommandError, match=f"振込指定日（{to_wareki(run.transfer_date)}）"
                                               "より前には結果を取り込めません"):
            payout("results", run.pk, "--file", path, "--by", releaser.email)
        assert run.lines.get().state == PaymentLine.State.RELEASED

    def test_a_bad_results_file_changes_nothing(self, tmp_path):
        run, releaser = self.released()
        write_file(run, releaser)
        path = tmp_path / "kekka.csv"
        path.write_bytes("顧客コード1,結果コード\r\n1,7\r\nx,0\r\n".encode())
        with on_the_day(run.transfer_date):
            with pytest.raises(CommandError,
                               match="何も変更していません(.|\n)*2行目(.|\n)*3行目"):
                payout("results", run.pk, "--file", path, "--by", releaser.email)
            assert set(run.lines.values_list("state", flat=True)) == {
                PaymentLine.State.RELEASED}
            with pytest.raises(CommandError, match="読めません"):
                payout("results", run.pk, "--file", tmp_path / "none.csv", "--by",
                       releaser.email)

    def test_results_need_the_permission(self, tmp_path):
        run, releaser = self.released(1)
        write_file(run, releaser)
        path = tmp_path / "kekka.csv"
        path.write_bytes(results_csv([(run.lines.get().pk, 0)]))
        with on_the_day(run.transfer_date), pytest.raises(CommandError, match="権限がありません"):
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


def _manage(database_url: str, *args, typing: str = "") -> subprocess.CompletedProcess:
    """`manage.py payout …` in a process of its own, `typing` on its standard input (a pipe,
    not a terminal: the command reads the password and the code from it)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.payouts.command_settings",
           "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "manage.py", "payout", *map(str, args)], env=env,
                          input=typing, capture_output=True, text=True, cwd=settings.BASE_DIR,
                          timeout=120)


def _typed(user) -> str:
    return f"{PASSWORD}\n{totp_code(user)}\n"


@pytest.mark.django_db(transaction=True)
def test_as_a_process_the_number_is_the_last_line_and_nothing_payable_exits_1(
        migration_data, tmp_path):
    payables(2)
    creator, releaser = officers()
    database_url = _database_for_a_process(tmp_path)
    day = transfer_day().isoformat()

    created = _manage(database_url, "create", "--program", lump_sum().code,
                      "--transfer-date", day, "--by", creator.email, typing=_typed(creator))
    assert created.returncode == 0, created.stderr
    number = created.stdout.splitlines()[-1]
    assert number.isdigit()

    again = _manage(database_url, "create", "--program", lump_sum().code,
                    "--transfer-date", day, "--by", creator.email, typing=_typed(creator))
    assert again.returncode == 1
    assert "支払の対象がありませんでした" in again.stderr
    assert again.stdout.strip() == ""

    refused = _manage(database_url, "release", number, "--by", creator.email,
                      typing=_typed(creator))
    assert refused.returncode == 1 and "二者確認" in refused.stderr

    # The creator names the other officer: without that officer's password and code, no.
    impersonated = _manage(database_url, "release", number, "--by", releaser.email,
                           typing=_typed(creator))
    assert impersonated.returncode == 1 and WRONG in impersonated.stderr
    nothing_typed = _manage(database_url, "release", number, "--by", releaser.email)
    assert nothing_typed.returncode == 1 and "入力してください" in nothing_typed.stderr

    released = _manage(database_url, "release", number, "--by", releaser.email,
                       typing=_typed(releaser))
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith(f"支払バッチ{number}を承認しました: 2件")
    assert PASSWORD not in released.stdout + released.stderr


@pytest.mark.django_db
def test_a_results_file_that_is_no_csv_at_all_is_refused(tmp_path):
    payables(1)
    creator, releaser = officers()
    run = services.release_run(run=services.create_run(
        program=lump_sum(), transfer_date=transfer_day(), actor=creator), actor=releaser)
    write_file(run, releaser)
    path = tmp_path / "kekka.csv"
    path.write_bytes(b"\r\x01")
    with on_the_day(run.transfer_date), pytest.raises(CommandError, match="CSVとして読めません"):
        payout("results", run.pk, "--file", path, "--by", releaser.email)
    assert run.lines.get().state == PaymentLine.State.RELEASED

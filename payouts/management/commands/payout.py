"""`manage.py payout`: payout runs from the command line, through the same services as the
admin and the schedule.

    payout create --program CODE --transfer-date YYYY-MM-DD --by EMAIL
        builds the run and prints its summary; the last line is the run's number alone.
        Nothing payable: says so on stderr, exit code 1.
    payout check RUN --by EMAIL        a payout officer checks a run the schedule built
    payout release RUN --by EMAIL      another payout officer than whoever created or
                                       checked it releases it
    payout file RUN --output PATH --by EMAIL     writes the released run's 全銀 transfer file
    payout results RUN --file PATH --by EMAIL    imports the bank's results (CSV)

Whoever runs the command is the officer `--by` names, and proves it as at the admin's
log-in, with their password and the current code of their authenticator app, typed or read
from standard input (portal.officers, shared with `manage.py parameters apply`). What the
officer may do is checked by the services. A refusal is a CommandError with the services'
Japanese message (exit code 1).
"""

import logging
import os
import sys
import tempfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from eligibility.models import Program
from facilities.prefectures import PREFECTURE_NAMES
from payouts import services
from payouts.models import PaymentLine, PayoutRun
from payouts.sources import source_for
from payouts.zengin import ZenginError
from portal.errors import ServiceError
from portal.forms import ISODateField
from portal.officers import LIMITED, WRONG, authenticated_officer, staff_account  # noqa: F401
from portal.wareki import to_wareki

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "支払バッチの作成・確認・承認・振込データの出力・振込結果の取込"
    # call_command(..., stdin=StringIO("password\ncode\n")): where the secrets are read.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        create = actions.add_parser("create", help="支払バッチを作成する")
        create.add_argument("--program", required=True, help="プログラムコード（例: lump-sum-2024）")
        create.add_argument("--transfer-date", required=True,
                            help="振込指定日 YYYY-MM-DD（銀行の営業日）")
        create.add_argument("--by", required=True, help="作成する支払担当者のメールアドレス")

        check = actions.add_parser("check", help="スケジュールで作成された支払バッチを確認する")
        check.add_argument("run", type=int, help="支払バッチの番号")
        check.add_argument("--by", required=True, help="確認する支払担当者のメールアドレス")

        release = actions.add_parser("release", help="支払バッチを承認する（作成者・確認者以外）")
        release.add_argument("run", type=int, help="支払バッチの番号")
        release.add_argument("--by", required=True, help="承認する支払担当者のメールアドレス")

        write = actions.add_parser("file", help="承認済みの支払バッチの振込データ（全銀）を書き出す")
        write.add_argument("run", type=int, help="支払バッチの番号")
        write.add_argument("--output", required=True, help="書き出すファイル")
        write.add_argument("--by", required=True, help="出力する支払担当者のメールアドレス")

        results = actions.add_parser("results", help="振込結果（CSV）を取り込む")
        results.add_argument("run", type=int, help="支払バッチの番号")
        results.add_argument("--file", required=True, help="振込結果のCSVファイル")
        results.add_argument("--by", required=True, help="取り込む支払担当者のメールアドレス")

    def handle(self, *args, action: str, **options):
        self.secrets_from = options.pop("stdin", None) or sys.stdin
        try:
            getattr(self, f"_{action}")(**options)
        except ServiceError as error:
            raise CommandError(error.message) from error

    # ---- who runs the command

    def _actor(self, email: str):
        return staff_account(email)

    def _officer(self, email: str):
        """The officer `--by` names, once they typed their password and current code."""
        return authenticated_officer(email, self.secrets_from, command="payout")

    # ---- arguments

    def _run(self, number: int) -> PayoutRun:
        run = PayoutRun.objects.select_related("program").filter(pk=number).first()
        if run is None:
            raise CommandError(f"支払バッチ{number}はありません。")
        return run

    def _program(self, code: str) -> Program:
        program = Program.objects.filter(code=code).first()
        if program is None:
            codes = []
            for candidate in Program.objects.order_by("code"):
                try:
                    source_for(candidate)
                except ServiceError:
                    continue
                codes.append(candidate.code)
            raise CommandError(f"プログラム {code} はありません（支払のあるもの: {', '.join(codes)}）。")
        return program

    # ---- actions

    def _create(self, *, program, transfer_date, by, **options):
        program = self._program(program)
        self._actor(by)
        try:
            day = ISODateField().clean(transfer_date)
        except ValidationError as error:
            raise CommandError(f"振込指定日: {' '.join(error.messages)}") from error
        run = services.create_run(program=program, transfer_date=day, actor=self._officer(by))
        if run.state == PayoutRun.State.EMPTY:
            raise CommandError(f"{program.name}には支払の対象がありませんでした（支払バッチ{run.pk}は"
                               f"「{run.get_state_display()}」で終わりました）。")
        self._summary(run)
        self.stdout.write("承認は、作成者以外の支払担当者が `payout release "
                          f"{run.pk} --by メールアドレス` で行ってください。")
        self.stdout.write(str(run.pk))

    def _check(self, *, run, by, **options):
        run = services.check_run(run=self._run(run), actor=self._officer(by))
        self.stdout.write(f"支払バッチ{run.pk}を確認しました: {run.line_count:,}件、合計 "
                          f"{run.total_amount:,}円、振込指定日 {to_wareki(run.transfer_date)}")
        self.stdout.write("承認は、確認した方とは別の支払担当者が `payout release "
                          f"{run.pk} --by メールアドレス` で行ってください。")

    def _release(self, *, run, by, **options):
        run = self._run(run)
        if (problem := services.unchecked(run)) is not None:
            raise CommandError(problem)  # said before the password is asked for nothing
        run = services.release_run(run=run, actor=self._officer(by))
        self.stdout.write(f"支払バッチ{run.pk}を承認しました: {run.line_count:,}件、合計 "
                          f"{run.total_amount:,}円、振込指定日 {to_wareki(run.transfer_date)}")

    def _file(self, *, run, output, by, **options):
        run = self._run(run)
        target = Path(output)
        # Written beside the target and renamed: a reader never sees half a file. The place
        # is made first: a folder that is not there is said before anything is asked.
        try:
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".payout-")
        except OSError as error:
            raise CommandError(f"書き出せません: {output}（{error.strerror}）") from error
        try:
            with os.fdopen(handle, "wb") as stream:
                try:
                    data = services.transfer_file(run=run, actor=self._officer(by))
                except ZenginError as error:  # a name stored before its characters were checked
                    raise CommandError(f"振込データを作れませんでした: {error}") from error
                stream.write(data)
            os.replace(temporary, target)
        except OSError as error:
            raise CommandError(f"書き出せません: {output}（{error.strerror}）") from error
        finally:
            Path(temporary).unlink(missing_ok=True)
        count = run.lines.exclude(state=PaymentLine.State.CANCELLED).count()
        self.stdout.write(f"支払バッチ{run.pk}の振込データを書き出しました: {output}（{count:,}件、"
                          f"{len(data):,}バイト）")

    def _results(self, *, run, file, by, **options):
        run = self._run(run)
        self._actor(by)
        try:
            data = Path(file).read_bytes()
        except OSError as error:
            raise CommandError(f"振込結果のファイルを読めません: {file}（{error.strerror}）") from error
        if (problem := services.results_refusal(run)) is not None:
            raise CommandError(problem)  # said before the password is asked for nothing
        summary = services.import_results(run=run, data=data, actor=self._officer(by))
        self.stdout.write(f"振込結果を取り込みました: 振込済 {summary.paid:,}件、振込不能 "
                          f"{summary.failed:,}件、取込済みで変更なし {summary.unchanged:,}件")
        if summary.settled:
            self.stdout.write(f"支払バッチ{run.pk}のすべての明細の結果がそろいました（振込結果取込済み）。")

    def _summary(self, run: PayoutRun) -> None:
        totals = services.run_totals(run)
        self.stdout.write(f"支払バッチ{run.pk}: {run.program.name}（{run.program.code}）")
        self.stdout.write(f"状態: {run.get_state_display()}")
        self.stdout.write(f"振込指定日: {run.transfer_date.isoformat()}"
                          f"（{to_wareki(run.transfer_date)}）")
        self.stdout.write(f"合計: {totals['count']:,}件 {totals['total']:,}円")
        for row in totals["by_prefecture"]:
            name = PREFECTURE_NAMES.get(row["facility__prefecture"], row["facility__prefecture"])
            self.stdout.write(f"  {name}: {row['count']:,}件 {row['total']:,}円")

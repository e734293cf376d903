"""`manage.py parameters`: a program's parameter versions from the command line, through the
same services as the admin (docs/domain.md §5, §5.4 "Parameters at a date").

    parameters show --program CODE
        prints the parameters (JSON) in force today, as stored.
    parameters draft --program CODE --file PATH --effective-from YYYY-MM-DD --notice TEXT --by EMAIL
        creates a draft from the JSON file, checked by the program's rule; the last line is
        the new version number alone. A bad file, date or notice: exit code 1 with the
        reason, nothing created.
    parameters apply --program CODE --version N --by EMAIL
        the officer `--by` names proves it with their password and current authenticator
        code (portal.officers, as `manage.py payout`); the preview (「適用前の確認」, kept as
        in the admin) is computed and printed, then the version is applied (or set waiting
        for its effective date). Refused (exit code 1) to whoever drafted the version or
        changed its parameters (a second officer applies it), and to an officer without the
        apply permission.

A refusal is a CommandError with the services' Japanese message (exit code 1)."""

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from eligibility import services
from eligibility.engine import RULES, parameters_in_force
from eligibility.models import ParameterVersion, PreviewState, Program
from portal.errors import ServiceError
from portal.forms import ISODateField
from portal.officers import authenticated_officer, staff_account
from portal.wareki import to_wareki
from portal.workflow import refusal

NOTICE_MAX = ParameterVersion._meta.get_field("notice").max_length
FILE_MAX = 1_000_000  # bytes: a parameter file is a few kilobytes


class Command(BaseCommand):
    help = "パラメータの版の表示・下書き作成・適用（適用前の確認つき、作成者以外の担当者が適用）"
    # call_command(..., stdin=StringIO("password\ncode\n")): where the secrets are read.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        show = actions.add_parser("show", help="今日適用されているパラメータ（JSON）を表示する")
        show.add_argument("--program", required=True, help="プログラムコード（例: lump-sum-2024）")

        draft = actions.add_parser("draft", help="パラメータの版の下書きを作る")
        draft.add_argument("--program", required=True, help="プログラムコード")
        draft.add_argument("--file", required=True, help="パラメータのJSONファイル")
        draft.add_argument("--effective-from", required=True, help="適用開始日 YYYY-MM-DD")
        draft.add_argument("--notice", required=True, help="根拠となる通知")
        draft.add_argument("--by", required=True, help="作成する担当者のメールアドレス")

        apply = actions.add_parser("apply", help="下書きの版を適用する（作成者以外の担当者）")
        apply.add_argument("--program", required=True, help="プログラムコード")
        apply.add_argument("--version", required=True, type=int, help="版の番号")
        apply.add_argument("--by", required=True, help="適用する担当者のメールアドレス")

    def handle(self, *args, action: str, **options):
        self.secrets_from = options.pop("stdin", None) or sys.stdin
        try:
            getattr(self, f"_{action}")(**options)
        except ServiceError as error:
            raise CommandError(error.message) from error

    # ---- arguments

    def _program(self, code: str) -> Program:
        program = Program.objects.filter(code=code).first()
        if program is None:
            codes = ", ".join(Program.objects.order_by("code").values_list("code", flat=True))
            raise CommandError(f"プログラム {code} はありません（あるもの: {codes}）。")
        return program

    # ---- actions

    def _show(self, *, program, **options):
        program = self._program(program)
        version = parameters_in_force(program)
        if version is None:
            raise CommandError(f"{program.name}: 今日に適用されるパラメータの版がありません。")
        self.stdout.write(json.dumps(version.params, ensure_ascii=False))

    def _draft(self, *, program, file, effective_from, notice, by, **options):
        program = self._program(program)
        user = staff_account(by)
        if not user.has_perm("eligibility.add_parameterversion"):
            raise CommandError(f"--by {by}: パラメータの版を作成する権限がありません。")
        params = self._read_params(file)
        try:
            day = ISODateField().clean(effective_from)
        except ValidationError as error:
            raise CommandError(f"適用開始日: {' '.join(error.messages)}") from error
        notice = notice.strip()
        if not notice:
            raise CommandError("根拠となる通知を入力してください。")
        if len(notice) > NOTICE_MAX:
            raise CommandError(f"根拠となる通知は{NOTICE_MAX}文字以内で入力してください"
                               f"（{len(notice)}文字）。")
        version = services.create_draft_version(program=program, params=params,
                                                 effective_from=day, notice=notice, actor=user)
        self.stdout.write(f"{program.name} の第{version.version}版を下書きとして作りました"
                          f"（適用開始日 {to_wareki(day)}）。")
        self.stdout.write("適用は、作成者以外の担当者が `parameters apply --program "
                          f"{program.code} --version {version.version} --by メールアドレス` "
                          "で行ってください。")
        self.stdout.write(str(version.version))

    def _read_params(self, file: str) -> dict:
        path = Path(file)
        try:
            if path.stat().st_size > FILE_MAX:
                raise CommandError(f"{file}: ファイルが大きすぎます（{FILE_MAX:,}バイトまで）。")
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError as error:
            raise CommandError(f"{file}: ファイルが見つかりません。") from error
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: ファイルを読めません（UTF-8のJSONにしてください）。"
                               ) from error
        try:
            params = json.loads(text)
        except (json.JSONDecodeError, RecursionError, ValueError) as error:
            raise CommandError(f"{file}: JSONとして読めません"
                               f"（{getattr(error, 'lineno', '?')}行目: "
                               f"{getattr(error, 'msg', error)}）。") from error
        if not isinstance(params, dict):
            raise CommandError(f"{file}: パラメータはJSONのオブジェクト（{{...}}）にしてください。")
        return params

    def _apply(self, *, program, version, by, **options):
        program = self._program(program)
        draft = ParameterVersion.objects.filter(program=program, version=version).first()
        if draft is None:
            raise CommandError(f"{program.name} に第{version}版はありません。")
        if draft.status != ParameterVersion.Status.DRAFT:
            raise CommandError(f"{draft} は下書きではないため適用できません。")
        draft.program = program
        user = authenticated_officer(by, self.secrets_from, command="parameters apply")
        problem = refusal(draft, "schedule" if draft.effective_from > timezone.localdate() else "apply",
                          user)
        if problem is not None:  # before the preview's work: four-eyes, the permission
            raise CommandError(problem.message)
        preview = None
        if program.rule in RULES:
            preview = services.preview_now(version=draft, actor=user)
            if preview.state != PreviewState.DONE:
                raise CommandError(f"適用前の確認ができませんでした: {preview.failure}")
            self._print_preview(preview)
        applied = services.apply_version(version=draft, actor=user, preview=preview)
        if applied.waiting:
            self.stdout.write(f"{applied.version} を適用待ちにしました。適用開始日"
                              f"（{to_wareki(draft.effective_from)}）から適用され、それまで"
                              "判定結果は変わりません。")
        elif applied.queued:
            self.stdout.write(f"{applied.version} を適用しました。全施設の再判定を"
                              "バックグラウンドで実行します。")
        else:
            self.stdout.write(f"{applied.version} を適用しました。")

    def _print_preview(self, preview):
        write = self.stdout.write
        write(f"適用前の確認 #{preview.pk}（{preview.version}）")
        write(f"  判定した施設: {preview.facilities:,}")
        write(f"  結果が変わる施設: {preview.changed:,}（新たに支給対象 {preview.newly_eligible:,}、"
              f"対象外になる {preview.no_longer_eligible:,}）")
        write(f"  支給額の増減の合計: {preview.total_difference:+,}円")
        write(f"  支払済みで金額が変わる施設（結果は変わらず、調整を提案）: "
              f"増額 {preview.paid_up_count:,}件 {preview.paid_up_yen:+,}円、"
              f"減額 {preview.paid_down_count:,}件 {-preview.paid_down_yen:+,}円")

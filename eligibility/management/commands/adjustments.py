"""`manage.py adjustments`: the adjustments (調整, docs/domain.md §5.4) of a program from the command
line, through the same services as the admin.

    adjustments list --program CODE [--state STATE ...]
        one JSON line per adjustment: facility_code, kind (its cause), paid, now, difference,
        direction (pay | recover), state (the internal name); withdrawn ones only when asked
        for with --state withdrawn
    adjustments review --program CODE --by EMAIL
        every proposed one is reviewed by EMAIL (審査担当)
    adjustments approve --program CODE --by EMAIL
        every reviewed one is decided by EMAIL (決定権者); the ones EMAIL reviewed are refused
        (four-eyes) and named on stderr, and the command ends with exit code 1

Whoever decides is the officer `--by` names, proved by their password and the current code of
their authenticator app, typed (portal/officers.py, as `payout`). Each adjustment is moved in
its own transaction: one refused leaves the others decided.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from eligibility import adjustments
from eligibility.models import (
    DECIDE_ADJUSTMENT_PERMISSION,
    REVIEW_ADJUSTMENT_PERMISSION,
    Adjustment,
    AdjustmentState,
    Program,
)
from portal.errors import ServiceError
from portal.officers import authenticated_officer


class Command(BaseCommand):
    help = "調整（支払済みの支給額と再判定の差額）の一覧・審査・決定"
    # call_command(..., stdin=StringIO("password\ncode\n")): where the secrets are read.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = actions.add_parser("list", help="調整の一覧（JSON Lines）")
        listing.add_argument("--program", required=True, help="プログラムコード")
        listing.add_argument("--state", action="append",
                             choices=[state.value for state in AdjustmentState],
                             help="この状態のものだけ（繰り返し指定できます）")
        review = actions.add_parser("review", help="提案中の調整をすべて審査する")
        review.add_argument("--program", required=True, help="プログラムコード")
        review.add_argument("--by", required=True, help="審査する審査担当のメールアドレス")
        approve = actions.add_parser("approve", help="審査済みの調整をすべて決定する（審査者以外）")
        approve.add_argument("--program", required=True, help="プログラムコード")
        approve.add_argument("--by", required=True, help="決定する決定権者のメールアドレス")

    def handle(self, *args, action: str, **options):
        self.secrets_from = options.pop("stdin", None) or sys.stdin
        program = Program.objects.filter(code=options["program"]).first()
        if program is None:
            codes = ", ".join(Program.objects.filter(rule__in=["cooperation", "lump_sum"])
                              .order_by("code").values_list("code", flat=True))
            raise CommandError(f"プログラム {options['program']} はありません（調整のあるもの: "
                               f"{codes}）。")
        if action == "list":
            return self._list(program, options.get("state"))
        officer = authenticated_officer(options["by"], self.secrets_from,
                                        command="adjustments")
        permission, label = {
            "review": (REVIEW_ADJUSTMENT_PERMISSION, "審査する"),
            "approve": (DECIDE_ADJUSTMENT_PERMISSION, "決定する"),
        }[action]
        if not officer.has_perm(permission):
            raise CommandError(f"--by {officer.email}: 調整を「{label}」権限がありません"
                               "（審査は審査担当、決定は決定権者）。何も変更していません。")
        if action == "review":
            return self._move(program, officer, AdjustmentState.PROPOSED, adjustments.review,
                              "審査しました", "審査を待つ調整はありません。")
        return self._move(program, officer, AdjustmentState.REVIEWED, adjustments.approve,
                          "決定しました", "決定を待つ（審査済みの）調整はありません。")

    def _list(self, program: Program, states: list[str] | None) -> None:
        queryset = adjustments.adjustments_of(program)
        if states:
            queryset = queryset.filter(state__in=states)
        else:
            queryset = queryset.exclude(state=AdjustmentState.WITHDRAWN)
        for adjustment in queryset.iterator(chunk_size=2000):
            self.stdout.write(json.dumps({
                "facility_code": adjustment.facility.code, "kind": adjustment.cause,
                "paid": adjustment.paid_amount, "now": adjustment.new_amount,
                "difference": adjustment.difference, "direction": adjustment.direction,
                "state": adjustment.state,
            }, ensure_ascii=False))

    def _move(self, program, officer, state, service, done_words: str, nothing: str) -> None:
        pks = list(Adjustment.objects.filter(program=program, state=state)
                   .order_by("facility__code", "pk").values_list("pk", flat=True))
        if not pks:
            self.stdout.write(nothing)
            return
        moved, refused = [], []
        for adjustment in Adjustment.objects.filter(pk__in=pks).select_related(
                "facility", "program").order_by("facility__code", "pk"):
            try:
                moved.append(service(adjustment=adjustment, actor=officer))
            except ServiceError as error:
                refused.append(f"{adjustment.facility.code}（差額 {adjustment.difference_yen}）: "
                               f"{error.message}")
        pay = [a.difference for a in moved if a.difference > 0]
        recover = [a.difference for a in moved if a.difference < 0]
        self.stdout.write(f"{program.name}: {len(moved)}件を{done_words}（追加支払 {len(pay)}件 "
                          f"{sum(pay):+,}円、返還 {len(recover)}件 {sum(recover):+,}円）。")
        if refused:
            for line in refused:
                self.stderr.write(line)
            raise CommandError(f"{len(refused)}件は行えませんでした（上記）。")

"""The facility's side of the incentive programs: 取組の実施報告 (協力金) and the lump-sum
attestation. What the rules refuse is refused here (`ServiceError` with the field); the rows
are eligibility's, written by its services (eligibility/submissions.py: one transaction, the
history row, the e-mail, the re-determination)."""

from datetime import date, timedelta

from django.utils import timezone

from eligibility import submissions
from eligibility.engine import gives_on
from eligibility.models import ActivityReport, Attestation, Program
from eligibility.submissions import ReportInput
from facilities.models import Facility
from portal.errors import ServiceError
from portal.wareki import to_wareki

from . import selectors

# How far outside the program period a reported activity date may be before it is refused as
# a typing error (inside the margin it is recorded and judged by the rule).
REPORT_DATE_MARGIN = timedelta(days=92)


def report_is_locked(program: Program, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    return program.report_deadline is not None and today > program.report_deadline


def submit_activity_report(
    *, user, facility: Facility, program: Program, data: ReportInput
) -> ActivityReport:
    if not gives_on(program, facility.kind, "report"):
        raise ServiceError("この施設はこの報告の対象ではありません。")
    if report_is_locked(program):
        raise ServiceError(
            f"報告期限（{to_wareki(program.report_deadline)}）を過ぎたため、報告の登録・修正はできません。"
        )
    if data.activity_from > data.activity_to:
        raise ServiceError("実施期間の終了日は開始日以降にしてください。", "activity_to")
    if not (data.voice or data.flyer or data.poster):
        raise ServiceError("実施した取組を1つ以上選んでください。")
    # Dates far outside the program period are typing errors: refused, with a margin so
    # that a date just outside is still recorded and judged by the rule (docs/domain.md §5.1).
    params = selectors.report_period(program)
    if params is not None:
        earliest = params.period_start - REPORT_DATE_MARGIN
        latest = params.period_end + REPORT_DATE_MARGIN
        for field in ("activity_from", "activity_to"):
            if not earliest <= getattr(data, field) <= latest:
                raise ServiceError(
                    f"実施期間は{to_wareki(earliest)}から{to_wareki(latest)}までの日付で"
                    "入力してください。", field,
                )
    return submissions.save_activity_report(user=user, facility=facility, program=program,
                                            data=data)


def submit_attestation(
    *, user, facility: Facility, program: Program, poster: bool, informed: bool
) -> Attestation:
    if not gives_on(program, facility.kind, "attest"):
        raise ServiceError("この施設はこの確認の対象ではありません。")
    if report_is_locked(program):
        raise ServiceError(f"期限（{to_wareki(program.report_deadline)}）を過ぎたため、登録・修正はできません。")
    return submissions.save_attestation(user=user, facility=facility, program=program,
                                        poster=poster, informed=informed)

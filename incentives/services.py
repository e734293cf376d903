"""Writes of the incentive programs: 取組の実施報告 (協力金), the lump-sum attestation and the
bank account. Each is one transaction, logged in the facility's history and e-mailed."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from eligibility import services as eligibility_services
from eligibility.engine import gives_on
from eligibility.models import ActivityReport, Attestation, Program
from facilities.activity import record_activity
from facilities.models import Facility
from facilities.selectors import facility_emails
from portal.errors import ServiceError
from portal.notifications import notify
from portal.receipts import format_receipt_number
from portal.wareki import to_wareki

from . import selectors

# How far outside the program period a reported activity date may be before it is refused as
# a typing error (inside the margin it is recorded and judged by the rule).
REPORT_DATE_MARGIN = timedelta(days=92)


def report_is_locked(program: Program, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    return program.report_deadline is not None and today > program.report_deadline


def _refresh_determination(facility: Facility) -> None:
    """The facility's facts changed: its results (and its 併設 partners') are determined again
    by a task after this transaction commits; until then its results page says so."""
    eligibility_services.request_redetermination([facility.pk])


@dataclass(frozen=True)
class ReportInput:
    voice: bool
    flyer: bool
    poster: bool
    activity_from: date
    activity_to: date


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
    with transaction.atomic():
        # The facility row is locked so that parallel first reports do not both insert.
        Facility.objects.select_for_update().filter(pk=facility.pk).first()
        report = ActivityReport.objects.filter(facility=facility, program=program).first()
        created = report is None
        report = report or ActivityReport(facility=facility, program=program)
        report.voice, report.flyer, report.poster = data.voice, data.flyer, data.poster
        report.activity_from, report.activity_to = data.activity_from, data.activity_to
        report.submitted_by = user
        report.save()
        if report.receipt_number is None:
            report.receipt_number = format_receipt_number("R", report.submitted_at, report.pk)
            report.save(update_fields=["receipt_number"])
        record_activity(
            facility=facility, actor=user,
            verb="report_submitted" if created else "report_updated",
            summary=f"{program.name}の取組の実施報告を{'登録' if created else '修正'}しました。",
            target=report, receipt_number=report.receipt_number,
        )
        notify(to=facility_emails(facility), name="report_submitted",
               context={"facility": facility, "program": program, "report": report,
                        "created": created})
        _refresh_determination(facility)
    return report


def submit_attestation(
    *, user, facility: Facility, program: Program, poster: bool, informed: bool
) -> Attestation:
    if not gives_on(program, facility.kind, "attest"):
        raise ServiceError("この施設はこの確認の対象ではありません。")
    if report_is_locked(program):
        raise ServiceError(f"期限（{to_wareki(program.report_deadline)}）を過ぎたため、登録・修正はできません。")
    with transaction.atomic():
        # The facility row is locked so that parallel first attestations do not both insert.
        Facility.objects.select_for_update().filter(pk=facility.pk).first()
        attestation, created = Attestation.objects.get_or_create(
            facility=facility, program=program,
            defaults={"poster": poster, "informed": informed, "submitted_by": user},
        )
        if not created:
            attestation.poster, attestation.informed = poster, informed
            attestation.submitted_by = user
            attestation.save()
        if attestation.receipt_number is None:
            attestation.receipt_number = format_receipt_number(
                "T", attestation.submitted_at, attestation.pk
            )
            attestation.save(update_fields=["receipt_number"])
        record_activity(
            facility=facility, actor=user, verb="attestation_submitted",
            summary=f"{program.name}の実施状況（ポスター掲示: {'済' if poster else '未'}、"
            f"お声掛け・チラシ配付: {'済' if informed else '未'}）を登録しました。",
            target=attestation, receipt_number=attestation.receipt_number,
        )
        notify(to=facility_emails(facility), name="attestation_submitted",
               context={"facility": facility, "program": program, "attestation": attestation})
        _refresh_determination(facility)
    return attestation

"""What a facility gives for a program, written by eligibility (its owner): the 取組の実施報告
(協力金) and the 実施の確認 (一時金). The facility's forms are incentives' (incentives.services
checks what the rules refuse, then calls these). Each is one transaction: the facility row
locked (parallel first submissions do not both insert), the row written with its 受付番号, the
history row, the e-mail after commit and the facility marked for re-determination."""

from dataclasses import dataclass
from datetime import date

from django.db import transaction

from facilities.activity import record_activity
from facilities.models import Facility
from facilities.selectors import facility_emails
from portal.notifications import notify
from portal.receipts import format_receipt_number

from .models import ActivityReport, Attestation, Program
from .services import request_redetermination


@dataclass(frozen=True)
class ReportInput:
    voice: bool
    flyer: bool
    poster: bool
    activity_from: date
    activity_to: date


def save_activity_report(*, user, facility: Facility, program: Program,
                         data: ReportInput) -> ActivityReport:
    """The facility's report of the program, created or corrected."""
    with transaction.atomic():
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
        # Its results (and its 併設 partners') are determined again after commit.
        request_redetermination([facility.pk])
    return report


def save_attestation(*, user, facility: Facility, program: Program, poster: bool,
                     informed: bool) -> Attestation:
    """The facility's attestation of the program, created or corrected."""
    with transaction.atomic():
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
        request_redetermination([facility.pk])
    return attestation

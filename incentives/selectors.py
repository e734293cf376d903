from eligibility.engine import programs_for_kind, reason_texts, result_now
from eligibility.models import ActivityReport, Attestation, Program
from eligibility.selectors import determinations_for, redetermination_pending
from facilities.models import Facility
from facilities.selectors import facility_for

from .models import BankAccount


def programs_for(facility: Facility):
    """The incentive programs this facility's kind takes part in (the rules' registry)."""
    return Program.objects.filter(rule__in=programs_for_kind(facility.kind)).order_by("code")


def program_for(*, user, facility_id: int, code: str) -> tuple[Facility, Program]:
    from django.http import Http404

    facility = facility_for(user=user, pk=facility_id)
    program = programs_for(facility).filter(code=code).first()
    if program is None:
        raise Http404("この施設が対象のプログラムではありません")
    return facility, program


def current_result(facility: Facility, program: Program):
    """The facility's result computed now from its facts (what it would get if the batch
    ran today, under the parameters in force today), so it sees at once what is still
    missing. None without parameters."""
    result = result_now(program, facility.pk)
    if result is None:
        return None
    return {"eligible": result.eligible, "amount": result.amount,
            "reasons": reason_texts(result)}


def report_for(facility: Facility, program: Program) -> ActivityReport | None:
    return ActivityReport.objects.filter(facility=facility, program=program).first()


def attestation_for(facility: Facility, program: Program) -> Attestation | None:
    return Attestation.objects.filter(facility=facility, program=program).first()


def bank_account_for(facility: Facility) -> BankAccount | None:
    return BankAccount.objects.filter(facility=facility).first()


def overview_for(facility: Facility) -> list[dict]:
    """Each program's stored result; while a re-determination is pending (a fact changed
    since), `pending` is set and the page says so instead of showing a stale verdict."""
    stored = {d.program_id: d for d in determinations_for(facility=facility)}
    pending = redetermination_pending(facility=facility)
    return [
        {
            "program": program,
            "pending": pending,
            "determination": stored.get(program.pk),
            "current": current_result(facility, program),
            "report": report_for(facility, program) if program.rule == Program.Rule.COOPERATION
            else attestation_for(facility, program),
        }
        for program in programs_for(facility)
    ]

from eligibility.engine import reason_texts, results_for
from eligibility.models import ActivityReport, Attestation, ParameterVersion, Program
from eligibility.selectors import determinations_for
from facilities.models import MEDICAL_KINDS, SEJUTSU_KINDS, Facility
from facilities.selectors import facility_for

from .models import BankAccount


def programs_for(facility: Facility):
    """The incentive programs this facility's kind takes part in."""
    if facility.kind in SEJUTSU_KINDS:
        rule = Program.Rule.COOPERATION
    elif facility.kind in MEDICAL_KINDS:
        rule = Program.Rule.LUMP_SUM
    else:
        return Program.objects.none()
    return Program.objects.filter(rule=rule).order_by("code")


def program_for(*, user, facility_id: int, code: str) -> tuple[Facility, Program]:
    from django.http import Http404

    facility = facility_for(user=user, pk=facility_id)
    program = programs_for(facility).filter(code=code).first()
    if program is None:
        raise Http404("この施設が対象のプログラムではありません")
    return facility, program


def current_result(facility: Facility, program: Program):
    """The facility's result computed now from its facts (what it would get if the batch
    ran today), so it sees at once what is still missing. None without parameters."""
    version = program.versions.filter(status=ParameterVersion.Status.ACTIVE).first()
    if version is None:
        return None
    for _facility_id, result in results_for(version, [facility.pk]):
        return {"eligible": result.eligible, "amount": result.amount,
                "reasons": reason_texts(result)}
    return None


def report_for(facility: Facility, program: Program) -> ActivityReport | None:
    return ActivityReport.objects.filter(facility=facility, program=program).first()


def attestation_for(facility: Facility, program: Program) -> Attestation | None:
    return Attestation.objects.filter(facility=facility, program=program).first()


def bank_account_for(facility: Facility) -> BankAccount | None:
    return BankAccount.objects.filter(facility=facility).first()


def overview_for(facility: Facility) -> list[dict]:
    stored = {d.program_id: d for d in determinations_for(facility=facility)}
    return [
        {
            "program": program,
            "determination": stored.get(program.pk),
            "current": current_result(facility, program),
            "report": report_for(facility, program) if program.rule == Program.Rule.COOPERATION
            else attestation_for(facility, program),
        }
        for program in programs_for(facility)
    ]

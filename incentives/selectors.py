from dataclasses import dataclass
from datetime import date

from eligibility.engine import (
    parameters_in_force,
    parse_params,
    programs_for_kind,
    reason_texts,
    result_under,
    todo_of,
)
from eligibility.models import ActivityReport, Attestation, ParameterVersion, Program
from eligibility.rules.cooperation import CooperationParams
from eligibility.selectors import (
    adjustments_for,
    determinations_for,
    redetermination_pending,
    statistics_for,
)
from facilities.models import Facility
from facilities.selectors import facility_for


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


# `version` not given: the selector reads the parameters in force itself.
UNREAD = object()


def in_force(program: Program) -> ParameterVersion | None:
    """The program's parameters in force today, to be read once per page and passed to
    `current_result` and `reportable_period`."""
    return parameters_in_force(program)


def current_result(facility: Facility, program: Program, *, version=UNREAD):
    """The facility's result computed now from its facts (what it would get if the batch
    ran today, under the parameters in force today), so it sees at once what is still
    missing. None without parameters. `version`: `in_force(program)`, when read already
    (eligibility.engine.result_under)."""
    if version is UNREAD:
        version = in_force(program)
    result = result_under(version, facility.pk)
    if result is None:
        return None
    return {"eligible": result.eligible, "amount": result.amount,
            "reasons": reason_texts(result),
            # The criteria not met (the ✗), in the rule's words, to name in a warning.
            "missing": [reason.text for reason in result.reasons if reason.met is False]}


def report_for(facility: Facility, program: Program) -> ActivityReport | None:
    return ActivityReport.objects.filter(facility=facility, program=program).first()


def attestation_for(facility: Facility, program: Program) -> Attestation | None:
    return Attestation.objects.filter(facility=facility, program=program).first()


def given_for(facility: Facility, program: Program):
    """What the facility gave for the program's to-do (its report or attestation), or None."""
    todo = todo_of(program)
    if todo is None:
        return None
    return todo.model.objects.filter(facility=facility, program=program).first()


def overview_for(facility: Facility) -> list[dict]:
    """Each program's stored result; while a re-determination is pending (a fact changed
    since), `pending` is set and the page says so instead of showing a stale verdict. A paid
    result's adjustments (調整, docs/domain.md §5.4) come with it, latest first."""
    stored = {d.program_id: d for d in determinations_for(facility=facility)}
    pending = redetermination_pending(facility=facility)
    adjusted: dict[int, list] = {}
    for adjustment in adjustments_for(facility=facility):
        adjusted.setdefault(adjustment.program_id, []).append(adjustment)
    return [
        {
            "program": program,
            "pending": pending,
            "determination": stored.get(program.pk),
            "adjustments": adjusted.get(program.pk, []),
            "current": current_result(facility, program),
            "todo": todo_of(program),
            "report": given_for(facility, program),
            "statistics": lump_sum_statistics(facility, program),
        }
        for program in programs_for(facility)
    ]


def lump_sum_statistics(facility: Facility, program: Program) -> list:
    """The months a 一時金 reads (baseline and evaluation months of the parameters in force),
    each saying whether its figure is official (imported) or the counter's, provisional
    (docs/domain.md §8). Empty for programs whose parameters name no statistics months, or without
    parameters."""
    version = parameters_in_force(program)
    if version is None:
        return []
    params = parse_params(program, version.params)
    if not hasattr(params, "evaluation_months"):
        return []
    months = [date(int(m[:4]), int(m[5:7]), 1)
              for m in sorted({params.baseline_month, *params.evaluation_months})]
    return list(statistics_for(facility=facility, months=months))


def report_period(program: Program, today: date | None = None, *,
                  version=UNREAD) -> CooperationParams | None:
    """The 協力金 parameters in force (its period), or None when none are. `version`: the
    version in force on `today`, when read already."""
    if version is UNREAD:
        version = parameters_in_force(program, on=today)
    if version is None:
        return None
    params = parse_params(program, version.params)
    return params if isinstance(params, CooperationParams) else None


def reportable_period(facility: Facility, program: Program, *,
                      version=UNREAD) -> "ReportablePeriod | None":
    """The period this facility may report for a 協力金 program (docs/domain.md §5.1): from its own
    go-live date, when later than the period's start, to the period's end; None when the
    program has no period in force. Stated on the form before anything is typed.
    `version`: `in_force(program)`, when read already."""
    from facilities.selectors import golive_for

    params = report_period(program, version=version)
    if params is None:
        return None
    golive = golive_for(facility)
    start = params.period_start
    from_golive = golive is not None and golive.date > start
    if from_golive:
        start = golive.date
    return ReportablePeriod(start=start, end=params.period_end, from_golive=from_golive)


@dataclass(frozen=True)
class ReportablePeriod:
    start: date
    end: date
    from_golive: bool

    @property
    def closed(self) -> bool:
        """The go-live date is after the period's end: there is no period to report for."""
        return self.start > self.end

    @property
    def text(self) -> str:
        from portal.wareki import to_wareki

        if self.closed:  # never an impossible range such as 8/15〜7/31 (docs/domain.md §5.1)
            return (f"運用開始日が実施期間の終了（{to_wareki(self.end)}）より後のため、"
                    "協力金の対象外です")
        origin = "（この施設の運用開始日）" if self.from_golive else ""
        return f"{to_wareki(self.start)}{origin}から{to_wareki(self.end)}まで"

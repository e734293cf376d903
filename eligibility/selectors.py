from django.db.models import QuerySet

from facilities.models import Facility

from .models import Determination, MonthlyStatistic, ParameterVersion, Program


def simulation_params(program_code: str) -> dict | None:
    """The parameters in force for a program code, or None (the rules' defaults)."""
    version = (
        ParameterVersion.objects.filter(
            program__code=program_code, status=ParameterVersion.Status.ACTIVE
        )
        .only("params")
        .first()
    )
    return version.params if version else None


def determinations_for(*, facility: Facility) -> QuerySet[Determination]:
    return (
        Determination.objects.filter(facility=facility)
        .select_related("program", "parameter_version")
        .order_by("program__code")
    )


def open_programs_for(*, facility: Facility, rule: str) -> QuerySet[Program]:
    return Program.objects.filter(is_open=True, rule=rule).order_by("code")


def statistics_for(*, facility: Facility) -> QuerySet[MonthlyStatistic]:
    return MonthlyStatistic.objects.filter(facility=facility).order_by("month")

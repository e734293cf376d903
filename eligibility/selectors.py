from datetime import date

from django.db.models import QuerySet

from facilities.models import Facility

from .engine import parameters_in_force_for_code
from .models import (
    Adjustment,
    AdjustmentState,
    Determination,
    MonthlyStatistic,
    PendingDetermination,
    Program,
)


def simulation_params(program_code: str, *, on: date | None = None) -> dict | None:
    """The parameters in force (today, or on `on`) for a program code, or None: no version
    covers the date, and there is no answer (never a default from code, docs/domain.md §5.4)."""
    return parameters_in_force_for_code(program_code, on=on)


def determinations_for(*, facility: Facility) -> QuerySet[Determination]:
    return (
        Determination.objects.filter(facility=facility)
        .select_related("program", "parameter_version")
        .order_by("program__code")
    )


def open_programs_for(*, facility: Facility, rule: str) -> QuerySet[Program]:
    return Program.objects.filter(is_open=True, rule=rule).order_by("code")


def statistics_for(*, facility: Facility,
                   months: list[date] | None = None) -> QuerySet[MonthlyStatistic]:
    """The facility's months (those given, or all), each with its official figure where
    imported and the counter's, provisional, beside it (`MonthlyStatistic.users`,
    `source_label`; docs/domain.md §8)."""
    rows = MonthlyStatistic.objects.filter(facility=facility)
    if months is not None:
        rows = rows.filter(month__in=months)
    return rows.order_by("month")


def redetermination_pending(*, facility: Facility) -> bool:
    """A fact of this facility changed and its results are being determined again."""
    return PendingDetermination.objects.filter(facility=facility).exists()


def adjustments_for(*, facility: Facility) -> QuerySet[Adjustment]:
    """The facility's adjustments (調整) as its money page lists them, latest first; one
    withdrawn by a later re-determination (replaced or no longer needed) is not its news."""
    return (Adjustment.objects.filter(facility=facility)
            .exclude(state=AdjustmentState.WITHDRAWN)
            .select_related("program").order_by("-proposed_at", "-pk"))

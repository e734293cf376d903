"""The obligation's two dates (docs/domain.md §7) are the parameters of the program "obligation",
read at a date like every program's (docs/domain.md §5.4 "Parameters at a date"): the declaration is
judged under the version in force on its day, a survey answer under the one in force on the
day it was received. Where no version covers the day there is no answer, and the page says
so (the code has no default)."""

from datetime import date

from django.utils import timezone

from eligibility.rules.base import wareki

from .rules import ExemptionParams

PROGRAM_CODE = "obligation"


def no_version(on: date) -> str:
    return (f"{wareki(on)}に適用される義務化の猶予（やむを得ない事由）のパラメータの版がありません。"
            "この日付では判断できないため、管理者にお問い合わせください。")


def exemption_params(on: date | None = None) -> ExemptionParams | None:
    """The obligation's parameters in force on `on` (today by default), or None."""
    from eligibility.engine import parameters_in_force_for_code

    params = parameters_in_force_for_code(PROGRAM_CODE, on=on or timezone.localdate())
    return ExemptionParams.from_dict(params) if params is not None else None


class Timeline:
    """Every applied version of the program read once (for the compliance chunks, which ask
    for many dates): the parameters in force on a date, by the same rule as
    eligibility.engine.parameters_in_force."""

    def __init__(self):
        self._versions: list[tuple[date, ExemptionParams]] | None = None

    def _read(self) -> list[tuple[date, ExemptionParams]]:
        from eligibility.engine import APPLIED_STATUSES
        from eligibility.models import ParameterVersion

        if self._versions is None:  # read at the first question (a chunk may ask none)
            self._versions = [
                (effective_from, ExemptionParams.from_dict(params))
                for effective_from, params in ParameterVersion.objects.filter(
                    program__code=PROGRAM_CODE, status__in=APPLIED_STATUSES,
                    applied_at__isnull=False,
                ).order_by("-applied_at", "-version").values_list("effective_from", "params")
            ]
        return self._versions

    def on(self, day: date) -> ExemptionParams | None:
        return next((params for start, params in self._read() if start <= day), None)

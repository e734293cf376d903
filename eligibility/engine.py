"""Which parameters, facts, rule and offer belong to each program kind (`Program.Rule`): the
one table the batch, the preview, the simulator, `manage.py simulate`, the facility's live
result and the subsidy offers all go through, and `parameters_in_force`, the one way the
parameters of a program are read (at a date, like OpenFisca's value at a date)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q
from django.utils import timezone

from facilities.kinds import MEDICAL_KINDS, SEJUTSU_KINDS

from . import facts
from .models import ParameterVersion, Program
from .rules.base import Determination as Result
from .rules.cooperation import (
    CooperationFacts,
    CooperationJudge,
    CooperationParams,
    determine_cooperation,
)
from .rules.lump_sum import (
    LumpSumFacts,
    LumpSumJudge,
    LumpSumParams,
    determine_lump_sum,
)
from .rules.subsidies import (
    CostSubsidyParams,
    OfferAnswer,
    OfferFacts,
    ReaderParams,
    offer_device_limited,
    offer_reader_expansion,
    offer_sejutsu_cost,
)

CLOSED = OfferAnswer(False, "現在は申請を受け付けていません。")
NOT_CLAIMED = OfferAnswer(False, "申請は不要です（施設の入力内容と統計から判定します）。")


@dataclass(frozen=True)
class RuleBinding:
    params_from_dict: Callable[[dict], Any]
    kinds: frozenset[str]  # the facility kinds the program family is for
    # Determined by the batch from the facts (協力金, 一時金) …
    facts: Callable[..., Iterator[tuple[int, Any]]] | None = None
    determine: Callable[[Any, Any], Result] | None = None
    # … through the rule's first half, the verdict (params → facts → eligible, amount,
    # cell) without the words, which the batch keeps with the facts; `determine` adds the
    # words when a page shows them.
    judge: Callable[[Any], Callable[[Any], Any]] | None = None
    facts_type: type | None = None  # its `json_text()` is kept, `from_json` reads it back
    # … or offered to the facility as a claim (補助金): (params, OfferFacts) → OfferAnswer.
    offer: Callable[[Any, OfferFacts], OfferAnswer] | None = None

    @property
    def batch(self) -> bool:
        return self.determine is not None


REGISTRY: dict[str, RuleBinding] = {
    Program.Rule.COOPERATION: RuleBinding(
        CooperationParams.from_dict, SEJUTSU_KINDS, facts.cooperation_facts,
        determine_cooperation, judge=CooperationJudge,
        facts_type=CooperationFacts,
    ),
    Program.Rule.LUMP_SUM: RuleBinding(
        LumpSumParams.from_dict, MEDICAL_KINDS, facts.lump_sum_facts, determine_lump_sum,
        judge=LumpSumJudge, facts_type=LumpSumFacts,
    ),
    Program.Rule.DEVICE_SEJUTSU: RuleBinding(
        CostSubsidyParams.from_dict, SEJUTSU_KINDS, offer=offer_sejutsu_cost
    ),
    Program.Rule.RECECOM: RuleBinding(
        CostSubsidyParams.from_dict, SEJUTSU_KINDS, offer=offer_sejutsu_cost
    ),
    Program.Rule.DEVICE_LIMITED: RuleBinding(
        CostSubsidyParams.from_dict, MEDICAL_KINDS, offer=offer_device_limited
    ),
    Program.Rule.READER_EXPANSION: RuleBinding(
        ReaderParams.from_dict, MEDICAL_KINDS, offer=offer_reader_expansion
    ),
}

# The programs determined by the batch, and every rule's parameter parser.
RULES: dict[str, RuleBinding] = {rule: b for rule, b in REGISTRY.items() if b.batch}
PARAMETER_PARSERS: dict[str, Callable[[dict], Any]] = {
    rule: binding.params_from_dict for rule, binding in REGISTRY.items()
}
IN_FORCE_STATUSES = (ParameterVersion.Status.ACTIVE, ParameterVersion.Status.SCHEDULED)


def parameters_in_force(program: Program, *, on: date | None = None) -> ParameterVersion | None:
    """The version in force on `on` (today by default): of the applied versions (in force or
    waiting for their day), the one with the latest effective_from on or before the date.
    A version applied ahead of its effective_from changes nothing before that day."""
    on = on or timezone.localdate()
    version = (
        ParameterVersion.objects.filter(program=program, status__in=IN_FORCE_STATUSES,
                                        effective_from__lte=on)
        .order_by("-effective_from", "-version")
        .first()
    )
    if version is not None:
        version.program = program  # the row it was read by: not read again
    return version


def parameters_in_force_for_code(code: str, *, on: date | None = None) -> dict | None:
    """The parameters (a dict) in force for a program code, or None (the rules' defaults)."""
    program = Program.objects.filter(code=code).first()
    version = parameters_in_force(program, on=on) if program else None
    return version.params if version else None


def due_versions(*, on: date) -> Q:
    """Applied versions waiting for a day that has come (the nightly job makes them 適用中)."""
    return Q(status=ParameterVersion.Status.SCHEDULED, effective_from__lte=on)


def results_for(
    version: ParameterVersion, facility_ids: list[int] | None = None
) -> Iterator[tuple[int, Result]]:
    """Every facility's result under one parameter version (nothing written)."""
    program = version.program
    binding = RULES[program.rule]
    params = binding.params_from_dict(version.params)
    for facility_id, fact in binding.facts(program, params, facility_ids):
        yield facility_id, binding.determine(params, fact)


def verdicts_for(
    version: ParameterVersion, facility_ids: list[int] | None = None
) -> Iterator[tuple[int, Any, Any]]:
    """Every facility's facts and verdict under one parameter version, without the reason
    texts (the batch and the preview; nothing written)."""
    program = version.program
    binding = RULES[program.rule]
    params = binding.params_from_dict(version.params)
    judge = binding.judge(params)
    for facility_id, fact in binding.facts(program, params, facility_ids):
        yield facility_id, fact, judge(fact)


def reason_texts_for(determination) -> list[str]:
    """The reason texts of a stored result, written by its rule from the facts kept with it
    under the parameter version that produced it."""
    binding = RULES[determination.program.rule]
    params = binding.params_from_dict(determination.parameter_version.params)
    fact = binding.facts_type.from_json(determination.facts)
    return binding.determine(params, fact).reason_texts


def result_under(version: ParameterVersion | None, facility_id: int) -> Result | None:
    """One facility's result from its facts as they are, under `version` (None: no result,
    as for a program without parameters or whose results are not computed by a rule)."""
    if version is None or version.program.rule not in RULES:
        return None
    return next((result for _id, result in results_for(version, [facility_id])), None)


def determine(rule: str, params: dict, fact: Any) -> Result:
    """A rule applied to given facts (the public simulator, `manage.py simulate`)."""
    binding = RULES[rule]
    return binding.determine(binding.params_from_dict(params), fact)


def offer(program: Program, offer_facts: OfferFacts) -> OfferAnswer:
    """Is a claim of this program offered to a facility with these facts, and if not, why."""
    binding = REGISTRY.get(program.rule)
    if binding is None:
        return CLOSED
    if binding.offer is None:
        return NOT_CLAIMED
    version = parameters_in_force(program, on=offer_facts.on)
    if not program.is_open or version is None:
        return CLOSED
    return binding.offer(binding.params_from_dict(version.params), offer_facts)


def programs_for_kind(kind: str) -> list[str]:
    """The rules whose results a facility of this kind has (協力金 or 一時金)."""
    return [rule for rule, binding in RULES.items() if kind in binding.kinds]


def reason_texts(result: Result) -> list[str]:
    return result.reason_texts

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
from obligation.rules import ExemptionParams

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
    # The obligation's dates (DOMAIN §7): parameters only; not determined by the batch, not
    # offered as a claim (obligation.services reads them at the declaration's date).
    Program.Rule.OBLIGATION: RuleBinding(ExemptionParams.from_dict, SEJUTSU_KINDS),
}

# The programs determined by the batch, and every rule's parameter parser.
RULES: dict[str, RuleBinding] = {rule: b for rule, b in REGISTRY.items() if b.batch}
PARAMETER_PARSERS: dict[str, Callable[[dict], Any]] = {
    rule: binding.params_from_dict for rule, binding in REGISTRY.items()
}
# The versions ever applied (superseded ones included): the ones a date is answered from.
APPLIED_STATUSES = (ParameterVersion.Status.ACTIVE, ParameterVersion.Status.SCHEDULED,
                    ParameterVersion.Status.SUPERSEDED)
IN_FORCE_STATUSES = APPLIED_STATUSES  # the former name


def _applied(program: Program):
    return ParameterVersion.objects.filter(program=program, status__in=APPLIED_STATUSES,
                                           applied_at__isnull=False)


def parameters_in_force(program: Program, *, on: date | None = None) -> ParameterVersion | None:
    """The version in force on `on` (today by default), or None: no version covers that day
    and there is no amount (never a default from code). DOMAIN §5.4 "Parameters at a date":
    of the versions ever applied (superseded ones included), the most recently applied one
    whose effective_from is on or before the date. A version applied ahead of its
    effective_from changes nothing before that day; a version applied later governs every
    date from its effective_from on, over the versions applied before it."""
    on = on or timezone.localdate()
    version = (
        _applied(program).filter(effective_from__lte=on)
        .order_by("-applied_at", "-version")
        .first()
    )
    if version is not None:
        version.program = program  # the row it was read by: not read again
    return version


def parameters_in_force_for_code(code: str, *, on: date | None = None) -> dict | None:
    """The parameters (a dict) in force for a program code on a date, or None where no
    version covers it (or no such program): then there is no amount."""
    program = Program.objects.filter(code=code).first()
    version = parameters_in_force(program, on=on) if program else None
    return version.params if version else None


def version_statuses(program: Program, *, today: date,
                     also: ParameterVersion | None = None) -> dict[int, str]:
    """What the status of each applied version of the program is on `today` (pk → status):
    適用中 the one in force today; 適用待ち applied, starting later, and not overridden for its
    first day by a version applied after it; 過去の版 every other (in force no more, or
    never). `also`: a draft as if applied now (the apply computes the statuses with it)."""
    versions = list(_applied(program).order_by("-applied_at", "-version"))
    if also is not None:
        versions.insert(0, also)  # applied last
    statuses: dict[int, str] = {}
    in_force = next((v for v in versions if v.effective_from <= today), None)
    for index, version in enumerate(versions):
        later = versions[:index]  # applied after it
        if version is in_force:
            status = ParameterVersion.Status.ACTIVE
        elif version.effective_from > today and not any(
                other.effective_from <= version.effective_from for other in later):
            status = ParameterVersion.Status.SCHEDULED
        else:
            status = ParameterVersion.Status.SUPERSEDED
        statuses[version.pk] = status
    return statuses


def due_versions(*, on: date) -> Q:
    """Applied versions waiting for a day that has come (the nightly job moves them on)."""
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

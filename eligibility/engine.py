"""Which rule, parameters and facts belong to each program kind: the one table the batch,
the preview, the simulator and `manage.py simulate` all go through."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import facts
from .models import ParameterVersion, Program
from .rules.base import Determination as Result
from .rules.cooperation import CooperationParams, determine_cooperation
from .rules.lump_sum import LumpSumParams, determine_lump_sum
from .rules.subsidies import CostSubsidyParams, ReaderParams


@dataclass(frozen=True)
class RuleBinding:
    params_from_dict: Callable[[dict], Any]
    facts: Callable[..., Iterator[tuple[int, Any]]]
    determine: Callable[[Any, Any], Result]


RULES: dict[str, RuleBinding] = {
    Program.Rule.COOPERATION: RuleBinding(
        CooperationParams.from_dict, facts.cooperation_facts, determine_cooperation
    ),
    Program.Rule.LUMP_SUM: RuleBinding(
        LumpSumParams.from_dict, facts.lump_sum_facts, determine_lump_sum
    ),
}


# Every rule's parameter parser, the claim-based subsidies included (they have no batch).
PARAMETER_PARSERS: dict[str, Callable[[dict], Any]] = {
    **{rule: binding.params_from_dict for rule, binding in RULES.items()},
    Program.Rule.DEVICE_SEJUTSU: CostSubsidyParams.from_dict,
    Program.Rule.DEVICE_LIMITED: CostSubsidyParams.from_dict,
    Program.Rule.RECECOM: CostSubsidyParams.from_dict,
    Program.Rule.READER_EXPANSION: ReaderParams.from_dict,
}


def results_for(
    version: ParameterVersion, facility_ids: list[int] | None = None
) -> Iterator[tuple[int, Result]]:
    """Every facility's result under one parameter version (nothing written)."""
    program = version.program
    binding = RULES[program.rule]
    params = binding.params_from_dict(version.params)
    for facility_id, fact in binding.facts(program, params, facility_ids):
        yield facility_id, binding.determine(params, fact)


def reason_texts(result: Result) -> list[str]:
    return result.reason_texts

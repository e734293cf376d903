"""The obligation's place in the program registry (eligibility.engine.REGISTRY), added in
ObligationConfig.ready: eligibility does not import the apps above it
(docs/architecture.md#layers).

- The program kind "obligation": its dates are parameters only (docs/domain.md §7), not determined by
  the batch, not offered as a claim (obligation.services reads them at the declaration's date).
- `manage.py simulate exemption`: an exemption declaration checked with the function the
  declaration form uses, under the parameters of the program "obligation"."""

from typing import Any

from eligibility.engine import NOTICE, RuleBinding, register, schema_fields
from eligibility.models import Program
from eligibility.rules.simulate import (  # the adapters' readers of a JSON line, shared
    InputError,
    SimulateAdapter,
    _choice,
    _date,
    _flag,
    _shown,
    add_simulation,
)
from facilities.kinds import SEJUTSU_KINDS

from .rules import (
    ExemptionFacts,
    ExemptionParams,
    ExemptionReason,
    Practitioner,
    determine_exemption,
)

OBLIGATION_SCHEMA = schema_fields(
    ("born_on_or_before", "70歳以上とする生年月日（この日以前に生まれた人）", "birth_date"),
    ("deadline", "廃止・休止・受領委任をやめる予定日の期限（この日まで）", "date"), NOTICE)
OBLIGATION_BINDING = RuleBinding(ExemptionParams.from_dict, SEJUTSU_KINDS,
                                 schema=OBLIGATION_SCHEMA)

EXEMPTION_KINDS = tuple(sorted(SEJUTSU_KINDS))
MAX_PRACTITIONERS = 200


def _practitioner(index: int, value: Any) -> Practitioner:
    where = f"practitioners[{index}]"
    if not isinstance(value, dict):
        raise InputError(f"{where} must be an object, not {_shown(value)}")
    try:
        birth_date = _date(value, "birth_date")
        full_time = _flag(value, "full_time")
        impaired = _flag(value, "visually_impaired") if "visually_impaired" in value else False
    except InputError as error:
        raise InputError(f"{where}.{error}") from None
    if birth_date is None:
        raise InputError(f"{where}.birth_date must be a date YYYY-MM-DD, not null")
    return Practitioner(birth_date=birth_date, full_time=full_time, visually_impaired=impaired)


def _exemption(data: dict, params: dict) -> dict:
    """An exemption declaration (docs/domain.md §7), under the obligation's parameters (the program
    "obligation")."""
    reason = _choice(data, "reason", ExemptionReason.ALL)
    practitioners = data.get("practitioners", [])
    if practitioners is None:
        practitioners = []
    if not isinstance(practitioners, list):
        raise InputError(f"practitioners must be a list, not {_shown(practitioners)}")
    if len(practitioners) > MAX_PRACTITIONERS:
        raise InputError(f"practitioners: at most {MAX_PRACTITIONERS}")
    facts = ExemptionFacts(
        kind=_choice(data, "kind", EXEMPTION_KINDS),
        reason=reason,
        practitioners=tuple(_practitioner(i, p) for i, p in enumerate(practitioners)),
        planned_date=_date(data, "planned_date") if "planned_date" in data else None,
    )
    result = determine_exemption(ExemptionParams.from_dict(params), facts)
    return {"accepted": result.accepted, "reasons": result.reason_texts}


# Not a program of its own: the obligation's exemption rule, under the parameters of the
# program "obligation" (its dates, docs/domain.md §7).
EXEMPTION = "exemption"
EXEMPTION_SIMULATION = SimulateAdapter(_exemption)


def register_obligation() -> None:
    register(Program.Rule.OBLIGATION, OBLIGATION_BINDING)
    add_simulation(EXEMPTION, EXEMPTION_SIMULATION, parameters_of="obligation")

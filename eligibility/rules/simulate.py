"""Simulate adapters, one per program kind (named by its entry in the program registry,
eligibility.engine.REGISTRY): how `manage.py simulate PROGRAM` reads one JSON object and shows
the result (a bad line gives {"error": ...} naming the field, and never raises), and which
form the public simulator shows. Pure: the command passes the parameters in force on the date
asked (a dict); None means no version covers the date, and then there is no answer
(docs/domain.md §5.4: never a default from code)."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from facilities.kinds import MEDICAL_KINDS, SEJUTSU_KINDS

from .cooperation import (
    ANNEX_ROLES,
    CooperationFacts,
    CooperationParams,
    determine_cooperation,
)
from .lump_sum import LumpSumFacts, LumpSumParams, determine_lump_sum
from .subsidies import (
    CostSubsidyParams,
    ReaderFacts,
    ReaderParams,
    determine_cost_subsidy,
    determine_reader_expansion,
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LUMP_SUM_KINDS = tuple(sorted(MEDICAL_KINDS))
COOPERATION_KINDS = tuple(sorted(SEJUTSU_KINDS))


class InputError(ValueError):
    """A line that cannot be simulated; the message names the field."""


def _shown(value: Any) -> str:
    """The offending value as JSON, cut short."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _field(data: dict, name: str) -> Any:
    if name not in data:
        raise InputError(f"missing field: {name}")
    return data[name]


def _count(data: dict, name: str) -> int:
    value = _field(data, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be an integer, not {_shown(value)}")
    if value < 0:
        raise InputError(f"{name} must not be negative")
    return value


def _flag(data: dict, name: str) -> bool:
    value = _field(data, name)
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, not {_shown(value)}")
    return value


def _date(data: dict, name: str) -> date | None:
    value = _field(data, name)
    if value is None:
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InputError(f"{name} must be a date YYYY-MM-DD or null, not {_shown(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name}: {value!r} is not a real date YYYY-MM-DD") from None


def _choice(data: dict, name: str, choices: tuple) -> Any:
    value = _field(data, name)
    if not (value is None or isinstance(value, str)) or value not in choices:
        allowed = ", ".join("null" if c is None else str(c) for c in choices)
        raise InputError(f"{name} must be one of {allowed}, not {_shown(value)}")
    return value


def _lump_sum(data: dict, params: dict) -> dict:
    facts = LumpSumFacts(
        kind=_choice(data, "kind", LUMP_SUM_KINDS),
        oct_receipts=_count(data, "oct_receipts"),
        oct_users=_count(data, "oct_users"),
        best_users=_count(data, "best_users"),
        poster=_flag(data, "poster"),
        informed=_flag(data, "informed"),
    )
    result = determine_lump_sum(LumpSumParams.from_dict(params), facts)
    return {"eligible": result.eligible, "amount": result.amount,
            "table": result.details["table"], "reasons": result.reason_texts}


def _cooperation(data: dict, params: dict) -> dict:
    facts = CooperationFacts(
        kind=_choice(data, "kind", COOPERATION_KINDS),
        golive=_date(data, "golive"),
        voice=_flag(data, "voice"),
        flyer=_flag(data, "flyer"),
        poster=_flag(data, "poster"),
        activity_from=_date(data, "activity_from"),
        activity_to=_date(data, "activity_to"),
        annex_role=_choice(data, "annex_role", ANNEX_ROLES),
        partner_introduced=_flag(data, "partner_introduced"),
    )
    # A half-given period is judged like the report it stands for: not reported, so not
    # eligible, with the reason (the rule says which end is missing).
    params_obj = CooperationParams.from_dict(params)
    result = determine_cooperation(params_obj, facts)
    return {"eligible": result.eligible, "amount": result.amount, "reasons": result.reason_texts}


def _reader_expansion(data: dict, params: dict) -> dict:
    free = _field(data, "free_readers")
    if isinstance(free, bool) or not isinstance(free, int) or free not in (1, 2, 3):
        raise InputError("free_readers must be 1, 2 or 3")
    facts = ReaderFacts(
        kind=_choice(data, "kind", ("hospital", "clinic", "pharmacy")),
        max_monthly_usage=_count(data, "max_monthly_usage"),
        free_readers=free,
        readers=_count(data, "readers"),
        cost=_count(data, "cost"),
    )
    result = determine_reader_expansion(ReaderParams.from_dict(params), facts)
    return {"eligible": result.eligible, "readers_allowed": result.details["readers_allowed"],
            "amount": result.amount, "reasons": result.reason_texts}


def _device_sejutsu(data: dict, params: dict) -> dict:
    result = determine_cost_subsidy(
        CostSubsidyParams.from_dict(params), _count(data, "cost")
    )
    return {"eligible": result.eligible, "amount": result.amount, "reasons": result.reason_texts}


def _device_limited(data: dict, params: dict) -> dict:
    claimed_on = _date(data, "claimed_on")
    if claimed_on is None:
        raise InputError("claimed_on must be a date YYYY-MM-DD")
    result = determine_cost_subsidy(
        CostSubsidyParams.from_dict(params), _count(data, "cost"),
        claimed_on,
    )
    return {"eligible": result.eligible, "amount": result.amount, "reasons": result.reason_texts}


@dataclass(frozen=True)
class SimulateAdapter:
    """How one program kind is simulated. `line`: (a JSON object, the parameters in force)
    → the result as a JSON-able dict (`manage.py simulate`). `form`: the public simulator's
    form (a dotted path, or None: not offered there), built with the parsed parameters
    (`params=`); its cleaned data are the rule's facts (the entry's facts type). There are no
    default parameters: where no version is in force there is no answer (docs/domain.md §5.4)."""

    line: Callable[[dict, dict], dict]
    form: str | None = None
    template: str = "incentives/simulator_program.html"


LUMP_SUM_SIMULATION = SimulateAdapter(
    _lump_sum, form="incentives.forms.LumpSumSimulatorForm",
    template="incentives/simulator.html")
COOPERATION_SIMULATION = SimulateAdapter(_cooperation)
READER_EXPANSION_SIMULATION = SimulateAdapter(_reader_expansion)
DEVICE_SEJUTSU_SIMULATION = SimulateAdapter(_device_sejutsu)
DEVICE_LIMITED_SIMULATION = SimulateAdapter(_device_limited)
# Simulated names that are not programs of their own, each with the code of the program whose
# parameters it reads: an upper app adds its own in its AppConfig.ready (`add_simulation`; the
# obligation's `simulate exemption`, obligation/program.py).
SIMULATIONS: dict[str, SimulateAdapter] = {}
PARAMETER_PROGRAMS: dict[str, str] = {}


def add_simulation(name: str, adapter: SimulateAdapter, *, parameters_of: str) -> None:
    SIMULATIONS[name] = adapter
    PARAMETER_PROGRAMS[name] = parameters_of
# Former name: every rule now reads its program's parameters.
WITHOUT_PARAMETERS: frozenset[str] = frozenset()
NO_VERSION = "この日付に適用されるパラメータの版がありません（判定できません）。"


def parameter_program(program_code: str) -> str:
    """The code of the program whose parameters `simulate PROGRAM` reads."""
    return PARAMETER_PROGRAMS.get(program_code, program_code)


def simulate_line(adapter: SimulateAdapter, line: str, params: dict | None = None) -> dict:
    """One JSON line in → one JSON-able dict out: the result, or {"error": "..."}. `adapter`:
    the program's (`eligibility.engine.simulate_adapter(code)`); `params`: the parameters in
    force on the date asked; None (no version covers it) answers every line with that error,
    never from a default."""
    if params is None:
        return {"error": NO_VERSION}
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        return {"error": f"not valid JSON: {error.msg} (column {error.colno})"}
    except (RecursionError, ValueError) as error:  # absurd nesting, huge numbers
        return {"error": f"not valid JSON: {error}"}
    if not isinstance(data, dict):
        return {"error": "each line must be a JSON object"}
    try:
        return adapter.line(data, params)
    except InputError as error:
        return {"error": str(error)}
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        # Only malformed parameters get here (the line was checked above).
        return {"error": f"parameters: {error}"}

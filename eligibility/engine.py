"""The one program registry: per program kind (`Program.Rule`) its parameter parser and
schema, its facts, its rule (judge/determine, or offer), its simulate adapter, its payable
source, its claim amount and its to-do — the one table the batch, the preview, the simulator,
`manage.py simulate`, the facility's pages, the subsidy claims, payouts and the to-do list go
through; and `parameters_in_force`, the one way the parameters of a program are read (at a
date, like OpenFisca's value at a date)."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from facilities.kinds import MEDICAL_KINDS, SEJUTSU_KINDS

from . import facts
from .models import ActivityReport, Attestation, ParameterVersion, Program
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
from .rules.simulate import (
    COOPERATION_SIMULATION,
    DEVICE_LIMITED_SIMULATION,
    DEVICE_SEJUTSU_SIMULATION,
    LUMP_SUM_SIMULATION,
    READER_EXPANSION_SIMULATION,
    SIMULATIONS,
    SimulateAdapter,
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
class ParamField:
    """One parameter of a program kind as the administrators edit it (`parameter_form`)."""

    name: str  # the key in the version's params JSON
    label: str  # Japanese, next to the field
    type: str  # one of PARAM_TYPES
    required: bool = True  # else it may be left empty (null: e.g. a cap not yet published)


# yen, int: a non-negative integer; date: YYYY-MM-DD (a day of the programs, 2019 on);
# birth_date: a date of birth (1900 on); month: YYYY-MM; months: a list of months;
# fraction(s): "3/100" (exact, never a float); kinds: facility kinds; text: one line;
# table: a JSON object (tables, caps, bands).
PARAM_TYPES = ("yen", "int", "date", "birth_date", "month", "months", "fraction", "fractions",
               "kinds", "text", "table")


@dataclass(frozen=True)
class ProgramTodo:
    """What a program waits for from the facility (its 報告 or 確認): a to-do item until a
    row of `model` exists for (facility, program), and the money page's button to the page
    where it is given (`incentives:<page>`, with the facility and the program code)."""

    kind: str  # the to-do item's kind
    model: type  # its row (facility, program) marks it given
    page: str  # "report" | "attest"
    title: str  # "{program}" is the program's name
    detail: str
    link_text: str
    button: str  # the money page's button, nothing given yet
    button_again: str  # once given
    name: str = ""  # the task's name in the task list, whatever its status ("{program}")
    # The last day of the program's period, from its parameters in force (the to-do list's
    # deadline where the program has no 報告期限; docs/decisions.md D8b.2).
    ends: Callable[[Any], date | None] | None = None

    @property
    def url_name(self) -> str:
        return f"incentives:{self.page}"


@dataclass(frozen=True)
class RuleBinding:
    """One program kind's entry in the registry."""

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
    schema: tuple[ParamField, ...] = ()  # its parameters, for the administrators' form
    simulate: SimulateAdapter | None = None  # `manage.py simulate` and the public simulator
    # The payable source (portal.payables.PayableSource.kind) that pays it, resolved by
    # payouts.sources: "determination" (an eligible result) or "claim" (an approved claim).
    payable: str | None = None
    # How a claim's amount is computed, resolved by subsidies.selectors.CLAIM_AMOUNTS:
    # "cost" (事業費 × rate, capped) or "readers" (the reader expansion: a number of readers).
    claim_amount: str | None = None
    todo: ProgramTodo | None = None  # what the facility gives for it (to-do list, money page)

    @property
    def batch(self) -> bool:
        return self.determine is not None


def schema_fields(*rows: tuple) -> tuple[ParamField, ...]:
    return tuple(ParamField(*row) for row in rows)


NOTICE = ("notice", "根拠となる通知", "text", False)
COOPERATION_SCHEMA = schema_fields(
    ("amount", "支給額（円）", "yen"), ("period_start", "取組期間の開始日", "date"),
    ("period_end", "取組期間の終了日", "date"), ("kinds", "対象の施設種別", "kinds"), NOTICE)
LUMP_SUM_SCHEMA = schema_fields(
    ("baseline_month", "基準月", "month"), ("evaluation_months", "評価対象月", "months"),
    ("rate_bounds", "利用率の区分の下限（r1〜r6）", "fractions"),
    ("tables", "支給額の表（列と額）", "table"),
    ("small_max_receipts", "小規模施設とする基準月のレセプト件数（以下）", "int"),
    ("small_rows", "小規模施設の表で全列を定める行数", "int"),
    ("small_partial_row_columns", "その次の行で定める列数", "int"), NOTICE)
COST_SUBSIDY_SCHEMA = schema_fields(
    ("rate", "補助率", "fraction"), ("cap", "上限額（円、未定なら空欄）", "yen", False),
    ("deadline", "申請期限（なければ空欄）", "date", False), NOTICE)
READER_SCHEMA = schema_fields(
    ("rate", "補助率", "fraction"), ("usage_threshold", "月間利用件数の基準（以上）", "int"),
    ("usage_months", "利用件数を数える月（最初と最後）", "months"),
    ("caps", "台数ごとの上限額（円）", "table"),
    ("hospital_bands", "病院: 無償提供台数ごとの増設台数の基準", "table"), NOTICE)

def _month_end(month: str) -> date:
    """The last day of a month "YYYY-MM"."""
    year, number = (int(part) for part in month.split("-"))
    return date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)


REPORT_TODO = ProgramTodo(
    "report_due", ActivityReport, "report", "{program}の取組の実施報告が未提出です",
    "お声掛けとチラシ配付またはポスター掲示の実施状況を報告してください。",
    "取組の実施報告をする（報告の画面へ）",
    "取組の実施報告をする", "取組の実施報告を確認・修正する",
    name="{program}の取組の実施報告", ends=lambda params: params.period_end)
ATTESTATION_TODO = ProgramTodo(
    "attestation_due", Attestation, "attest", "{program}の実施状況の確認が未登録です",
    "共通ポスターの掲示と、患者へのお声掛け・チラシ配付の実施状況を登録してください。",
    "実施状況を登録する（確認の画面へ）",
    "実施状況の確認をする", "実施状況の確認を見直す",
    name="{program}の実施状況の確認",
    ends=lambda params: _month_end(max(params.evaluation_months)))

REGISTRY: dict[str, RuleBinding] = {
    Program.Rule.COOPERATION: RuleBinding(
        CooperationParams.from_dict, SEJUTSU_KINDS, facts.cooperation_facts,
        determine_cooperation, judge=CooperationJudge,
        facts_type=CooperationFacts, schema=COOPERATION_SCHEMA,
        simulate=COOPERATION_SIMULATION, payable="determination", todo=REPORT_TODO,
    ),
    Program.Rule.LUMP_SUM: RuleBinding(
        LumpSumParams.from_dict, MEDICAL_KINDS, facts.lump_sum_facts, determine_lump_sum,
        judge=LumpSumJudge, facts_type=LumpSumFacts, schema=LUMP_SUM_SCHEMA,
        simulate=LUMP_SUM_SIMULATION, payable="determination", todo=ATTESTATION_TODO,
    ),
    Program.Rule.DEVICE_SEJUTSU: RuleBinding(
        CostSubsidyParams.from_dict, SEJUTSU_KINDS, offer=offer_sejutsu_cost,
        schema=COST_SUBSIDY_SCHEMA, simulate=DEVICE_SEJUTSU_SIMULATION, payable="claim",
        claim_amount="cost",
    ),
    Program.Rule.RECECOM: RuleBinding(
        CostSubsidyParams.from_dict, SEJUTSU_KINDS, offer=offer_sejutsu_cost,
        schema=COST_SUBSIDY_SCHEMA, payable="claim", claim_amount="cost",
    ),
    Program.Rule.DEVICE_LIMITED: RuleBinding(
        CostSubsidyParams.from_dict, MEDICAL_KINDS, offer=offer_device_limited,
        schema=COST_SUBSIDY_SCHEMA, simulate=DEVICE_LIMITED_SIMULATION, payable="claim",
        claim_amount="cost",
    ),
    Program.Rule.READER_EXPANSION: RuleBinding(
        ReaderParams.from_dict, MEDICAL_KINDS, offer=offer_reader_expansion,
        schema=READER_SCHEMA, simulate=READER_EXPANSION_SIMULATION, payable="claim",
        claim_amount="readers",
    ),
    # Program.Rule.OBLIGATION, the obligation's dates (docs/domain.md §7), is added by the obligation
    # app (`register`, obligation/program.py): eligibility does not import the apps above it.
}


def register(rule: str, binding: RuleBinding) -> None:
    """An upper app's entry, added in its AppConfig.ready (once; the same entry again is a
    no-op, another entry for the rule an error)."""
    current = REGISTRY.get(rule)
    if current is not None and current is not binding:
        raise ValueError(f"{rule!r} is registered already")
    REGISTRY[rule] = binding


class RegistryView(Mapping):
    """A live view of the registry's entries that satisfy `where`, each shown as `shown`
    of it: an entry registered later (a test's throw-away kind) is in it at once."""

    def __init__(self, where: Callable[[RuleBinding], bool],
                 shown: Callable[[RuleBinding], Any] = lambda binding: binding):
        self._where, self._shown = where, shown

    def __getitem__(self, rule: str):
        binding = REGISTRY[rule]
        if not self._where(binding):
            raise KeyError(rule)
        return self._shown(binding)

    def __iter__(self) -> Iterator[str]:
        return (rule for rule, binding in list(REGISTRY.items()) if self._where(binding))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class RulesWhere(Sequence):
    """A live tuple of the rules whose entries satisfy `where` (for `rule__in=`)."""

    def __init__(self, where: Callable[[RuleBinding], bool]):
        self._where = where

    def _rules(self) -> tuple[str, ...]:
        return tuple(rule for rule, binding in list(REGISTRY.items()) if self._where(binding))

    def __getitem__(self, index):
        return self._rules()[index]

    def __len__(self) -> int:
        return len(self._rules())

    def __contains__(self, rule) -> bool:
        binding = REGISTRY.get(rule)
        return binding is not None and self._where(binding)

    def __repr__(self) -> str:
        return repr(self._rules())


# The programs determined by the batch, and every rule's parameter parser.
RULES: Mapping[str, RuleBinding] = RegistryView(lambda binding: binding.batch)
PARAMETER_PARSERS: Mapping[str, Callable[[dict], Any]] = RegistryView(
    lambda binding: True, lambda binding: binding.params_from_dict)


def binding_for(program_or_rule: Program | str) -> RuleBinding | None:
    """The registry's entry of a program (or of a rule), None for a rule not registered."""
    rule = getattr(program_or_rule, "rule", program_or_rule)
    return REGISTRY.get(rule)


def rules_where(where: Callable[[RuleBinding], bool]) -> RulesWhere:
    return RulesWhere(where)


def rules_paid_by(source_kind: str) -> RulesWhere:
    """The rules whose money the payable source of this kind pays."""
    return RulesWhere(lambda binding: binding.payable == source_kind)


def payable_kind(program: Program) -> str | None:
    """The kind of the payable source that pays the program's money (payouts.sources)."""
    binding = binding_for(program)
    return binding.payable if binding else None


def claim_amount_kind(program: Program) -> str | None:
    """How a claim of the program is computed (subsidies.selectors.CLAIM_AMOUNTS)."""
    binding = binding_for(program)
    return binding.claim_amount if binding else None


def todo_of(program: Program) -> ProgramTodo | None:
    binding = binding_for(program)
    return binding.todo if binding else None


def gives_on(program: Program, facility_kind: str, page: str) -> bool:
    """Whether a facility of this kind gives this program's to-do on that page."""
    binding = binding_for(program)
    return (binding is not None and binding.todo is not None and binding.todo.page == page
            and facility_kind in binding.kinds)


def todo_models() -> list[type]:
    """The rows that mark a program's to-do given, each once, in the registry's order."""
    models: list[type] = []
    for binding in list(REGISTRY.values()):
        if binding.todo is not None and binding.todo.model not in models:
            models.append(binding.todo.model)
    return models


def parse_params(program: Program, params: dict) -> Any:
    return REGISTRY[program.rule].params_from_dict(params)


def simulate_adapter(code: str) -> SimulateAdapter | None:
    """The simulate adapter of the program with this code, or of a simulated name an upper
    app added (`add_simulation`: `exemption`); None: no such program, or one that is not
    simulated."""
    if code in SIMULATIONS:
        return SIMULATIONS[code]
    program = Program.objects.filter(code=code).first()
    binding = binding_for(program) if program else None
    return binding.simulate if binding else None


def simulated_codes() -> list[str]:
    """The codes of the programs `manage.py simulate` takes (without the added names)."""
    rules = RulesWhere(lambda binding: binding.simulate is not None)
    return list(Program.objects.filter(rule__in=list(rules)).order_by("code")
                .values_list("code", flat=True))


def simulated_names() -> list[str]:
    """Everything `manage.py simulate` takes: the programs' codes and the added names."""
    return sorted([*simulated_codes(), *SIMULATIONS])


def simulator_programs() -> list[Program]:
    """The programs the public simulator offers: determined by a rule, with a form."""
    rules = RulesWhere(lambda binding: binding.batch and binding.simulate is not None
                       and binding.simulate.form is not None)
    return list(Program.objects.filter(rule__in=list(rules)).order_by("code"))


@contextmanager
def registered(rule: str, binding: RuleBinding) -> Iterator[RuleBinding]:
    """An entry for a program kind while the block runs (a test's throw-away kind)."""
    if rule in REGISTRY:
        raise ValueError(f"{rule!r} is registered already")
    REGISTRY[rule] = binding
    try:
        yield binding
    finally:
        REGISTRY.pop(rule, None)


# The versions ever applied (superseded ones included): the ones a date is answered from.
APPLIED_STATUSES = (ParameterVersion.Status.ACTIVE, ParameterVersion.Status.SCHEDULED,
                    ParameterVersion.Status.SUPERSEDED)
IN_FORCE_STATUSES = APPLIED_STATUSES  # the former name


def _applied(program: Program):
    return ParameterVersion.objects.filter(program=program, status__in=APPLIED_STATUSES,
                                           applied_at__isnull=False)


def parameters_in_force(program: Program, *, on: date | None = None) -> ParameterVersion | None:
    """The version in force on `on` (today by default), or None: no version covers that day
    and there is no amount (never a default from code). docs/domain.md §5.4 "Parameters at a date":
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

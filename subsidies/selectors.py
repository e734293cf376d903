from dataclasses import dataclass
from datetime import date

from django.db.models import Max, QuerySet
from django.http import Http404
from django.utils import timezone

from eligibility import engine
from eligibility.models import MonthlyStatistic, Program, figure_used
from eligibility.rules.base import Determination, Reason
from eligibility.rules.subsidies import (
    CostSubsidyParams,
    OfferFacts,
    ReaderFacts,
    ReaderParams,
    determine_cost_subsidy,
    determine_reader_expansion,
)
from facilities.models import Facility

from .models import Claim, ClaimState, FreeReaderGrant

# The programs claimed by the facility (the registry's entries with an offer), live.
SUBSIDY_RULES = engine.rules_where(lambda binding: binding.offer is not None)


def _month(text: str) -> date:
    year, month = text.split("-")[:2]
    return date(int(year), int(month), 1)


def active_params(program: Program, *, on: date | None = None) -> dict | None:
    """The parameters in force today (or on `on`)."""
    version = engine.parameters_in_force(program, on=on)
    return version.params if version else None


def max_monthly_usage(facility: Facility, params: ReaderParams) -> int:
    first, last = (_month(m) for m in params.usage_months)
    return MonthlyStatistic.objects.filter(
        facility=facility, month__gte=first, month__lte=last
    ).aggregate(m=Max(figure_used("usage_count", "counter_usage_count")))["m"] or 0


def free_readers(facility: Facility) -> int:
    grant = FreeReaderGrant.objects.filter(facility=facility).first()
    return grant.free_readers if grant else 1


@dataclass(frozen=True)
class Offer:
    program: Program
    offered: bool
    reason: str
    readers_allowed: int = 0
    existing: Claim | None = None


def offers_for(facility: Facility, *, on: date | None = None,
               claims: list[Claim] | None = None) -> list[Offer]:
    """Every subsidy program with whether this facility may claim it, and why not: the
    rules' registry answers (eligibility.engine.offer); a live claim of its own comes first.
    `claims`: the facility's claims (`claims_for`), when the page has read them."""
    on = on or timezone.localdate()
    if claims is None:
        claims = list(claims_for(facility=facility))
    live = {c.program_id: c for c in claims if c.state != ClaimState.REJECTED}
    offers = []
    readers = None  # the facility's free readers, read once (when a program is offered)
    for program in Program.objects.filter(rule__in=list(SUBSIDY_RULES)).order_by("code"):
        if program.pk in live:
            offers.append(Offer(program, False, "この補助はすでに申請しています。", 0,
                                live[program.pk]))
            continue
        if readers is None:
            readers = free_readers(facility)
        answer = engine.offer(program, OfferFacts(
            kind=facility.kind, paper_claims=facility.paper_claims, on=on,
            max_monthly_usage=_usage_for_offer(facility, program, on),
            free_readers=readers,
        ))
        offers.append(Offer(program, answer.offered, answer.reason, answer.readers_allowed))
    return offers


def _usage_for_offer(facility: Facility, program: Program, on: date) -> int:
    """The busiest month's usage, for the reader expansion only (the others do not read it)."""
    if not takes_readers(program):
        return 0
    params = active_params(program, on=on)
    return max_monthly_usage(facility, ReaderParams.from_dict(params)) if params else 0


def takes_readers(program: Program) -> bool:
    """A claim of this program says how many readers it adds (the reader expansion)."""
    return engine.claim_amount_kind(program) == "readers"


def _readers_amount(claim: Claim, params: dict, cost: int, on: date | None):
    reader_params = ReaderParams.from_dict(params)
    kind = "hospital" if claim.facility.kind == "hospital" else "clinic"
    return determine_reader_expansion(reader_params, ReaderFacts(
        kind=kind, max_monthly_usage=max_monthly_usage(claim.facility, reader_params),
        free_readers=free_readers(claim.facility), readers=claim.readers or 0, cost=cost,
    ))


def _cost_amount(claim: Claim, params: dict, cost: int, on: date | None):
    return determine_cost_subsidy(CostSubsidyParams.from_dict(params), cost,
                                  on or timezone.localdate())


# How a claim's amount is computed, by the kind its program's registry entry names
# (eligibility.engine.RuleBinding.claim_amount).
CLAIM_AMOUNTS = {"cost": _cost_amount, "readers": _readers_amount}


def compute(claim: Claim, on: date | None = None, extra_cost: int = 0) -> Determination:
    """The subsidy for the claim as it stands (plus an item being typed, for the live
    estimate), by the program's rule and the parameters in force."""
    params = active_params(claim.program, on=on)
    cost = claim.total_cost + extra_cost
    # No version covers the day: no amount, never a default (docs/domain.md §5.4).
    if params is None:
        return Determination(False, 0, (Reason(False, "この日付に適用されるパラメータの版が"
                                                      "ありません。金額は計算できません。"),))
    return CLAIM_AMOUNTS[engine.claim_amount_kind(claim.program)](claim, params, cost, on)


def claims_for(*, facility: Facility) -> QuerySet[Claim]:
    return Claim.objects.filter(facility=facility).select_related("program")


def claim_for(*, facility: Facility, pk: int) -> Claim:
    claim = claims_for(facility=facility).filter(pk=pk).first()
    if claim is None:
        raise Http404("申請が見つかりません")
    return claim

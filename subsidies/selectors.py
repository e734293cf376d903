from dataclasses import dataclass
from datetime import date

from django.db.models import Max, QuerySet
from django.http import Http404
from django.utils import timezone

from eligibility.models import MonthlyStatistic, ParameterVersion, Program
from eligibility.rules.base import Determination
from eligibility.rules.subsidies import (
    CostSubsidyParams,
    ReaderFacts,
    ReaderParams,
    determine_cost_subsidy,
    determine_reader_expansion,
    readers_allowed,
)
from facilities.models import MEDICAL_KINDS, SEJUTSU_KINDS, Facility

from .models import Claim, ClaimState, FreeReaderGrant

SUBSIDY_RULES = (Program.Rule.DEVICE_SEJUTSU, Program.Rule.DEVICE_LIMITED,
                 Program.Rule.READER_EXPANSION, Program.Rule.RECECOM)


def _month(text: str) -> date:
    year, month = text.split("-")[:2]
    return date(int(year), int(month), 1)


def active_params(program: Program) -> dict | None:
    version = program.versions.filter(status=ParameterVersion.Status.ACTIVE).first()
    return version.params if version else None


def max_monthly_usage(facility: Facility, params: ReaderParams) -> int:
    first, last = (_month(m) for m in params.usage_months)
    return MonthlyStatistic.objects.filter(
        facility=facility, month__gte=first, month__lte=last
    ).aggregate(m=Max("usage_count"))["m"] or 0


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


def offers_for(facility: Facility) -> list[Offer]:
    """Every subsidy program with whether this facility may claim it, and why not."""
    live = {c.program_id: c for c in Claim.objects.filter(facility=facility)
            .exclude(state=ClaimState.REJECTED)}
    offers = []
    for program in Program.objects.filter(rule__in=SUBSIDY_RULES).order_by("code"):
        params = active_params(program)
        offered, reason, allowed = True, "申請できます。", 0
        if not program.is_open or params is None:
            offered, reason = False, "現在は申請を受け付けていません。"
        elif program.rule in (Program.Rule.DEVICE_SEJUTSU, Program.Rule.RECECOM):
            if facility.kind not in SEJUTSU_KINDS:
                offered, reason = False, "施術所が対象の補助です。"
            elif CostSubsidyParams.from_dict(params).cap is None:
                offered, reason = False, "補助率・上限額がまだ公表されていません。"
        elif program.rule == Program.Rule.DEVICE_LIMITED:
            deadline = CostSubsidyParams.from_dict(params).deadline
            if facility.kind not in MEDICAL_KINDS or not facility.paper_claims:
                offered, reason = False, "義務化対象外（紙レセプト請求）の医療機関・薬局が対象の補助です。"
            elif deadline and timezone.localdate() > deadline:
                offered, reason = False, f"申請期限（{deadline:%Y-%m-%d}）を過ぎています。"
        elif program.rule == Program.Rule.READER_EXPANSION:
            reader_params = ReaderParams.from_dict(params)
            if facility.kind not in MEDICAL_KINDS:
                offered, reason = False, "医療機関・薬局が対象の補助です。"
            else:
                kind = "hospital" if facility.kind == "hospital" else "clinic"
                usage = max_monthly_usage(facility, reader_params)
                allowed = readers_allowed(reader_params, kind, usage, free_readers(facility))
                if allowed == 0:
                    offered = False
                    reason = (f"月間利用件数の最大が{usage:,}件のため対象外です"
                              f"（{reader_params.usage_threshold:,}件以上、病院は無償提供台数に応じた件数）。")
                else:
                    reason = f"最大{allowed}台まで申請できます（月間利用件数の最大 {usage:,}件）。"
        if program.pk in live:
            offered, reason = False, "この補助はすでに申請しています。"
        offers.append(Offer(program, offered, reason, allowed, live.get(program.pk)))
    return offers


def compute(claim: Claim, on: date | None = None, extra_cost: int = 0) -> Determination:
    """The subsidy for the claim as it stands (plus an item being typed, for the live
    estimate), by the program's rule and the parameters in force."""
    params = active_params(claim.program)
    cost = claim.total_cost + extra_cost
    if claim.program.rule == Program.Rule.READER_EXPANSION:
        reader_params = ReaderParams.from_dict(params)
        kind = "hospital" if claim.facility.kind == "hospital" else "clinic"
        return determine_reader_expansion(reader_params, ReaderFacts(
            kind=kind, max_monthly_usage=max_monthly_usage(claim.facility, reader_params),
            free_readers=free_readers(claim.facility), readers=claim.readers or 0, cost=cost,
        ))
    return determine_cost_subsidy(CostSubsidyParams.from_dict(params), cost,
                                  on or timezone.localdate())


def claims_for(*, facility: Facility) -> QuerySet[Claim]:
    return Claim.objects.filter(facility=facility).select_related("program")


def claim_for(*, facility: Facility, pk: int) -> Claim:
    claim = claims_for(facility=facility).filter(pk=pk).first()
    if claim is None:
        raise Http404("申請が見つかりません")
    return claim

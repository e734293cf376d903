"""Subsidies paid on claims (docs/domain.md §6): pure rules of (parameters, facts) → amount and the
arithmetic shown to the facility. Yen are rounded down, in one place (`_rate_of`)."""

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from facilities.kinds import MEDICAL_KINDS, SEJUTSU_KINDS

from .base import Determination, Reason, wareki, yen


def _rate_of(cost: int, rate: Fraction) -> int:
    """cost × rate, rounded down to the yen."""
    return int(cost * rate)  # int() of a non-negative Fraction truncates: floor


def _rate_text(rate: Fraction) -> str:
    return "実費" if rate == 1 else f"{rate.numerator}/{rate.denominator}"


def _capped(cost: int, rate: Fraction, cap: int) -> tuple[int, str]:
    subsidy = _rate_of(cost, rate)
    amount = min(subsidy, cap)
    text = (f"事業費 {yen(cost)}" if rate == 1
            else f"事業費 {yen(cost)} × {_rate_text(rate)} = {yen(subsidy)}")
    if subsidy > cap:
        text += f" → 上限 {yen(cap)}"
    return amount, text


# ---------------------------------------------------------------- simple programs (§6.1, §6.2, §6.4)


@dataclass(frozen=True)
class CostSubsidyParams:
    rate: Fraction
    cap: int | None  # None: not yet published, nothing can be claimed
    deadline: date | None = None
    notice: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "CostSubsidyParams":
        # cap and deadline must be given (null meaning "not published" / "none"): a missing
        # one is an error, never a default.
        cap, deadline = data["cap"], data["deadline"]
        params = cls(
            rate=Fraction(str(data["rate"])),
            cap=None if cap is None else int(cap),
            deadline=date.fromisoformat(deadline) if deadline else None,
            notice=str(data.get("notice", "")),
        )
        if not 0 < params.rate <= 1 or (params.cap is not None and params.cap < 0):
            raise ValueError("rate must be in (0, 1] and cap ≥ 0")
        return params


# The notices' values, written as version 1 by migration 0004 and used by tests; never read by
# the running code (no default from code, docs/domain.md §5.4).
DEFAULT_DEVICE_SEJUTSU = {"rate": "1", "cap": 41000, "deadline": None,
                          "notice": "施術所等向け 資格確認限定型 モバイル端末等の購入等に対する費用補助（最大4.1万円）"}
DEFAULT_DEVICE_LIMITED = {"rate": "3/4", "cap": 31000, "deadline": "2025-01-15",
                          "notice": "義務化対象外機関 資格確認限定型の導入補助（3/4、最大3.1万円、申請期限 令和7年1月15日予定）"}
DEFAULT_RECECOM = {"rate": "1/2", "cap": None, "deadline": None,
                   "notice": "レセコン連携機能の改修費用補助（補助率・上限額は管理者が設定）"}


def determine_cost_subsidy(
    params: CostSubsidyParams, cost: int, claimed_on: date | None = None
) -> Determination:
    reasons = []
    if params.cap is None:
        return Determination(False, 0, (Reason(False, "補助率・上限額が未設定のため申請できません"),))
    if params.deadline is not None and claimed_on is not None:
        on_time = claimed_on <= params.deadline
        reasons.append(Reason(on_time, f"申請日 {wareki(claimed_on)}（期限 {wareki(params.deadline)}）"))
        if not on_time:
            return Determination(False, 0, tuple(reasons), {"cost": cost})
    if cost <= 0:
        reasons.append(Reason(False, "事業費が入力されていません"))
        return Determination(False, 0, tuple(reasons), {"cost": cost})
    amount, text = _capped(cost, params.rate, params.cap)
    reasons.append(Reason(None, text))
    return Determination(True, amount, tuple(reasons),
                         {"cost": cost, "rate": _rate_text(params.rate), "cap": params.cap,
                          "calculation": text})


# ---------------------------------------------------------------- reader expansion (§6.3)


@dataclass(frozen=True)
class ReaderParams:
    rate: Fraction
    usage_threshold: int  # any month at or above this many uses
    usage_months: tuple[str, str]  # first and last month counted
    caps: dict[int, int]  # readers → cap
    hospital_bands: dict[int, tuple[int, ...]]  # free readers → usage needed for 1, 2, 3
    notice: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "ReaderParams":
        return cls(
            rate=Fraction(str(data["rate"])),
            usage_threshold=int(data["usage_threshold"]),
            usage_months=(str(data["usage_months"][0]), str(data["usage_months"][1])),
            caps={int(k): int(v) for k, v in data["caps"].items()},
            hospital_bands={int(k): tuple(int(x) for x in v)
                            for k, v in data["hospital_bands"].items()},
            notice=str(data.get("notice", "")),
        )


# The notice's values (migration 0004, tests); never read by the running code.
DEFAULT_READER_EXPANSION_2024 = {
    "rate": "1/2",
    "usage_threshold": 500,
    "usage_months": ["2023-10", "2024-08"],
    "caps": {"1": 275000, "2": 450000, "3": 625000},
    "hospital_bands": {"1": [500, 1000, 1500], "2": [1000, 1500, 2000],
                       "3": [1500, 2000, 2500]},
    "notice": "医療機関・薬局における顔認証付きカードリーダー増設の支援（1/2補助）",
}


@dataclass(frozen=True)
class ReaderFacts:
    kind: str  # hospital | clinic | dental | pharmacy
    max_monthly_usage: int
    free_readers: int  # readers received free (1–3)
    readers: int  # readers claimed
    cost: int


def readers_allowed(params: ReaderParams, kind: str, usage: int, free_readers: int) -> int:
    if usage < params.usage_threshold:
        return 0
    if kind != "hospital":
        return 1
    bands = params.hospital_bands.get(free_readers, ())
    return sum(1 for needed in bands if usage >= needed)


def determine_reader_expansion(params: ReaderParams, facts: ReaderFacts) -> Determination:
    allowed = readers_allowed(params, facts.kind, facts.max_monthly_usage, facts.free_readers)
    reasons = [Reason(facts.max_monthly_usage >= params.usage_threshold,
                      f"月間利用件数の最大 {facts.max_monthly_usage:,}件（基準 {params.usage_threshold:,}件以上）")]
    if facts.kind == "hospital":
        reasons.append(Reason(None, f"無償提供 {facts.free_readers}台 → 増設できる台数 {allowed}台"))
    details = {"readers_allowed": allowed, "cost": facts.cost}
    if allowed == 0:
        return Determination(False, 0, tuple(reasons), details)
    readers_ok = 1 <= facts.readers <= allowed
    reasons.append(Reason(readers_ok, f"申請台数 {facts.readers}台（上限 {allowed}台）"))
    if not readers_ok or facts.cost <= 0:
        if facts.cost <= 0:
            reasons.append(Reason(False, "事業費が入力されていません"))
        return Determination(False, 0, tuple(reasons), details)
    amount, text = _capped(facts.cost, params.rate, params.caps[facts.readers])
    reasons.append(Reason(None, text))
    details.update({"cap": params.caps[facts.readers], "calculation": text})
    return Determination(True, amount, tuple(reasons), details)


# ---------------------------------------------------------------- offers (is a claim offered?)


@dataclass(frozen=True)
class OfferFacts:
    """What decides whether a facility is offered a subsidy claim. `max_monthly_usage` and
    `free_readers` matter to the reader expansion only."""

    kind: str
    paper_claims: bool
    on: date
    max_monthly_usage: int = 0
    free_readers: int = 1


@dataclass(frozen=True)
class OfferAnswer:
    offered: bool
    reason: str
    readers_allowed: int = 0


OFFERED = OfferAnswer(True, "申請できます。")


def offer_sejutsu_cost(params: CostSubsidyParams, facts: OfferFacts) -> OfferAnswer:
    """§6.1 devices and §6.4 レセコン連携: 施術所 only, once the cap is published."""
    if facts.kind not in SEJUTSU_KINDS:
        return OfferAnswer(False, "施術所が対象の補助です。")
    if params.cap is None:
        return OfferAnswer(False, "補助率・上限額がまだ公表されていません。")
    return OFFERED


def offer_device_limited(params: CostSubsidyParams, facts: OfferFacts) -> OfferAnswer:
    """§6.2: paper-claim medical institutions and pharmacies, until the deadline."""
    if facts.kind not in MEDICAL_KINDS or not facts.paper_claims:
        return OfferAnswer(False, "義務化対象外（紙レセプト請求）の医療機関・薬局が対象の補助です。")
    if params.deadline is not None and facts.on > params.deadline:
        return OfferAnswer(False, f"申請期限（{wareki(params.deadline)}）を過ぎています。")
    return OFFERED


def offer_reader_expansion(params: ReaderParams, facts: OfferFacts) -> OfferAnswer:
    """§6.3: medical institutions and pharmacies whose busiest month reached the threshold."""
    if facts.kind not in MEDICAL_KINDS:
        return OfferAnswer(False, "医療機関・薬局が対象の補助です。")
    kind = "hospital" if facts.kind == "hospital" else "clinic"
    usage = facts.max_monthly_usage
    allowed = readers_allowed(params, kind, usage, facts.free_readers)
    if allowed == 0:
        return OfferAnswer(False, f"月間利用件数の最大が{usage:,}件のため対象外です"
                                  f"（{params.usage_threshold:,}件以上、病院は無償提供台数に応じた件数）。")
    return OfferAnswer(True, f"最大{allowed}台まで申請できます（月間利用件数の最大 {usage:,}件）。",
                       allowed)

"""協力金2025 for 施術所 (DOMAIN §5.1, seeds 000 and 001)."""

from dataclasses import dataclass
from datetime import date

from .base import Determination, Reason, wareki, yen

SEJUTSU_KINDS = ("judo", "ama", "acupuncture", "ama_acupuncture")


@dataclass(frozen=True)
class CooperationParams:
    amount: int
    period_start: date
    period_end: date
    kinds: tuple[str, ...]
    notice: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "CooperationParams":
        params = cls(
            amount=int(data["amount"]),
            period_start=date.fromisoformat(data["period_start"]),
            period_end=date.fromisoformat(data["period_end"]),
            kinds=tuple(data.get("kinds", SEJUTSU_KINDS)),
            notice=str(data.get("notice", "")),
        )
        if params.amount < 0 or params.period_start > params.period_end:
            raise ValueError("amount must be ≥ 0 and period_start ≤ period_end")
        return params

    def to_dict(self) -> dict:
        return {"amount": self.amount, "period_start": self.period_start.isoformat(),
                "period_end": self.period_end.isoformat(), "kinds": list(self.kinds),
                "notice": self.notice}


DEFAULT_COOPERATION_2025 = {
    "amount": 50000,
    "period_start": "2025-05-01",
    "period_end": "2025-07-31",
    "kinds": list(SEJUTSU_KINDS),
    "notice": "厚生労働省保険局医療介護連携政策課「マイナ保険証利用促進のための取組に対する協力金事業等について」",
}


@dataclass(frozen=True)
class CooperationFacts:
    kind: str
    golive: date | None
    voice: bool
    flyer: bool
    poster: bool
    activity_from: date | None
    activity_to: date | None
    annex_role: str | None = None  # None | "main" | "subordinate"
    partner_introduced: bool = False


def determine_cooperation(params: CooperationParams, facts: CooperationFacts) -> Determination:
    reasons: list[Reason] = []
    if facts.kind not in params.kinds:
        return Determination(False, 0, (Reason(False, "協力金の対象（施術所）ではありません"),))

    golive_ok = facts.golive is not None and facts.golive <= params.period_end
    if facts.golive is None:
        reasons.append(Reason(False, "運用開始日 未入力"))
    else:
        reasons.append(Reason(golive_ok, f"運用開始日 {wareki(facts.golive)}"
                              + ("" if golive_ok else f"（{wareki(params.period_end)}より後）")))

    reported = facts.activity_from is not None and facts.activity_to is not None
    reasons.append(Reason(reported and facts.voice, "① お声掛け " + ("報告済" if facts.voice else "報告なし")))
    material = facts.flyer or facts.poster
    what = "・".join(n for n, done in (("チラシ配付", facts.flyer), ("ポスター掲示", facts.poster)) if done)
    reasons.append(Reason(reported and material, f"② {what or 'チラシ配付またはポスター掲示'} "
                          + ("報告済" if material else "報告なし")))

    # Decision (DOMAIN §5.1): activity between max(go-live, period start) and period end.
    dates_ok = False
    if not reported:
        reasons.append(Reason(False, "実施期間 未報告"))
    else:
        earliest = max(params.period_start, facts.golive) if facts.golive else params.period_start
        dates_ok = earliest <= facts.activity_from <= facts.activity_to <= params.period_end
        reasons.append(Reason(
            dates_ok,
            f"実施期間 {wareki(facts.activity_from)}〜{wareki(facts.activity_to)}"
            + ("" if dates_ok else f"（{wareki(earliest)}〜{wareki(params.period_end)}の間であること）"),
        ))

    annex_ok = True
    if facts.annex_role == "subordinate":
        annex_ok = facts.partner_introduced
        reasons.append(Reason(annex_ok, "併設の主たる施術所の導入 " + ("確認済" if annex_ok else "未確認")))
    elif facts.annex_role == "main":
        reasons.append(Reason(None, "併設の主たる施術所（従たる施術所は、導入した場合に別途支給）"))

    eligible = golive_ok and reported and facts.voice and material and dates_ok and annex_ok
    amount = params.amount if eligible else 0
    reasons.append(Reason(None, f"支給額 {yen(amount)}"))
    details = {"period_start": params.period_start.isoformat(),
               "period_end": params.period_end.isoformat(), "annex_role": facts.annex_role}
    return Determination(eligible, amount, tuple(reasons), details)

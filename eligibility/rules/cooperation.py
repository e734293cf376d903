"""協力金2025 for 施術所 (DOMAIN §5.1, notices seeds 000 and 001).

50,000 yen to a 施術所 that went live (運用開始日 entered) by the period end and reports both
① お声掛け and ② a flyer or a poster within the period; annexed (併設) 施術所 per §5.1.
"""

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from facilities.kinds import SEJUTSU_KINDS

from .base import Determination, Reason, wareki, yen

ANNEX_ROLES = (None, "main", "subordinate")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class CooperationParams:
    amount: int  # yen per facility
    period_start: date
    period_end: date
    kinds: tuple[str, ...]  # the facility kinds that take part (施術所)
    notice: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "CooperationParams":
        """Build from the JSON-able dict kept in a parameter version; ValueError if malformed."""
        if not isinstance(data, dict):
            raise ValueError("parameters must be an object")
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError("amount must be a whole number of yen, 0 or more")
        kinds = data.get("kinds", sorted(SEJUTSU_KINDS))
        if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
            raise ValueError("kinds must be a list of facility kinds")
        params = cls(
            amount=amount,
            period_start=_iso_date(data, "period_start"),
            period_end=_iso_date(data, "period_end"),
            kinds=tuple(kinds),
            notice=str(data.get("notice", "")),
        )
        if params.period_start > params.period_end:
            raise ValueError("period_start must be on or before period_end")
        return params

    def to_dict(self) -> dict:
        return {"amount": self.amount, "period_start": self.period_start.isoformat(),
                "period_end": self.period_end.isoformat(), "kinds": list(self.kinds),
                "notice": self.notice}


def _iso_date(data: dict, name: str) -> date:
    value: Any = data.get(name)
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(f"{name} must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a real date") from None


# The notices' parameters (seeds 000 and 001): 50,000 yen, activities 2025-05-01..2025-07-31.
DEFAULT_COOPERATION_2025: dict = {
    "amount": 50000,
    "period_start": "2025-05-01",
    "period_end": "2025-07-31",
    "kinds": sorted(SEJUTSU_KINDS),
    "notice": "厚生労働省保険局医療介護連携政策課「マイナ保険証利用促進のための取組に対する協力金事業等について」",
}


@dataclass(frozen=True)
class CooperationFacts:
    kind: str
    golive: date | None  # 運用開始日 entered in the portal
    voice: bool  # ① お声掛け reported
    flyer: bool  # ② チラシの配付 reported
    poster: bool  # ② ポスター掲示 reported
    activity_from: date | None  # reported activity dates (a missing one: not reported)
    activity_to: date | None
    annex_role: str | None = None  # None | "main" | "subordinate" (併設申告)
    # For a subordinate: the main 施術所 introduced. For a main: a subordinate did (information).
    partner_introduced: bool = False


def determine_cooperation(params: CooperationParams, facts: CooperationFacts) -> Determination:
    if facts.kind not in params.kinds:
        return Determination(
            False, 0, (Reason(False, f"協力金の対象（施術所）ではありません（{facts.kind}）"),),
            {"period_start": params.period_start.isoformat(),
             "period_end": params.period_end.isoformat(), "annex_role": facts.annex_role},
        )
    reasons: list[Reason] = []

    # Decision (DOMAIN §5.1): the go-live date is on or before the period end.
    golive_ok = facts.golive is not None and facts.golive <= params.period_end
    if facts.golive is None:
        reasons.append(Reason(False, "運用開始日 未入力"))
    elif golive_ok:
        reasons.append(Reason(True, f"運用開始日 {wareki(facts.golive)}"))
    else:
        reasons.append(Reason(False, f"運用開始日 {wareki(facts.golive)}"
                                     f"（{wareki(params.period_end)}までの運用開始が必要）"))

    # Both ① and ② (a flyer or a poster, any about the card).
    reasons.append(Reason(facts.voice, "① お声掛け " + ("報告済" if facts.voice else "報告なし")))
    material = facts.flyer or facts.poster
    done = [name for name, did in (("チラシ配付", facts.flyer), ("ポスター掲示", facts.poster)) if did]
    reasons.append(Reason(material, "② " + ("・".join(done) + " 報告済" if done
                                            else "チラシ配付またはポスター掲示 報告なし")))

    # Decision (DOMAIN §5.1): the activity falls within [max(go-live, period start), end].
    earliest = max(params.period_start, facts.golive) if facts.golive else params.period_start
    dates_ok = False
    if facts.activity_from is None and facts.activity_to is None:
        reasons.append(Reason(False, "実施期間 未報告"))
    elif facts.activity_from is None or facts.activity_to is None:
        given, missing = ((facts.activity_from, "終了日") if facts.activity_to is None
                          else (facts.activity_to, "開始日"))
        reasons.append(Reason(False, f"実施期間の{missing} 未報告（{wareki(given)}のみ報告）"))
    else:
        start, end = facts.activity_from, facts.activity_to
        dates_ok = earliest <= start <= end <= params.period_end
        text = f"実施期間 {wareki(start)}〜{wareki(end)}"
        if start > end:
            text += "（開始日が終了日より後です）"
        elif not dates_ok:
            text += f"（{wareki(earliest)}〜{wareki(params.period_end)}の間であること）"
        reasons.append(Reason(dates_ok, text))

    # 併設 (DOMAIN §5.1): both paid if both introduced; if only the main one, only the main.
    annex_ok = True
    if facts.annex_role == "subordinate":
        annex_ok = facts.partner_introduced
        reasons.append(Reason(annex_ok, "併設の主たる施術所の導入 "
                                        + ("確認済" if annex_ok else "未確認")))
    elif facts.annex_role == "main":
        partner = "導入済" if facts.partner_introduced else "未導入"
        reasons.append(Reason(None, f"併設の主たる施術所（従たる施術所は{partner}。"
                                    "主たる施術所の支給には影響しません）"))
    elif facts.annex_role is not None:
        annex_ok = False
        reasons.append(Reason(False, f"併設の区分が不明です（{facts.annex_role}）"))

    eligible = golive_ok and facts.voice and material and dates_ok and annex_ok
    amount = params.amount if eligible else 0
    reasons.append(Reason(None, f"支給額 {yen(amount)}"))
    details = {
        "period_start": params.period_start.isoformat(),
        "period_end": params.period_end.isoformat(),
        "earliest_activity": earliest.isoformat(),
        "golive": facts.golive.isoformat() if facts.golive else None,
        "annex_role": facts.annex_role,
    }
    return Determination(eligible, amount, tuple(reasons), details)

"""協力金2025 for 施術所 (docs/domain.md §5.1, notices seeds 000 and 001).

50,000 yen to a 施術所 that went live (運用開始日 entered) by the period end and reports both
① お声掛け and ② a flyer or a poster within the period; annexed (併設) 施術所 per §5.1.
"""

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, NamedTuple

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
        kinds = data.get("kinds")  # required: no default stands in for a missing one
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
# Written as version 1 by migration 0002 and used by tests as the notice's values; never read
# by the running code (no default from code, docs/domain.md §5.4).
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

    def json_text(self) -> str:
        """The facts as kept with a result (JSON; `from_json` reads them back)."""
        return (f'{{"kind": {_json_string(self.kind)}, "golive": {_json_date(self.golive)}, '
                f'"voice": {_JSON_BOOL[bool(self.voice)]}, '
                f'"flyer": {_JSON_BOOL[bool(self.flyer)]}, '
                f'"poster": {_JSON_BOOL[bool(self.poster)]}, '
                f'"activity_from": {_json_date(self.activity_from)}, '
                f'"activity_to": {_json_date(self.activity_to)}, '
                f'"annex_role": {_json_string(self.annex_role)}, '
                f'"partner_introduced": {_JSON_BOOL[bool(self.partner_introduced)]}}}')

    @classmethod
    def from_json(cls, data: dict) -> "CooperationFacts":
        def day(value):
            return None if value is None else date.fromisoformat(value)

        return cls(kind=data["kind"], golive=day(data["golive"]), voice=data["voice"],
                   flyer=data["flyer"], poster=data["poster"],
                   activity_from=day(data["activity_from"]),
                   activity_to=day(data["activity_to"]), annex_role=data["annex_role"],
                   partner_introduced=data["partner_introduced"])


_JSON_BOOL = {True: "true", False: "false"}
_json_string = cache(json.dumps)  # kinds and roles: a few values, each quoted once


def _json_date(value: date | None) -> str:
    return "null" if value is None else f'"{value.isoformat()}"'


class CooperationVerdict(NamedTuple):
    """What the rule decides for one 施術所, without the words: each criterion met or not.
    The batch keeps this with the facts; `determine_cooperation` writes the reasons."""

    eligible: bool
    amount: int
    for_kind: bool  # a kind the parameters name
    golive_ok: bool
    material: bool  # ② a flyer or a poster
    dates_ok: bool
    annex_ok: bool
    earliest: date  # the first day the activity may start

    @property
    def cell(self) -> tuple:
        return ()  # one amount: no table cell to keep


class CooperationJudge:
    """The rule's verdict under one set of parameters, for one 施術所 or many in a row."""

    def __init__(self, params: CooperationParams):
        self.params = params
        self._kinds = frozenset(params.kinds)

    def __call__(self, facts: CooperationFacts) -> CooperationVerdict:
        params = self.params
        golive = facts.golive
        # docs/decisions.md D5.1.1: the activity falls within [max(go-live, period start), end].
        earliest = max(params.period_start, golive) if golive else params.period_start
        if facts.kind not in self._kinds:
            return CooperationVerdict(False, 0, False, False, False, False, False, earliest)
        # docs/decisions.md D5.1.1: the go-live date is on or before the period end.
        golive_ok = golive is not None and golive <= params.period_end
        # Both ① and ② (a flyer or a poster, any about the card).
        material = bool(facts.flyer or facts.poster)
        start, end = facts.activity_from, facts.activity_to
        dates_ok = (start is not None and end is not None
                    and earliest <= start <= end <= params.period_end)
        # 併設 (docs/domain.md §5.1): both paid if both introduced; if only the main one, the main.
        role = facts.annex_role
        if role == "subordinate":
            annex_ok = bool(facts.partner_introduced)
        else:
            annex_ok = role is None or role == "main"
        eligible = bool(golive_ok and facts.voice and material and dates_ok and annex_ok)
        return CooperationVerdict(eligible, params.amount if eligible else 0, True, golive_ok,
                                  material, dates_ok, annex_ok, earliest)


def judge_cooperation(params: CooperationParams, facts: CooperationFacts) -> CooperationVerdict:
    return CooperationJudge(params)(facts)


def determine_cooperation(params: CooperationParams, facts: CooperationFacts) -> Determination:
    """The verdict (`CooperationJudge`) with the reasons the facility reads."""
    return explain_cooperation(params, facts, judge_cooperation(params, facts))


def explain_cooperation(params: CooperationParams, facts: CooperationFacts,
                        verdict: CooperationVerdict) -> Determination:
    """The reasons and details of a verdict reached on these facts."""
    if not verdict.for_kind:
        return Determination(
            False, 0, (Reason(False, f"協力金の対象（施術所）ではありません（{facts.kind}）"),),
            {"period_start": params.period_start.isoformat(),
             "period_end": params.period_end.isoformat(), "annex_role": facts.annex_role},
        )
    reasons: list[Reason] = []

    if facts.golive is None:
        reasons.append(Reason(False, "運用開始日 未入力"))
    elif verdict.golive_ok:
        reasons.append(Reason(True, f"運用開始日 {wareki(facts.golive)}"))
    else:
        reasons.append(Reason(False, f"運用開始日 {wareki(facts.golive)}"
                                     f"（{wareki(params.period_end)}までの運用開始が必要）"))

    reasons.append(Reason(facts.voice, "① お声掛け " + ("報告済" if facts.voice else "報告なし")))
    done = [name for name, did in (("チラシ配付", facts.flyer), ("ポスター掲示", facts.poster)) if did]
    reasons.append(Reason(verdict.material, "② " + ("・".join(done) + " 報告済" if done
                                                    else "チラシ配付またはポスター掲示 報告なし")))

    earliest = verdict.earliest
    if facts.activity_from is None and facts.activity_to is None:
        reasons.append(Reason(False, "実施期間 未報告"))
    elif facts.activity_from is None or facts.activity_to is None:
        given, missing = ((facts.activity_from, "終了日") if facts.activity_to is None
                          else (facts.activity_to, "開始日"))
        reasons.append(Reason(False, f"実施期間の{missing} 未報告（{wareki(given)}のみ報告）"))
    else:
        start, end = facts.activity_from, facts.activity_to
        text = f"実施期間 {wareki(start)}〜{wareki(end)}"
        if start > end:
            text += "（開始日が終了日より後です）"
        elif not verdict.dates_ok and earliest > params.period_end:
            # Live after the period: no range to name (never "8/15〜7/31").
            text += f"（運用開始日が実施期間の終了（{wareki(params.period_end)}）より後です）"
        elif not verdict.dates_ok:
            text += f"（{wareki(earliest)}〜{wareki(params.period_end)}の間であること）"
        reasons.append(Reason(verdict.dates_ok, text))

    if facts.annex_role == "subordinate":
        reasons.append(Reason(verdict.annex_ok, "併設の主たる施術所の導入 "
                                                + ("確認済" if verdict.annex_ok else "未確認")))
    elif facts.annex_role == "main":
        partner = "導入済" if facts.partner_introduced else "未導入"
        reasons.append(Reason(None, f"併設の主たる施術所（従たる施術所は{partner}。"
                                    "主たる施術所の支給には影響しません）"))
    elif facts.annex_role is not None:
        reasons.append(Reason(False, f"併設の区分が不明です（{facts.annex_role}）"))

    reasons.append(Reason(None, f"支給額 {yen(verdict.amount)}"))
    details = {
        "period_start": params.period_start.isoformat(),
        "period_end": params.period_end.isoformat(),
        "earliest_activity": earliest.isoformat(),
        "golive": facts.golive.isoformat() if facts.golive else None,
        "annex_role": facts.annex_role,
    }
    return Determination(verdict.eligible, verdict.amount, tuple(reasons), details)

"""The exemption from the obligation (やむを得ない事由, docs/domain.md §7), as a pure, total function:
the declaration form, `manage.py simulate exemption` and the administrators' review all call
`determine_exemption`. Pure Python: no Django here.

The two dates are parameters (`ExemptionParams`) of the program "obligation", read at the
declaration's date like every program's (docs/domain.md §5.4): "70 or older as of April 2024" is a
birth date on or before 1954-04-01 (docs/decisions.md D7.1), and the planned closure or end of
受領委任 must fall on or before 2025-12-02 (version 1); the code holds no default."""

import re
from dataclasses import dataclass
from datetime import date

from eligibility.rules.base import Reason, wareki
from facilities.kinds import SEJUTSU_KINDS

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
JUDO_KINDS = frozenset({"judo"})
AHAKI_KINDS = SEJUTSU_KINDS - JUDO_KINDS  # あん摩マッサージ指圧・はり・きゅう


class ExemptionReason:
    JUDO_ELDERLY = "1-1"   # 柔道整復: every full-time practitioner 70 or older
    AHAKI_ELDERLY = "1-2"  # あはき: every full-time practitioner 70 or older or visually impaired
    CLOSING = "2"          # closure or suspension planned by the deadline
    ENDING = "3"           # ending 受領委任 by the deadline

    ALL = ("1-1", "1-2", "2", "3")
    LABELS = {
        "1-1": "1-1 柔道整復：常勤の施術者が全員、令和6年4月時点で70歳以上",
        "1-2": "1-2 あはき：常勤の施術者が全員、令和6年4月時点で70歳以上または視覚障害者",
        "2": "2 令和7年12月2日までに廃止・休止する予定",
        "3": "3 令和7年12月2日までに受領委任の取扱いをやめる予定",
    }
    WITH_PRACTITIONERS = ("1-1", "1-2")


@dataclass(frozen=True)
class ExemptionParams:
    """The program "obligation"'s parameters in force at the declaration's date (read through
    eligibility.engine.parameters_in_force; version 1 by migration: 1954-04-01 and
    2025-12-02). No default here: where no version covers a date there is no answer."""

    born_on_or_before: date  # 70 on 2024-04-01 (docs/decisions.md D7.1)
    deadline: date           # the last planned date accepted for 2 and 3
    notice: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "ExemptionParams":
        """Build from the JSON-able dict kept in a parameter version; ValueError if malformed."""
        if not isinstance(data, dict):
            raise ValueError("parameters must be an object")
        return cls(born_on_or_before=_iso_date(data, "born_on_or_before"),
                   deadline=_iso_date(data, "deadline"), notice=str(data.get("notice", "")))

    def to_dict(self) -> dict:
        return {"born_on_or_before": self.born_on_or_before.isoformat(),
                "deadline": self.deadline.isoformat(), "notice": self.notice}


def _iso_date(data: dict, name: str) -> date:
    value = data.get(name)
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(f"{name} must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a real date") from None


@dataclass(frozen=True)
class Practitioner:
    birth_date: date
    full_time: bool
    visually_impaired: bool = False
    name: str = ""  # only to name the practitioner in a reason


@dataclass(frozen=True)
class ExemptionFacts:
    kind: str                   # the 施術所's kind (judo, ama, acupuncture, ama_acupuncture)
    reason: str                 # one of ExemptionReason.ALL
    practitioners: tuple[Practitioner, ...] = ()
    planned_date: date | None = None


@dataclass(frozen=True)
class ExemptionResult:
    accepted: bool
    reasons: tuple[Reason, ...]

    @property
    def reason_texts(self) -> list[str]:
        return [reason.display for reason in self.reasons]

    @property
    def refusals(self) -> list[str]:
        """Only the criteria not met: what the form shows next to the declaration."""
        return [reason.text for reason in self.reasons if reason.met is False]


def _who(index: int, practitioner: Practitioner) -> str:
    return practitioner.name or f"{index}人目の施術者"


def _elderly_or_impaired(params: ExemptionParams, facts: ExemptionFacts) -> list[Reason]:
    ahaki = facts.reason == ExemptionReason.AHAKI_ELDERLY
    full_time = [(i, p) for i, p in enumerate(facts.practitioners, start=1) if p.full_time]
    cutoff = wareki(params.born_on_or_before)
    if not full_time:
        return [Reason(False, "常勤の施術者が一人もいません。事由1は常勤の施術者全員について"
                              "判断するため、常勤の施術者を一人以上記入してください。")]
    reasons = []
    for index, practitioner in full_time:
        elderly = practitioner.birth_date <= params.born_on_or_before
        if elderly:
            reasons.append(Reason(True, f"{_who(index, practitioner)}（常勤）は{cutoff}以前の"
                                        "生まれで、令和6年4月時点で70歳以上です。"))
        elif ahaki and practitioner.visually_impaired:
            reasons.append(Reason(True, f"{_who(index, practitioner)}（常勤）は視覚障害者です。"))
        else:
            impaired_note = ("" if ahaki or not practitioner.visually_impaired
                             else "視覚障害は、柔道整復（事由1-1）では事由になりません。")
            condition = "70歳以上でも視覚障害者でもありません" if ahaki else "70歳未満です"
            reasons.append(Reason(False, f"{_who(index, practitioner)}（常勤）は令和6年4月時点で"
                                         f"{condition}（{cutoff}以前の生まれが70歳以上）。"
                                         f"{impaired_note}"))
    part_timers = len(facts.practitioners) - len(full_time)
    if part_timers:
        reasons.append(Reason(None, f"非常勤の施術者（{part_timers}人）は判断に含めません。"))
    return reasons


def _planned_date(params: ExemptionParams, facts: ExemptionFacts) -> list[Reason]:
    what = "廃止・休止" if facts.reason == ExemptionReason.CLOSING else "受領委任の取扱いの終了"
    deadline = wareki(params.deadline)
    if facts.planned_date is None:
        return [Reason(False, f"{what}の予定日を入力してください。")]
    if facts.planned_date > params.deadline:
        return [Reason(False, f"{what}の予定日（{wareki(facts.planned_date)}）が{deadline}より"
                              f"後です。{deadline}までの予定でなければ事由になりません。")]
    return [Reason(True, f"{what}の予定日（{wareki(facts.planned_date)}）は{deadline}まで"
                         "です。")]


def determine_exemption(params: ExemptionParams, facts: ExemptionFacts) -> ExemptionResult:
    """Whether a 施術所's declaration satisfies the reason it names (docs/domain.md §7)."""
    if facts.reason not in ExemptionReason.ALL:
        return ExemptionResult(False, (Reason(False, "事由を選んでください。"),))
    if facts.reason == ExemptionReason.JUDO_ELDERLY and facts.kind not in JUDO_KINDS:
        return ExemptionResult(False, (Reason(False, "事由1-1は柔道整復の施術所のみです。"
                                                     "あはきの施術所は事由1-2を選んでください。"),))
    if facts.reason == ExemptionReason.AHAKI_ELDERLY and facts.kind not in AHAKI_KINDS:
        return ExemptionResult(False, (Reason(False, "事由1-2はあん摩マッサージ指圧・はり・きゅうの"
                                                     "施術所のみです。柔道整復の施術所は事由1-1を"
                                                     "選んでください。"),))
    if facts.reason in ExemptionReason.WITH_PRACTITIONERS:
        reasons = _elderly_or_impaired(params, facts)
    else:
        reasons = _planned_date(params, facts)
    accepted = all(reason.met is not False for reason in reasons)
    return ExemptionResult(accepted, tuple(reasons))

"""What every rule returns: a Determination with the reasons a facility reads (STYLE.md,
"Rules are pure and total"). Pure Python: no Django here."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

# (first day, era name), newest first. Shown to facilities; dates are stored as ISO dates.
_ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"), (date(1926, 12, 25), "昭和"))


def wareki(value: date) -> str:
    """令和7年6月10日; the first year of an era is written 元年 (令和元年5月1日)."""
    for start, name in _ERAS:
        if value >= start:
            year = value.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年{value.month}月{value.day}日"
    return value.isoformat()  # before 昭和: never met in these programs; stay total


def yen(amount: int) -> str:
    """200,000円 (money is int yen everywhere)."""
    return f"{amount:,}円"


@dataclass(frozen=True)
class Reason:
    """One criterion as the facility reads it: met (✓), not met (✗) or information (None)."""

    met: bool | None
    text: str

    @property
    def display(self) -> str:
        if self.met is None:
            return self.text
        return f"{self.text} {'✓' if self.met else '✗'}"


@dataclass(frozen=True)
class Determination:
    """The result of one rule for one facility. `details` is JSON-able (it is stored)."""

    eligible: bool
    amount: int
    reasons: tuple[Reason, ...]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def reason_texts(self) -> list[str]:
        return [reason.display for reason in self.reasons]

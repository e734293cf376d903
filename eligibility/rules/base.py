from dataclasses import dataclass, field
from datetime import date

_ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"), (date(1926, 12, 25), "昭和"))


def wareki(value: date) -> str:
    """令和7年6月10日 (first year written 元年)."""
    for start, name in _ERAS:
        if value >= start:
            year = value.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年{value.month}月{value.day}日"
    return value.isoformat()


def yen(amount: int) -> str:
    return f"{amount:,}円"


@dataclass(frozen=True)
class Reason:
    """One criterion as the facility reads it: met (✓), not met (✗) or information."""

    met: bool | None
    text: str

    @property
    def display(self) -> str:
        if self.met is None:
            return self.text
        return f"{self.text} {'✓' if self.met else '✗'}"


@dataclass(frozen=True)
class Determination:
    eligible: bool
    amount: int
    reasons: tuple[Reason, ...]
    details: dict = field(default_factory=dict)

    @property
    def reason_texts(self) -> list[str]:
        return [reason.display for reason in self.reasons]

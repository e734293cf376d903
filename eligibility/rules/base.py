"""What every rule returns: a Determination with the reasons a facility reads
(docs/architecture.md#layers: rules are pure and total). Pure Python: no Django here."""

from dataclasses import dataclass, field
from typing import Any

from portal.wareki import to_wareki as wareki  # noqa: F401 - the one 和暦 formatter, for the rules


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

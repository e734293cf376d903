"""What a change of a facility's facts (its go-live date) would do to its money, asked
before the change is made. Dependencies run one way (facilities ← eligibility ←
incentives), so the go-live page cannot ask the money apps; incentives registers its
estimator here in its AppConfig.ready (incentives/effects.py). Without one, a change has no
effect to show and is applied as it is."""

from collections.abc import Callable
from typing import Any, Protocol


class Estimator(Protocol):
    def effects_of_change(self, *, facility, change: Callable[[], Any]) -> list: ...

    def apply_if_unchanged(self, *, facility, change: Callable[[], Any], expected: Any,
                           facts: Callable[[], Any]) -> Any: ...

    def shown_key(self, effects: list, facts: Any) -> Any: ...


_estimator: list[Estimator] = []


def register(estimator: Estimator) -> None:
    _estimator[:] = [estimator]


def estimator() -> Estimator:
    if not _estimator:
        raise LookupError("no money-effect estimator registered (incentives is installed?)")
    return _estimator[0]

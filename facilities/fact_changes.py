"""A fact of a facility changed (its go-live date, its 併設 main facility, its master row):
results other apps derive from a facility's facts must follow. Dependencies run one way
(facilities ← eligibility), so facilities cannot call eligibility; eligibility registers its
`request_redetermination` here in its AppConfig.ready (eligibility/apps.py), the one listener.

Called inside the transaction that changed the fact: the listener writes its own marks in the
same transaction and acts after commit, so a rolled-back change asks for nothing."""

from collections.abc import Callable, Iterable

Listener = Callable[..., None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def facts_changed(facility_ids: Iterable[int], *, enqueue: bool = True) -> None:
    """These facilities' facts changed. `enqueue=False` when the caller writes in many
    transactions (an import by chunks) and calls `facts_settled()` once at the end."""
    ids = list(facility_ids)
    for listener in _listeners:
        listener(ids, enqueue=enqueue)


_settled: list[Callable[[], None]] = []


def listen_settled(callback: Callable[[], None]) -> None:
    if callback not in _settled:
        _settled.append(callback)


def facts_settled() -> None:
    """A run of changes made with `enqueue=False` is over: act on them now."""
    for callback in _settled:
        callback()

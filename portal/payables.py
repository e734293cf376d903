"""The one small interface through which the apps that decide money (incentives: 協力金 and
一時金 results; subsidies: approved claims) offer it to the app that pays it (payouts).

Dependencies run one way (incentives/subsidies ← payouts), so each deciding app implements
this protocol in its `payables.py` and payouts imports them; payouts never reads or writes
their tables but through these methods. Every method runs inside the caller's transaction.
"""

from collections.abc import Iterable
from typing import Protocol

from django.db.models import QuerySet


class PayableSource(Protocol):
    kind: str  # stored on each payment line with the source record's pk
    label: str  # what the administrators call a source record

    def pays(self, program) -> bool:
        """Whether this source pays the program's money."""

    def payable(self, program=None) -> QuerySet:
        """The records that may be paid (of one program, or of every program it pays): each
        with `pk`, `facility_id`, `program_id` and the amount as `payable_amount`. Records
        already paid are included; the payouts app leaves out those standing in a live
        payment line. The queryset may be locked (`select_for_update`) by the caller."""

    def take(self, ids: Iterable[int], *, actor) -> None:
        """The records were put into a payout run: frozen (a later rule, parameter or
        decision never changes the amount)."""

    def give_back(self, ids: Iterable[int], *, actor) -> None:
        """Their run was cancelled before any money moved: as they were before `take`."""

    def paid(self, ids: Iterable[int], *, actor) -> None:
        """The bank paid them."""

    def describe(self, ids: Iterable[int]) -> dict[int, str]:
        """A short text per record for the facility (the claim's 受付番号, ...)."""

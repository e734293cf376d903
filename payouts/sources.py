"""The payable sources (portal.payables.PayableSource) the payouts app pays from.

A program's run pays its own source (eligibility results or approved claims) and, beside it,
its approved positive adjustments (docs/domain.md §5.4: lines of their own, source_kind
"adjustment"); the approved negative adjustments are netted or claimed back by the same run
(`ADJUSTMENTS.owed`)."""

from eligibility.engine import payable_kind
from incentives.payables import ADJUSTMENTS
from incentives.payables import SOURCE as DETERMINATIONS
from portal.errors import ServiceError
from subsidies.payables import SOURCE as CLAIMS

SOURCES = {source.kind: source for source in (DETERMINATIONS, CLAIMS, ADJUSTMENTS)}
# The sources that decide a program's money (one per program); adjustments come beside them.
PRIMARY = (DETERMINATIONS, CLAIMS)


def source_for(program):
    """The program's own source: the one its registry entry names (eligibility.engine.payable_kind);
    refused for a program payouts does not pay."""
    source = SOURCES.get(payable_kind(program))
    if source is not None and source.pays(program):
        return source
    raise ServiceError(f"「{program.name}」は支払の対象となるプログラムではありません。", "program")


def sources_for(program) -> list:
    """Every source a run of the program pays from: its own first, then its adjustments."""
    own = source_for(program)
    return [own, *(source for source in SOURCES.values()
                   if source is not own and source not in PRIMARY and source.pays(program))]

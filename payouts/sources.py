"""The payable sources (portal.payables.PayableSource) the payouts app pays from."""

from eligibility.engine import payable_kind
from incentives.payables import SOURCE as DETERMINATIONS
from portal.errors import ServiceError
from subsidies.payables import SOURCE as CLAIMS

SOURCES = {source.kind: source for source in (DETERMINATIONS, CLAIMS)}


def source_for(program):
    """The source its program's registry entry names (eligibility.engine.payable_kind)."""
    source = SOURCES.get(payable_kind(program))
    if source is not None and source.pays(program):
        return source
    raise ServiceError(f"「{program.name}」は支払の対象となるプログラムではありません。", "program")

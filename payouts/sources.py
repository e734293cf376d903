"""The payable sources (portal.payables.PayableSource) the payouts app pays from."""

from incentives.payables import SOURCE as DETERMINATIONS
from portal.errors import ServiceError
from subsidies.payables import SOURCE as CLAIMS

SOURCES = {source.kind: source for source in (DETERMINATIONS, CLAIMS)}


def source_for(program):
    for source in SOURCES.values():
        if source.pays(program):
            return source
    raise ServiceError(f"「{program.name}」は支払の対象となるプログラムではありません。", "program")

"""The facts each rule reads, gathered for every facility of a program in a few set-based
queries (joins and aggregates in the database), never a query per facility."""

from collections.abc import Iterator
from datetime import date

from django.db.models import Exists, F, FilteredRelation, Max, OuterRef, Q, Value
from django.db.models.functions import Coalesce

from facilities.kinds import MEDICAL_KINDS
from facilities.models import Facility, GoLive

from .models import Attestation, Program
from .rules.cooperation import CooperationFacts, CooperationParams
from .rules.lump_sum import LumpSumFacts, LumpSumParams

CHUNK = 5000


def _month(text: str) -> date:
    year, month = text.split("-")[:2]
    return date(int(year), int(month), 1)


def lump_sum_facts(
    program: Program, params: LumpSumParams, facility_ids: list[int] | None = None
) -> Iterator[tuple[int, LumpSumFacts]]:
    baseline = _month(params.baseline_month)
    months = [_month(m) for m in params.evaluation_months]
    attested = Attestation.objects.filter(facility=OuterRef("pk"), program=program)
    facilities = Facility.objects.filter(kind__in=MEDICAL_KINDS)
    if facility_ids is not None:
        facilities = facilities.filter(pk__in=facility_ids)
    rows = (
        facilities.annotate(
            oct_receipts=Coalesce(
                Max("statistics__receipts", filter=Q(statistics__month=baseline)), Value(0)
            ),
            oct_users=Coalesce(
                Max("statistics__card_users", filter=Q(statistics__month=baseline)), Value(0)
            ),
            best_users=Coalesce(
                Max("statistics__card_users", filter=Q(statistics__month__in=months)), Value(0)
            ),
            poster=Exists(attested.filter(poster=True)),
            informed=Exists(attested.filter(informed=True)),
        )
        .values_list(
            "pk", "kind", "oct_receipts", "oct_users", "best_users", "poster", "informed"
        )
        .order_by("pk")
    )
    for pk, kind, oct_receipts, oct_users, best_users, poster, informed in rows.iterator(
        chunk_size=CHUNK
    ):
        yield pk, LumpSumFacts(
            kind=kind,
            oct_receipts=oct_receipts,
            oct_users=oct_users,
            best_users=best_users,
            poster=poster,
            informed=informed,
        )


def cooperation_facts(
    program: Program, params: CooperationParams, facility_ids: list[int] | None = None
) -> Iterator[tuple[int, CooperationFacts]]:
    """The facilities of the kinds the parameters name (`params.kinds`). A partner (the other
    side of a 併設) counts as introduced when it has a go-live date on or before the period
    end."""
    introduced = GoLive.objects.filter(date__lte=params.period_end)
    facilities = Facility.objects.filter(kind__in=params.kinds)
    if facility_ids is not None:
        facilities = facilities.filter(pk__in=facility_ids)
    rows = (
        facilities.annotate(
            report=FilteredRelation("reports", condition=Q(reports__program=program)),
            golive_date=F("golive__date"),
            voice=F("report__voice"),
            flyer=F("report__flyer"),
            poster=F("report__poster"),
            activity_from=F("report__activity_from"),
            activity_to=F("report__activity_to"),
            has_subordinates=Exists(Facility.objects.filter(main_facility=OuterRef("pk"))),
            main_introduced=Exists(introduced.filter(facility=OuterRef("main_facility_id"))),
            subordinate_introduced=Exists(
                introduced.filter(facility__main_facility=OuterRef("pk"))
            ),
        )
        .values_list(
            "pk", "kind", "golive_date", "voice", "flyer", "poster", "activity_from",
            "activity_to", "main_facility_id", "has_subordinates", "main_introduced",
            "subordinate_introduced",
        )
        .order_by("pk")
    )
    for row in rows.iterator(chunk_size=CHUNK):
        (pk, kind, golive_date, voice, flyer, poster, activity_from, activity_to, main_id,
         has_subordinates, main_introduced, subordinate_introduced) = row
        if main_id is not None:
            role, partner = "subordinate", main_introduced
        elif has_subordinates:
            role, partner = "main", subordinate_introduced
        else:
            role, partner = None, False
        yield pk, CooperationFacts(
            kind=kind,
            golive=golive_date,
            voice=bool(voice),
            flyer=bool(flyer),
            poster=bool(poster),
            activity_from=activity_from,
            activity_to=activity_to,
            annex_role=role,
            partner_introduced=partner,
        )

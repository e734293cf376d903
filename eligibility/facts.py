"""The facts each rule reads, gathered for every facility of a program in a few set-based
queries (joins and aggregates in the database), never a query per facility."""

from collections.abc import Iterator
from datetime import date

from django.db import connection
from django.db.models import Exists, F, FilteredRelation, OuterRef, Q

from facilities.kinds import MEDICAL_KINDS
from facilities.models import Facility, GoLive

from .models import Attestation, MonthlyStatistic, Program
from .rules.cooperation import CooperationFacts, CooperationParams
from .rules.lump_sum import LumpSumFacts, LumpSumParams

CHUNK = 5000


def _month(text: str) -> date:
    year, month = text.split("-")[:2]
    return date(int(year), int(month), 1)


def _facilities(kinds, facility_ids: list[int] | None, facility_range: tuple[int, int] | None):
    facilities = Facility.objects.filter(kind__in=kinds)
    if facility_ids is not None:
        facilities = facilities.filter(pk__in=facility_ids)
    if facility_range is not None:  # a part of the batch: ids from the first, to the second
        facilities = facilities.filter(pk__gte=facility_range[0], pk__lt=facility_range[1])
    return facilities


def lump_sum_facts(
    program: Program, params: LumpSumParams, facility_ids: list[int] | None = None, *,
    facility_range: tuple[int, int] | None = None,
) -> Iterator[tuple[int, LumpSumFacts]]:
    """One query: the statistics rows of the months the parameters name (the baseline and the
    evaluation months only; each month's official figure, or the counter's where the month is
    not imported) aggregated per facility, joined to the facilities and their
    attestation; streamed in chunks (a server-side cursor on PostgreSQL)."""
    baseline = _month(params.baseline_month)
    months = sorted({_month(m) for m in params.evaluation_months})
    facilities = _facilities(MEDICAL_KINDS, facility_ids, facility_range)
    facilities_sql, facilities_params = facilities.values(
        facility_id=F("pk"), facility_kind=F("kind")).query.sql_with_params()
    statistic, attestation = MonthlyStatistic._meta.db_table, Attestation._meta.db_table
    read = sorted({baseline, *months})
    wanted = ", ".join(["%s"] * len(read))
    evaluation = ", ".join(["%s"] * len(months))
    only_these = ""
    if facility_ids is not None:  # else every row of the months (in the range) is wanted
        only_these = f"AND s.facility_id IN (SELECT f2.facility_id FROM ({facilities_sql}) f2)"  # noqa: S608
    elif facility_range is not None:
        only_these = "AND s.facility_id >= %s AND s.facility_id < %s"
    # docs/decisions.md D8.1: a month's 利用人数 is the imported one where it is imported, else
    # the counter's (provisional); receipts come from the import only.
    users = "(CASE WHEN s.imported_at IS NULL THEN s.counter_card_users ELSE s.card_users END)"
    # Table names come from the models, values are parameters.
    sql = f"""
        SELECT f.facility_id, f.facility_kind, COALESCE(s.oct_receipts, 0), COALESCE(s.oct_users, 0),
               COALESCE(s.best_users, 0), COALESCE(a.poster, false), COALESCE(a.informed, false)
        FROM ({facilities_sql}) f
        LEFT JOIN (
            SELECT s.facility_id,
                   MAX(CASE WHEN s.month = %s THEN s.receipts END) AS oct_receipts,
                   MAX(CASE WHEN s.month = %s THEN {users} END) AS oct_users,
                   MAX(CASE WHEN s.month IN ({evaluation}) THEN {users} END) AS best_users
            FROM {statistic} s
            WHERE s.month IN ({wanted}) {only_these}
            GROUP BY s.facility_id
        ) s ON s.facility_id = f.facility_id
        LEFT JOIN {attestation} a ON a.facility_id = f.facility_id AND a.program_id = %s
        ORDER BY f.facility_id
    """  # noqa: S608
    args = [*facilities_params, baseline, baseline, *months, *read]
    if facility_ids is not None:
        args += facilities_params
    elif facility_range is not None:
        args += list(facility_range)
    args.append(program.pk)
    for pk, kind, oct_receipts, oct_users, best_users, poster, informed in _stream(sql, args):
        yield pk, LumpSumFacts(kind, oct_receipts, oct_users, best_users, bool(poster),
                               bool(informed))


def _stream(sql: str, args: list) -> Iterator[tuple]:
    """The rows of a query in chunks, never all in memory."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, args)
        while rows := cursor.fetchmany(CHUNK):
            yield from rows


def _day(value) -> date | None:
    """A date column as the driver gives it (SQLite gives text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def cooperation_facts(
    program: Program, params: CooperationParams, facility_ids: list[int] | None = None, *,
    facility_range: tuple[int, int] | None = None,
) -> Iterator[tuple[int, CooperationFacts]]:
    """The facilities of the kinds the parameters name (`params.kinds`). A partner (the other
    side of a 併設) counts as introduced when it has a go-live date on or before the period
    end. The query is the ORM's; its rows are streamed as they come (no model machinery per
    row)."""
    introduced = GoLive.objects.filter(date__lte=params.period_end)
    facilities = _facilities(params.kinds, facility_ids, facility_range)
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
    for row in _stream(*rows.query.sql_with_params()):
        (pk, kind, golive_date, voice, flyer, poster, activity_from, activity_to, main_id,
         has_subordinates, main_introduced, subordinate_introduced) = row
        if main_id is not None:
            role, partner = "subordinate", bool(main_introduced)
        elif has_subordinates:
            role, partner = "main", bool(subordinate_introduced)
        else:
            role, partner = None, False
        yield pk, CooperationFacts(
            kind=kind,
            golive=_day(golive_date),
            voice=bool(voice),
            flyer=bool(flyer),
            poster=bool(poster),
            activity_from=_day(activity_from),
            activity_to=_day(activity_to),
            annex_role=role,
            partner_introduced=partner,
        )

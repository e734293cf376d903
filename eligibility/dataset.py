"""A synthetic national dataset for scale tests and benchmarks: facilities of every kind in
realistic proportions, annexes, go-live dates, reports, attestations, bank accounts and 11
months of statistics each (October 2023 to August 2024). Deterministic for a seed. On
PostgreSQL rows go in with COPY; elsewhere with bulk_create."""

import random
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from facilities.codes import with_check_digit
from facilities.demo import DEMO_FACILITIES
from facilities.models import Facility, GoLive
from payouts.models import BankAccount

from .engine import rules_where
from .models import ActivityReport, Attestation, MonthlyStatistic, Program

# Shares of ~400,000 facilities (hospitals ~8k, clinics ~105k, dental ~67k, pharmacies ~62k,
# 施術所 the rest).
KIND_SHARES = [
    ("hospital", 0.02), ("clinic", 0.26), ("dental", 0.17), ("pharmacy", 0.155),
    ("judo", 0.125), ("ama", 0.07), ("acupuncture", 0.12), ("ama_acupuncture", 0.08),
]
POINT_TABLE = {"hospital": "1", "clinic": "1", "dental": "3", "pharmacy": "4"}
MONTHS = [date(2023, 10, 1), date(2023, 11, 1), date(2023, 12, 1)] + [
    date(2024, m, 1) for m in range(1, 9)
]
# The demo's codes (load_demo) are never generated, so that the demo and the dataset can be
# loaded into one database in either order.
RESERVED_CODES = frozenset(code for _, code, *_ in DEMO_FACILITIES)
RECEIPTS_SCALE = {"hospital": 6000, "clinic": 900, "dental": 500, "pharmacy": 1200,
                  "judo": 120, "ama": 60, "acupuncture": 60, "ama_acupuncture": 80}


def _copy(model, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    table = model._meta.db_table
    count = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor, for COPY
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    batch = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        if len(batch) >= 5000:
            model.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    model.objects.bulk_create(batch)
    return count + len(batch)


@transaction.atomic
def generate_dataset(*, facilities: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    now = timezone.now()
    start = (Facility.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    kinds = [k for k, _ in KIND_SHARES]
    weights = [w for _, w in KIND_SHARES]
    planned = []  # (pk, kind, code, prefecture, main_pk)
    previous_ahaki = None
    for offset in range(facilities):
        pk = start + offset
        kind = rng.choices(kinds, weights)[0]
        prefecture = f"{rng.randint(1, 47):02d}"
        if kind in POINT_TABLE:
            code = with_check_digit(f"{prefecture}{POINT_TABLE[kind]}{pk % 1_000_000:06d}")
            if code in RESERVED_CODES:
                number = (pk + 500_000) % 1_000_000
                code = with_check_digit(f"{prefecture}{POINT_TABLE[kind]}{number:06d}")
        else:
            code = f"協G{pk:08d}"
        main = None
        if kind in ("ama", "acupuncture", "ama_acupuncture"):
            if previous_ahaki is not None and rng.random() < 0.05:
                main, previous_ahaki = previous_ahaki, None
            else:
                previous_ahaki = pk
        planned.append((pk, kind, code, prefecture, main))

    counts = {}
    counts["facilities"] = _copy(
        Facility,
        ["id", "kind", "code", "name", "prefecture", "address", "founder_name", "phone",
         "account_last4", "paper_claims", "main_facility_id", "created_at", "updated_at"],
        ((pk, kind, code, f"合成施設{pk}", pref, "", "", "", f"{pk % 10000:04d}",
          kind in POINT_TABLE and pk % 50 == 0, main, now, now)
         for pk, kind, code, pref, main in planned),
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            table = Facility._meta.db_table  # a name from the model, not input
            sql = f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            cursor.execute(sql, [table])

    golive = {}
    for pk, kind, *_ in planned:
        if kind in POINT_TABLE and rng.random() < 0.9:
            golive[pk] = date(2021, 10, 1) + timedelta(days=rng.randint(0, 1000))
        elif kind not in POINT_TABLE and rng.random() < 0.6:
            golive[pk] = date(2024, 6, 1) + timedelta(days=rng.randint(0, 480))
    counts["golive"] = _copy(
        GoLive, ["facility_id", "date", "source", "updated_at"],
        ((pk, d, "facility", now) for pk, d in golive.items()),
    )

    def statistic_rows():
        for pk, kind, *_ in planned:
            scale = RECEIPTS_SCALE[kind]
            receipts = max(1, int(rng.lognormvariate(0, 0.6) * scale))
            rate = rng.random() * 0.12
            growth = 1 + rng.random() * 2.5
            for index, month in enumerate(MONTHS):
                month_receipts = max(1, int(receipts * rng.uniform(0.9, 1.1)))
                month_rate = min(1.0, rate * (1 + (growth - 1) * index / (len(MONTHS) - 1)))
                users = int(month_receipts * month_rate)
                yield (pk, month, month_receipts, users, int(users * rng.uniform(1.0, 1.6)),
                       now)

    # As imported: the official figures of their months (docs/domain.md §8).
    counts["statistics"] = _copy(
        MonthlyStatistic,
        ["facility_id", "month", "receipts", "card_users", "usage_count", "imported_at"],
        statistic_rows(),
    )

    cooperation = _program_given_by(ActivityReport)
    lump_sum = _program_given_by(Attestation)
    if cooperation:
        def report_rows():
            for pk, kind, *_ in planned:
                if kind in POINT_TABLE or pk not in golive or rng.random() > 0.8:
                    continue
                first = max(golive[pk], date(2025, 5, 1))
                begin = min(first, date(2025, 7, 31)) if rng.random() < 0.9 else date(2025, 4, 1)
                yield (pk, cooperation.pk, rng.random() < 0.93, rng.random() < 0.7,
                       rng.random() < 0.6, begin, max(begin, date(2025, 7, 31)), now, now)

        counts["reports"] = _copy(
            ActivityReport,
            ["facility_id", "program_id", "voice", "flyer", "poster", "activity_from",
             "activity_to", "submitted_at", "updated_at"],
            report_rows(),
        )
    if lump_sum:
        counts["attestations"] = _copy(
            Attestation,
            ["facility_id", "program_id", "poster", "informed", "submitted_at", "updated_at"],
            ((pk, lump_sum.pk, rng.random() < 0.95, rng.random() < 0.95, now, now)
             for pk, kind, *_ in planned if kind in POINT_TABLE and rng.random() < 0.85),
        )
    counts["bank_accounts"] = _copy(
        BankAccount,
        ["facility_id", "bank_code", "bank_name", "bank_kana", "branch_code", "branch_name",
         "branch_kana", "account_type", "account_number", "holder_name", "japan_post_kigo",
         "japan_post_bango", "updated_at"],
        ((pk, "0001", "みずほ銀行", "ﾐｽﾞﾎ", "001", "東京営業部", "ﾄｳｷﾖｳ", "1",
          f"{pk % 10_000_000:07d}", f"ｺﾞｳｾｲ{pk}"[:30], "", "", now)
         for pk, *_ in planned if rng.random() < 0.9),
    )
    return counts


def _program_given_by(model: type) -> Program | None:
    """The first program whose to-do (its registry entry) the facility gives as a `model`
    row: the reports' (協力金) or the attestations' (一時金)."""
    rules = rules_where(lambda binding: binding.todo is not None and binding.todo.model is model)
    return Program.objects.filter(rule__in=list(rules)).order_by("code").first()

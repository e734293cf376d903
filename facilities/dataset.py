"""The facilities' part of the synthetic national dataset (eligibility/dataset.py drives it):
facilities of every kind in realistic proportions, annexes and go-live dates. Deterministic for
the generator it is given (the parts draw from one generator in a fixed order)."""

import random
from datetime import date, timedelta

from django.db import connection

from portal.bulk_copy import copy_rows

from .codes import with_check_digit
from .demo import DEMO_FACILITIES
from .models import Facility, GoLive

# Shares of ~400,000 facilities (hospitals ~8k, clinics ~105k, dental ~67k, pharmacies ~62k,
# 施術所 the rest).
KIND_SHARES = [
    ("hospital", 0.02), ("clinic", 0.26), ("dental", 0.17), ("pharmacy", 0.155),
    ("judo", 0.125), ("ama", 0.07), ("acupuncture", 0.12), ("ama_acupuncture", 0.08),
]
POINT_TABLE = {"hospital": "1", "clinic": "1", "dental": "3", "pharmacy": "4"}
# The demo's codes (load_demo) are never generated, so that the demo and the dataset can be
# loaded into one database in either order.
RESERVED_CODES = frozenset(code for _, code, *_ in DEMO_FACILITIES)


def plan_facilities(rng: random.Random, facilities: int) -> list[tuple]:
    """(pk, kind, code, prefecture, main pk) of each facility to make, after the last pk."""
    start = (Facility.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    kinds = [k for k, _ in KIND_SHARES]
    weights = [w for _, w in KIND_SHARES]
    planned = []
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
    return planned


def insert_facilities(planned: list[tuple], *, now) -> int:
    count = copy_rows(
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
    return count


def insert_golive(rng: random.Random, planned: list[tuple], *, now) -> dict[int, date]:
    """Go-live dates (most medical facilities, more than half of the 施術所): {pk: date}."""
    golive = {}
    for pk, kind, *_ in planned:
        if kind in POINT_TABLE and rng.random() < 0.9:
            golive[pk] = date(2021, 10, 1) + timedelta(days=rng.randint(0, 1000))
        elif kind not in POINT_TABLE and rng.random() < 0.6:
            golive[pk] = date(2024, 6, 1) + timedelta(days=rng.randint(0, 480))
    copy_rows(GoLive, ["facility_id", "date", "source", "updated_at"],
              ((pk, d, "facility", now) for pk, d in golive.items()))
    return golive

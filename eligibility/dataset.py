"""A synthetic national dataset for scale tests and benchmarks: facilities of every kind in
realistic proportions, annexes, go-live dates (facilities/dataset.py), reports, attestations,
11 months of statistics each (October 2023 to August 2024), and what the apps above add
(`add_part`: payouts' bank accounts). Each app writes its own tables. Deterministic for a
seed: the parts draw from one generator in a fixed order. On PostgreSQL rows go in with COPY;
elsewhere with bulk_create (portal/bulk_copy.py)."""

import random
from collections.abc import Callable
from datetime import date

from django.db import transaction
from django.utils import timezone

from facilities.dataset import POINT_TABLE, insert_facilities, insert_golive, plan_facilities
from portal.bulk_copy import copy_rows

from .engine import rules_where
from .models import ActivityReport, Attestation, MonthlyStatistic, Program

MONTHS = [date(2023, 10, 1), date(2023, 11, 1), date(2023, 12, 1)] + [
    date(2024, m, 1) for m in range(1, 9)
]
RECEIPTS_SCALE = {"hospital": 6000, "clinic": 900, "dental": 500, "pharmacy": 1200,
                  "judo": 120, "ama": 60, "acupuncture": 60, "ama_acupuncture": 80}

# The parts of the apps above eligibility, added in their AppConfig.ready, called last in the
# order added: (generator, planned facilities, now=) → {name: count}.
_PARTS: list[Callable[..., dict[str, int]]] = []


def add_part(part: Callable[..., dict[str, int]]) -> None:
    if part not in _PARTS:
        _PARTS.append(part)


@transaction.atomic
def generate_dataset(*, facilities: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    now = timezone.now()
    planned = plan_facilities(rng, facilities)  # (pk, kind, code, prefecture, main_pk)
    counts = {"facilities": insert_facilities(planned, now=now)}
    golive = insert_golive(rng, planned, now=now)
    counts["golive"] = len(golive)

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
    counts["statistics"] = copy_rows(
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

        counts["reports"] = copy_rows(
            ActivityReport,
            ["facility_id", "program_id", "voice", "flyer", "poster", "activity_from",
             "activity_to", "submitted_at", "updated_at"],
            report_rows(),
        )
    if lump_sum:
        counts["attestations"] = copy_rows(
            Attestation,
            ["facility_id", "program_id", "poster", "informed", "submitted_at", "updated_at"],
            ((pk, lump_sum.pk, rng.random() < 0.95, rng.random() < 0.95, now, now)
             for pk, kind, *_ in planned if kind in POINT_TABLE and rng.random() < 0.85),
        )
    for part in _PARTS:
        counts.update(part(rng, planned, now=now))
    return counts


def _program_given_by(model: type) -> Program | None:
    """The first program whose to-do (its registry entry) the facility gives as a `model`
    row: the reports' (協力金) or the attestations' (一時金)."""
    rules = rules_where(lambda binding: binding.todo is not None and binding.todo.model is model)
    return Program.objects.filter(rule__in=list(rules)).order_by("code").first()

#!/usr/bin/env python
"""Compliance statuses of the 施術所 at national scale on PostgreSQL.

Makes the database afresh (dropped and created), migrates it and puts in, with bulk inserts,
N 施術所 (100k by default) with a realistic mix — go-lives, 併設 subordinates (half of
their mains introduced), accepted and still-declared exemption declarations (some expired),
survey answers, open and accepted start applications, nothing at all — and 10% as many
medical facilities (which get no row). Then it times `compute_statuses()` over all of them
twice: the first run writes every row, the second finds nothing changed and writes none.
Next to it the floor: a plain SQL scan of the same 施術所 joined to their go-live
(`SELECT count(*) … LEFT JOIN facilities_golive`), the cheapest read of the same rows.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_hb \
       python bench/compliance.py [--facilities 100000]
"""

import argparse
import os
import random
import time
from datetime import date, timedelta

from django_setup import fresh_database, rss_mb, setup_django

SEJUTSU = ["judo", "judo", "ama", "acupuncture", "ama_acupuncture"]
MEDICAL = ["clinic", "dental", "pharmacy"]


def generate(size: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from facilities.models import (
        ApplicationKind,
        ApplicationState,
        Facility,
        GoLive,
        UsageApplication,
    )
    from obligation.models import DeclarationState, ExemptionDeclaration, SurveyAnswer

    rng = random.Random(12)
    now = timezone.now()
    facilities = [
        Facility(kind=rng.choice(SEJUTSU), code=f"契{number:08d}", name=f"施術所{number}",
                 prefecture=f"{number % 47 + 1:02d}", address=f"所在地{number}",
                 founder_name="開設者", account_last4="1234", created_at=now, updated_at=now)
        for number in range(size)]
    facilities += [
        Facility(kind=rng.choice(MEDICAL), code=f"M{number:09d}", name=f"医療機関{number}",
                 prefecture=f"{number % 47 + 1:02d}", account_last4="1234", created_at=now,
                 updated_at=now)
        for number in range(size // 10)]
    Facility.objects.bulk_create(facilities, batch_size=5000)
    ids = list(Facility.objects.filter(code__startswith="契").order_by("pk")
               .values_list("pk", flat=True))
    rng.shuffle(ids)
    share = {}
    start = 0
    for part, fraction in (("golive", .35), ("subordinate", .10), ("accepted", .05),
                           ("declared", .02), ("survey", .05), ("open", .10),
                           ("accepted_app", .05)):
        count = int(size * fraction)
        share[part] = ids[start:start + count]
        start += count

    golives = [GoLive(facility_id=pk, date=date(2025, 1, 1) + timedelta(days=pk % 300))
               for pk in share["golive"]]
    GoLive.objects.bulk_create(golives, batch_size=5000)
    # 併設: mains among the introduced half the time, among the rest otherwise.
    mains = share["golive"][: len(share["subordinate"]) // 2] + ids[start:][
        : len(share["subordinate"]) - len(share["subordinate"]) // 2]
    subordinates = []
    for pk, main in zip(share["subordinate"], mains, strict=False):
        subordinates.append(Facility(pk=pk, main_facility_id=main))
    Facility.objects.bulk_update(subordinates, ["main_facility"], batch_size=5000)

    declarations = []
    for number, pk in enumerate(share["accepted"] + share["declared"]):
        reason = ["1-1", "2", "3"][number % 3]
        planned = None if reason == "1-1" else date(2025, 3, 1) + timedelta(days=number % 400)
        state = (DeclarationState.ACCEPTED if pk in set(share["accepted"])
                 else DeclarationState.DECLARED)
        declarations.append(ExemptionDeclaration(
            facility_id=pk, reason=reason, planned_date=planned, state=state,
            contact_name="担当", receipt_number=f"E{number:09d}"))
    ExemptionDeclaration.objects.bulk_create(declarations, batch_size=5000)
    SurveyAnswer.objects.bulk_create([
        SurveyAnswer(name="施術所", address="所在地", registration_code=f"契{pk}",
                     reason=str(number % 3 + 1), received_on=date(2025, 2, 1), facility_id=pk)
        for number, pk in enumerate(share["survey"])], batch_size=5000)
    applications = [
        UsageApplication(facility_id=pk, kind=ApplicationKind.START, contact_name="担当",
                         founder_name="開設者", phone="03-0000-0000", email="a@example.jp",
                         state=ApplicationState.SUBMITTED)
        for pk in share["open"]]
    applications += [
        UsageApplication(facility_id=pk, kind=ApplicationKind.START, contact_name="担当",
                         founder_name="開設者", phone="03-0000-0000", email="a@example.jp",
                         state=ApplicationState.ACCEPTED)
        for pk in share["accepted_app"] + share["golive"]]
    UsageApplication.objects.bulk_create(applications, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def floor() -> tuple[float, int]:
    from django.db import connection

    best, count = None, 0
    with connection.cursor() as cursor:
        for _ in range(3):
            started = time.perf_counter()
            cursor.execute(
                "SELECT count(*), count(g.date) FROM facilities_facility f "
                "LEFT JOIN facilities_golive g ON g.facility_id = f.id "
                "WHERE f.kind IN ('judo', 'ama', 'acupuncture', 'ama_acupuncture')")
            count = cursor.fetchone()[0]
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facilities", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("set DATABASE_URL (or --database-url) to a PostgreSQL database")
    fresh_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db.models import Count

    from obligation.compliance import compute_statuses
    from obligation.models import ComplianceStatus

    call_command("migrate", "--noinput", verbosity=0)
    started = time.perf_counter()
    generate(args.facilities)
    generated = time.perf_counter() - started
    scan, count = floor()

    started = time.perf_counter()
    written = compute_statuses(today=date(2025, 10, 1))
    first = time.perf_counter() - started
    started = time.perf_counter()
    rewritten = compute_statuses(today=date(2025, 10, 1))
    second = time.perf_counter() - started

    print(f"施術所 {count:,} (and {args.facilities // 10:,} medical facilities), "
          f"generated in {generated:.1f} s")
    print(f"{'run':<34} {'seconds':>8} {'rows written':>12} {'施術所/s':>10}")
    print(f"{'compute_statuses, first (writes)':<34} {first:>8.2f} {written:>12,} "
          f"{count / first:>10,.0f}")
    print(f"{'compute_statuses, again (no change)':<34} {second:>8.2f} {rewritten:>12,} "
          f"{count / second:>10,.0f}")
    print(f"{'floor: SELECT count(*) ⋈ golive':<34} {scan:>8.3f} {'-':>12} "
          f"{count / scan:>10,.0f}")
    print(f"first run / floor {first / scan:.0f}×, second run / floor {second / scan:.0f}×, "
          f"peak RSS {rss_mb():.0f} MB")
    states = (ComplianceStatus.objects.values("state").annotate(n=Count("pk"))
              .order_by("state"))
    print("states: " + ", ".join(f"{row['state']} {row['n']:,}" for row in states))


if __name__ == "__main__":
    main()

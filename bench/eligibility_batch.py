#!/usr/bin/env python
"""Eligibility batch at national scale on PostgreSQL.

For each size (10k, 100k, 400k facilities by default) it makes a fresh database, generates
the synthetic dataset (`generate_dataset`), then in a separate process runs the batch for
every open program and reports its wall time and peak memory (max RSS of that process),
next to the floor: a plain SQL scan that reads the same statistics rows once
(`SELECT facility_id, max(card_users) ... GROUP BY facility_id` over the 11 months).

Usage: python bench/eligibility_batch.py [--sizes 10000,100000,400000]
       [--database-url postgres://postgres@127.0.0.1:5432/]  (the server; a database per size)
"""

import argparse
import json
import os
import subprocess
import sys
import time

from django_setup import ROOT, rss_mb, setup_django


def child_batch(database_url: str) -> None:
    setup_django(database_url)
    from eligibility import services

    started = time.perf_counter()
    runs = services.run_all_open_programs()
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "seconds": elapsed,
        "max_rss_mb": rss_mb(),
        "determined": sum(r.facilities for r in runs),
        "eligible": sum(r.eligible for r in runs),
        "total_amount": sum(r.total_amount for r in runs),
    }))


def child_scan(database_url: str) -> None:
    setup_django(database_url)
    from django.db import connection

    from eligibility.models import MonthlyStatistic

    table = MonthlyStatistic._meta.db_table
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            f"SELECT facility_id, max(receipts), max(card_users) FROM {table} GROUP BY facility_id"
        )
        rows = len(cursor.fetchall())
        grouped = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute(f"SELECT count(*), sum(card_users) FROM {table}")
        cursor.fetchone()
        scan = time.perf_counter() - started
        cursor.execute(f"SELECT count(*) FROM {table}")
        statistics = cursor.fetchone()[0]
    print(json.dumps({"group_seconds": grouped, "scan_seconds": scan, "facilities": rows,
                      "statistics": statistics}))


def _run_child(kind: str, database_url: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"--child-{kind}", "--database-url", database_url],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url,
           "DJANGO_SETTINGS_MODULE": "portal.settings.dev"}
    env.pop("CELERY_BROKER_URL", None)
    return subprocess.run([sys.executable, "manage.py", *args], check=True, env=env, cwd=ROOT,
                          capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,400000")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/")
    parser.add_argument("--child-batch", action="store_true")
    parser.add_argument("--child-scan", action="store_true")
    args = parser.parse_args()
    if args.child_batch:
        return child_batch(args.database_url)
    if args.child_scan:
        return child_scan(args.database_url)

    import psycopg

    server = args.database_url.rstrip("/")
    print(f"{'facilities':>10} {'stat rows':>10} {'generate s':>10} {'batch s':>8} "
          f"{'peak MB':>8} {'floor scan s':>12} {'floor group s':>13} {'batch/group':>11} "
          f"{'eligible':>9} {'total yen':>15}")
    for size in [int(s) for s in args.sizes.split(",")]:
        name = f"portal_bench_{size}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        url = f"{server}/{name}"
        _manage(url, "migrate", "--noinput", "-v", "0")
        _manage(url, "load_demo")
        started = time.perf_counter()
        _manage(url, "generate_dataset", "--facilities", str(size))
        generated = time.perf_counter() - started
        _manage(url, "shell", "-c", "from django.db import connection; "
                "connection.cursor().execute('VACUUM ANALYZE')")
        scan = _run_child("scan", url)
        batch = _run_child("batch", url)
        print(f"{size:>10,} {scan['statistics']:>10,} {generated:>10.1f} "
              f"{batch['seconds']:>8.1f} {batch['max_rss_mb']:>8.0f} "
              f"{scan['scan_seconds']:>12.2f} {scan['group_seconds']:>13.2f} "
              f"{batch['seconds'] / scan['group_seconds']:>11.1f} "
              f"{batch['eligible']:>9,} {batch['total_amount']:>15,}", flush=True)


if __name__ == "__main__":
    main()

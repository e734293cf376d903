#!/usr/bin/env python
"""Eligibility batch at national scale on PostgreSQL.

For each size (10k, 100k, 400k facilities by default) it makes a fresh database, generates
the synthetic dataset (`generate_dataset`), then in a separate process runs the batch for
every open program and reports its wall time and peak memory (max RSS of that process),
next to the floor: a plain SQL scan that reads the same statistics rows once
(`SELECT count(*), sum(card_users)`) and a grouped scan
(`SELECT facility_id, max(receipts), max(card_users) ... GROUP BY facility_id` over the 11
months). The batch's time is also given per phase (the seconds each was busy: gathering the
facts, the rule, writing the results), and for a second run that finds nothing changed.

Usage: python bench/eligibility_batch.py [--sizes 10000,100000,400000]
       [--database-url postgres://postgres@127.0.0.1:5432/]  (the server; a database per size)
       [--db-prefix portal_bench]  (the databases are PREFIX_SIZE, dropped and made anew)
       [--reuse]  (keep a database of that name made by an earlier run: no generation)
       [--workers N [--tasks T] [--redis redis://127.0.0.1:6379/15]]  (also the batch
       spread over a Celery worker of N processes as T range tasks (a chord) over Redis, as
       the nightly job runs with a broker: first run and rerun, from the queued job to the
       last run finished)
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from django_setup import ROOT, fresh_database, rss_mb, setup_django


def child_batch(database_url: str, locked: bool = False) -> None:
    setup_django(database_url)
    from eligibility import services

    started = time.perf_counter()
    runs = services.run_all_open_programs()
    elapsed = time.perf_counter() - started
    # Again, as the nightly job finds it: nothing changed, nothing is written.
    started = time.perf_counter()
    reruns = services.run_all_open_programs()
    rerun = time.perf_counter() - started
    locked_figures = _locked_rerun(services) if locked else {}
    print(json.dumps({
        **locked_figures,
        "seconds": elapsed,
        "facts_seconds": sum(r.facts_seconds for r in runs),
        "rule_seconds": sum(r.rule_seconds for r in runs),
        "write_seconds": sum(r.write_seconds for r in runs),
        "written": sum(r.written for r in runs),
        "rerun_seconds": rerun,
        "rerun_written": sum(r.written for r in reruns),
        "max_rss_mb": rss_mb(),
        "determined": sum(r.facilities for r in runs),
        "eligible": sum(r.eligible for r in runs),
        "total_amount": sum(r.total_amount for r in runs),
    }))


def _locked_rerun(services) -> dict:
    """Every eligible result put into a payout (as after a payout run of every program),
    then the batch again: a paid result is judged again and compared with what it was paid
    plus its adjustments (docs/domain.md §5.4); unchanged, it proposes nothing."""
    from eligibility.models import Determination

    locked = Determination.objects.filter(eligible=True).update(payout_locked=True)
    started = time.perf_counter()
    runs = services.run_all_open_programs()
    return {"locked": locked, "locked_rerun_seconds": time.perf_counter() - started,
            "locked_rerun_skipped": sum(r.skipped_locked for r in runs),
            "locked_rerun_proposed": sum(getattr(r, "adjustments_proposed", 0) for r in runs)}


def child_spread(database_url: str, redis_url: str, parts: int) -> None:
    """The nightly task through the broker: queued, split into `parts` range tasks by the
    worker, and waited for until every program's run has its end time."""
    os.environ["ELIGIBILITY_BATCH_TASKS"] = str(parts)
    setup_django(database_url, broker=redis_url)
    from eligibility import tasks
    from eligibility.models import EligibilityRun
    from portal.celery import app

    waited = time.perf_counter()  # the worker's start is not the batch's time
    while not app.control.ping(timeout=0.5) and time.perf_counter() - waited < 120:
        pass

    def spread() -> tuple[float, list]:
        started = time.perf_counter()
        queued = tasks.run_eligibility.delay().get(timeout=3600)
        ids = [item["run"] for item in queued]
        while EligibilityRun.objects.filter(pk__in=ids, finished_at__isnull=True).exists():
            time.sleep(0.05)
        return time.perf_counter() - started, list(EligibilityRun.objects.filter(pk__in=ids))

    elapsed, runs = spread()
    rerun, reruns = spread()
    print(json.dumps({
        "seconds": elapsed, "rerun_seconds": rerun,
        "written": sum(r.written for r in runs), "rerun_written": sum(r.written for r in reruns),
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


def _run_child(kind: str, database_url: str, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"--child-{kind}", "--database-url", database_url, *extra],
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
    parser.add_argument("--db-prefix", default="portal_bench")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--child-batch", action="store_true")
    parser.add_argument("--locked", action="store_true",
                        help="then lock every eligible result (paid) and run again")
    parser.add_argument("--child-scan", action="store_true")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--child-spread", action="store_true")
    args = parser.parse_args()
    if not 0 <= args.workers <= 64 or not 1 <= args.tasks <= 1000:
        parser.error("--workers 0..64, --tasks 1..1000")
    if args.child_batch:
        return child_batch(args.database_url, locked=args.locked)
    if args.child_spread:
        return child_spread(args.database_url, args.redis, args.tasks)
    if args.child_scan:
        return child_scan(args.database_url)

    import psycopg

    server = args.database_url.rstrip("/")
    print(f"{'facilities':>10} {'stat rows':>10} {'generate s':>10} {'batch s':>8} "
          f"{'facts s':>8} {'rule s':>7} {'write s':>8} {'rerun s':>8} "
          f"{'peak MB':>8} {'floor scan s':>12} {'floor group s':>13} {'batch/group':>11} "
          f"{'batch/scan':>10} {'eligible':>9} {'total yen':>15}")
    for size in [int(s) for s in args.sizes.split(",")]:
        name = f"{args.db_prefix}_{size}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            parser.error("--db-prefix: lower-case letters, digits and _ only")
        url = f"{server}/{name}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  [name]).fetchone()
        if not (args.reuse and exists):
            fresh_database(url)
        generated = float("nan")
        if args.reuse and exists:
            _manage(url, "migrate", "--noinput", "-v", "0")
            # As on a fresh database: the batch writes every facility's result.
            _manage(url, "shell", "-c", "from eligibility.models import Determination as D; "
                    "D.objects.filter(payout_locked=False).delete()")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM FULL eligibility_determination")
        else:
            _manage(url, "migrate", "--noinput", "-v", "0")
            _manage(url, "load_demo")
            started = time.perf_counter()
            _manage(url, "generate_dataset", "--facilities", str(size))
            generated = time.perf_counter() - started
        _manage(url, "shell", "-c", "from django.db import connection; "
                "connection.cursor().execute('VACUUM ANALYZE')")
        scan = _run_child("scan", url)
        batch = _run_child("batch", url, *(["--locked"] if args.locked else []))
        print(f"{size:>10,} {scan['statistics']:>10,} {generated:>10.1f} "
              f"{batch['seconds']:>8.2f} {batch['facts_seconds']:>8.2f} "
              f"{batch['rule_seconds']:>7.2f} {batch['write_seconds']:>8.2f} "
              f"{batch['rerun_seconds']:>8.2f} {batch['max_rss_mb']:>8.0f} "
              f"{scan['scan_seconds']:>12.2f} {scan['group_seconds']:>13.2f} "
              f"{batch['seconds'] / scan['group_seconds']:>11.1f} "
              f"{batch['seconds'] / scan['scan_seconds']:>10.1f} "
              f"{batch['eligible']:>9,} {batch['total_amount']:>15,}", flush=True)
        print(f"{'':>10} written: {batch['written']:,} results; on the rerun "
              f"{batch['rerun_written']:,} (nothing changed)", flush=True)
        if args.locked:
            print(f"{'':>10} {batch['locked']:,} eligible results locked (paid), then run "
                  f"again: {batch['locked_rerun_seconds']:.2f} s, "
                  f"{batch['locked_rerun_skipped']:,} locked and unchanged, "
                  f"{batch['locked_rerun_proposed']:,} adjustments proposed", flush=True)
        if args.workers:
            spread = _spread(url, args)
            print(f"{'':>10} spread over a worker of {args.workers} processes as {args.tasks} "
                  f"tasks: {spread['seconds']:.2f} s ({spread['seconds'] / scan['group_seconds']:.1f}"
                  f"× the grouped scan), rerun {spread['rerun_seconds']:.2f} s; written "
                  f"{spread['written']:,}, on the rerun {spread['rerun_written']:,}; eligible "
                  f"{spread['eligible']:,}, {spread['total_amount']:,} yen", flush=True)


def _spread(url: str, args) -> dict:
    """The batch as the nightly job runs it with a broker, on a fresh start (the results
    the in-process run wrote removed, as before it), with a worker started for it."""
    _manage(url, "shell", "-c", "from eligibility.models import Determination as D; "
            "D.objects.filter(payout_locked=False).delete()")
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": args.redis,
           "DJANGO_SETTINGS_MODULE": "batch_worker_settings",
           "ELIGIBILITY_BATCH_TASKS": str(args.tasks),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)])}
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "--quiet", "-A", "portal", "worker",
         "-c", str(args.workers), "--loglevel", "warning"], cwd=ROOT, env=env)
    try:
        return _run_child("spread", url, "--redis", args.redis, "--tasks", str(args.tasks))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        redis.Redis.from_url(args.redis).flushdb()


if __name__ == "__main__":
    main()

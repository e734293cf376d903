#!/usr/bin/env python
"""Monthly statistics import at scale on PostgreSQL, through the administrators' job service.

Makes a fresh database, N facilities and a CSV of `--lines` statistics lines (N facilities ×
enough months), then, each in its own process (so that max RSS is that step's own):
  dry run   — start_import (file kept privately) + the check task, as the upload page does;
  import    — confirm_import (the workflow move) + the import task, as the confirm button does;
  reimport  — the same file again (every line unchanged);
  floor     — a plain `COPY ... FROM STDIN` of the same file into a temporary table.
It prints wall time and peak memory (max RSS; the Django baseline of an idle process is
printed too) for each.

Usage: python bench/statistics_import.py [--facilities 20000] [--lines 100000]
       [--database-url postgres://postgres@127.0.0.1:5432/]  (the server)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django_setup import ROOT, fresh_database, rss_mb, setup_django

NAME = "portal_bench_statistics_import"


def child_prepare(database_url: str, facilities: int, lines: int, path: str) -> None:
    setup_django(database_url)
    from django.contrib.auth import get_user_model

    from facilities.codes import with_check_digit
    from facilities.models import Facility

    get_user_model().objects.create_superuser("bench@example.jp", None)
    rows = [Facility(kind="clinic", code=with_check_digit(f"131{n:06d}"), name=f"施設{n}",
                     prefecture="13", account_last4="1234") for n in range(facilities)]
    Facility.objects.bulk_create(rows, batch_size=5000)
    codes = [row.code for row in rows]
    months = -(-lines // facilities)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("facility_code,year_month,receipts,card_users,usage_count\r\n")
        written = 0
        for month in range(months):
            year, number = 2023 + (9 + month) // 12, (9 + month) % 12 + 1
            for n, code in enumerate(codes):
                if written == lines:
                    break
                handle.write(f"{code},{year}-{number:02d},{1000 + n % 500},{n % 97},"
                             f"{n % 131}\r\n")
                written += 1
    print(json.dumps({"lines": written, "bytes": os.path.getsize(path)}))


def child_baseline(database_url: str) -> None:
    setup_django(database_url)
    from django.db import connection

    connection.ensure_connection()
    print(json.dumps({"max_rss_mb": rss_mb()}))


def child_check(database_url: str, path: str) -> None:
    setup_django(database_url)
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from portal import import_jobs

    user = get_user_model().objects.get(email="bench@example.jp")
    started = time.perf_counter()
    with open(path, "rb") as handle:
        job = import_jobs.start_import(actor=user, kind="monthly_statistics",
                                       upload=File(handle, name="statistics.csv"))
    job.refresh_from_db()
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "max_rss_mb": rss_mb(), "job": job.pk,
                      "state": job.state, "new": job.new_count, "errors": job.error_count}))


def child_import(database_url: str, job_id: int) -> None:
    setup_django(database_url)
    from django.contrib.auth import get_user_model

    from portal import import_jobs
    from portal.models import ImportJob

    user = get_user_model().objects.get(email="bench@example.jp")
    started = time.perf_counter()
    job = import_jobs.confirm_import(actor=user, job=ImportJob.objects.get(pk=job_id))
    job.refresh_from_db()
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "max_rss_mb": rss_mb(), "state": job.state,
                      "new": job.new_count, "updated": job.updated_count,
                      "unchanged": job.unchanged_count, "errors": job.error_count}))


def child_floor(database_url: str, path: str) -> None:
    setup_django(database_url)
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE statistics_floor (facility_code text, "
                       "year_month text, receipts int, card_users int, usage_count int)")
        with open(path, "rb") as handle, cursor.cursor.copy(
                "COPY statistics_floor FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            while block := handle.read(1024 * 1024):
                copy.write(block)
        cursor.execute("SELECT count(*) FROM statistics_floor")
        rows = cursor.fetchone()[0]
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "max_rss_mb": rss_mb(), "rows": rows}))


def _run_child(database_url: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--database-url", database_url, *args],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facilities", type=int, default=20000)
    parser.add_argument("--lines", type=int, default=100000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/")
    parser.add_argument("--child", choices=["prepare", "baseline", "check", "import", "floor"])
    parser.add_argument("--path", default="")
    parser.add_argument("--job", type=int, default=0)
    args = parser.parse_args()
    if args.child == "prepare":
        return child_prepare(args.database_url, args.facilities, args.lines, args.path)
    if args.child == "baseline":
        return child_baseline(args.database_url)
    if args.child == "check":
        return child_check(args.database_url, args.path)
    if args.child == "import":
        return child_import(args.database_url, args.job)
    if args.child == "floor":
        return child_floor(args.database_url, args.path)

    url = f"{args.database_url.rstrip('/')}/{NAME}"
    fresh_database(url)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "portal.settings.dev"}
    env.pop("CELERY_BROKER_URL", None)
    with tempfile.TemporaryDirectory() as private:
        os.environ["PRIVATE_STORAGE_ROOT"] = env["PRIVATE_STORAGE_ROOT"] = private
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                       check=True, env=env, cwd=ROOT)
        path = str(Path(private) / "statistics.csv")
        made = _run_child(url, "--child", "prepare", "--facilities", str(args.facilities),
                          "--lines", str(args.lines), "--path", path)
        print(f"{args.facilities:,} facilities, {made['lines']:,} statistics lines, "
              f"{made['bytes'] / 1024 / 1024:.1f} MB CSV (PostgreSQL)")
        base = _run_child(url, "--child", "baseline")
        check = _run_child(url, "--child", "check", "--path", path)
        done = _run_child(url, "--child", "import", "--job", str(check["job"]))
        again = _run_child(url, "--child", "check", "--path", path)
        redone = _run_child(url, "--child", "import", "--job", str(again["job"]))
        floor = _run_child(url, "--child", "floor", "--path", path)
    print(f"{'step':<34} {'seconds':>8} {'peak MB':>8}  result")
    print(f"{'idle Django process (baseline)':<34} {'':>8} {base['max_rss_mb']:>8.0f}")
    print(f"{'dry run (upload + check task)':<34} {check['seconds']:>8.2f} "
          f"{check['max_rss_mb']:>8.0f}  {check['state']}: {check['new']:,} new, "
          f"{check['errors']} errors")
    print(f"{'import (confirm + import task)':<34} {done['seconds']:>8.2f} "
          f"{done['max_rss_mb']:>8.0f}  {done['state']}: {done['new']:,} new, "
          f"{done['updated']:,} updated, {done['errors']} errors")
    print(f"{'same file again: dry run':<34} {again['seconds']:>8.2f} "
          f"{again['max_rss_mb']:>8.0f}  {again['state']}")
    print(f"{'same file again: import':<34} {redone['seconds']:>8.2f} "
          f"{redone['max_rss_mb']:>8.0f}  {redone['unchanged']:,} unchanged")
    print(f"{'floor: COPY FROM STDIN (temp table)':<34} {floor['seconds']:>8.2f} "
          f"{floor['max_rss_mb']:>8.0f}  {floor['rows']:,} rows")
    print(f"dry run / floor {check['seconds'] / floor['seconds']:.1f}×, "
          f"import / floor {done['seconds'] / floor['seconds']:.1f}×")


if __name__ == "__main__":
    main()

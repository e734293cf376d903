#!/usr/bin/env python
"""What one request of each page costs the server, without the noise of a load generator on
the same cores: Django's test client on the production settings (PostgreSQL, Redis cache and
cached sessions), signed in as one of bench/load.py's staff users, each page requested
--repeat times after a warm-up. Prints CPU ms per request (this process: middleware, views,
SQL building, templates; PostgreSQL's own time is not in it), wall ms and queries, next to
the same figures for the minimal view (the floor), and the page as a multiple of it.
`--profile NAME` prints where one page's time goes (cProfile, top functions).

The database is bench/load.py's (same --prefix and --facilities; prepared if missing).

Usage: python bench/page_cpu.py [--facilities 20000] [--repeat 40] [--prefix portal_load]
       [--database-url postgres://postgres@127.0.0.1:5432/] [--cache redis://127.0.0.1:6379/11]
       [--redis redis://127.0.0.1:6379/14]
       [--profile NAME] [--only NAME ...]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load_prepare import prepare_in_child, production_env

ROOT = Path(__file__).resolve().parent.parent


def pages(plan: dict) -> list[tuple[str, str, str, dict | None]]:
    """(name, method, path, data) for the pages bench/load.py loads, in its order."""
    f = plan["users"][0]["facility"]
    report = f"/facilities/{f}/money/{plan['cooperation']}/report/"
    return [
        ("minimal view", "GET", "/bench/ceiling/", None),
        ("マイページ", "GET", "/dashboard/", None),
        ("施設トップ", "GET", f"/facilities/{f}/", None),
        ("運用開始日 (GET)", "GET", f"/facilities/{f}/golive/", None),
        ("運用開始日 (POST)", "POST", f"/facilities/{f}/golive/", {"date": plan["golive"][1]}),
        ("実施報告 (GET)", "GET", report, None),
        ("実施報告 (POST)", "POST", report, {"voice": "on", "flyer": "on",
                                          "activity_from": plan["period"][0],
                                          "activity_to": plan["period"][1]}),
        ("協力金・一時金", "GET", f"/facilities/{f}/money/", None),
        ("口座", "GET", f"/facilities/{f}/money/bank/", None),
        ("補助金申請", "GET", f"/facilities/{f}/claims/", None),
        ("履歴", "GET", f"/facilities/{f}/history/", None),
        ("公開リスト検索", "GET", "/public/?prefecture=13&kind=clinic&name=合成施設12", None),
        ("シミュレーター", "GET", "/simulator/?kind=clinic&oct_receipts=1200&oct_users=40"
                              "&best_users=300&poster=on&informed=on", None),
    ]


def child(plan_path: str, repeat: int, profile: str, only: list[str]) -> None:
    import cProfile
    import pstats

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    # No setup_test_environment(): its template instrumentation (a copy of every context)
    # would be counted as the page's cost.
    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(email=plan["users"][0]["email"]))
    results = {}
    for name, method, path, data in pages(plan):
        if only and name != "minimal view" and name not in only and name != profile:
            continue
        if method == "POST":
            client.get(path)  # the CSRF cookie; the test client does not enforce it anyway

        def once(name=name, method=method, path=path, data=data):
            response = client.post(path, data) if method == "POST" else client.get(path)
            if response.status_code not in (200, 302):
                raise SystemExit(f"{name}: status {response.status_code}")
            return response

        for _ in range(5):
            once()
        queries: list[str] = []  # counted at the cursor (request_started resets the log)

        def count(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            once()
        if name == profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(repeat):
                once()
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
        cpu_began, wall_began = time.process_time(), time.perf_counter()
        for _ in range(repeat):
            once()
        results[name] = {"cpu": (time.process_time() - cpu_began) * 1000 / repeat,
                         "wall": (time.perf_counter() - wall_began) * 1000 / repeat,
                         "queries": len(queries)}
    floor = results["minimal view"]["cpu"]
    print(f"{'page':<22}{'CPU ms':>9}{'wall ms':>9}{'queries':>9}{'× floor':>9}")
    for name, figures in results.items():
        width = 22 - sum(1 for c in name if ord(c) > 0x2E80)
        print(f"{name:<{width}}{figures['cpu']:>9.2f}{figures['wall']:>9.2f}"
              f"{figures['queries']:>9}{figures['cpu'] / floor:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facilities", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--prefix", default="portal_load")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14",
                        help="the broker (emptied afterwards)")
    parser.add_argument("--profile", default="")
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeat, args.profile, args.only)
        return
    if not 1 <= args.repeat <= 10_000:
        parser.error("--repeat 1..10000")
    server = args.database_url.rstrip("/")
    name = f"{args.prefix}_{args.facilities}"
    database_url = f"{server}/{name}"
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with tempfile.TemporaryDirectory(prefix="portal-page-cpu-") as workdir:
        plan_path = Path(workdir) / "plan.json"
        prepare_in_child(database_url, args.facilities, 50, plan_path)
        # The tasks a POST queues go to a broker no worker reads (queueing is the page's
        # cost; the work is the worker's) and are purged afterwards.
        env = production_env(database_url, args.cache, args.redis, workdir)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(plan_path),
                   "--repeat", str(args.repeat), "--profile", args.profile]
        if args.only:
            command += ["--only", *args.only]
        try:
            subprocess.run(command, cwd=ROOT, env=env, check=True)
        finally:
            import redis

            redis.Redis.from_url(args.redis).flushdb()


if __name__ == "__main__":
    main()

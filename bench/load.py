#!/usr/bin/env python
"""The portal's pages under load, on the production-like stack: gunicorn (production
settings, several workers) on PostgreSQL, the cache, sessions' rate limits and Celery's
broker on Redis, a Celery worker; the synthetic national dataset (generate_dataset), the demo,
and staff users for a sample of the dataset's 施術所 (bench/load_prepare.py).

Each page is loaded alone by --users simulated users (locust, in this process, loopback
only) for --seconds after a short warm-up, and printed with requests per second and
p50/p95/p99; in the same run a minimal Django view on the same server (the ceiling: the
middleware and nothing else) is measured the same way, and each page is given as a share
of it. Aim: every page at least 40 % of the ceiling, p95 under 100 ms at 50 users.

The database is created once (--prefix, default portal_load) and kept: a later run with
the same --prefix and --facilities reuses it (--fresh drops it first).

Usage: python bench/load.py [--facilities 400000] [--users 50] [--seconds 10] [--workers 3]
       [--prefix portal_load] [--database-url postgres://postgres@127.0.0.1:5432/]
       [--redis redis://127.0.0.1:6379/9] [--cache redis://127.0.0.1:6379/10] [--fresh]
       [--only NAME ...]
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import copy  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from load_prepare import prepare_in_child, production_env  # noqa: E402 - Django not loaded
from locust import HttpUser, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PORT = 8766
WARM_UP = 3.0


class Shared:
    """What the simulated users read: the plan and the sessions kept from the log-in phase."""

    plan: dict = {}
    sessions: dict[int, list] = {}
    slots = itertools.count()
    started = 0  # users of the current phase past on_start (logged in)


def _cookie(user: HttpUser, name: str) -> str:
    values = [cookie.value for cookie in user.client.cookies if cookie.name == name]
    return values[-1] if values else ""


def _csrf(user: HttpUser, path: str, name: str) -> str:
    user.client.get(path, name=name)
    return _cookie(user, "csrftoken")


class PortalUser(HttpUser):
    """One member of staff with one 施術所; `page` is set on the subclass of each phase."""

    wait_time = constant(0)
    abstract = True
    page: str = ""

    def on_start(self) -> None:
        self.slot = next(Shared.slots) % len(Shared.plan["users"])
        item = Shared.plan["users"][self.slot]
        self.email, self.facility = item["email"], item["facility"]
        self.n = 0
        if self.page not in ANONYMOUS:
            if self.slot not in Shared.sessions:
                self._log_in()
            for cookie in Shared.sessions[self.slot]:
                self.client.cookies.set_cookie(copy.copy(cookie))
        Shared.started += 1

    def _log_in(self, name: str = "login") -> None:
        self.client.cookies.clear()
        token = _csrf(self, "/accounts/login/", "ログイン (GET)")
        with self.client.post("/accounts/login/", name=name, allow_redirects=False,
                              data={"login": self.email, "password": Shared.plan["password"],
                                    "csrfmiddlewaretoken": token},
                              catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"log-in: {response.status_code}")
        Shared.sessions[self.slot] = [copy.copy(cookie) for cookie in self.client.cookies]

    def _get(self, path: str, stream: bool = False) -> None:
        with self.client.get(path, name=self.page, allow_redirects=False, stream=stream,
                             catch_response=True) as response:
            if stream:
                size = sum(len(chunk) for chunk in response.iter_content(65536))
                if not size:
                    response.failure("empty")
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")

    def _post(self, path: str, data: dict) -> None:
        data = {**data, "csrfmiddlewaretoken": _cookie(self, "csrftoken")}
        with self.client.post(path, name=self.page, data=data, allow_redirects=False,
                              catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"status {response.status_code} (refused?)")

    @task
    def one(self) -> None:
        self.n += 1
        f = self.facility
        plan = Shared.plan
        rng = random.Random(self.n * 1000 + self.slot)
        match self.page:
            case "ceiling" | "ceiling (again)":
                self._get("/bench/ceiling/")
            case "ログイン":
                self._log_in(name="ログイン")
            case "マイページ":
                self._get("/dashboard/")
            case "施設トップ":
                self._get(f"/facilities/{f}/")
            case "運用開始日 (GET)":
                self._get(f"/facilities/{f}/golive/")
            case "運用開始日 (POST)":
                if self.n == 1:
                    _csrf(self, f"/facilities/{f}/golive/", "運用開始日 (GET)")
                self._post(f"/facilities/{f}/golive/", {"date": plan["golive"][self.n % 2]})
            case "実施報告 (GET)":
                self._get(f"/facilities/{f}/money/{plan['cooperation']}/report/")
            case "実施報告 (POST)":
                path = f"/facilities/{f}/money/{plan['cooperation']}/report/"
                if self.n == 1:
                    _csrf(self, path, "実施報告 (GET)")
                self._post(path, {"voice": "on", "flyer": "on" if self.n % 2 else "",
                                  "activity_from": plan["period"][0],
                                  "activity_to": plan["period"][1]})
            case "協力金・一時金":
                self._get(f"/facilities/{f}/money/")
            case "口座":
                self._get(f"/facilities/{f}/money/bank/")
            case "補助金申請":
                self._get(f"/facilities/{f}/claims/")
            case "履歴":
                self._get(f"/facilities/{f}/history/")
            case "公開リスト検索":
                kind = rng.choice(["hospital", "clinic", "judo", "pharmacy"])
                self._get(f"/public/?prefecture={rng.randint(1, 47):02d}&kind={kind}"
                          f"&name=合成施設{rng.randint(1, 99)}")
            case "公開リストCSV":
                self._get(f"/public/facilities.csv?prefecture={rng.randint(1, 47):02d}"
                          "&kind=hospital", stream=True)
            case "シミュレーター":
                self._get(f"/simulator/?kind=clinic&oct_receipts={rng.randint(100, 3000)}"
                          f"&oct_users={rng.randint(0, 90)}&best_users={rng.randint(100, 900)}"
                          "&poster=on&informed=on")
            case _:
                raise ValueError(self.page)


PAGES = ["ceiling", "ログイン", "マイページ", "施設トップ", "運用開始日 (GET)", "運用開始日 (POST)",
         "実施報告 (GET)", "実施報告 (POST)", "協力金・一時金", "口座", "補助金申請", "履歴",
         "公開リスト検索", "公開リストCSV", "シミュレーター"]
ANONYMOUS = {"ceiling", "ceiling (again)", "ログイン", "公開リスト検索", "公開リストCSV", "シミュレーター"}


def drain(broker_url: str, limit: float = 600) -> tuple[float, dict[str, int]]:
    """Wait until the Celery worker has done what the previous phase queued (the
    re-determinations a go-live date or a report asks for, the e-mails), so that each page
    is measured alone; answer how long that took and what was waiting, by task name."""
    import redis

    client = redis.Redis.from_url(broker_url)
    waiting: dict[str, int] = {}
    for message in client.lrange("celery", 0, -1):
        name = json.loads(message).get("headers", {}).get("task", "?").rsplit(".", 1)[-1]
        waiting[name] = waiting.get(name, 0) + 1
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if not client.llen("celery") and not client.hlen("unacked"):
            break
        gevent.sleep(0.5)
    return time.monotonic() - began, waiting


def settle(base: str, limit: float = 120) -> float:
    """Wait until the server answers the minimal view at once again (the requests a phase
    left queued, e.g. log-ins hashing passwords, are done); answer how long that took."""
    began = time.monotonic()
    quick = 0
    while quick < 5 and time.monotonic() - began < limit:
        sent = time.monotonic()
        urllib.request.urlopen(base + "/bench/ceiling/", timeout=limit).read()  # noqa: S310
        quick = quick + 1 if time.monotonic() - sent < 0.02 else 0
        gevent.sleep(0.05)
    return time.monotonic() - began


def measure(base: str, page: str, users: int, seconds: float) -> dict:
    phase = type("Phase", (PortalUser,), {"page": page, "abstract": False})
    environment = Environment(user_classes=[phase], host=base)
    runner = environment.create_local_runner()
    Shared.started = 0
    runner.start(users, spawn_rate=users)
    deadline = time.monotonic() + 300
    while Shared.started < users and time.monotonic() < deadline:  # log-ins not measured
        gevent.sleep(0.2)
    gevent.sleep(WARM_UP)
    environment.stats.reset_all()
    began = time.monotonic()
    gevent.sleep(seconds)
    entry = environment.stats.get(page, "POST" if "POST" in page or page == "ログイン"
                                  else "GET")
    elapsed = time.monotonic() - began
    figures = {"rps": entry.num_requests / elapsed, "requests": entry.num_requests,
               "failures": entry.num_failures,
               **{p: entry.get_response_time_percentile(q)
                  for p, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}}
    errors = [f"{e.error}" for e in environment.stats.errors.values()][:3]
    runner.quit()
    runner.greenlet.join(timeout=30)
    figures["errors"] = errors
    return figures


def start_stack(args, database_url: str, workdir: str) -> list[subprocess.Popen]:
    env = production_env(database_url, args.cache, args.redis, workdir)
    bindir = Path(sys.executable).parent
    # The worker's own output goes to a file: its failures are counted after the run.
    log = open(Path(workdir) / "worker.log", "w")  # noqa: SIM115 - open while it runs
    worker = subprocess.Popen(
        [str(bindir / "celery"), "--quiet", "-A", "portal", "worker", "-c", "1",
         "--loglevel", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log)
    gunicorn = subprocess.Popen(
        [str(bindir / "gunicorn"), "portal.wsgi", "-w", str(args.workers),
         "-b", f"127.0.0.1:{PORT}", "--log-level", "warning"], cwd=ROOT, env=env)
    ready = 0
    for _ in range(300):  # every worker answering, several times over
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/bench/ceiling/",  # noqa: S310
                                   timeout=2)
            ready += 1
            if ready >= 4 * args.workers:
                break
        except OSError:
            time.sleep(0.2)
    return [gunicorn, worker]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facilities", type=int, default=400_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--prefix", default="portal_load")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    parser.add_argument("--only", nargs="*", help="these pages (and the ceiling) only")
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.seconds <= 120:
        parser.error("--users 1..200 and --seconds 1..120")
    server = args.database_url.rstrip("/")
    name = f"{args.prefix}_{args.facilities}"
    database_url = f"{server}/{name}"
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if args.fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with tempfile.TemporaryDirectory(prefix="portal-load-") as workdir:
        plan_path = Path(workdir) / "plan.json"
        print(f"preparing {name} ({args.facilities:,} facilities, {args.users} staff users)",
              flush=True)
        Shared.plan = prepare_in_child(database_url, args.facilities, args.users, plan_path)
        processes = start_stack(args, database_url, workdir)
        base = f"http://127.0.0.1:{PORT}"
        pages = [p for p in PAGES if not args.only or p == "ceiling" or p in args.only]
        pages.append("ceiling (again)")  # the machine may be busier or calmer by the end
        results = {}
        try:
            print(f"{args.users} users per page, {args.seconds:.0f} s each after {WARM_UP:.0f} s "
                  f"warm-up; gunicorn {args.workers} workers, PostgreSQL + Redis + Celery "
                  f"worker; {args.facilities:,} facilities", flush=True)
            for page in pages:
                if page != "ログイン" and page not in ANONYMOUS and not Shared.sessions:
                    results["ログイン"] = measure(base, "ログイン", args.users, args.seconds)
                results[page] = measure(base, page, args.users, args.seconds)
                figures = results[page]
                figures["background"], waiting = drain(args.redis)
                settle(base)
                queued = ", ".join(f"{count} {name}" for name, count in sorted(waiting.items()))
                print(f"  measured {page}: {figures['rps']:.0f} req/s; the tasks it queued "
                      f"took {figures['background']:.0f} s more"
                      + (f" (waiting at its end: {queued})" if queued else ""), flush=True)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=20)
            worker_log = (Path(workdir) / "worker.log").read_text(encoding="utf-8",
                                                                 errors="replace")
            failed = worker_log.count("Traceback")
            print(f"Celery worker: {failed} failed tasks" + (
                ":\n" + worker_log[-2000:] if failed else ""), flush=True)
    ceiling = (results["ceiling"]["rps"] + results["ceiling (again)"]["rps"]) / 2
    print()
    print(f"ceiling: {ceiling:.0f} req/s, the mean of the first and the last measurement")
    print(f"{'page':<22}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'of ceiling':>12}{'failures':>10}{'tasks after':>13}")
    for page, figures in results.items():
        label = page.replace("ceiling", "minimal view")
        width = 22 - sum(1 for c in label if ord(c) > 0x2E80)  # full-width characters
        print(f"{label:<{width}}{figures['rps']:>9.1f}{figures['p50']:>9.0f}"
              f"{figures['p95']:>9.0f}{figures['p99']:>9.0f}"
              f"{figures['rps'] / ceiling:>11.0%}{figures['failures']:>10}"
              f"{figures.get('background', 0):>12.0f}s")
        for error in figures["errors"]:
            print(f"      {error[:150]}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Confirmations per second through the counter endpoint, on the production-like stack:
gunicorn (production settings) on PostgreSQL, the cache and Celery's broker on Redis, and
8 device accounts confirming cards at once over HTTP, each as the local agent does (a token,
then face-mode confirmations of registered cards, each counted into the month's
statistics). Printed next to two floors measured the same way: a static file served by the
same server (no view), and the challenge endpoint (a token checked, a challenge stored: the
API's cheapest authenticated call).

Usage: python bench/counter.py [--seconds 10] [--clients 8] [--workers 4]
       [--database-url postgres://postgres@127.0.0.1:5432/] [--redis redis://127.0.0.1:6379/7]
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from django_setup import ROOT, fresh_database, setup_django

NAME = "portal_bench_counter"
PORT = 8765


def prepare(database_url: str, clients: int, cards: int) -> list[dict]:
    """A clinic with `clients` device accounts (their passwords), the test CA trusted and
    `cards` registered cards per account: what each client will send."""
    setup_django(database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from datetime import date, timedelta

    from cardreader.models import InsuredPerson, TrustedIssuer
    from facilities import services as facility_services
    from facilities.models import DeviceAccount
    from tests.cardreader.pki import authority, card_certificate
    from tests.cardreader.test_api import load_crl
    from tests.factories import accepted_facility

    facility, staff, _ = accepted_facility(kind="clinic", devices=clients)
    issuer = TrustedIssuer(name="ベンチマーク用CA", certificate_pem=authority().pem)
    issuer.full_clean()
    issuer.save()
    load_crl(issuer)  # a CA with no current CRL confirms no card (fail closed)
    plan = []
    far = date.today() + timedelta(days=900)
    for index, account in enumerate(DeviceAccount.objects.filter(facility=facility)
                                    .order_by("number")):
        password = facility_services.issue_device_credentials(account=account,
                                                              actor=staff).password
        certificates = []
        for number in range(cards):
            card = card_certificate(10_000 * (index + 1) + number, not_after=far,
                                    key_index=number)
            InsuredPerson.objects.create(
                issuer=card.issuer, serial=str(card.serial), insurer_number="06132013",
                symbol="東京", number=str(number), branch="01", name="ベンチ 太郎",
                name_kana="ベンチ タロウ", birth_date=date(1980, 4, 1), copay_ratio=30,
                valid_from=date(2020, 4, 1))
            certificates.append(base64.b64encode(card.der).decode())
        plan.append({"login_id": account.login_id, "password": password,
                     "certificates": certificates})
    return plan


def post(url: str, payload: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the benchmark's own local server
        url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - localhost
        return json.loads(response.read())


def hammer(base: str, plan: list[dict], seconds: float, what: str) -> tuple[int, int]:
    """Each client in its own thread for `seconds`: (calls, errors)."""
    calls = [0] * len(plan)
    errors = [0] * len(plan)
    start = threading.Barrier(len(plan) + 1)
    deadline = [0.0]

    def client(index: int, item: dict) -> None:
        token = item["token"]
        start.wait()
        n = 0
        while time.monotonic() < deadline[0]:
            try:
                if what == "confirm":
                    certificate = item["certificates"][n % len(item["certificates"])]
                    post(base + "/api/counter/confirm",
                         {"certificate": certificate, "mode": "face"}, token)
                elif what == "challenge":
                    post(base + "/api/counter/challenge", {}, token)
                else:
                    with urllib.request.urlopen(base + "/static/css/portal.css",  # noqa: S310
                                                timeout=30) as response:
                        response.read()
                calls[index] += 1
            except Exception:  # noqa: BLE001 - counted and reported
                errors[index] += 1
            n += 1

    threads = [threading.Thread(target=client, args=(i, item)) for i, item in enumerate(plan)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds + 0.5
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return sum(calls), sum(errors), elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()
    server = args.database_url.rstrip("/")
    database_url = f"{server}/{NAME}"
    fresh_database(database_url)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.dev"
    plan = prepare(database_url, args.clients, args.cards)
    env = {**os.environ, "DATABASE_URL": database_url, "CACHE_URL": args.redis,
           "CELERY_BROKER_URL": args.redis, "DJANGO_SETTINGS_MODULE": "counter_bench_settings",
           "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "false",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
           "DJANGO_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "portal.wsgi", "-w", str(args.workers),
         "-b", f"127.0.0.1:{PORT}", "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{PORT}"
    try:
        ready = 0
        for _ in range(300):  # every worker answering, several times over
            try:
                urllib.request.urlopen(base + "/static/css/portal.css", timeout=1)  # noqa: S310
                ready += 1
                if ready >= 4 * args.workers:
                    break
            except OSError:
                time.sleep(0.2)
        for item in plan:  # each device account logs in once, as the agent does
            item["token"] = post(base + "/api/counter/token", {
                "login_id": item["login_id"], "password": item["password"]})["token"]
        print(f"counter endpoint: {args.clients} device accounts at once, {args.seconds:.0f} s "
              f"each, gunicorn {args.workers} workers, PostgreSQL + Redis")
        for what, label in (("static", "floor: a static file (no view)"),
                            ("challenge", "floor: /api/counter/challenge (token + cache)"),
                            ("confirm", "/api/counter/confirm (face mode, counted)")):
            calls, errors, elapsed = hammer(base, plan, args.seconds, what)
            print(f"  {label:48} {calls / elapsed:8.1f} per second  ({calls} calls, "
                  f"{errors} errors)")
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=10)
    setup_django(database_url)
    from eligibility.models import MonthlyStatistic

    row = MonthlyStatistic.objects.get()
    print(f"  counted this month (the counter's, provisional): usage "
          f"{row.counter_usage_count}, distinct card users {row.counter_card_users} "
          f"(of {args.clients * args.cards} cards)")


if __name__ == "__main__":
    main()

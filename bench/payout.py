#!/usr/bin/env python
"""A payout run at national scale on PostgreSQL: create, release and write its file.

For each size (100k and 400k payable facilities by default) it makes a fresh database,
migrates it and puts in, with COPY, that many facilities, each with a bank account and an
eligible 一時金 result. Then, each step in its own process (wall time and peak memory are
that step's own), it calls the payout services as the schedule, the admin and
`manage.py payout` do:
  create  — services.create_run (the schedule's run, actor None)
  release — services.release_run by a payout officer, once another has checked the
            schedule's run (not timed; the e-mail tasks it queues go to an in-memory broker:
            in production workers send them after the officer's request)
  file    — services.transfer_file (the 全銀 bytes, first writing)
next to the floor: a plain `COPY (SELECT … FROM payouts_paymentline WHERE run_id = …
ORDER BY id) TO STDOUT` of the same lines (best of three), and each step's ratio to it; and,
for the steps that write, a write floor: the same lines put by one `INSERT … SELECT` into a
table with the same indexes.

Usage: python bench/payout.py [--sizes 100000,400000]
       [--database-url postgres://postgres@127.0.0.1:5432/]  (the server; a database per size)
       [--profile create|release|file]  (that step under cProfile: the 25 most expensive calls)
"""

import argparse
import json
import os
import subprocess
import sys
import time

from django_setup import ROOT, fresh_database, rss_mb, setup_django

FLOOR_SQL = (
    "COPY (SELECT id, bank_code, bank_kana, branch_code, branch_kana, account_type, "
    "account_number, holder_name, amount FROM payouts_paymentline "
    "WHERE run_id = {run} AND state <> 'cancelled' ORDER BY id) TO STDOUT"
)


def _copy_instances(model, instances) -> int:
    """COPY unsaved instances (their pk set) into the model's table, every concrete field as
    Django would save it (defaults, auto_now), so that a new column needs no change here."""
    from django.db import connection

    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
        for instance in instances:
            copy.write_row([field.get_db_prep_save(field.pre_save(instance, True), connection)
                            for field in fields])
            count += 1
    return count


def _next_pk(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1


def _reset_sequence(model) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        table = model._meta.db_table  # a name from the model, not input
        cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                       f"(SELECT max(id) FROM {table}))", [table])


def child_prepare(database_url: str, size: int) -> None:
    setup_django(database_url)
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from eligibility.models import Determination, Program
    from facilities.models import Facility
    from payouts.models import BankAccount, Consignor

    started = time.perf_counter()
    program = Program.objects.get(code="lump-sum-2024")
    version = program.versions.first()
    now = timezone.now()
    with transaction.atomic():
        first = _next_pk(Facility)
        pks = range(first, first + size)
        _copy_instances(Facility, (
            Facility(pk=pk, kind="clinic", code=f"B{pk:09d}", name=f"ベンチ施設{pk}",
                     prefecture=f"{pk % 47 + 1:02d}", account_last4=f"{pk % 10_000:04d}")
            for pk in pks))
        _reset_sequence(Facility)
        first_account = _next_pk(BankAccount)
        _copy_instances(BankAccount, (
            BankAccount(pk=first_account + n, facility_id=pk, bank_code="0001",
                        bank_name="みずほ銀行", bank_kana="ﾐｽﾞﾎ", branch_code=f"{pk % 900 + 100:03d}",
                        branch_name="本店", branch_kana="ﾎﾝﾃﾝ", account_type="1",
                        account_number=f"{pk % 10_000_000:07d}",
                        holder_name=f"ｲ)ﾍﾞﾝﾁｼｾﾂ{pk}")
            for n, pk in enumerate(pks)))
        _reset_sequence(BankAccount)
        first_result = _next_pk(Determination)
        _copy_instances(Determination, (
            Determination(pk=first_result + n, facility_id=pk, program=program,
                          parameter_version=version, eligible=True,
                          amount=100_000 + pk % 7 * 50_000, reasons=[], details={},
                          determined_at=now)
            for n, pk in enumerate(pks)))
        _reset_sequence(Determination)
        Consignor.objects.update_or_create(pk=1, defaults=dict(
            code="1234567890", name="ｺｳｾｲﾛｳﾄﾞｳｼﾖｳ", bank_code="0001", bank_name="ﾐｽﾞﾎ",
            branch_code="001", branch_name="ﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ", account_type="1",
            account_number="7654321"))
        get_user_model().objects.create_superuser("releaser@example.jp", None)
        get_user_model().objects.create_superuser("checker@example.jp", None)
    print(json.dumps({"seconds": time.perf_counter() - started, "facilities": size}))


def _profiled(step, profile: bool):
    if not profile:
        return step()
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(step)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return result


def child_step(database_url: str, step: str, profile: bool) -> None:
    setup_django(database_url)
    from django.contrib.auth import get_user_model

    from eligibility.models import Program
    from payouts import services
    from payouts.calendar import next_business_day
    from payouts.models import PayoutRun
    from portal.celery import app

    # What the services queue (e-mails) goes to a broker nobody reads, as in production the
    # workers' queue: the step is the officer's, not the workers'.
    app.conf.update(task_always_eager=False, broker_url="memory://")
    if step == "create":
        from datetime import timedelta

        from django.utils import timezone

        day = next_business_day(timezone.localdate() + timedelta(days=1))
        program = Program.objects.get(code="lump-sum-2024")

        def work():
            return services.create_run(program=program, transfer_date=day, actor=None)
    elif step == "release":
        run = PayoutRun.objects.get()
        releaser = get_user_model().objects.get(email="releaser@example.jp")
        if run.state == PayoutRun.State.TO_CHECK:  # the schedule's run: checked by another
            run = services.check_run(
                run=run, actor=get_user_model().objects.get(email="checker@example.jp"))

        def work():
            return services.release_run(run=run, actor=releaser)
    else:
        run = PayoutRun.objects.get()
        officer = get_user_model().objects.get(email="releaser@example.jp")

        def work():
            return services.transfer_file(run=run, actor=officer)
    started = time.perf_counter()
    result = _profiled(work, profile)
    elapsed = time.perf_counter() - started
    run = PayoutRun.objects.get()
    print(json.dumps({"seconds": elapsed, "max_rss_mb": rss_mb(), "state": run.state,
                      "lines": run.line_count, "total": run.total_amount,
                      "bytes": len(result) if isinstance(result, bytes) else 0}))


def child_floor(database_url: str) -> None:
    """The read floor (COPY … TO STDOUT of the run's lines, best of three) and, for the steps
    that write, a write floor: the same lines inserted by one INSERT … SELECT into a table
    with the same indexes (committed)."""
    setup_django(database_url)
    from django.db import connection

    from payouts.models import PaymentLine, PayoutRun

    run = int(PayoutRun.objects.get().pk)
    sql = FLOOR_SQL.format(run=run)
    best, size = float("inf"), 0
    with connection.cursor() as cursor:
        for _ in range(3):
            started = time.perf_counter()
            size = 0
            with cursor.cursor.copy(sql) as copy:
                for block in copy:
                    size += len(block)
            best = min(best, time.perf_counter() - started)
        table = PaymentLine._meta.db_table  # names from the model and the script, not input
        cursor.execute(f"CREATE TABLE bench_floor_lines (LIKE {table} INCLUDING ALL)")
        started = time.perf_counter()
        cursor.execute(f"INSERT INTO bench_floor_lines SELECT * FROM {table} "  # noqa: S608
                       "WHERE run_id = %s", [run])
        write = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_floor_lines")
    print(json.dumps({"seconds": best, "write_seconds": write, "max_rss_mb": rss_mb(),
                      "bytes": size}))


def _run_child(database_url: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--database-url", database_url, *args],
        capture_output=True, text=True, cwd=ROOT,
    )
    if done.returncode:
        sys.exit(done.stderr)
    if "--profile" in args:
        print(done.stderr, file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _manage(database_url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url,
           "DJANGO_SETTINGS_MODULE": "portal.settings.dev"}
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run([sys.executable, "manage.py", *args], check=True, env=env, cwd=ROOT,
                   capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,400000")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/")
    parser.add_argument("--profile", choices=["create", "release", "file"])
    parser.add_argument("--child", choices=["prepare", "create", "release", "file", "floor"])
    parser.add_argument("--size", type=int, default=0)
    args = parser.parse_args()
    if args.child == "prepare":
        return child_prepare(args.database_url, args.size)
    if args.child == "floor":
        return child_floor(args.database_url)
    if args.child:
        return child_step(args.database_url, args.child, args.profile == args.child)

    import psycopg

    server = args.database_url.rstrip("/")
    with psycopg.connect(f"{server}/postgres") as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        autovacuum = conn.execute("SHOW autovacuum").fetchone()[0]
    # Without autovacuum the planner keeps believing payouts_paymentline is as empty as when
    # the database was analysed, as it is during a first run anywhere.
    print(f"PostgreSQL {version}, autovacuum {autovacuum}")
    print(f"{'facilities':>10} {'step':>8} {'seconds':>8} {'peak MB':>8} {'floor s':>8} "
          f"{'× floor':>8}  result")
    for size in [int(s) for s in args.sizes.split(",")]:
        url = f"{server}/portal_bench_payout_{size}"
        fresh_database(url)
        _manage(url, "migrate", "--noinput", "-v", "0")
        _run_child(url, "--child", "prepare", "--size", str(size))
        _manage(url, "shell", "-c", "from django.db import connection; "
                "connection.cursor().execute('VACUUM ANALYZE')")
        steps = {step: _run_child(url, "--child", step,
                                  *(["--profile", step] if args.profile == step else []))
                 for step in ("create", "release", "file")}
        floor = _run_child(url, "--child", "floor")
        for step, result in steps.items():
            shown = {"create": f"{result['lines']:,} lines, {result['total']:,} yen",
                     "release": result["state"],
                     "file": f"{result['bytes'] / 1024 / 1024:.1f} MB"}[step]
            print(f"{size:>10,} {step:>8} {result['seconds']:>8.2f} "
                  f"{result['max_rss_mb']:>8.0f} {floor['seconds']:>8.2f} "
                  f"{result['seconds'] / floor['seconds']:>8.1f}  {shown}", flush=True)
        total = sum(result["seconds"] for result in steps.values())
        print(f"{size:>10,} {'all':>8} {total:>8.2f} {'':>8} {floor['seconds']:>8.2f} "
              f"{total / floor['seconds']:>8.1f}  floor: COPY … TO STDOUT of the lines, "
              f"{floor['bytes'] / 1024 / 1024:.1f} MB; write floor (one INSERT … SELECT of "
              f"them, same indexes) {floor['write_seconds']:.2f} s", flush=True)


if __name__ == "__main__":
    main()

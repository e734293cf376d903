#!/usr/bin/env python
"""The public list's search at national scale on PostgreSQL.

Makes the database afresh (dropped and created), migrates it, puts in N facilities with a
go-live date each (400,000 by default; bulk inserts; names in hiragana, katakana and kanji,
addresses in the 47 prefectures) and times `rebuild_public_list()`. Then, for each kind of
query the page and the CSV make, the best of three runs and whether PostgreSQL's plan uses an
index — next to the floor: a plain `SELECT … ORDER BY prefecture, code LIMIT 50` with no
filter, and a `count(*)` (a scan of the whole table).

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_public \
       python bench/public_list.py [--rows 400000]
"""

import argparse
import os
import re
import time
from datetime import date

from django_setup import fresh_database, rss_mb, setup_django

HEADS = ["さくら", "アオバ", "みどり", "ヒカリ", "なかむら", "タナカ", "やまだ", "スズキ", "東",
         "西", "中央", "駅前", "ｻｸﾗ", "若葉", "ひまわり", "コスモス"]
TAILS = [("pharmacy", "薬局"), ("clinic", "クリニック"), ("judo", "整骨院"), ("dental", "歯科医院"),
         ("hospital", "病院"), ("clinic", "内科"), ("acupuncture", "鍼灸院")]
TOWNS = ["中央区", "北区", "南町", "本町", "栄町", "緑ケ丘", "港区", "旭町", "若松町", "桜台"]


def generate(rows: int) -> None:
    from django.utils import timezone

    from facilities.models import Facility, GoLive

    now = timezone.now()
    step = 20_000
    for start in range(0, rows, step):
        batch = []
        for n in range(start, min(rows, start + step)):
            kind, tail = TAILS[n % len(TAILS)]
            prefecture = f"{n % 47 + 1:02d}"
            batch.append(Facility(
                kind=kind, code=f"{prefecture}{n:08d}",
                name=f"{HEADS[n % len(HEADS)]}{n % 9973}{tail}", prefecture=prefecture,
                address=f"{TOWNS[n % len(TOWNS)]}{n % 50 + 1}丁目{n % 30 + 1}-{n % 9 + 1}",
                account_last4="1234", created_at=now, updated_at=now))
        created = Facility.objects.bulk_create(batch, batch_size=5000)
        GoLive.objects.bulk_create(
            [GoLive(facility=f, date=date(2024, 4, 1 + i % 28)) for i, f in enumerate(created)],
            batch_size=5000)


def best_of(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def plan(queryset) -> str:
    text = queryset.explain()
    used = sorted(set(re.findall(r"(?:Index Only Scan|Index Scan)(?: Backward)? using (\w+)"
                                 r"|Bitmap Index Scan on (\w+)", text)))
    used = sorted({name for pair in used for name in pair if name})
    return ", ".join(used) if used else ("seq scan" if "Seq Scan" in text else "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--keep", action="store_true", help="reuse the filled database")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not args.keep:
        fresh_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory

    from facilities import selectors, services, views
    from facilities.models import PublicListEntry

    if not args.keep:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        generate(args.rows)
        print(f"filled {args.rows:,} facilities with go-lives: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        build = services.rebuild_public_list()
        print(f"rebuild_public_list ({build.entry_count:,} entries): "
              f"{time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE facilities_publiclistentry")
    total = PublicListEntry.objects.count()
    middle = PublicListEntry.objects.order_by("prefecture", "code")[total // 2]
    deep_key = selectors.public_page_key(middle)

    def raw(sql: str):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()
        return run

    print(f"\n{'query':<46} {'ms':>8}  {'shown count':>12}  plan (main query)")
    floor_first = best_of(raw("SELECT * FROM facilities_publiclistentry "
                              "ORDER BY prefecture, code LIMIT 50"))
    floor_count = best_of(raw("SELECT count(*) FROM facilities_publiclistentry"))
    print(f"{'floor: SELECT … ORDER BY … LIMIT 50':<46} {floor_first:8.1f}")
    print(f"{'floor: SELECT count(*) (whole table)':<46} {floor_count:8.1f}")

    cases = [
        ("no filter, first page", {}, {}),
        ("no filter, page in the middle (after key)", {}, {"after": deep_key}),
        ("name 'なかむら' (3+ chars)", {"name": "なかむら"}, {}),
        ("kana: 'あおば' finds アオバ", {"name": "あおば"}, {}),
        ("kana: 'さくら' finds さくら and ｻｸﾗ", {"name": "さくら"}, {}),
        ("name, rare: 'ひかり777'", {"name": "ひかり777"}, {}),
        ("name, 2 chars common: '薬局'", {"name": "薬局"}, {}),
        ("name, 2 chars rare: '若葉'", {"name": "若葉"}, {}),
        ("address: '緑ケ丘16丁目'", {"name": "緑ケ丘16丁目"}, {}),
        ("prefecture 13", {"prefecture": "13"}, {}),
        ("prefecture 13, page in the middle", {"prefecture": "13"},
         {"after": f"13:13{total // 2:08d}"}),
        ("code prefix '1300001'", {"code": "1300001"}, {}),
        ("code prefix '01' (a whole prefecture)", {"code": "01"}, {}),
        ("combination: 27 + pharmacy + 'さくら'",
         {"prefecture": "27", "kind": "pharmacy", "name": "さくら"}, {}),
        ("combination: 13 + 'クリニック 中央区'", {"prefecture": "13", "name": "クリニック 中央区"}, {}),
        ("no match: 'ぞぞぞ'", {"name": "ぞぞぞ"}, {}),
    ]
    for label, criteria, paging in cases:
        result = {}

        def run(criteria=criteria, paging=paging, result=result):
            result["page"] = selectors.public_list_page(**criteria, **paging)
        elapsed = best_of(run)
        page = result["page"]
        shown = f"{page.count}{'+' if page.count_is_floor else ''}"
        print(f"{label:<46} {elapsed:8.1f}  {shown:>12}  "
              f"{plan(selectors.facilities_listed_publicly(**criteria)[:51])}")

    factory = RequestFactory()

    def view_page():
        response = views.public_list(factory.get("/public/", {"name": "さくら"}))
        assert response.status_code == 200
    print(f"{'view: the page, name=さくら (render incl.)':<46} {best_of(view_page):8.1f}")

    for label, query in [("CSV: prefecture 13", {"prefecture": "13"}),
                         ("CSV: the whole list", {})]:
        counted = {}

        def stream(query=query, counted=counted):
            response = views.public_list_csv(factory.get("/public/facilities.csv", query))
            assert response.streaming
            size = lines = 0
            for chunk in response.streaming_content:
                size += len(chunk)
                lines += 1
            counted.update(size=size, lines=lines)
        elapsed = best_of(stream, runs=1 if not query else 3)
        print(f"{label:<46} {elapsed:8.1f}  {counted['lines'] - 1:>12,} rows "
              f"{counted['size'] / 1e6:.1f} MB (streamed)")
    print(f"\npeak memory of this process: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()

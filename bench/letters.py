#!/usr/bin/env python
"""Bulk letters at the size of a prefecture's mailing: N 依頼文書 (1,000 by default) made by
the letter task as it runs in production (chunks of RENDER_CHUNK laid out as one WeasyPrint
document each and cut into one PDF per facility), on PostgreSQL.

Makes the database afresh (dropped and created), migrates it, puts in N 施術所 not
introduced and times the batch from start_letter_batch to the ZIP written (tasks in-process).
Then checks what the test (tests/obligation/test_letters.py) checks on ten letters: one PDF
per facility in the ZIP, progress written after each chunk, one follow-up step each, and
every tenth letter holding its own facility's name and address and no other's.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_letters \
       python bench/letters.py [--facilities 1000]
"""

import argparse
import io
import logging
import os
import tempfile
import time
import zipfile
from pathlib import Path

from django_setup import fresh_database, rss_mb, setup_django


def generate(count: int) -> list:
    from facilities.models import Facility
    from obligation.compliance import compute_statuses

    Facility.objects.bulk_create([
        Facility(kind="judo", code=f"契99{number:05d}", name=f"手紙テスト接骨院{number:05d}",
                 prefecture="13", address=f"千代田区霞が関{number}番地", founder_name="開設 太郎",
                 account_last4="1234")
        for number in range(count)], batch_size=5000)
    facilities = list(Facility.objects.filter(code__startswith="契99").order_by("code"))
    compute_statuses([f.pk for f in facilities])
    return facilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facilities", type=int, default=1000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("set DATABASE_URL (or --database-url) to a PostgreSQL database")
    fresh_database(args.database_url)
    setup_django(args.database_url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction
    from pypdf import PdfReader

    from obligation import letters
    from obligation.models import FollowUpKind, FollowUpStep, LetterBatch, LetterBatchState
    from portal.models import User

    call_command("migrate", "--noinput", verbosity=0)
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # a line per page laid out
    settings.PRIVATE_STORAGE_ROOT = Path(tempfile.mkdtemp(prefix="letters-bench-"))
    facilities = generate(args.facilities)
    admin = User.objects.create_user(email="letters-bench@example.jp", is_staff=True)
    progress = []
    original = letters.render_letters

    def watched(batch, part):
        progress.append(LetterBatch.objects.get(pk=batch.pk).done)
        return original(batch, part)

    letters.render_letters = watched
    started = time.perf_counter()
    with transaction.atomic():  # the task is queued on commit, and runs in-process
        batch = letters.start_letter_batch(
            actor=admin, kind=LetterBatch.Kind.REQUEST,
            facility_ids=[f.pk for f in facilities], filter_description="bench")
    elapsed = time.perf_counter() - started
    batch.refresh_from_db()
    assert batch.state == LetterBatchState.DONE, batch.failure
    assert batch.done == batch.total == len(facilities)
    assert progress == list(range(0, len(facilities), letters.RENDER_CHUNK))
    with zipfile.ZipFile(letters.batch_path(batch)) as archive:
        names = archive.namelist()
        assert set(names) == {f"{f.code}.pdf" for f in facilities}
        size = sum(info.file_size for info in archive.infolist())
        for facility in facilities[::10]:
            text = "".join(page.extract_text() for page in
                           PdfReader(io.BytesIO(archive.read(f"{facility.code}.pdf"))).pages)
            assert facility.name in text and facility.address in text
            assert sum(f.name in text for f in facilities) == 1
    steps = FollowUpStep.objects.filter(letter=batch, kind=FollowUpKind.REQUEST_LETTER).count()
    assert steps == len(facilities)
    print(f"{len(facilities):,} letters in {elapsed:.1f} s "
          f"({elapsed / len(facilities) * 1000:.0f} ms a letter, chunks of "
          f"{letters.RENDER_CHUNK}), ZIP {size / 1e6:.1f} MB, peak RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()

"""Bulk letters to the 施術所 not introduced: one PDF per facility in one private ZIP and the
same letters as one PDF to print (each facility's pages listed on the batch and bookmarked),
made by the task with its progress on the row; refused when the list or the guidance details are
wrong; a batch run twice records its steps once; a failure is said in Japanese."""

import io
import stat
import zipfile
from datetime import date

import pytest
from pypdf import PdfReader

from facilities.models import Facility, GoLive
from obligation import letters
from obligation.compliance import compute_statuses
from obligation.letters import batch_path, make_letters, print_path, start_letter_batch
from obligation.models import (
    ComplianceStatus,
    FollowUpKind,
    FollowUpStep,
    LetterBatch,
    LetterBatchState,
)
from portal.errors import ServiceError
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db


def many_facilities(count: int) -> list[Facility]:
    Facility.objects.bulk_create([
        Facility(kind="judo", code=f"契99{number:05d}", name=f"手紙テスト接骨院{number:04d}",
                 prefecture="13", postcode="100-8916", address=f"千代田区霞が関{number}番地",
                 founder_name="開設 太郎",
                 account_last4="1234")
        for number in range(count)], batch_size=500)
    facilities = list(Facility.objects.filter(code__startswith="契99").order_by("code"))
    compute_statuses([f.pk for f in facilities])
    return facilities


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_letters_made_chunk_by_chunk_make_a_zip_of_one_pdf_each(django_capture_on_commit_callbacks,
                                                                monkeypatch):
    """Chunks of 4 over 10 facilities (4, 4, 2): each chunk is laid out as one document and
    cut into one PDF per facility, progress is written after each chunk, and no letter holds
    another's name. The same with RENDER_CHUNK (100) over a thousand facilities, timed, is
    `python bench/letters.py`."""
    count, chunk = 6, 4
    facilities = many_facilities(count)
    admin = AdminFactory()
    progress, parts = [], []
    original = letters.render_letters

    def watched(batch, part):
        progress.append(LetterBatch.objects.get(pk=batch.pk).done)
        parts.append(len(part))
        return original(batch, part)

    monkeypatch.setattr(letters, "render_letters", watched)
    monkeypatch.setitem(letters.make_letters.__kwdefaults__, "chunk", chunk)
    with django_capture_on_commit_callbacks(execute=True):
        batch = start_letter_batch(actor=admin, kind=LetterBatch.Kind.REQUEST,
                                   facility_ids=[f.pk for f in facilities],
                                   filter_description="東京都の未導入")
    batch.refresh_from_db()
    assert batch.state == LetterBatchState.DONE, batch.failure
    assert batch.done == batch.total == count and batch.finished_at is not None
    assert parts == [4, 2]
    assert progress == [0, 4]  # `done` is written after each chunk

    path = batch_path(batch)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert len(names) == count and set(names) == {f"{f.code}.pdf" for f in facilities}
        for facility in facilities:
            text = text_of(archive.read(f"{facility.code}.pdf"))
            assert facility.name in text and f"〒100-8916 東京都{facility.address}" in text
            assert "開設者 開設 太郎 様" in text and "令和6年12月2日" in text
            others = {f.name for f in facilities} - {facility.name}
            assert not any(name in text for name in others)
            # Where to ask, and the portal's address once, not its name twice.
            flat = "".join(text.split())
            assert "お問い合わせ先" in flat and "http://127.0.0.1:8000/" in flat
            assert "オンライン資格確認ポータル（オンライン資格確認ポータル）" not in flat

    # The same letters as one PDF to print, with the pages of each facility (both chunks).
    assert stat.S_IMODE(print_path(batch).stat().st_mode) == 0o600
    printed = PdfReader(print_path(batch))
    assert [code for code, *_ in batch.page_ranges] == [f.code for f in facilities]
    expected_first = 1
    for (code, name, first, last), facility in zip(batch.page_ranges, facilities, strict=True):
        assert (code, name, first) == (facility.code, facility.name, expected_first)
        assert last == first  # one sheet a letter, the contact block included
        text = "".join(printed.pages[n - 1].extract_text() for n in range(first, last + 1))
        assert facility.name in text
        expected_first = last + 1
    assert expected_first - 1 == len(printed.pages)
    assert [item.title for item in printed.outline] == [
        f"{f.code} {f.name}" for f in facilities]
    assert FollowUpStep.objects.filter(letter=batch, kind=FollowUpKind.REQUEST_LETTER).count() == count
    assert ComplianceStatus.objects.filter(last_step=FollowUpKind.REQUEST_LETTER).count() == count


def test_a_batch_run_twice_records_one_set_of_steps(django_capture_on_commit_callbacks):
    facilities = many_facilities(3)
    with django_capture_on_commit_callbacks(execute=True):
        batch = start_letter_batch(actor=AdminFactory(), kind=LetterBatch.Kind.REQUEST,
                                   facility_ids=[f.pk for f in facilities])
    make_letters(batch.pk)  # delivered again: the batch is done, nothing happens
    LetterBatch.objects.filter(pk=batch.pk).update(state=LetterBatchState.QUEUED)
    make_letters(batch.pk)  # even made again, the steps stay one per facility
    assert FollowUpStep.objects.filter(letter=batch).count() == 3


def test_a_guidance_letter_says_when_and_where(django_capture_on_commit_callbacks):
    facilities = many_facilities(2)
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=True):
        start_letter_batch(actor=admin, kind=LetterBatch.Kind.REQUEST,
                           facility_ids=[f.pk for f in facilities])
        batch = start_letter_batch(actor=admin, kind=LetterBatch.Kind.GUIDANCE,
                                   facility_ids=[f.pk for f in facilities],
                                   guidance_date=date(2026, 2, 10),
                                   guidance_place="関東信越厚生局 会議室")
    batch.refresh_from_db()
    assert batch.state == LetterBatchState.DONE
    with zipfile.ZipFile(batch_path(batch)) as archive:
        text = text_of(archive.read(f"{facilities[0].code}.pdf"))
    assert "令和8年2月10日" in text and "関東信越厚生局 会議室" in text
    assert FollowUpStep.objects.filter(kind=FollowUpKind.GUIDANCE_INVITATION).count() == 2


def test_only_facilities_not_introduced_are_kept_and_the_others_counted():
    facilities = many_facilities(3)
    GoLive.objects.create(facility=facilities[0], date=date(2025, 4, 1))
    compute_statuses([facilities[0].pk])
    batch = start_letter_batch(actor=AdminFactory(), kind=LetterBatch.Kind.REQUEST,
                               facility_ids=[f.pk for f in facilities],
                               filter_description="東京都")
    assert batch.total == 2 and sorted(batch.facility_ids) == sorted(
        f.pk for f in facilities[1:])
    assert batch.filter_description == "東京都\n未導入でない1件を除きました。"


@pytest.mark.parametrize("kwargs, message", [
    ({"facility_ids": []}, "対象の施術所がありません"),
    ({"facility_ids": range(1, 50_002)}, "50,000件まで"),
    ({"facility_ids": [1], "kind": LetterBatch.Kind.GUIDANCE}, "開催日と会場"),
    ({"facility_ids": [1], "kind": LetterBatch.Kind.GUIDANCE, "guidance_date": date(2026, 2, 1),
      "guidance_place": " "}, "開催日と会場"),
])
def test_refused_batches(kwargs, message):
    arguments = {"actor": AdminFactory(), "kind": LetterBatch.Kind.REQUEST, **kwargs}
    with pytest.raises(ServiceError, match=message):
        start_letter_batch(**arguments)
    assert not LetterBatch.objects.exists()


def test_a_failure_is_said_in_japanese_and_leaves_no_file(django_capture_on_commit_callbacks,
                                                          monkeypatch):
    facilities = many_facilities(2)

    def broken(batch, part):
        raise OSError("the font is missing")

    monkeypatch.setattr(letters, "render_letters", broken)
    with django_capture_on_commit_callbacks(execute=True):
        batch = start_letter_batch(actor=AdminFactory(), kind=LetterBatch.Kind.REQUEST,
                                   facility_ids=[f.pk for f in facilities])
    batch.refresh_from_db()
    assert batch.state == LetterBatchState.FAILED
    assert "予期しないエラー" in batch.failure and batch.stored_name == ""
    assert not any(letters.storage_root().iterdir())
    assert not FollowUpStep.objects.exists()

"""Letters to the 施術所 not introduced (docs/domain.md §7): 導入の依頼文書 and 集団指導の案内, one
PDF per facility in one ZIP, and the same letters as one PDF to print (`print_name`), with the
pages of each facility listed on the batch (`page_ranges`: code, name, first and last page) and
as the PDF's bookmarks; made by a background task: a background job (portal/jobs.py), its
progress and history on the batch row.

Speed: WeasyPrint spends most of its time laying out; rendering a chunk of letters as one
document (a page break per facility) and cutting it into one PDF per facility with pypdf is
about three times faster than one document per letter (measured: ~0.06 s against ~0.17 s a
letter). Each letter is found in the document by its anchor (`id="facility-<pk>"`), so a
letter running to two pages stays whole.

The ZIP and the PDF to print are kept privately (PRIVATE_STORAGE_ROOT/letters: directory 0700,
files 0600) under random names, as uploaded imports are (portal/import_jobs.py). The PDF to
print is put together from each chunk's document (its fonts shared by the chunk's letters), in
memory until the batch ends: its size grows with the batch (MAX_PER_BATCH bounds it)."""

import io
import logging
import os
import secrets
import zipfile
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from facilities.models import Facility
from portal.contact import contact_context
from portal.errors import ServiceError
from portal.jobs import fail, progress, step

from .models import ComplianceState, ComplianceStatus, LetterBatch

logger = logging.getLogger(__name__)

MAX_PER_BATCH = 50_000
RENDER_CHUNK = 100
ISSUER = "厚生労働省保険局"
TEMPLATES = {
    LetterBatch.Kind.REQUEST: "pdf/obligation_request_letter.html",
    LetterBatch.Kind.GUIDANCE: "pdf/obligation_guidance_invitation.html",
}
FAILED = ("文書の作成中に予期しないエラーが発生しました。時間をおいてもう一度作成を依頼し、"
          "続くときはシステム管理者にお問い合わせください。")


def storage_root() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / "letters"


def batch_path(batch: LetterBatch) -> Path:
    return storage_root() / batch.stored_name


def print_path(batch: LetterBatch) -> Path:
    """The letters as one PDF to print."""
    return storage_root() / batch.print_name


def start_letter_batch(*, actor, kind: str, facility_ids, filter_description: str = "",
                       guidance_date=None, guidance_place: str = "") -> LetterBatch:
    """Queue the letters for these 施術所; only those 未導入 now are kept (the others are
    counted in the description)."""
    if kind not in TEMPLATES:
        raise ServiceError("文書の種類を選んでください。", "kind")
    ids = sorted({int(pk) for pk in facility_ids or ()})
    if not ids:
        raise ServiceError("対象の施術所がありません。条件を変えてください。")
    if len(ids) > MAX_PER_BATCH:
        raise ServiceError(f"一度に作成できるのは{MAX_PER_BATCH:,}件までです（{len(ids):,}件が"
                           "選ばれています）。都道府県などで分けて作成してください。")
    guidance_place = (guidance_place or "").strip()
    if kind == LetterBatch.Kind.GUIDANCE and (guidance_date is None or not guidance_place):
        raise ServiceError("集団指導の案内には、開催日と会場を入力してください。", "guidance_date")
    kept = sorted(ComplianceStatus.objects.filter(
        facility_id__in=ids, state=ComplianceState.NOT_INTRODUCED
    ).values_list("facility_id", flat=True))
    if not kept:
        raise ServiceError("選ばれた施術所に、未導入のものがありません。")
    left_out = len(ids) - len(kept)
    description = (filter_description or "").strip()
    if left_out:
        description = (f"{description}\n" if description else "") + (
            f"未導入でない{left_out:,}件を除きました。")
    with transaction.atomic():
        batch = LetterBatch.objects.create(
            kind=kind, facility_ids=kept, filter_description=description,
            guidance_date=guidance_date if kind == LetterBatch.Kind.GUIDANCE else None,
            guidance_place=guidance_place if kind == LetterBatch.Kind.GUIDANCE else "",
            total=len(kept), created_by=actor)
        from .tasks import make_letters as task

        transaction.on_commit(lambda: task.delay(batch.pk))
    return batch


class Rendered(NamedTuple):
    pdfs: list[bytes]  # one per facility, in order
    document: bytes  # the chunk as one PDF
    starts: list[int]  # the first page (0-based) of each facility's letter in `document`


def render_letters(batch: LetterBatch, facilities: list[Facility]) -> Rendered:
    """One PDF per facility (in order), laid out as one document."""
    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML  # late: it loads Pango

    html = render_to_string(TEMPLATES[batch.kind], {
        **contact_context(),
        "facilities": facilities, "today": timezone.localdate(), "issuer": ISSUER,
        "guidance_date": batch.guidance_date, "guidance_place": batch.guidance_place})
    document = HTML(string=html).render()
    starts = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            if anchor.startswith("facility-"):
                starts.setdefault(int(anchor.removeprefix("facility-")), number)
    bounds = [starts[facility.pk] for facility in facilities] + [len(document.pages)]
    whole = document.write_pdf()
    reader = PdfReader(io.BytesIO(whole))
    pdfs = []
    for first, end in zip(bounds, bounds[1:], strict=False):
        writer = PdfWriter()
        for number in range(first, end):
            writer.add_page(reader.pages[number])
        out = io.BytesIO()
        writer.write(out)
        pdfs.append(out.getvalue())
    return Rendered(pdfs, whole, bounds[:-1])


def _file_name(code: str) -> str:
    return "".join("_" if c in '/\\:' else c for c in code)


def _open_private(suffix: str) -> tuple[str, Path, int]:
    root = storage_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    name = secrets.token_hex(16) + suffix
    path = root / name
    return name, path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _open_zip() -> tuple[str, Path, zipfile.ZipFile]:
    name, path, descriptor = _open_private(".zip")
    # PDFs are compressed already: stored, not deflated again.
    return name, path, zipfile.ZipFile(os.fdopen(descriptor, "wb"), "w", zipfile.ZIP_STORED)


def _write_print_pdf(writer) -> tuple[str, Path]:
    name, path, descriptor = _open_private(".pdf")
    with os.fdopen(descriptor, "wb") as handle:
        writer.write(handle)
    return name, path


def make_letters(batch_id: int, *, chunk: int = RENDER_CHUNK) -> None:
    """The task's work, a background job (portal/jobs.py): only a queued batch is made (a
    task delivered twice does nothing the second time); `done` is written after each chunk
    for the progress page."""
    from pypdf import PdfReader, PdfWriter

    from .compliance import record_step

    if not step(LetterBatch, batch_id, "start"):
        return
    batch = LetterBatch.objects.get(pk=batch_id)
    paths: list[Path] = []
    try:
        facilities = Facility.objects.filter(pk__in=batch.facility_ids).only(
            "pk", "code", "name", "prefecture", "postcode", "address", "founder_name"
        ).order_by("code")
        name, path, archive = _open_zip()
        paths.append(path)
        printed, page_ranges = PdfWriter(), []
        with archive:
            done = 0
            ids = sorted(batch.facility_ids)
            for start in range(0, len(ids), chunk):
                part = list(facilities.filter(pk__in=ids[start:start + chunk]))
                rendered = render_letters(batch, part)
                for facility, pdf in zip(part, rendered.pdfs, strict=True):
                    archive.writestr(f"{_file_name(facility.code)}.pdf", pdf)
                offset = len(printed.pages)
                # Its own bookmarks (the headings) left out: one bookmark a facility.
                printed.append(PdfReader(io.BytesIO(rendered.document)), import_outline=False)
                ends = [*rendered.starts[1:], len(printed.pages) - offset]
                for facility, first, end in zip(part, rendered.starts, ends, strict=True):
                    printed.add_outline_item(title=f"{facility.code} {facility.name}",
                                             page_number=offset + first)
                    page_ranges.append([facility.code, facility.name, offset + first + 1,
                                        offset + end])
                done = min(batch.total, done + len(ids[start:start + chunk]))
                progress(LetterBatch, batch_id, done)
        print_name, print_file = _write_print_pdf(printed)
        paths.append(print_file)
        result = record_step(actor=batch.created_by, facility_ids=ids, kind=batch.kind,
                             letter=batch)
        if not step(LetterBatch, batch_id, "finish", done=batch.total, stored_name=name,
                    print_name=print_name, page_ranges=page_ranges):
            for made in paths:
                made.unlink(missing_ok=True)
        logger.info("letter batch %s done: %s steps, %s skipped", batch_id, result.recorded,
                    len(result.skipped))
    except Exception:
        logger.exception("letter batch %s failed", batch_id)  # no names or addresses here
        for made in paths:
            made.unlink(missing_ok=True)
        fail(LetterBatch, batch_id, FAILED)

"""Administrators' CSV imports as background jobs: upload → dry run (a task) → the result
shown with its first errors → confirmed (a workflow move) → import (a task) → done.

The uploaded file is kept privately (PRIVATE_STORAGE_ROOT/imports, files 0600 in a 0700
directory) under a random name. The tasks are thin (portal/tasks.py); a job is a background
job (portal/jobs.py) of two phases, each started only from where it waits (受付済み, then
確定済み), so a task delivered twice or two confirmations never import a file twice, and
every step is in the job's history.
"""

import logging
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .errors import NotPermitted, ServiceError
from .imports import (
    ImportFailed,
    ImportRefused,
    import_kind,
    preview_effects,
    run_import,
)
from .jobs import fail, progress, step
from .models import ImportJob, ImportJobState
from .workflow import perform

logger = logging.getLogger(__name__)

MAX_BYTES = 200 * 1024 * 1024
UNEXPECTED = ("取り込みの途中で予期しないエラーが発生しました。時間をおいてもう一度お試しいただき、"
              "続くときはシステム管理者にお問い合わせください。")

PREVIEW_FAILED = ("確認の途中で、支給判定への影響を計算できませんでした。何も取り込んでいません。"
                  "時間をおいてもう一度お試しいただき、続くときはシステム管理者にお問い合わせください。")


def storage_root() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / "imports"


def stored_path(job: ImportJob) -> Path:
    return storage_root() / job.stored_name


def _store(upload) -> tuple[str, int]:
    root = storage_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    name = secrets.token_hex(16) + ".csv"
    target = root / name
    size = 0
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ServiceError(
                        f"ファイルが大きすぎます。{MAX_BYTES // 1024 // 1024}MB以下に分けてお送りください。",
                        field="file")
                handle.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return name, size


# --- selectors -----------------------------------------------------------------------------

def may_import(user, kind: str) -> bool:
    return user.is_active and user.is_staff and user.has_perm(import_kind(kind).import_permission)


def import_jobs_for(*, user):
    """The jobs this administrator may see: those of the kinds they may import."""
    kinds = [kind for kind in ImportJob.Kind.values if may_import(user, kind)]
    return ImportJob.objects.filter(kind__in=kinds).select_related("created_by", "confirmed_by")


# --- services ------------------------------------------------------------------------------

def start_import(*, actor, kind: str, upload) -> ImportJob:
    """Keep the file and queue its dry run; nothing of the master is written yet."""
    from .tasks import check_import

    if not may_import(actor, kind):
        raise NotPermitted(f"{ImportJob.Kind(kind).label}を取り込む権限がありません。")
    if not upload or upload.size == 0:
        raise ServiceError("ファイルが空です（0バイト）。", field="file")
    if upload.size > MAX_BYTES:
        raise ServiceError(
            f"ファイルが大きすぎます。{MAX_BYTES // 1024 // 1024}MB以下に分けてお送りください。",
            field="file")
    name, size = _store(upload)
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                kind=kind, stored_name=name, original_name=os.path.basename(upload.name)[:255],
                size=size, created_by=actor)
            transaction.on_commit(lambda: check_import.delay(job.pk))
    except BaseException:
        (storage_root() / name).unlink(missing_ok=True)
        raise
    return job


def confirm_import(*, actor, job: ImportJob) -> ImportJob:
    """The administrator confirms a checked job: one workflow move (locks the row, checks
    the state and the permission, logs who), then the import is queued once."""
    from .tasks import run_import_job

    with transaction.atomic():
        job = perform(job, "confirm", actor=actor)
        transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return job


def _progress(pk: int):
    def report(lines: int) -> None:
        progress(ImportJob, pk, lines)

    return report


def _counts(result) -> dict:
    return {"done": result.lines, "new_count": result.new,
            "updated_count": result.updated, "unchanged_count": result.unchanged,
            "error_count": result.error_lines, "errors": result.errors}


def _fail(pk: int, message: str) -> None:
    fail(ImportJob, pk, message)


def _run(pk: int, source: str, *, dry_run: bool) -> None:
    """One phase of a job (portal/jobs.py), which always ends: finished, or
    「取り込めませんでした」 with why — whatever fails, the reading, a chunk, or keeping the
    result — never left running. Only a job waiting in `source` is started: a task delivered
    twice does nothing the second time."""
    job = ImportJob.objects.filter(pk=pk).first()
    if job is None:
        return
    started = {} if dry_run else {"total": (job.dry_run or {}).get("lines", 0)}
    if not step(ImportJob, pk, "start", source=source, **started):
        return
    try:
        result = run_import(stored_path(job), import_kind(job.kind), dry_run=dry_run,
                            progress=_progress(pk))
        values = {**_counts(result), "total": max(result.lines, started.get("total", 0))}
        if dry_run:
            checked = result.as_dict()
            kind = import_kind(job.kind)
            if kind.previews_effects:
                # The effect on money, shown before the administrator confirms
                # (docs/decisions.md D5.4.5): without it there is nothing to confirm.
                try:
                    checked["effects"] = preview_effects(stored_path(job), kind)
                except Exception:
                    logger.exception("import job %s: the effect preview failed", pk)
                    _fail(pk, PREVIEW_FAILED)
                    return
            values.update(dry_run=checked, checked_at=timezone.now())
        step(ImportJob, pk, "finish", **values)
    except ImportRefused as refused:
        _fail(pk, refused.message)
    except ImportFailed as failed:
        logger.exception("import job %s failed", pk)  # no cell values in the message
        _fail(pk, failed.message)
    except Exception:
        logger.exception("import job %s failed", pk)
        _fail(pk, UNEXPECTED)


def check_import_job(job_id: int) -> None:
    """The dry run: read, check and compare every line; write nothing."""
    _run(job_id, ImportJobState.UPLOADED, dry_run=True)


def run_confirmed_import(job_id: int) -> None:
    """The import of a confirmed job (確定済み → 取り込み中 → 取り込み完了)."""
    _run(job_id, ImportJobState.CONFIRMED, dry_run=False)

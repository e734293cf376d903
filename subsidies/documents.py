"""Receipts are sensitive files: PDF, JPEG and PNG only, judged by parsing the whole file (never
by its name, nor by its first bytes alone), at most 10 MB, stored outside the public
static/media paths under random names, readable by the portal's user only.

A stored file belongs to the transaction that records its Document row: the services remove
it when that transaction rolls back (`files_kept_only_on_commit`) and after the commit that
deletes its row (`remove_after_commit`)."""

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
REFUSED_TYPE = "PDF・JPEG・PNGのファイルだけを添付できます（ファイルの中身で判定しています）。"
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


class DocumentError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    content_type: str
    size: int
    sha256: str


def storage_root() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / "claims"


def _private_directory() -> Path:
    root = storage_root()
    for directory in (root.parent, root):
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    root.chmod(DIRECTORY_MODE)  # also when it was made earlier, or under a lax umask
    return root


def detect_type(head: bytes) -> tuple[str, str] | None:
    for signature, content_type, extension in SIGNATURES:
        if head.startswith(signature):
            return content_type, extension
    return None


def _is_pdf(upload) -> bool:
    """A PDF that pypdf can open, with at least one page (HTML behind `%PDF-` is not)."""
    from pypdf import PdfReader

    upload.seek(0)
    try:
        return len(PdfReader(upload, strict=False).pages) >= 1
    except Exception:  # noqa: BLE001 - any parser failure means "not a PDF we accept"
        return False


def _is_image(upload, expected_format: str) -> bool:
    """An image Pillow opens and verifies, of the format its first bytes claim."""
    from PIL import Image

    upload.seek(0)
    try:
        with Image.open(upload) as image:
            found = image.format
            image.verify()
    except Exception:  # noqa: BLE001 - includes decompression bombs and truncated files
        return False
    return found == expected_format


def check_content(upload) -> tuple[str, str]:
    """(content type, extension) of an acceptable file; DocumentError otherwise."""
    upload.seek(0)
    detected = detect_type(upload.read(16))
    if detected is None:
        raise DocumentError(REFUSED_TYPE)
    content_type, _extension = detected
    if content_type == "application/pdf":
        valid = _is_pdf(upload)
    else:
        valid = _is_image(upload, PILLOW_FORMATS[content_type])
    if not valid:
        raise DocumentError(
            "ファイルを開けませんでした。PDF・JPEG・PNGとして正しく読み込めるファイルを"
            "添付してください（壊れたファイルや、拡張子だけを変えたファイルは添付できません）。"
        )
    return detected


def store_upload(upload) -> StoredFile:
    """Check and store an uploaded file; nothing is written if it is refused."""
    if upload.size == 0:
        raise DocumentError("ファイルが空です（0バイト）。")
    if upload.size > MAX_BYTES:
        raise DocumentError(f"ファイルが大きすぎます（{upload.size / 1024 / 1024:.1f}MB）。10MB以下にしてください。")
    content_type, extension = check_content(upload)
    root = _private_directory()
    stored_name = secrets.token_hex(16) + extension
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    target = root / stored_name
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise DocumentError("ファイルが大きすぎます。10MB以下にしてください。")
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return StoredFile(stored_name, content_type, size, digest.hexdigest())


def _path(stored_name: str) -> Path:
    path = (storage_root() / stored_name).resolve()
    if path.parent != storage_root().resolve():
        raise FileNotFoundError(stored_name)
    return path


def open_stored(stored_name: str):
    return open(_path(stored_name), "rb")


def remove_stored(stored_names: Iterable[str]) -> None:
    for stored_name in stored_names:
        try:
            _path(stored_name).unlink(missing_ok=True)
        except OSError:
            logger.exception("Could not remove a stored document file")


def remove_after_commit(stored_names: Iterable[str]) -> None:
    """Remove these files once the transaction deleting their rows has committed."""
    names = list(stored_names)
    if names:
        transaction.on_commit(lambda: remove_stored(names))


@contextmanager
def files_kept_only_on_commit() -> Iterator[list[str]]:
    """Wrap the atomic block that stores files and records them: the names appended to the
    yielded list are removed if the block fails (its transaction rolls back)."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        remove_stored(stored)
        raise

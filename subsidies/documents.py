"""Receipts are sensitive files: PDF, JPEG and PNG only, judged by their first bytes (never by
name), at most 10 MB, stored outside the public static/media paths under random names."""

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MAX_BYTES = 10 * 1024 * 1024
SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)


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


def detect_type(head: bytes) -> tuple[str, str] | None:
    for signature, content_type, extension in SIGNATURES:
        if head.startswith(signature):
            return content_type, extension
    return None


def store_upload(upload) -> StoredFile:
    """Check and store an uploaded file; nothing is written if it is refused."""
    if upload.size == 0:
        raise DocumentError("ファイルが空です（0バイト）。")
    if upload.size > MAX_BYTES:
        raise DocumentError(f"ファイルが大きすぎます（{upload.size / 1024 / 1024:.1f}MB）。10MB以下にしてください。")
    upload.seek(0)
    head = upload.read(16)
    detected = detect_type(head)
    if detected is None:
        raise DocumentError("PDF・JPEG・PNGのファイルだけを添付できます（ファイルの中身で判定しています）。")
    content_type, extension = detected
    root = storage_root()
    root.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + extension
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    target = root / stored_name
    with open(target, "xb") as handle:
        for chunk in upload.chunks():
            size += len(chunk)
            if size > MAX_BYTES:
                handle.close()
                target.unlink()
                raise DocumentError("ファイルが大きすぎます。10MB以下にしてください。")
            digest.update(chunk)
            handle.write(chunk)
    return StoredFile(stored_name, content_type, size, digest.hexdigest())


def open_stored(stored_name: str):
    path = (storage_root() / stored_name).resolve()
    if path.parent != storage_root().resolve():
        raise FileNotFoundError(stored_name)
    return open(path, "rb")

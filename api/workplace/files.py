"""Files attached to cases (a defect photo, a signed document): checked by their content, not by
the name or the type the browser claims, limited in size, and stored durably *before* the
``attach`` event commits, so an acknowledged upload is never lost. Stored by content hash per
case: the same file twice is one copy.

Two stores behind one interface (`FileStore`): the data folder (`LocalFileStore`, the default,
``SLAFLOW_DATA_DIR``) and any S3-compatible object store (`api.workplace.s3_store.S3FileStore`:
AWS, MinIO, Yandex Object Storage, Ceph), chosen by ``SLAFLOW_ATTACHMENT_STORE`` (`api.workplace.web.file_store`).

If the event's commit fails after the file was stored, the stored copy is an orphan, and a
harmless one: it is named by its content, nothing links to it, and the same upload retried
finds it and records its event."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.errors import SlaflowError

ALLOWED = {"image/jpeg": "JPEG", "image/png": "PNG", "application/pdf": "PDF", "text/plain": "text"}
"""Media types people may attach; anything else (executables, HTML that a browser would run) is refused."""
CHUNK = 256 * 1024
"""Bytes per piece of a download (streamed, never read whole into memory)."""


class FileRefused(SlaflowError):
    """An empty, too large or unsupported file."""


class StoreUnavailable(SlaflowError):
    """The store cannot be reached or refuses us (down, bucket missing, wrong credentials). The
    message is for the person on the page; ``detail`` is for the operator's log."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


def sniff(data: bytes) -> str | None:
    """The media type by the file's first bytes (magic numbers), or None if not an allowed one.
    Text is UTF-8 without NUL that does not start like markup (no HTML or SVG a browser would run)."""
    head = data[:8]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if "\x00" not in text and not text.lstrip().startswith("<") else None


def safe_name(name: str) -> str:
    """A display name without folders or control characters (at most 120 characters)."""
    base = re.sub(r"[\x00-\x1f\x7f/\\\\]+", "_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip() or "file"
    return base[:120]


def checked(name: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """The ``attach`` event's payload of an acceptable file. Raises ``FileRefused``."""
    if not data:
        raise FileRefused("the file is empty")
    if len(data) > max_bytes:
        raise FileRefused(f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")
    kind = sniff(data)
    if kind is None:
        raise FileRefused(f"only {', '.join(ALLOWED.values())} files may be attached")
    return {"name": safe_name(name), "type": kind, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def object_name(case_id: int, sha256: str) -> str:
    """``attachments/<case>/<sha256>``, the same in every store."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise FileRefused("not a file id")
    return f"attachments/{case_id}/{sha256}"


class FileStore(Protocol):
    """Where attachments live. ``save`` returns only once the bytes are durable."""

    @property
    def max_bytes(self) -> int: ...

    def save(self, case_id: int, name: str, data: bytes) -> dict[str, Any]:
        """Check and store; returns the ``attach`` event's payload. Raises ``FileRefused``, ``StoreUnavailable``."""
        ...

    def open(self, case_id: int, sha256: str) -> Iterator[bytes] | None:
        """The stored bytes in pieces, or None if there is no such file. Raises ``StoreUnavailable``
        before the first piece, never while streaming a file it found."""
        ...


@dataclass(frozen=True)
class LocalFileStore:
    """Under the data folder: written to a temporary file, fsynced, renamed, the folder fsynced."""

    root: Path
    max_bytes: int

    def path(self, case_id: int, sha256: str) -> Path:
        return self.root / object_name(case_id, sha256)

    def save(self, case_id: int, name: str, data: bytes) -> dict[str, Any]:
        payload = checked(name, data, self.max_bytes)
        target = self.path(case_id, payload["sha256"])
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            folder = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(folder)  # the rename itself survives a crash
            finally:
                os.close(folder)
        return payload

    def open(self, case_id: int, sha256: str) -> Iterator[bytes] | None:
        path = self.path(case_id, sha256)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            return None
        return _pieces(handle)


def _pieces(handle: Any) -> Iterator[bytes]:
    with handle:
        while piece := handle.read(CHUNK):
            yield piece


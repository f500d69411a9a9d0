"""Files attached to cases (a defect photo, a signed document): checked by their content, not by
the name or the type the browser claims, limited in size, and written durably under the data
folder (``SLAFLOW_DATA_DIR``) *before* the ``attach`` event commits, so an acknowledged upload is
never lost. Stored by content hash: the same file twice is one copy."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import SlaflowError

ALLOWED = {"image/jpeg": "JPEG", "image/png": "PNG", "application/pdf": "PDF", "text/plain": "text"}
"""Media types people may attach; anything else (executables, HTML that a browser would run) is refused."""


class FileRefused(SlaflowError):
    """An empty, too large or unsupported file."""


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


@dataclass(frozen=True)
class FileStore:
    root: Path
    max_bytes: int

    def path(self, case_id: int, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise FileRefused("not a file id")
        return self.root / "attachments" / str(case_id) / sha256

    def save(self, case_id: int, name: str, data: bytes) -> dict[str, Any]:
        """Check and store; returns the ``attach`` event's payload. Raises ``FileRefused``."""
        if not data:
            raise FileRefused("the file is empty")
        if len(data) > self.max_bytes:
            raise FileRefused(f"the file is {len(data)} bytes; the limit is {self.max_bytes} bytes")
        kind = sniff(data)
        if kind is None:
            raise FileRefused(f"only {', '.join(ALLOWED.values())} files may be attached")
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(case_id, sha)
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
        return {"name": safe_name(name), "type": kind, "size": len(data), "sha256": sha}

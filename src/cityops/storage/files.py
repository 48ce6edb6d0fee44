"""Attachment bytes on disk, by content hash (two-level fan-out, written atomically)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cityops.kernel.errors import NotFound


class DirectoryFiles:
    """Files under ``root/ab/abcdef…``; storing the same bytes twice costs nothing."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self._root / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> None:
        """Write bytes (fsynced, then renamed into place) unless already there."""
        path = self._path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes:
        """Return stored bytes."""
        path = self._path(sha256)
        if not path.exists():
            raise NotFound("the attachment's file is missing from the data directory")
        return path.read_bytes()

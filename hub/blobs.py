"""Content-addressed blob store for evidence attachments (signed sheets, webhook bodies).

Blobs are files named by their SHA-256 under ``<root>/ab/cd/<sha256>``. A blob is written to a
temporary file, fsynced and renamed before the event that references it is committed, so a
committed event never points at a missing blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from hub.events import EvidenceRef


class BlobStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, content: bytes, *, media_type: str = "application/octet-stream", name: str | None = None) -> EvidenceRef:
        """Store ``content`` (idempotent) and return its evidence reference."""
        digest = hashlib.sha256(content).hexdigest()
        target = self.path_for(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        return EvidenceRef(sha256=digest, media_type=media_type, size=len(content), name=name)

    def get(self, sha256: str) -> bytes:
        data = self.path_for(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"blob {sha256} is corrupted (its content no longer matches its hash)")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def remove(self, sha256: str) -> bool:
        """Delete a blob (its person's data was erased, see hub.privacy); False when it was not there."""
        try:
            self.path_for(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

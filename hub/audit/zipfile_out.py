"""Writing the pack: a zip written entry by entry to a temporary file beside the target, each
entry hashed (SHA-256) while it is written, renamed onto the target only once complete.

Nothing is held in memory but the entry being written (in chunks) and the manifest's list of
files: an error (a full disk, an unknown action found late, a cancelled request) removes the
temporary file and leaves no partial pack.
"""

from __future__ import annotations

import hashlib
import os
import time
import zipfile
from pathlib import Path
from typing import IO, Any, Iterable

CHUNK = 1 << 20  # bytes copied at a time from a blob
#: kept as they are in the zip (no deflate): formats already compressed, which deflate would only slow down
STORED_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".zip", ".gz", ".docx", ".xlsx", ".odt", ".ods",
                   ".mp4", ".mp3", ".tsr")


class PackCancelled(Exception):
    """The pack was abandoned before it was complete (a client gone, a request timed out)."""


def open_private(path: Path) -> IO[bytes]:
    """``path`` created for writing, readable by its owner only: a pack holds personal data."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w+b")


class PackFile:
    """The zip being written. ``files`` maps each entry to its SHA-256 and size (the manifest's)."""

    def __init__(self, target: Path, cancelled: Any = None):
        self.target = target
        self.tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        self.cancelled = cancelled  # a threading.Event: set, the next write gives up
        self.files: dict[str, dict[str, Any]] = {}
        self.date_time = time.gmtime()[:6]  # every entry's date: when the pack was made (UTC)
        self._zip: zipfile.ZipFile | None = None
        self._file: IO[bytes] | None = None

    def __enter__(self) -> "PackFile":
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._file = open_private(self.tmp)
        self._zip = zipfile.ZipFile(self._file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            return
        self.discard()

    def discard(self) -> None:
        """Drop the temporary file (after an error): no partial pack is left."""
        for closing in (self._zip, self._file):
            try:
                if closing is not None:
                    closing.close()
            except (OSError, ValueError):
                pass
        self._zip = self._file = None
        self.tmp.unlink(missing_ok=True)

    def write_chunks(self, name: str, chunks: Iterable[bytes]) -> str:
        """Add entry ``name`` from ``chunks``; its SHA-256 (hex)."""
        if name in self.files:
            raise ValueError(f"the pack already holds {name}")
        digest, size = hashlib.sha256(), 0
        entry = zipfile.ZipInfo(name, date_time=self.date_time)
        entry.compress_type = zipfile.ZIP_STORED if name.lower().endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
        entry.external_attr = 0o644 << 16
        with self._zip.open(entry, "w", force_zip64=True) as out:
            for chunk in chunks:
                self._check()
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self.files[name] = {"sha256": digest.hexdigest(), "bytes": size}
        return self.files[name]["sha256"]

    def write(self, name: str, data: bytes | str) -> str:
        return self.write_chunks(name, [data.encode() if isinstance(data, str) else data])

    def copy(self, name: str, source: IO[bytes]) -> str:
        """Add entry ``name`` with the content of an open file, a chunk at a time."""
        return self.write_chunks(name, iter(lambda: source.read(CHUNK), b""))

    def finish(self, manifest: bytes) -> Path:
        """Write the manifest, close the zip, flush it to disk and rename it onto the target."""
        self._check()
        entry = zipfile.ZipInfo("manifest.json", date_time=self.date_time)
        entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
        with self._zip.open(entry, "w") as out:
            out.write(manifest)
        self._zip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._zip = self._file = None
        os.replace(self.tmp, self.target)
        return self.target

    def _check(self) -> None:
        if self.cancelled is not None and self.cancelled.is_set():
            raise PackCancelled("the audit pack was cancelled before it was complete")

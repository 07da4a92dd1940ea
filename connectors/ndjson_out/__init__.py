"""``ndjson_out``: append delivered events to NDJSON files, rotated by size, each event once.

The current file is ``<directory>/<prefix>.ndjson``; when it passes ``rotate_bytes`` it is
renamed ``<prefix>-<UTC time>.ndjson`` and a new one starts. Each batch is written with one
``write`` and fsynced before the hub marks it delivered.

Exactly once across crashes: the hub hands a batch over again when it could not record its
delivery (the process was killed between the write and the record). The files themselves are
the durable position: before its first write (and whenever another process wrote to the file
since; writers take turns under an exclusive ``flock`` of the file), the sink truncates a torn last line (a write cut short: that batch was never
acknowledged) and reads back the ids of the last ``dedupe_window`` events from the tail of the
current file and, if it holds fewer, of the newest rotated file. Events whose ``id`` is among
them are skipped, so a replayed batch only adds what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import os
from collections import OrderedDict
from pathlib import Path

import orjson
from pydantic import Field

from hub.connector import Connector, ConnectorConfig, EventSink, Health
from hub.errors import UnreachableError
from hub.hookspecs import hookimpl

TAIL_BLOCK = 64 * 1024  # bytes read at a time, backwards, when recovering the last ids


class NdjsonOutConfig(ConnectorConfig):
    directory: str = Field(description="Folder for the files")
    prefix: str = Field(default="events", pattern=r"^[A-Za-z0-9_.-]+$")
    rotate_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="Rotate after this size")
    fsync: bool = Field(default=True, description="fsync each batch before acknowledging it")
    dedupe_window: int = Field(default=10_000, ge=1, le=1_000_000, description=(
        "How many of the last written event ids are remembered (read back from the files at start) to skip "
        "a batch the hub hands over again after a crash; keep it at least the sink's batch size"))


class RecentIds:
    """The ids of the last ``size`` events written, in order: a bounded set."""

    def __init__(self, size: int):
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def add_older(self, ids: list[str]) -> None:
        """``ids`` (oldest first) were written before everything held: keep the newest that fit."""
        room = self.size - len(self._ids)
        if room <= 0:
            return
        for event_id in reversed(ids[-room:]):
            if event_id not in self._ids:
                self._ids[event_id] = None
                self._ids.move_to_end(event_id, last=False)


def truncate_torn_tail(path: Path) -> int:
    """Cut what follows the last newline of ``path`` (a write cut short); returns the bytes cut."""
    with path.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - TAIL_BLOCK)
            fh.seek(start)
            block = fh.read(end - start)
            at = block.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            end = start
        else:
            keep = 0
        if keep < size:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        return size - keep


def tail_ids(path: Path, count: int) -> list[str]:
    """The ``id`` of the last ``count`` complete lines of ``path``, oldest first (lines that are not
    events are passed over)."""
    lines: list[bytes] = []
    with path.open("rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        rest = b""
        while end > 0 and len(lines) <= count:
            start = max(0, end - TAIL_BLOCK)
            fh.seek(start)
            chunk = fh.read(end - start) + rest
            parts = chunk.split(b"\n")
            rest = parts[0] if start > 0 else b""
            lines[:0] = [p for p in (parts[1:] if start > 0 else parts) if p]
            end = start
    ids = []
    for line in lines[-count:]:
        try:
            event_id = orjson.loads(line).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(event_id, str):
            ids.append(event_id)
    return ids


class NdjsonOut(Connector, EventSink):
    """Append events to rotating NDJSON files, skipping those a crash left already written."""

    kind = "ndjson_out"
    Config = NdjsonOutConfig

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._recent: RecentIds | None = None  # loaded from the files before the first write
        self._written: tuple[int, int] | None = None  # (inode, size) of the current file after our last write

    @property
    def current(self) -> Path:
        return Path(self.config.directory) / f"{self.config.prefix}.ndjson"

    async def check(self) -> Health:
        folder = Path(self.config.directory)
        if folder.exists() and not os.access(folder, os.W_OK):
            return Health(False, f"folder {folder} is not writable")
        return Health(True)

    async def deliver(self, events) -> None:
        lines = [(e.id, orjson.dumps(e.model_dump(mode="json")) + b"\n") for e in events]
        try:
            await asyncio.to_thread(self._append, lines)
        except OSError as exc:
            self._recent = None  # the file may hold part of the batch: read it back before the next write
            raise UnreachableError(f"cannot write {self.current}: {exc.strerror}") from None

    def _append(self, lines: list[tuple[str, bytes]]) -> None:
        path = self.current
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked(path) as fh:  # daemons sharing the folder take turns: check, write, rotate
            if self._recent is None or self._changed_by_another(path):
                self._recent = self._recover(path)
            fresh = [(event_id, line) for event_id, line in lines if event_id not in self._recent]
            if not fresh:
                return
            fh.write(b"".join(line for _, line in fresh))
            fh.flush()
            if self.config.fsync:
                os.fsync(fh.fileno())
            size = fh.tell()
            self._written = (os.fstat(fh.fileno()).st_ino, size)
            for event_id, _ in fresh:
                self._recent.add(event_id)
            if size >= self.config.rotate_bytes:
                stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
                os.replace(path, path.with_name(f"{self.config.prefix}-{stamp}.ndjson"))
                self._written = None

    @staticmethod
    @contextlib.contextmanager
    def _locked(path: Path):
        """The current file open for appending, under an exclusive ``flock`` (the file itself, not
        one another process renamed away while we waited for the lock)."""
        while True:
            fh = path.open("ab")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    same = os.fstat(fh.fileno()).st_ino == path.stat().st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    yield fh
                    return
            finally:
                fh.close()  # closing releases the lock

    def _changed_by_another(self, path: Path) -> bool:
        """Whether the current file is not as this sink left it (another process wrote or rotated it)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return self._written is not None
        return self._written != (stat.st_ino, stat.st_size)

    def _recover(self, path: Path) -> RecentIds:
        """The last written ids, from the current file's tail then the newest rotated file's."""
        recent = RecentIds(self.config.dedupe_window)
        if path.exists():
            cut = truncate_torn_tail(path)
            if cut:
                self.context.log.warning("cut a torn last line", sink=self.name, file=str(path), bytes=cut)
            recent.add_older(tail_ids(path, self.config.dedupe_window))
            stat = path.stat()
            self._written = (stat.st_ino, stat.st_size)
        else:
            self._written = None
        if len(recent) < recent.size:
            rotated = sorted(path.parent.glob(f"{self.config.prefix}-*.ndjson"))
            if rotated:
                recent.add_older(tail_ids(rotated[-1], recent.size - len(recent)))
        return recent


@hookimpl
def register_connectors():
    return [NdjsonOut]

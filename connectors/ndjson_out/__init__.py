"""``ndjson_out``: append delivered events to NDJSON files, rotated by size.

The current file is ``<directory>/<prefix>.ndjson``; when it passes ``rotate_bytes`` it is
renamed ``<prefix>-<UTC time>.ndjson`` and a new one starts. Each batch is written with one
``write`` and fsynced before the hub marks it delivered. Delivery is at least once: after a
crash the last batch may appear twice; readers de-duplicate on ``id``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import orjson
from pydantic import Field

from hub.connector import Connector, ConnectorConfig, EventSink, Health
from hub.errors import RetryableError
from hub.hookspecs import hookimpl


class NdjsonOutConfig(ConnectorConfig):
    directory: str = Field(description="Folder for the files")
    prefix: str = Field(default="events", pattern=r"^[A-Za-z0-9_.-]+$")
    rotate_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="Rotate after this size")
    fsync: bool = Field(default=True, description="fsync each batch before acknowledging it")


class NdjsonOut(Connector, EventSink):
    """Append events to rotating NDJSON files."""

    kind = "ndjson_out"
    Config = NdjsonOutConfig

    @property
    def current(self) -> Path:
        return Path(self.config.directory) / f"{self.config.prefix}.ndjson"

    async def check(self) -> Health:
        folder = Path(self.config.directory)
        if folder.exists() and not os.access(folder, os.W_OK):
            return Health(False, f"folder {folder} is not writable")
        return Health(True)

    async def deliver(self, events) -> None:
        payload = b"".join(orjson.dumps(e.model_dump(mode="json")) + b"\n" for e in events)
        try:
            await asyncio.to_thread(self._append, payload)
        except OSError as exc:
            raise RetryableError(f"cannot write {self.current}: {exc.strerror}") from None

    def _append(self, payload: bytes) -> None:
        path = self.current
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as fh:
            fh.write(payload)
            fh.flush()
            if self.config.fsync:
                os.fsync(fh.fileno())
            size = fh.tell()
        if size >= self.config.rotate_bytes:
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            os.replace(path, path.with_name(f"{self.config.prefix}-{stamp}.ndjson"))


@hookimpl
def register_connectors():
    return [NdjsonOut]

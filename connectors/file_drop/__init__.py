"""``file_drop``: pull NDJSON or CSV event files dropped in a folder.

Files are read in name order, a page of ``batch_size`` records at a time, so a file of any
size is streamed. The cursor (file name and byte offset) is committed with each page; a file
is moved to ``processed/`` once its last page is committed. Lines that cannot be parsed are
dead-lettered (stage ``map``) with the file, the line number and the text.

CSV columns: ``type``, ``occurred_at``, ``source_id``, ``action``, ``learner_ref``,
``learner_site``, ``learner_email``, ``learner_name``, ``supersedes`` and ``data.<field>`` for each data field
(empty cells are left out). A record without ``source_id`` gets ``sha256:<hash of the line>``,
so dropping the same file twice creates no duplicate. The CSV export of another tool (an
accounting tool's invoice list) is read through a ``csv_mappings`` entry that names its columns
(:mod:`connectors.file_drop.mapping`).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
from pydantic import Field

from connectors.file_drop.mapping import CsvMapping, mapping_for
from hub.connector import Connector, ConnectorConfig, Health, PullResult, PullSource, Reject
from hub.hookspecs import hookimpl

LEARNER_COLUMNS = {"learner_ref": "ref", "learner_site": "site", "learner_email": "email", "learner_name": "name"}
ENVELOPE_COLUMNS = {"type", "occurred_at", "source_id", "action", "supersedes"}


class FileDropConfig(ConnectorConfig):
    path: str = Field(description="Folder to watch for event files")
    patterns: list[str] = Field(default_factory=lambda: ["*.ndjson", "*.jsonl", "*.csv"],
                                description="File name patterns to pick up")
    processed_dir: str | None = Field(default=None, description="Where finished files go (default <path>/processed)")
    batch_size: int = Field(default=1000, ge=1, le=100_000, description="Records per page (one transaction)")
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    read_only: bool = Field(
        default=False,
        description="Leave files in place and remember finished ones (name, size, mtime) in the cursor; "
        "for read-only folders with few files",
    )
    settle_seconds: float = Field(default=2.0, ge=0, description="Ignore files modified more recently (still being written)")
    csv_mappings: list[CsvMapping] = Field(
        default_factory=list, description="CSV exports of other tools (an accounting tool's invoices…): for the files "
        "each one's patterns match, the tool's columns of each hub column; other CSV files use the hub's columns")


class FileDrop(Connector, PullSource):
    """Pull NDJSON/CSV event files from a folder, moving each processed file aside."""

    kind = "file_drop"
    Config = FileDropConfig

    @property
    def folder(self) -> Path:
        return Path(self.config.path)

    @property
    def processed(self) -> Path:
        return Path(self.config.processed_dir) if self.config.processed_dir else self.folder / "processed"

    async def check(self) -> Health:
        if not self.folder.is_dir():
            return Health(False, f"folder {self.folder} does not exist")
        if self.config.read_only:  # files are left in place: reading is enough
            if not os.access(self.folder, os.R_OK | os.X_OK):
                return Health(False, f"folder {self.folder} is not readable")
        elif not os.access(self.folder, os.R_OK | os.W_OK):
            return Health(False, f"folder {self.folder} is not readable and writable")
        return Health(True)

    async def pull(self, cursor: Any) -> PullResult:
        cursor = cursor or {}
        name, offset, line = cursor.get("file"), int(cursor.get("offset") or 0), int(cursor.get("line") or 0)
        done: dict[str, str] = dict(cursor.get("done") or {})
        if name:
            path = self.folder / name
            if not path.exists():  # moved away by someone else: start with the next file
                name = None
            elif offset >= path.stat().st_size:
                if self.config.read_only:  # its last page is committed: it is done
                    done[name] = _fingerprint(path)
                else:
                    self._move_aside(path)
                name = None
        if name is None:
            files = [f for f in self._files() if done.get(f.name) != _fingerprint(f)]
            if not files:
                return PullResult([], _cursor(None, 0, 0, done), has_more=False)
            path, offset, line = files[0], 0, 0
        events, rejects, offset, line = self._read_page(path, offset, line)
        # ask for another page: it closes this file once finished and starts the next one
        return PullResult(events, _cursor(path.name, offset, line, done), has_more=True, rejects=rejects)

    def _files(self) -> list[Path]:
        found: set[Path] = set()
        settled = time.time() - self.config.settle_seconds
        for pattern in self.config.patterns:
            found.update(p for p in self.folder.glob(pattern) if p.is_file() and p.stat().st_mtime <= settled)
        return sorted(found)

    def _move_aside(self, path: Path) -> None:
        self.processed.mkdir(parents=True, exist_ok=True)
        target = self.processed / path.name
        if target.exists():
            target = self.processed / f"{path.stem}.{int(time.time())}{path.suffix}"
        shutil.move(str(path), str(target))
        self.context.log.info("file processed", file=path.name, moved_to=str(target))

    def _read_page(self, path: Path, offset: int, line: int) -> tuple[list[dict], list[Reject], int, int]:
        events: list[dict] = []
        rejects: list[Reject] = []
        with path.open("rb") as fh:
            header = None
            if path.suffix.lower() == ".csv":
                first = fh.readline().decode(self.config.encoding, errors="replace").lstrip("\ufeff")
                header = next(csv.reader([first], delimiter=self.config.csv_delimiter), [])
                if offset == 0:
                    offset, line = fh.tell(), 1
            fh.seek(offset)
            while len(events) + len(rejects) < self.config.batch_size:
                raw = fh.readline()
                if not raw:
                    break
                line += 1
                text = raw.decode(self.config.encoding, errors="replace").rstrip("\r\n")
                if line == 1:  # a byte-order mark (spreadsheet exports) is not part of the record
                    text = text.lstrip("\ufeff")
                if not text.strip():
                    continue
                record: dict[str, Any] = {"file": path.name, "line": line, "text": text}
                if header is not None:
                    record["header"] = header
                try:
                    events.extend(self.map_record(record))
                except ValueError as exc:
                    rejects.append(Reject("map", f"{path.name}:{line}: {exc}", record))
            return events, rejects, fh.tell(), line

    def map_record(self, record: Any) -> list[dict[str, Any]]:
        """One line of a dropped file (``{"file", "line", "text"[, "header"]}``) to an event input."""
        text = record["text"]
        if "header" in record:
            values = next(csv.reader([text], delimiter=self.config.csv_delimiter))
            if len(values) != len(record["header"]):
                raise ValueError(f"expected {len(record['header'])} columns, found {len(values)}")
            cells = dict(zip(record["header"], values))
            mapping = mapping_for(self.config.csv_mappings, record["file"])
            if mapping is not None:
                mapping.check_header(record["header"])
                cells = mapping.row({(k or "").strip(): v for k, v in cells.items()})
            item = _from_csv(cells)
        else:
            try:
                item = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"invalid JSON: {exc}") from None
            if not isinstance(item, dict):
                raise ValueError("expected a JSON object per line")
        if not item.get("source_id"):
            item["source_id"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        item.pop("source", None)  # the source is this connector
        return [item]


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _cursor(name: str | None, offset: int, line: int, done: dict[str, str]) -> dict[str, Any]:
    cursor: dict[str, Any] = {"file": name, "offset": offset, "line": line}
    if done:
        cursor["done"] = done
    return cursor


def _from_csv(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    learner: dict[str, str] = {}
    data: dict[str, Any] = {}
    for column, value in row.items():
        column = (column or "").strip()
        value = value.strip()
        if value == "":
            continue
        if column in ENVELOPE_COLUMNS:
            item[column] = value
        elif column in LEARNER_COLUMNS:
            learner[LEARNER_COLUMNS[column]] = value
        elif column.startswith("data."):
            data[column[5:]] = _csv_value(value)
        else:
            raise ValueError(f"unknown column {column!r} (use data.<field> for data fields)")
    if learner:
        item["learner"] = learner
    if data:
        item["data"] = data
    return item


def _csv_value(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if value.startswith(("{", "[")):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


@hookimpl
def register_connectors():
    return [FileDrop]


__all__ = ["FileDrop", "FileDropConfig"]

"""Unit tests of the file_drop pull source: paging, cursors, CSV mapping, dead letters, replay."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

import connectors.file_drop as file_drop
from connectors.file_drop import FileDrop
from hub.connector import Reject
from hub.events import EventTypeRegistry
from hub.ingest.ingestor import encode_json
from hub.testing import make_context


def line(source_id: str | None, activity: str = "quiz", **extra) -> str:
    item = {"type": "lms.activity_completed", "occurred_at": "2026-03-02T09:00:00+01:00",
            "learner": {"ref": "u1"}, "data": {"activity": activity}, **extra}
    if source_id is not None:
        item["source_id"] = source_id
    return json.dumps(item)


def write(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    return path


def connector(tmp_path: Path, **config) -> FileDrop:
    cfg = FileDrop.Config.model_validate(
        {"kind": "file_drop", "path": str(tmp_path / "drop"), "settle_seconds": 0, **config})
    return FileDrop("drop", cfg, make_context(tmp_path / "ctx", "drop"))


async def sync(conn: FileDrop, cursor=None, max_pages: int = 50):
    pages = []
    for _ in range(max_pages):
        result = await conn.pull(cursor)
        cursor = json.loads(json.dumps(result.cursor))
        pages.append(result)
        if not result.has_more:
            return pages, cursor
    raise AssertionError("too many pages")


async def test_pages_of_batch_size_then_file_closed(tmp_path):
    write(tmp_path / "drop", "a.ndjson", [line(f"a{i}") for i in range(5)])
    conn = connector(tmp_path, batch_size=2)
    pages, cursor = await sync(conn)
    assert [[e["source_id"] for e in p.events] for p in pages] == [["a0", "a1"], ["a2", "a3"], ["a4"], []]
    assert [p.has_more for p in pages] == [True, True, True, False]
    assert cursor == {"file": None, "offset": 0, "line": 0}
    EventTypeRegistry().validate_batch([e for p in pages for e in p.events])


async def test_cursor_resumes_mid_file_on_a_new_instance(tmp_path):
    lines = [line(f"a{i}") for i in range(5)]
    write(tmp_path / "drop", "a.ndjson", lines)
    first = await connector(tmp_path, batch_size=2).pull(None)
    assert first.cursor == {"file": "a.ndjson", "offset": len(lines[0]) + len(lines[1]) + 2, "line": 2}
    again = await connector(tmp_path, batch_size=2).pull(first.cursor)  # as after a restart
    assert [e["source_id"] for e in again.events] == ["a2", "a3"]
    assert again.cursor["line"] == 4


async def test_file_moved_to_processed_only_after_its_last_page(tmp_path):
    drop = tmp_path / "drop"
    write(drop, "a.ndjson", [line("a0"), line("a1")])
    write(drop, "b.ndjson", [line("b0")])
    conn = connector(tmp_path, batch_size=2, processed_dir=str(tmp_path / "done"))
    page = await conn.pull(None)
    assert [e["source_id"] for e in page.events] == ["a0", "a1"] and page.has_more
    assert (drop / "a.ndjson").exists(), "the page is not committed yet: the file stays"
    page = await conn.pull(page.cursor)  # the hub committed page 1: a.ndjson is finished
    assert not (drop / "a.ndjson").exists() and (tmp_path / "done" / "a.ndjson").exists()
    assert [e["source_id"] for e in page.events] == ["b0"]
    assert (drop / "b.ndjson").exists()
    page = await conn.pull(page.cursor)
    assert page.events == [] and not page.has_more
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["a.ndjson", "b.ndjson"]


async def test_processed_name_clash_keeps_both_files(tmp_path):
    drop = tmp_path / "drop"
    write(drop / "processed", "a.ndjson", [line("old")])
    write(drop, "a.ndjson", [line("new")])
    await sync(connector(tmp_path))
    assert len(list((drop / "processed").glob("a*.ndjson"))) == 2


async def test_read_only_leaves_files_and_remembers_finished_ones(tmp_path):
    drop = tmp_path / "drop"
    path = write(drop, "a.ndjson", [line("a0"), line("a1"), line("a2")])
    conn = connector(tmp_path, batch_size=2, read_only=True)
    pages, cursor = await sync(conn)
    assert [e["source_id"] for p in pages for e in p.events] == ["a0", "a1", "a2"]
    assert path.exists() and not (drop / "processed").exists()
    assert list(cursor["done"]) == ["a.ndjson"]
    pages, cursor = await sync(conn, cursor)
    assert [e for p in pages for e in p.events] == [], "a finished file is not read again"
    # a changed file (new size and mtime) is read again; the hub de-duplicates known records
    path.write_text(path.read_text() + line("a3") + "\n")
    os.utime(path, (time.time() - 60, time.time() - 60))
    pages, cursor = await sync(conn, cursor)
    assert [e["source_id"] for p in pages for e in p.events] == ["a0", "a1", "a2", "a3"]


async def test_check_health(tmp_path, monkeypatch):
    assert not (await connector(tmp_path).check()).ok  # no folder yet
    (tmp_path / "drop").mkdir()
    assert (await connector(tmp_path).check()).ok
    monkeypatch.setattr(file_drop.os, "access", lambda path, mode: not mode & os.W_OK)  # a read-only folder
    assert not (await connector(tmp_path).check()).ok
    assert (await connector(tmp_path, read_only=True).check()).ok


CSV_HEADER = "type,occurred_at,source_id,action,learner_ref,learner_email,learner_name,data.date,data.half_day,data.trainer_cosigned,data.details"


async def test_csv_columns(tmp_path):
    write(tmp_path / "drop", "sheet.csv", [
        CSV_HEADER,
        'attendance.signed,2026-03-02T12:30:00+01:00,em-1,S1,u1,ada@example.org,Ada L,2026-03-02,am,true,"{""room"": ""B2""}"',
        "attendance.signed,2026-03-02T17:30:00+01:00,em-2,S1,u2,,,2026-03-02,pm,false,",
    ])
    pages, _ = await sync(connector(tmp_path))
    events = [e for p in pages for e in p.events]
    assert events[0] == {
        "type": "attendance.signed", "occurred_at": "2026-03-02T12:30:00+01:00", "source_id": "em-1", "action": "S1",
        "learner": {"ref": "u1", "email": "ada@example.org", "name": "Ada L"},
        "data": {"date": "2026-03-02", "half_day": "am", "trainer_cosigned": True, "details": {"room": "B2"}},
    }
    assert events[1]["learner"] == {"ref": "u2"}, "empty cells are left out"
    write(tmp_path / "drop", "two-lms.csv", ["type,occurred_at,source_id,learner_ref,learner_site,data.percent",
                                            "lms.progress,2026-03-02T09:00:00+01:00,p1,42,https://autre-lms.example.com,50"])
    pages, _ = await sync(connector(tmp_path))
    (event,) = [e for p in pages for e in p.events if e["source_id"] == "p1"]
    assert event["learner"] == {"ref": "42", "site": "https://autre-lms.example.com"}  # ids unique per LMS only
    assert events[1]["data"] == {"date": "2026-03-02", "half_day": "pm", "trainer_cosigned": False}
    EventTypeRegistry().validate_batch(events)


async def test_csv_with_byte_order_mark_and_semicolons(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "excel.csv").write_bytes(
        "\ufefftype;occurred_at;source_id;learner_ref;data.activity\r\n"
        "lms.activity_completed;2026-03-02T09:00:00+01:00;x1;u1;quiz\r\n".encode())
    pages, _ = await sync(connector(tmp_path, csv_delimiter=";"))
    assert [p.rejects for p in pages] == [[], []]
    assert pages[0].events[0]["source_id"] == "x1"


async def test_csv_unknown_column_is_a_map_reject_naming_file_and_line(tmp_path):
    write(tmp_path / "drop", "bad.csv", [
        "type,occurred_at,source_id,colour",
        "lms.progress,2026-03-02T09:00:00+01:00,p1,",  # empty cell: the unknown column is not noticed
        "lms.progress,2026-03-02T09:00:00+01:00,p2,blue",
        "lms.progress,2026-03-02T09:00:00+01:00,p3",
    ])
    pages, _ = await sync(connector(tmp_path))
    rejects = [r for p in pages for r in p.rejects]
    assert [e["source_id"] for p in pages for e in p.events] == ["p1"]
    assert [(r.stage, r.error) for r in rejects] == [
        ("map", "bad.csv:3: unknown column 'colour' (use data.<field> for data fields)"),
        ("map", "bad.csv:4: expected 4 columns, found 3"),
    ]
    assert rejects[0].payload["header"] == ["type", "occurred_at", "source_id", "colour"]


async def test_invalid_json_lines_are_rejected_with_file_and_line(tmp_path):
    write(tmp_path / "drop", "a.ndjson", [line("a0"), "", "{not json", "[1, 2]", line("a4")])
    pages, _ = await sync(connector(tmp_path))
    assert [e["source_id"] for p in pages for e in p.events] == ["a0", "a4"]
    rejects = [r for p in pages for r in p.rejects]
    assert all(isinstance(r, Reject) and r.stage == "map" for r in rejects)
    assert rejects[0].error.startswith("a.ndjson:3: invalid JSON")
    assert rejects[1].error == "a.ndjson:4: expected a JSON object per line"
    assert rejects[0].payload == {"file": "a.ndjson", "line": 3, "text": "{not json"}


async def test_missing_source_id_gets_a_deterministic_sha256_id(tmp_path):
    text = line(None, activity="quiz-7")
    write(tmp_path / "drop", "a.ndjson", [text])
    write(tmp_path / "drop", "b.ndjson", [text])  # the same line dropped twice
    pages, _ = await sync(connector(tmp_path))
    ids = [e["source_id"] for p in pages for e in p.events]
    assert ids == ["sha256:" + hashlib.sha256(text.encode()).hexdigest()] * 2


async def test_the_source_field_is_always_this_connector(tmp_path):
    write(tmp_path / "drop", "a.ndjson", [line("a0", source="someone-else")])
    pages, _ = await sync(connector(tmp_path))
    assert "source" not in pages[0].events[0]


async def test_settle_seconds_skips_files_still_being_written(tmp_path):
    drop = tmp_path / "drop"
    fresh = write(drop, "fresh.ndjson", [line("f0")])
    old = write(drop, "old.ndjson", [line("o0")])
    past = time.time() - 120
    os.utime(old, (past, past))
    conn = connector(tmp_path, settle_seconds=60)
    pages, cursor = await sync(conn)
    assert [e["source_id"] for p in pages for e in p.events] == ["o0"]
    assert fresh.exists()
    os.utime(fresh, (past, past))  # the writer finished a while ago
    pages, _ = await sync(conn, cursor)
    assert [e["source_id"] for p in pages for e in p.events] == ["f0"]


async def test_patterns_choose_the_files(tmp_path):
    write(tmp_path / "drop", "notes.txt", ["not an event"])
    write(tmp_path / "drop", "a.jsonl", [line("j0")])
    pages, _ = await sync(connector(tmp_path))
    assert [e["source_id"] for p in pages for e in p.events] == ["j0"]
    assert (tmp_path / "drop" / "notes.txt").exists()


async def test_file_removed_while_pointed_at_by_the_cursor(tmp_path):
    drop = tmp_path / "drop"
    write(drop, "a.ndjson", [line("a0"), line("a1")])
    write(drop, "b.ndjson", [line("b0")])
    conn = connector(tmp_path, batch_size=1)
    page = await conn.pull(None)
    (drop / "a.ndjson").unlink()
    page = await conn.pull(page.cursor)
    assert [e["source_id"] for e in page.events] == ["b0"]


async def test_map_record_round_trip_for_replay(tmp_path):
    write(tmp_path / "drop", "a.ndjson", [line("a0"), "{broken"])
    write(tmp_path / "drop", "b.csv", ["type,occurred_at,source_id,data.percent", "lms.progress,2026-03-02T09:00:00+01:00,p1,50"])
    conn = connector(tmp_path)
    pages, _ = await sync(conn)
    events = [e for p in pages for e in p.events]
    (reject,) = [r for p in pages for r in p.rejects]
    # the hub stores the payload as JSON and hands it back to map_record on replay
    stored = json.loads(encode_json(reject.payload))
    with pytest.raises(ValueError, match="invalid JSON"):
        conn.map_record(stored)
    fixed = {**stored, "text": line("a1")}
    assert conn.map_record(fixed)[0]["source_id"] == "a1"
    # good records map again to the very same event inputs
    assert conn.map_record({"file": "a.ndjson", "line": 1, "text": line("a0")}) == [events[0]]
    csv_record = {"file": "b.csv", "line": 2, "header": ["type", "occurred_at", "source_id", "data.percent"],
                  "text": "lms.progress,2026-03-02T09:00:00+01:00,p1,50"}
    assert conn.map_record(json.loads(encode_json(csv_record))) == [events[1]]

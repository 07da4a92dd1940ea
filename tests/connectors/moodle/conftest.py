"""Shared fixtures of the Moodle connector tests: fake Moodle servers, databases, a sync helper."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import pytest

from connectors.moodle import Moodle
from connectors.moodle.mapping import EVENT_TYPES
from hub.connector import PullResult, Reject
from hub.events import EventTypeRegistry
from hub.testing import captured_logs, close_context, make_context
from tests.fakes.moodle import TOKEN, FakeMoodle, RecordedMoodle, running
from tests.fakes.moodle_db import mariadb_database, postgres_schema

UTC = dt.timezone.utc
#: "now" for tests that read the recorded log: 2026-11-28 08:00 UTC, after the last recorded row (07:26:31)
NOW = dt.datetime(2026, 11, 28, 8, 0, tzinfo=UTC).timestamp()


def ts(text: str) -> int:
    """``"2026-03-02 08:12:00"`` (UTC) as a Unix time."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def iso(text: str) -> str:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


class PinnedMoodle(Moodle):
    """The Moodle connector with its wall clock pinned to :data:`NOW`: log-store tests close idle
    sessions by it, and with time standing still no learner's periodic poll falls due between two
    syncs (``learner_poll_interval``), so the learners polled are exactly those who came back."""

    clock = staticmethod(lambda: NOW)


def registry() -> EventTypeRegistry:
    reg = EventTypeRegistry()
    for name, model in EVENT_TYPES.items():
        reg.register(name, model)
    return reg


@dataclass
class Sync:
    events: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    pages: list[PullResult] = field(default_factory=list)
    cursor: Any = None

    def of(self, type_: str, **where: Any) -> list[dict[str, Any]]:
        out = [e for e in self.events if e["type"] == type_]
        for key, value in where.items():
            if key == "learner":
                out = [e for e in out if (e.get("learner") or {}).get("ref") == str(value)]
            else:
                out = [e for e in out if e.get(key) == value]
        return out

    def by_id(self, source_id: str) -> dict[str, Any]:
        found = [e for e in self.events if e["source_id"] == source_id]
        assert len(found) == 1, f"{source_id}: {len(found)} events"
        return found[0]


async def sync(connector: Moodle, cursor: Any = None, *, max_pages: int = 200) -> Sync:
    """Pull from ``cursor`` while ``has_more``; every page is validated like the hub does."""
    run = Sync(cursor=cursor)
    reg = registry()
    for _ in range(max_pages):
        result = await connector.pull(run.cursor)
        reg.validate_batch(result.events)
        run.pages.append(result)
        run.events.extend(result.events)
        run.rejects.extend(result.rejects)
        run.cursor = result.cursor
        if not result.has_more:
            return run
    raise AssertionError("too many pages")


@contextlib.asynccontextmanager
async def connector(tmp_path: Any, cls: type[Moodle] = PinnedMoodle, **config: Any) -> AsyncIterator[Moodle]:
    """An opened connector on a test context; closed (HTTP session, database) on exit."""
    cfg = cls.Config.model_validate({"kind": "moodle", **config})
    context = make_context(tmp_path / f"ctx-{id(cfg)}", "moodle")
    instance = cls("moodle", cfg, context)
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()
        await close_context(context)
        logged = "\n".join(captured_logs(context))
        assert TOKEN not in logged, "the token was logged"


@pytest.fixture
async def recorded_fake() -> AsyncIterator[FakeMoodle]:
    async with running(FakeMoodle(RecordedMoodle())) as fake:
        yield fake


def ws_config(fake: FakeMoodle, **extra: Any) -> dict[str, Any]:
    return {"url": fake.url, "token": TOKEN, "courses": [3], "retries": 2, "timeout": "5s", **extra}


@pytest.fixture(scope="module")
def pg_moodle() -> Any:
    """A PostgreSQL schema of this test module with the recorded Moodle tables and rows."""
    with postgres_schema() as dsn:
        yield dsn


@pytest.fixture(scope="module")
def mariadb_moodle() -> Any:
    """A MariaDB database of this test module with the recorded Moodle tables and rows."""
    with mariadb_database() as dsn:
        yield dsn

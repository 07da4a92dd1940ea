"""The contract kit (hub.testing) on the Moodle connector, in both modes, against real local peers."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import pytest

from connectors.moodle.mapping import EVENT_TYPES
from hub.testing import get_connector_test_class
from tests.connectors.moodle.conftest import PinnedMoodle
from tests.fakes.moodle import TOKEN, FakeMoodle, failing_peer, recorded_peer, running
from tests.fakes.moodle_dataset import GeneratedMoodle, generate
from tests.fakes.moodle_db import LOGSTORE_TABLES, postgres_schema

WS_CONFIG = {"url": "http://127.0.0.1:9", "token": "contract-token-0123456789", "courses": [3],
             "retries": 1, "timeout": "5s"}

# Web services, against the fake Moodle replaying the recordings of a real Moodle 4.4.
TestMoodleWebServicesContract = get_connector_test_class(
    PinnedMoodle, WS_CONFIG, name="moodle", pull_peer=lambda folder: recorded_peer(folder),
    failing_peer=failing_peer, extra_event_types=EVENT_TYPES,
)


@contextlib.asynccontextmanager
async def generated_peer(folder: Any = None) -> AsyncIterator[dict[str, Any]]:
    async with running(FakeMoodle(GeneratedMoodle([generate(learners=6, activities=10)]))) as fake:
        yield {"url": fake.url, "token": TOKEN, "courses": ["CACES-R489-2026-10"]}


# Web services, against the generated second data set (another course, attendance, BigBlueButton).
TestMoodleGeneratedDataContract = get_connector_test_class(
    PinnedMoodle, WS_CONFIG, name="moodle", pull_peer=generated_peer, extra_event_types=EVENT_TYPES,
)


_SCHEMA = contextlib.ExitStack()
_DSN: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _drop_shared_schema():
    yield
    _SCHEMA.close()


def logstore_peer(folder: Any = None) -> dict[str, Any]:
    """The recorded log store; the connector only reads, so one schema serves every test of the module."""
    if not _DSN:
        _DSN.append(_SCHEMA.enter_context(postgres_schema(LOGSTORE_TABLES)))
    return {"logstore": {"dsn": _DSN[0], "page_size": 60}}


# Log store, on a PostgreSQL schema holding the recorded Moodle tables and rows (skipped without a server).
TestMoodleLogstoreContract = get_connector_test_class(
    PinnedMoodle, {"logstore": {"dsn": "postgresql://hub:dbsecret-0123@127.0.0.1:9/moodle"}}, name="moodle",
    pull_peer=logstore_peer, extra_event_types=EVENT_TYPES,
)

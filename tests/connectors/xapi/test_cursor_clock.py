"""Ralph's `since` filters on `timestamp`: the statements' times tell when the cursor may miss some,
and a statement the LRS returns although older than the cursor is read, not dropped."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from tests.connectors.xapi.test_hub import events, lrs_config, secrets
from tests.fakes import xapi_statements as S
from tests.fakes.xapi_lrs import FakeLrs

UTC = dt.timezone.utc


def download(n: int, timestamp: str) -> dict:
    statement = copy.deepcopy(S.DOWNLOADED)
    statement.update(id=f"b1a1e2f0-5555-4c1e-9d2a-{n:012d}", timestamp=timestamp)
    return statement


@pytest.fixture
async def lrs():
    fake = FakeLrs(max_limit=50, clock=dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC))
    async with fake.running():
        yield fake


async def test_statements_stored_long_after_their_timestamp_are_a_warning(make_hub, workdir, lrs, capsys):
    lrs.ralph_quirks = True
    lrs.add([download(1, "2026-10-05T09:50:00Z"), download(2, "2026-10-05T11:59:00Z"),
             download(3, "2026-10-05T20:00:00Z")])  # stored at 12:00: 2 h 10 late, on time, 8 h ahead
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs, cursor_field="timestamp"))
    summary = await hub.pull("lrs")
    assert summary.ok and summary.appended == 3
    late, ahead = summary.warnings
    assert late.startswith("1 statement(s) reached the LRS more than `overlap` (1h00) after their timestamp "
                           "(up to 2h10, e.g. b1a1e2f0-5555-4c1e-9d2a-000000000001)")
    assert "raise `overlap` above the longest delay" in late
    assert ahead.startswith("1 statement(s) are stamped later than the LRS stored them (up to 7h59")
    details = (await hub.check_connectors())["lrs"]["details"]
    assert details["cursor_warnings"] == {"late_statements": late, "statements_ahead": ahead}
    assert "the cursor may miss statements" in capsys.readouterr().err
    again = await hub.pull("lrs")  # the same statements read again by the overlap: no new warning
    assert again.warnings == []


async def test_with_stored_cursor_the_same_delays_are_no_concern(make_hub, workdir, lrs):
    lrs.add([download(1, "2026-10-05T09:50:00Z"), download(3, "2026-10-05T20:00:00Z")])
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs))
    summary = await hub.pull("lrs")
    assert summary.appended == 2 and summary.warnings == []


async def test_a_statement_older_than_the_cursor_returned_by_the_lrs_is_read_and_reported(make_hub, workdir, lrs):
    """cursor_field says timestamp but this LRS filters `since` on stored, as the specification says: a
    statement posted now about 08:00 comes back although older than the cursor; it used to be dropped."""
    lrs.add([download(1, "2026-10-05T11:00:00Z"), download(2, "2026-10-05T11:30:00Z")])
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs, cursor_field="timestamp"))
    assert (await hub.pull("lrs")).appended == 2
    lrs.add([download(3, "2026-10-05T08:00:00Z")])
    summary = await hub.pull("lrs")
    assert summary.appended == 1  # not lost
    assert any(w.startswith("the LRS returned 1 statement(s) older than the cursor asked with `since` "
                            "(e.g. b1a1e2f0-5555-4c1e-9d2a-000000000003, 2h30 before): its `since` does not "
                            "filter on timestamp; it filters on stored: set cursor_field: stored") for w in summary.warnings), \
        summary.warnings
    assert {r["source_id"] for r in await events(hub, "lrs")} >= {download(3, "")["id"]}

"""Issue 10's pairing report against a real Ralph 5.1: `since` filters on `timestamp`, the default
1 h overlap re-reads the morning's openings, and each must still be consumed only once."""

from __future__ import annotations

import datetime as dt

from tests.connectors.xapi.test_ralph import by_type, post, pull_config
from tests.fakes import xapi_statements as S


async def test_pairing_survives_the_overlap_and_a_restart_against_ralph(ralph, make_hub, workdir):
    (workdir / "secrets" / "ralph-user").write_text(ralph.username)
    (workdir / "secrets" / "ralph-password").write_text(ralph.password)
    config = pull_config(ralph)
    first, second = S.overlap_scenario()
    await post(ralph, first)
    hub = await make_hub(config)
    summary = await hub.pull("ralph")
    assert summary.ok and summary.appended == 2, summary
    await post(ralph, second)
    await hub.stop()
    hub = await make_hub(config)  # a restart: the pairing state is in the cursor only
    summary = await hub.pull("ralph")
    assert summary.ok and summary.appended == 2, summary
    events = await by_type(hub, "ralph")
    spans = {kind: sorted((dt.datetime.fromisoformat(r["data"][a]), dt.datetime.fromisoformat(r["data"][b]),
                           r["data"]["duration_seconds"]) for r in events[kind])
             for kind, a, b in (("lms.virtual_class_attended", "joined_at", "left_at"), ("lms.session", "start", "end"))}
    assert [s for *_, s in spans["lms.virtual_class_attended"]] == [3600, 3600]
    assert [s for *_, s in spans["lms.session"]] == [2700, 1200]
    for rows in spans.values():
        assert all(later[0] >= earlier[1] for earlier, later in zip(rows, rows[1:]))  # no overlap

"""Nothing vanishes: statements that give no event are counted by reason in the sync summary, its
JSON, the metrics and `connectors list`, and the unknown verbs are listed for a verb map."""

from __future__ import annotations

import copy
import json

import pytest

from hub.errors import ConfigError
from tests.connectors.xapi.test_hub import lrs_config, secrets
from tests.fakes import xapi_statements as S
from tests.fakes.xapi_lrs import FakeLrs
from tests.test_cli import parcours
from tests import test_metrics
from tests.test_metrics import value

scrape = test_metrics.scrape  # the fixture reading /metrics
EXPERIENCED = "http://adlnet.gov/expapi/verbs/experienced"
VIEWED = "http://id.tincanapi.com/verb/viewed"


def viewed(n: int) -> dict:
    statement = copy.deepcopy(S.SPEC_EXPERIENCED)
    statement.update(id=f"a1a1e2f0-4444-4c1e-9d2a-{n:012d}", verb={"id": VIEWED}, timestamp=f"2026-10-05T09:0{n}:00Z")
    return statement


EXPERIENCED_TODAY = {**S.SPEC_EXPERIENCED, "timestamp": "2026-10-05T09:00:00Z"}


@pytest.fixture
async def lrs():
    fake = FakeLrs(max_limit=50, ralph_quirks=True)
    async with fake.running():
        yield fake


async def test_skipped_statements_are_counted_by_reason_once_and_listed(make_hub, workdir, lrs, scrape):
    unpaired = S.moodle_visit("logged-out", "a1a1e2f0-4444-4c1e-9d2a-000000000099", "2026-10-05T10:00:00Z")
    lrs.add([EXPERIENCED_TODAY, viewed(1), viewed(2), S.BBB_JOINED, unpaired, S.SPEC_VOIDING, S.VIDEO_TERMINATED,
             S.DOWNLOADED])
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs, cursor_field="timestamp", overlap="48h"))
    summary = await hub.pull("lrs")
    assert summary.ok and summary.appended == 2
    assert summary.skipped == {"opening": 1, "unmapped_verb": 3, "unpaired_close": 1, "voided": 1}
    assert summary.unmapped == {VIEWED: 2, EXPERIENCED: 1}
    again = await hub.pull("lrs")  # the 48 h overlap reads them all again: not counted twice
    assert again.duplicates == 1 and again.skipped == {} and again.unmapped == {}
    (state,) = [s for s in await hub.store.call(hub.store.all_source_states) if s.name == "lrs"]
    assert state.skipped == {"reasons": summary.skipped, "unmapped": summary.unmapped}
    samples = await scrape(hub)
    assert value(samples, "parcours_records_skipped_total", source="lrs", reason="unmapped_verb") == 3
    assert value(samples, "parcours_records_skipped_total", source="lrs", reason="opening") == 1


def test_sync_and_connectors_list_show_what_was_skipped(tmp_path):
    """The command line: `parcours sync` (text and --json) and `parcours connectors list`."""
    import asyncio

    async def serve_and_run():
        lrs = FakeLrs(max_limit=50)
        async with lrs.running():
            lrs.add([S.SPEC_EXPERIENCED, viewed(1), S.DOWNLOADED])
            (tmp_path / "secrets").mkdir()
            (tmp_path / "secrets" / "lrs-user").write_text(lrs.username)
            (tmp_path / "secrets" / "lrs-password").write_text(lrs.password)
            (tmp_path / "hub.yaml").write_text(
                "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}}\n" + lrs_config(lrs))
            sync = await asyncio.to_thread(parcours, "sync", "lrs", "--config", "hub.yaml", cwd=tmp_path)
            listing = await asyncio.to_thread(parcours, "connectors", "list", "--json", "--config", "hub.yaml",
                                              cwd=tmp_path)
            text = await asyncio.to_thread(parcours, "connectors", "list", "--config", "hub.yaml", cwd=tmp_path)
            lrs.add([viewed(2)])
            as_json = await asyncio.to_thread(parcours, "sync", "lrs", "--json", "--config", "hub.yaml", cwd=tmp_path)
        return sync, listing, text, as_json

    sync, listing, text, as_json = asyncio.run(serve_and_run())
    assert sync.returncode == 0, sync.stderr
    assert "1 new, 0 already known, 0 dead-lettered, 2 skipped: unmapped_verb 2 (1 page(s))" in sync.stdout
    assert f"not mapped (2; map them in the connector's configuration):\n    {EXPERIENCED}  ×1\n    {VIEWED}  ×1" in sync.stdout
    (lrs,) = [c for c in json.loads(listing.stdout)["configured"] if c["name"] == "lrs"]
    assert lrs["skipped"] == {"unmapped_verb": 2} and lrs["unmapped"] == {EXPERIENCED: 1, VIEWED: 1}
    assert "skipped (no event): unmapped_verb 2" in text.stdout and f"not mapped: {VIEWED}  ×1" in text.stdout
    pull = json.loads(as_json.stdout)["pull"]
    assert pull["skipped"] == {"unmapped_verb": 1} and pull["unmapped"] == {VIEWED: 1}


async def test_a_verb_map_maps_an_unknown_verb_or_ignores_it(make_hub, workdir, lrs):
    lrs.add([S.SPEC_EXPERIENCED, viewed(1)])
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs, cursor_field="timestamp", verbs=f'{{"{EXPERIENCED}": completed, "{VIEWED}": ignore}}'))
    summary = await hub.pull("lrs")
    assert summary.appended == 1 and summary.skipped == {"ignored_verb": 1} and summary.unmapped == {}


async def test_a_wrong_verb_map_names_the_yaml_path(make_hub, workdir, lrs):
    secrets(workdir, lrs)
    with pytest.raises(ConfigError) as raised:
        await make_hub(lrs_config(lrs, verbs=f'{{"{EXPERIENCED}": seen}}'))
    message = str(raised.value)
    assert f"connectors.lrs.verbs.{EXPERIENCED}" in message or f"connectors.lrs.verbs.`{EXPERIENCED}`" in message, message
    assert "'completed'" in message and "'ignore'" in message

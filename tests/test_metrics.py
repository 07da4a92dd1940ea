"""``GET /metrics`` read from a running app: build info, no ``_created`` series, pulls, sealing,
anchoring, funder exports and documents (docs/operations.md lists every metric)."""

from __future__ import annotations

import datetime as dt
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

import hub as hub_package
from hub.formats import Period
from hub.runtime.server import build_app
from tests.conftest import event
from tests.fakes.tsa import tsa_peer_fixture, tsa_pki_fixture  # noqa: F401  (fixtures)
from tests.test_journeys import demo_config


@pytest.fixture
async def scrape(aiohttp_server_factory):
    """scrape(hub) -> {(sample name, ((label, value), …)): value} of the hub's /metrics."""
    servers = {}

    async def read(hub) -> dict[tuple[str, tuple], float]:
        if id(hub) not in servers:
            servers[id(hub)] = (await aiohttp_server_factory(build_app(hub))).port
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{servers[id(hub)]}/metrics") as r:
                assert r.status == 200
                text = await r.text()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    return read


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_build_info_and_no_created_series(make_hub, scrape):
    hub = await make_hub("")
    await hub.append([event(1)], source=None)
    samples = await scrape(hub)
    assert value(samples, "parcours_build_info", version=hub_package.__version__) == 1
    assert value(samples, "parcours_events_ingested_total", type="lms.progress", source="api") == 1
    assert not [name for name, _ in samples if name.endswith("_created")]


async def test_pull_last_success_is_a_timestamp(make_hub, workdir, scrape):
    hub = await make_hub(demo_config(workdir))
    before = time.time()
    assert (await hub.pull("demo")).ok
    samples = await scrape(hub)
    state = await hub.store.call(hub.store.source_state, "demo")
    assert value(samples, "parcours_pull_last_success_timestamp_seconds", source="demo") == pytest.approx(state.last_success_at)
    assert state.last_success_at >= before
    assert not [name for name, _ in samples if name == "parcours_pull_lag_seconds"]


async def test_sealing_counts_blocks_and_stamps_the_last_run(make_hub, scrape):
    hub = await make_hub("")
    samples = await scrape(hub)
    assert value(samples, "parcours_blocks_sealed_total") == 0
    assert value(samples, "parcours_seal_last_success_timestamp_seconds") == 0
    await hub.append([event(i) for i in range(3)], source=None)
    before = time.time()
    assert len(await hub.seal()) == 1
    assert await hub.seal() == []  # nothing new: a successful run that seals no block
    samples = await scrape(hub)
    assert value(samples, "parcours_blocks_sealed_total") == 1
    assert value(samples, "parcours_seal_last_success_timestamp_seconds") >= before


TSA_HUB = """\
# (a line at column 0 keeps make_hub's dedent from moving the section)
  ledger:
    tsa_url: "{url}"
    tsa_ca: "{ca}"
    tsa_timeout: 5s
"""


async def test_anchors_obtained_and_failed(make_hub, tsa_peer, scrape):
    hub = await make_hub(TSA_HUB.format(url=tsa_peer.url, ca=tsa_peer.pki.ca))
    await hub.append([event(i) for i in range(3)], source=None)
    tsa_peer.mode = "http500"
    await hub.seal()
    samples = await scrape(hub)
    assert value(samples, "parcours_anchors_total", outcome="failed") == 1
    assert value(samples, "parcours_anchor_last_success_timestamp_seconds") == 0
    tsa_peer.mode = "ok"
    before = time.time()
    await hub.seal()  # retries the pending anchor
    samples = await scrape(hub)
    assert value(samples, "parcours_anchors_total", outcome="obtained") == 1
    assert value(samples, "parcours_anchors_total", outcome="failed") == 1
    assert value(samples, "parcours_anchor_last_success_timestamp_seconds") >= before


@pytest.fixture
def export_plugins():
    from tests.conftest import TestPlugin
    from tests.test_exports import Plugin
    from hub.plugins import load_plugins

    return load_plugins(env={}, extra=[("test-plugin", TestPlugin()), ("formats", Plugin())])


async def test_exports_are_counted_from_the_ledger(workdir, export_plugins, scrape):
    from tests.conftest import BASE_HUB, write_config
    from tests.test_exports import EXPORTS
    from hub.runtime.app import Hub

    path = write_config(workdir, BASE_HUB + demo_config(workdir) + EXPORTS)
    writer = Hub.open(path, env={}, plugins=export_plugins)  # `parcours export`: another process
    daemon = Hub.open(path, env={}, plugins=export_plugins)
    try:
        await writer.pull("demo")
        outcome = await writer.export("atlas-hours", Period.parse("2026-10"))
        assert outcome.written
        samples = await scrape(daemon)
        assert value(samples, "parcours_exports_produced_total", export="atlas-hours") == 1
        recorded = await daemon.store.call(daemon.store.get_event, outcome.event_id)
        stamp = value(samples, "parcours_export_last_success_timestamp_seconds", export="atlas-hours")
        assert stamp == dt.datetime.fromisoformat(recorded["received_at"].replace("Z", "+00:00")).timestamp()
        assert (await writer.export("strict", Period.parse("2026-10"), allow_incomplete=True)).written
        samples = await scrape(daemon)  # only what was appended since the last scrape is read: nothing counted twice
        assert value(samples, "parcours_exports_produced_total", export="atlas-hours") == 1
        assert value(samples, "parcours_exports_produced_total", export="strict") == 1
        assert not [key for key in samples if key[0] == "parcours_documents_issued_total"]
    finally:
        await writer.stop()
        await daemon.stop()


async def test_documents_issued_and_refused(make_hub, workdir, scrape):
    from hub.documents.issue import issue_documents
    from hub.documents.services import services_of
    from tests.documents.conftest import TODAY, open_demo_hub
    from tests.test_journeys import DEMO_ACTION

    hub = await open_demo_hub(make_hub, workdir)
    before = time.time()
    run = await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY)
    assert (len(run.issued), len(run.refused)) == (11, 1)  # Théo Garnier's trainer co-signature is missing
    for _ in range(2):  # a second scrape counts nothing again
        samples = await scrape(hub)
        assert value(samples, "parcours_documents_issued_total", type="certificat_realisation") == 11
        assert value(samples, "parcours_documents_refused_total", type="certificat_realisation") == 1
        assert value(samples, "parcours_documents_last_success_timestamp_seconds",
                     type="certificat_realisation") >= before


def test_every_metric_is_documented_and_nothing_else():
    import re
    from pathlib import Path

    from hub.runtime.metrics import Metrics

    suffix = {"counter": "_total", "info": "_info"}
    names = {family.name + suffix.get(family.type, "") for family in Metrics().registry.collect()}
    page = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    table = page.split("## Metrics\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(parcours_[a-z_]+)` \|", table, re.M))
    assert names - documented == set(), "metrics missing from the table of docs/operations.md"
    assert documented - names == set(), "docs/operations.md documents metrics that do not exist"

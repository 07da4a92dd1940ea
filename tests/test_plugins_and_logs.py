import asyncio
import io
import json
import subprocess
import sys

import pytest

from hub import logs
from hub.connector import Connector, EventSink, PullResult, PullSource, Schedule
from hub.errors import ConfigError
from hub.events import EventData
from hub.hookspecs import hookimpl
from hub.plugins import load_plugins
from hub.plugin_runtime import JobSpec
from hub.runtime.scheduler import HubScheduler
from tests.conftest import BASE_HUB, event, wait_for, write_config


def test_builtins_come_through_entry_points():
    host = load_plugins(env={})
    assert {"file_drop", "webhook_out", "ndjson_out"} <= set(host.connector_classes())
    info = {i.name: i for i in host.infos}
    assert info["file_drop"].distribution == "parcours-hub" and "register_connectors" in info["file_drop"].hooks


def test_operators_can_block_and_allow_plugins():
    host = load_plugins(env={"PARCOURS_DISABLED_PLUGINS": "webhook_out"})
    assert "webhook_out" not in host.connector_classes()
    assert {i.name: i.status for i in host.infos}["webhook_out"] == "blocked"
    host = load_plugins(env={"PARCOURS_LOAD_PLUGINS": "ndjson_out"})
    assert set(host.connector_classes()) == {"ndjson_out"}


def test_misspelled_hook_fails_loudly():
    class Typo:
        @hookimpl
        def register_conectors(self):
            return []

    with pytest.raises(ConfigError, match="register_conectors"):
        load_plugins(env={}, extra=[("typo", Typo())])


def test_every_hook_goes_through_pluggy_hook_caller():
    """Tracing sees every registration hook, tryfirst is honoured and hook wrappers apply."""
    class Early:
        @hookimpl(tryfirst=True)
        def register_event_types(self):
            return {"early.seen": EventData}

    class Filter:
        @hookimpl(wrapper=True)
        def register_event_types(self):
            found = yield
            return [{k: v for k, v in types.items() if k != "late.dropped"} for types in found]

    class Late:
        @hookimpl(trylast=True)
        def register_event_types(self):
            return {"late.kept": EventData, "late.dropped": EventData}

    host = load_plugins(env={}, extra=[("late", Late()), ("filter", Filter()), ("early", Early())])
    called: list[tuple[str, list[str]]] = []
    host.pm.add_hookcall_monitoring(lambda name, impls, kwargs: called.append((name, [i.plugin_name for i in impls])),
                                    lambda *args: None)
    order = [name for name, _ in host._call_each("register_event_types")]
    assert order[0] == "early" and order[-1] == "late"
    types = host.event_types()
    assert "early.seen" in types and "late.kept" in types and "late.dropped" not in types
    assert all("filter" in plugins for name, plugins in called if name == "register_event_types")
    host.connector_classes()
    host.proof_rules()
    host.jobs(config=None)
    assert {"register_event_types", "register_connectors", "register_jobs"} <= {n for n, _ in called}


def test_duplicate_kind_and_bad_classes_name_the_plugin():
    class Clash(Connector, EventSink):
        """Clash."""
        kind = "ndjson_out"

    class P:
        @hookimpl
        def register_connectors(self):
            return [Clash]

    with pytest.raises(ConfigError, match="connector kind 'ndjson_out' is already provided"):
        load_plugins(env={}, extra=[("clash", P())]).connector_classes()

    class NoCaps(Connector):
        kind = "nocaps"

    class Q:
        @hookimpl
        def register_connectors(self):
            return [NoCaps]

    with pytest.raises(ConfigError, match="offers no capability"):
        load_plugins(env={}, extra=[("q", Q())]).connector_classes()


def test_plugin_event_types_are_accepted():
    class Badge(EventData):
        badge: str

    class P:
        @hookimpl
        def register_event_types(self):
            return {"gamification.badge_earned": Badge}

    types = load_plugins(env={}, extra=[("badges", P())]).event_types()
    assert "gamification.badge_earned" in types and "lms.session" in types


def test_secrets_never_reach_the_logs():
    out = io.StringIO()
    logs.configure("debug", "json", stream=out)
    logs.register_secret("hunter2-super-secret")
    log = logs.get_logger("t")
    log.info("calling peer", url="https://x.example/?token=hunter2-super-secret", authorization="Bearer abc",
             nested={"password": "p4ss", "fine": "visible"})
    line = json.loads(out.getvalue())
    text = out.getvalue()
    assert "hunter2-super-secret" not in text and "p4ss" not in text and "Bearer abc" not in text
    assert line["nested"]["fine"] == "visible" and line["authorization"] == logs.REDACTED


async def crm_hub(make_hub, url: str):
    """A hub whose events posted to the API go to a webhook_out sink ``crm`` at ``url``."""
    return await make_hub(f"""
connectors:
  crm: {{kind: webhook_out, url: "{url}", secret: "${{file:secrets/hook}}"}}
routes:
  - {{name: r, from: api, to: crm}}
""")


async def test_configured_secrets_are_redacted_in_hub_logs(make_hub, sink_peer, capsys):
    hub = await crm_hub(make_hub, f"{sink_peer.url}?key=hook-secret-value-42")
    sink_peer.statuses = [500]
    await hub.append([event(1)], source=None)
    await hub.dispatcher.deliver_due("crm")
    err = capsys.readouterr().err
    assert "delivery failed" in err and "hook-secret-value-42" not in err


async def test_delivered_line_carries_counts_not_ids(make_hub, sink_peer, capsys):
    hub = await crm_hub(make_hub, sink_peer.url)
    ingested = await hub.append([event(i) for i in range(5)], source=None)
    capsys.readouterr()
    logs.configure("info", "json", stream=sys.stderr)
    await hub.dispatcher.deliver_due("crm")
    lines = [json.loads(l) for l in capsys.readouterr().err.splitlines() if l.startswith("{")]
    (line,) = [l for l in lines if l["event"] == "delivered"]
    assert line["count"] == 5 and "event_ids" not in line
    assert not any(i in json.dumps(lines) for i in ingested.ids)


@pytest.mark.parametrize("level", ["info", "debug"])
def test_scheduler_per_run_lines_are_debug(level):
    import logging

    out = io.StringIO()
    logs.configure(level, "json", stream=out)
    logging.getLogger("apscheduler.executors.default").info('Running job "pull:lms" (trigger: interval)')
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    lines = [json.loads(l) for l in out.getvalue().splitlines()]
    expected = [["debug", 'Running job "pull:lms" (trigger: interval)']] if level == "debug" else []
    assert [[l["level"], l["event"]] for l in lines] == expected + [["warning", "Run time of job was missed"]]


def test_library_warnings_do_not_reach_the_user():
    """pyHanko's trust-list deprecation and cryptography's DSA deprecation (raised when pyHanko
    imports it) are for developers; even with warnings turned on, a command does not print them."""
    code = ("import hub.cli, warnings\n"
            "from click.testing import CliRunner\n"
            "CliRunner().invoke(hub.cli.main, ['config-schema', '-o', '/dev/null'])\n"
            "import pyhanko.sign.signers\n"
            "from pyhanko_certvalidator import ValidationContext\n"
            "ValidationContext(allow_fetching=False)\n"
            "warnings.warn('ours still shows')\n")
    run = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Deprecat" not in run.stderr and "DSA" not in run.stderr, run.stderr
    assert "ours still shows" in run.stderr


def test_package_metadata_licence_is_an_spdx_string():
    """A TOML-table licence makes setuptools print a screen of deprecation at every install."""
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "AGPL-3.0-or-later"


class Counter(Connector, PullSource):
    """A pull source that counts its pulls and takes its time (to catch overlaps)."""

    kind = "test_counter"
    running = 0
    overlaps = 0
    pulls = 0

    async def pull(self, cursor):
        type(self).running += 1
        type(self).overlaps = max(type(self).overlaps, type(self).running)
        await asyncio.sleep(0.3)
        type(self).pulls += 1
        type(self).running -= 1
        n = (cursor or 0) + 1
        return PullResult([event(n)], cursor=n)


async def test_scheduler_runs_pulls_without_overlap(workdir):
    from hub.runtime.app import Hub

    class P:
        @hookimpl
        def register_connectors(self):
            return [Counter]

        @hookimpl
        def register_jobs(self, config):
            async def tick(runtime):
                ticks.append(runtime.timezone)
            return [JobSpec("tick", Schedule(every="1s"), tick)]

    ticks: list[int] = []
    path = write_config(workdir, BASE_HUB + "connectors:\n  counter: {kind: test_counter, schedule: {every: 100ms}}\n")
    with pytest.raises(ConfigError, match="at least 1s"):
        Hub.open(path, env={}, plugins=load_plugins(env={}, extra=[("p", P())]))
    path = write_config(workdir, BASE_HUB + "connectors:\n  counter: {kind: test_counter, schedule: {every: 1s}}\n")
    hub = Hub.open(path, env={}, plugins=load_plugins(env={}, extra=[("p", P())]))
    await hub.start()
    scheduler = HubScheduler(hub.scheduled_jobs(), hub.store, timezone=hub.config.timezone, log=hub.log)
    await scheduler.start()
    try:
        assert scheduler.is_leader
        assert await wait_for(lambda: Counter.pulls >= 2, timeout=6)
        assert ticks
    finally:
        await scheduler.stop()
        await hub.stop()
    assert Counter.overlaps == 1
    # a second scheduler on the same store does not run jobs while the first holds the lease
    hub2 = Hub.open(path, env={}, plugins=load_plugins(env={}, extra=[("p", P())]))
    other = HubScheduler(hub2.scheduled_jobs(), hub2.store, timezone=hub2.config.timezone, log=hub2.log)
    await hub2.store.call(hub2.store.acquire_lease, "scheduler", "elsewhere:1", ttl=30, now=__import__("time").time())
    await other._renew()
    assert not other.is_leader
    await hub2.stop()

"""The funder-export framework: versions, manifest, ledger record, incompleteness, schedule dedupe."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json

import pytest

from hub.formats import ExportResult, FunderFormat, FunderFormatConfig, MissingField, Period
from hub.hookspecs import hookimpl
from hub.plugins import load_plugins
from tests.conftest import BASE_HUB, write_config
from tests.test_journeys import demo_config


class HoursConfig(FunderFormatConfig):
    require_email: bool = False


class HoursFormat(FunderFormat):
    """Test format: one CSV line per enrolment with its realised hours."""

    kind = "test_hours"
    Config = HoursConfig

    def export(self, request):
        result = ExportResult()
        for j in request.journeys:
            if self.config.require_email and not j.learner_email:
                result.missing.append(MissingField(j.learner_name or j.learner_id, "email", "no e-mail address"))
        if result.missing and not request.allow_incomplete:
            return result
        path = request.out_dir / f"hours-{request.period.label}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter=";")
            writer.writerow(["apprenant", "action", "heures"])
            for j in sorted(request.journeys, key=lambda j: j.learner_name or ""):
                writer.writerow([j.learner_name, j.action_id, str(j.realised_hours).replace(".", ",")])
        result.files.append(path)
        return result


class Plugin:
    @hookimpl
    def register_funder_formats(self):
        return [HoursFormat]


@pytest.fixture
def plugins():
    from tests.conftest import TestPlugin

    return load_plugins(env={}, extra=[("test-plugin", TestPlugin()), ("formats", Plugin())])


EXPORTS = """
exports:
  atlas-hours: {kind: test_hours, funders: [opco-atlas]}
  strict: {kind: test_hours, require_email: true}
"""


async def test_export_versions_manifest_and_ledger(make_hub, workdir):
    hub = await make_hub(demo_config(workdir) + EXPORTS)
    await hub.pull("demo")
    first = await hub.export("atlas-hours", Period.parse("2026-10"))
    assert first.written and first.version == 1 and first.files == ["hours-2026-10.csv", "manifest.json"]
    rows = list(csv.reader((first.folder / "hours-2026-10.csv").open(encoding="utf-8"), delimiter=";"))
    assert len(rows) == 7 and rows[1][:3] == ["Camille Dubois", "ACT-2026-REACT-01", "64,43"]  # six Atlas learners
    manifest = json.loads((first.folder / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["period"] == {"label": "2026-10", "start": "2026-10-01", "end": "2026-10-31"}
    assert manifest["files"][0]["sha256"] == hashlib.sha256((first.folder / "hours-2026-10.csv").read_bytes()).hexdigest()
    issued = await hub.store.call(hub.store.get_event, first.event_id)
    assert issued["type"] == "document.issued" and issued["data"]["document"] == "atlas-hours/2026-10/v1"
    assert issued["data"]["sha256"] == hashlib.sha256((first.folder / "manifest.json").read_bytes()).hexdigest()
    second = await hub.export("atlas-hours", Period.parse("2026-10"), force=True)
    assert second.version == 2 and first.folder.exists()  # never overwritten
    assert (await hub.store.call(hub.store.get_event, second.event_id))["supersedes"] == first.event_id


async def test_a_version_in_another_folder_is_recorded_as_its_own_document(make_hub, workdir):
    """`--out` starts its own v1: it must get its own ledger event, not the default folder's v1's."""
    hub = await make_hub(demo_config(workdir) + EXPORTS)
    await hub.pull("demo")
    first = await hub.export("atlas-hours", Period.parse("2026-10"))
    elsewhere = await hub.export("atlas-hours", Period.parse("2026-10"), out_dir=workdir / "elsewhere", force=True)
    assert elsewhere.version == 1 and elsewhere.event_id != first.event_id
    issued = await hub.store.call(hub.store.get_event, elsewhere.event_id)
    assert issued["data"]["sha256"] == hashlib.sha256((elsewhere.folder / "manifest.json").read_bytes()).hexdigest()


async def test_nothing_new_and_empty_periods_write_nothing_unless_forced(make_hub, workdir):
    hub = await make_hub(demo_config(workdir) + EXPORTS)
    await hub.pull("demo")
    first = await hub.export("atlas-hours", Period.parse("2026-10"))
    count = await hub.store.call(hub.store.count_events)
    again = await hub.export("atlas-hours", Period.parse("2026-10"))
    assert (again.status, again.written, again.version, again.event_id) == ("unchanged", False, 1, first.event_id)
    assert await hub.store.call(hub.store.count_events) == count
    assert [p.name for p in (workdir / "var/exports/atlas-hours/2026-10").iterdir()] == ["v1"]
    # new evidence that changes the files: a new version
    await hub.append([{"type": "funding.approved", "occurred_at": "2026-10-20T10:00:00+02:00", "source_id": "x-pec",
                       "learner": {"ref": "apprenant-07"}, "action": "ACT-2026-REACT-01",
                       "data": {"funder": "opco-atlas", "funder_kind": "opco"}}], source="demo")
    changed = await hub.export("atlas-hours", Period.parse("2026-10"))
    assert changed.status == "written" and changed.version == 2
    # a period without any enrolment of the export: nothing on disk, nothing in the ledger
    count = await hub.store.call(hub.store.count_events)
    empty = await hub.export("atlas-hours", Period.parse("2027-01"))
    assert (empty.status, empty.written, empty.folder) == ("empty", False, None)
    assert not (workdir / "var/exports/atlas-hours/2027-01").exists()
    assert await hub.store.call(hub.store.count_events) == count
    forced = await hub.export("atlas-hours", Period.parse("2027-01"), force=True)
    assert forced.written and len(list(csv.reader((forced.folder / "hours-2027-01.csv").open()))) == 1


async def test_dry_run_says_what_would_be_written_and_leaves_nothing(make_hub, workdir):
    hub = await make_hub(demo_config(workdir) + EXPORTS)
    await hub.pull("demo")
    count = await hub.store.call(hub.store.count_events)
    dry = await hub.export("atlas-hours", Period.parse("2026-10"), dry_run=True)
    assert (dry.status, dry.dry_run, dry.written, dry.version, dry.folder) == ("written", True, False, 1, None)
    assert dry.files == ["hours-2026-10.csv"] and dry.sizes["hours-2026-10.csv"] > 100
    assert not (workdir / "var/exports").exists()
    assert await hub.store.call(hub.store.count_events) == count
    real = await hub.export("atlas-hours", Period.parse("2026-10"))
    assert real.version == 1 and real.sizes == dry.sizes
    assert (await hub.export("atlas-hours", Period.parse("2026-10"), dry_run=True)).status == "unchanged"
    forced = await hub.export("atlas-hours", Period.parse("2026-10"), dry_run=True, force=True)
    assert forced.version == 2 and not (real.folder.parent / "v2").exists()
    assert await hub.store.call(hub.store.count_events) == count + 1  # the real run's record only


async def test_missing_fields_write_nothing_unless_allowed(make_hub, workdir):
    hub = await make_hub(demo_config(workdir) + EXPORTS)
    await hub.append([{
        "type": "enrolment.started", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": "x1",
        "learner": {"ref": "anon-1", "name": "Sans Courriel"}, "action": "ACT-2026-REACT-01", "data": {}}], source=None)
    refused = await hub.export("strict", Period.parse("2026-10"))
    assert not refused.written and [m.learner for m in refused.missing] == ["Sans Courriel"]
    assert not (workdir / "var" / "exports" / "strict" / "2026-10" / "v1").exists()
    forced = await hub.export("strict", Period.parse("2026-10"), allow_incomplete=True)
    assert forced.written and "missing" in forced.notes[-1]
    manifest = json.loads((forced.folder / "manifest.json").read_text())
    assert manifest["incomplete"] == [{"learner": "Sans Courriel", "field": "email", "message": "no e-mail address"}]


async def test_scheduled_export_runs_once_per_period(make_hub, workdir):

    hub = await make_hub(demo_config(workdir) + EXPORTS)
    await hub.append([{"type": "funding.approved", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": "x1",
                       "learner": {"ref": "anon-1"}, "action": "UNSCHEDULED", "data": {"funder": "opco-atlas"}}],
                     source=None)  # an action without a schedule is in every period
    await hub.exporter.scheduled("atlas-hours")
    await hub.exporter.scheduled("atlas-hours")  # another tick, or another daemon: no second version
    folders = list((workdir / "var" / "exports" / "atlas-hours").glob("*/v*"))
    assert len(folders) == 1
    last_month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    assert folders[0].parent.name == f"{last_month.year}-{last_month.month:02d}"


async def test_a_scheduled_empty_period_writes_nothing_and_is_tried_again(make_hub, workdir):
    hub = await make_hub(demo_config(workdir) + EXPORTS)  # the demo's October: last month is empty
    outcome = await hub.exporter.scheduled("atlas-hours")
    assert outcome.status == "empty" and not outcome.failed
    assert not (workdir / "var" / "exports").exists()
    assert (await hub.exporter.scheduled("atlas-hours")).status == "empty"  # the claim was given back


SCHEDULED = """
exports:
  atlas-hours: {kind: test_hours, funders: [opco-atlas], schedule: {cron: "0 6 1 * *"}, period: "2026-10"}
  strict: {kind: test_hours, require_email: true, schedule: {cron: "0 6 1 * *"}, period: 2026-10}
  by-hand: {kind: test_hours}
"""


async def test_run_once_produces_each_scheduled_period_once(make_hub, workdir):
    """`run --once` runs scheduled exports like the daemon; a run that writes nothing can run again."""
    hub = await make_hub(demo_config(workdir).replace("read_only: true", "read_only: true, schedule: {every: 1m}")
                         + SCHEDULED)
    await hub.append([{
        "type": "enrolment.started", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": "x1",
        "learner": {"ref": "anon-1", "name": "Sans Courriel"}, "action": "ACT-2026-REACT-01", "data": {}}], source=None)
    first = await hub.run_once()
    runs = {e.name: e for e in first.exports}
    assert sorted(runs) == ["atlas-hours", "strict"], "exports without a schedule are run by hand only"
    assert runs["atlas-hours"].period == "2026-10" and runs["atlas-hours"].outcome.version == 1
    assert [m.field for m in runs["strict"].outcome.missing] == ["email"] and first.failed
    second = await hub.run_once()
    runs = {e.name: e for e in second.exports}
    assert runs["atlas-hours"].outcome is None and not runs["atlas-hours"].failed  # already produced
    assert runs["strict"].outcome is not None and runs["strict"].failed, "nothing was written: it is tried again"
    assert len(list((workdir / "var" / "exports" / "atlas-hours" / "2026-10").glob("v*"))) == 1


def test_pinned_period_is_validated(workdir, plugins):
    from hub.runtime.app import Hub
    from hub.errors import ConfigError

    path = write_config(workdir, BASE_HUB + "exports:\n  x: {kind: test_hours, period: 2026-13}\n")
    with pytest.raises(ConfigError, match=r"hub.yaml:7: exports.x.period: .*invalid month"):
        Hub.open(path, env={}, plugins=plugins)


def test_periods():
    assert Period.parse("2026-02").end == dt.date(2026, 2, 28)
    assert Period.parse("2026").start == dt.date(2026, 1, 1)
    assert Period.parse("2026-10-05..2026-11-20").end == dt.date(2026, 11, 20)
    assert Period.previous("month", dt.date(2026, 1, 15)).label == "2025-12"
    assert Period.previous("year", dt.date(2026, 1, 15)).label == "2025"
    for bad in ("2026-13", "26-10", "2026-11-20..2026-10-05"):
        with pytest.raises(ValueError):
            Period.parse(bad)


def test_unknown_export_kind_is_a_config_error(workdir, plugins):
    from hub.runtime.app import Hub
    from hub.errors import ConfigError

    path = write_config(workdir, BASE_HUB + "exports:\n  x: {kind: opcoo}\n")
    with pytest.raises(ConfigError, match=r"hub.yaml:7: exports.x.kind: unknown funder format 'opcoo'"):
        Hub.open(path, env={}, plugins=plugins)


async def test_an_export_interrupted_by_a_crash_is_run_again_not_twice(make_hub, workdir):
    """kill -9 in the middle of a scheduled export leaves an unfinished claim: the next run takes it
    over when its holder is dead; a finished or live one is left alone."""
    import socket

    hub = await make_hub(demo_config(workdir).replace("read_only: true", "read_only: true, schedule: {every: 1m}")
                         + SCHEDULED)
    store, dead = hub.store, f"{socket.gethostname()}:99999999"
    await store.call(store.claim_job_run, "export:atlas-hours:2026-10", owner=dead, at=1.0)
    await store.call(store.claim_job_run, "export:strict:2026-10", owner="other-host:1", at=1.0)  # alive for all we know
    runs = {e.name: e for e in (await hub.run_once()).exports}
    assert runs["atlas-hours"].outcome.written and runs["strict"].outcome is None
    claim = await store.call(store.job_run, "export:atlas-hours:2026-10")
    assert claim["owner"] == hub.exporter.owner and claim["finished_at"] is not None
    runs = {e.name: e for e in (await hub.run_once()).exports}
    assert runs["atlas-hours"].outcome is None  # finished: never again
    assert len(list((workdir / "var" / "exports" / "atlas-hours" / "2026-10").glob("v*"))) == 1


async def test_an_export_is_staged_beside_its_versions_and_a_dead_runs_scratch_is_removed(make_hub, workdir, monkeypatch):
    """Keeping a version renames folders on one file system (no copy through the system's temporary
    directory, which may be small or another disk); what a killed run left there is cleaned up, what
    a live run is writing is not."""
    hub = await make_hub(demo_config(workdir) + EXPORTS)
    await hub.pull("demo")
    base = workdir / "var/exports/atlas-hours"
    base.mkdir(parents=True)
    dead = base / ".staging-elsewhere-host-gone:1:ab~x1"  # another host: its run may still be going
    dead.mkdir()
    mine_before = base / ".staging-{}:999999999:cd~x2".format(__import__("socket").gethostname())
    mine_before.mkdir()  # this host, a PID that no longer runs
    staged_in = []
    export = HoursFormat.export

    def spy(self, request):
        staged_in.append(request.out_dir)
        return export(self, request)

    monkeypatch.setattr(HoursFormat, "export", spy)
    done = await hub.export("atlas-hours", Period.parse("2026-10"))
    assert done.written and staged_in[0].parent.parent == base and staged_in[0].parent.name.startswith(".staging-")
    assert not staged_in[0].parent.exists()  # discarded once kept
    assert dead.exists() and not mine_before.exists()
    assert sorted(p.name for p in base.iterdir()) == [".staging-elsewhere-host-gone:1:ab~x1", "2026-10"]

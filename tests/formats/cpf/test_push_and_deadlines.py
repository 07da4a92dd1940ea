"""The Wedof push (against a local fake of its API) and the scheduled deadline check."""

from __future__ import annotations

import json

import pytest

from funder_formats.cpf import register_jobs
from hub.formats import Period
from tests.formats.cpf import scenario
from tests.formats.cpf.conftest import MILESTONES, cpf_config, set_now
from tests.formats.cpf.test_export import ledger, rows
from tests.formats.cpf.wedof_fake import WedofFake

KEY = "wedof-test-key-0123456789"


@pytest.fixture
async def wedof(aiohttp_server_factory, workdir):
    fake = WedofFake(KEY)
    server = await aiohttp_server_factory(fake.app())
    fake.port = server.port
    (workdir / "secrets" / "wedof").write_text(KEY)
    return fake


def push_export(port: int, check: str = "") -> str:
    return f"""
  cpf-push:
    kind: cpf
    {check}
    wedof:
      api_key: "${{file:secrets/wedof}}"
      base_url: "http://127.0.0.1:{port}/api"
      reason_codes: {{completed: "R0", learner: "R1", of_postponed: "R2", of_cancelled: "R3", force_majeure: "R5"}}
      attempts: 2
      timeout: 5s
""" + MILESTONES


async def test_export_pushes_each_declaration_once(make_hub, workdir, monkeypatch, wedof):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    hub = await make_hub(cpf_config(workdir, extra_exports=push_export(wedof.port)))
    await hub.pull("demo")
    out = await hub.export("cpf-push", Period.parse("2026-10"))
    assert out.written, out.missing
    assert sorted((d, s) for d, s, _ in wedof.calls) == [
        ("PEC-CPF-2609", "inTraining"), ("PEC-CPF-2609", "serviceDone"),
        ("PEC-CPF-2610", "inTraining"), ("PEC-CPF-2610", "serviceDone")]
    bodies = {(d, s): b for d, s, b in wedof.calls}
    assert bodies[("PEC-CPF-2609", "inTraining")] == {"date": "2026-10-05"}
    assert bodies[("PEC-CPF-2609", "serviceDone")] == {
        "date": "2026-10-16", "code": "R0", "absenceDuration": 0.0, "forceMajeureAbsence": False, "trainingDuration": 70.0}
    assert {r["État"] for r in rows(out.folder / "cpf-edof-2026-10.csv")} == {"Déclarée"}
    details = json.loads((out.folder / "cpf-edof-2026-10-details.json").read_text())
    assert [entry["ok"] for entry in details["wedof"]] == [True] * 4
    declared = await ledger(hub, "admin.action")
    assert [(e["data"]["command"], e["data"]["target"]) for e in declared] == [
        ("cpf.declare_entry", "PEC-CPF-2609"), ("cpf.declare_exit", "PEC-CPF-2609"),
        ("cpf.declare_entry", "PEC-CPF-2610"), ("cpf.declare_exit", "PEC-CPF-2610")]
    # the entries were pushed after their deadline (8 Oct): recorded as missed; the exits were on time
    assert [e["source_id"] for e in await ledger(hub, "compliance.deadline_missed")] == [
        "cpf-deadline:PEC-CPF-2609:entry:2026-10-05:missed", "cpf-deadline:PEC-CPF-2610:entry:2026-10-05:missed"]
    again = await hub.export("cpf-push", Period.parse("2026-10"))
    assert again.written and len(wedof.calls) == 4  # already declared: not pushed twice
    assert KEY not in (out.folder / "cpf-edof-2026-10-details.json").read_text()


async def test_a_refused_push_is_a_note_and_is_retried_next_time(make_hub, workdir, monkeypatch, wedof):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    hub = await make_hub(cpf_config(workdir, extra_exports=push_export(wedof.port)))
    await hub.pull("demo")
    wedof.fail["PEC-CPF-2610"] = 503
    out = await hub.export("cpf-push", Period.parse("2026-10"))
    assert out.written
    assert [c[1] for c in wedof.calls if c[0] == "PEC-CPF-2610"] == ["inTraining"] * 2 + ["serviceDone"] * 2  # 2 attempts
    assert any("Wedof push failed for dossier PEC-CPF-2610" in n and "HTTP 503" in n for n in out.notes)
    wedof.fail["PEC-CPF-2610"] = 422
    wedof.calls.clear()
    out = await hub.export("cpf-push", Period.parse("2026-10"))
    assert [c[1] for c in wedof.calls] == ["inTraining", "serviceDone"]  # a 4xx is not retried
    assert wedof.reads == ["PEC-CPF-2610"] * 2  # and the folder, still accepted, does not explain it
    assert sum("Wedof push failed for dossier PEC-CPF-2610" in n and "HTTP 422" in n for n in out.notes) == 2
    del wedof.fail["PEC-CPF-2610"]
    wedof.calls.clear()
    await hub.export("cpf-push", Period.parse("2026-10"))
    assert sorted(c[1] for c in wedof.calls) == ["inTraining", "serviceDone"]


async def test_a_declaration_wedof_took_before_a_crash_is_recorded_once_not_made_twice(make_hub, workdir, monkeypatch, wedof):
    """A run pushed PEC-CPF-2609's entry, then died before the hub recorded it: the next run pushes it
    again, Wedof refuses a folder already in training, the folder's state shows it made, and the hub
    records it (once) instead of reporting a failure forever."""
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    hub = await make_hub(cpf_config(workdir, extra_exports=push_export(wedof.port)))
    await hub.pull("demo")
    wedof.states["PEC-CPF-2609"] = "inTraining"  # what the crashed run left in Wedof
    out = await hub.export("cpf-push", Period.parse("2026-10"))
    assert not [n for n in out.notes if "push failed" in n], out.notes
    assert wedof.reads == ["PEC-CPF-2609"]  # the refused entry only
    details = json.loads((out.folder / "cpf-edof-2026-10-details.json").read_text())
    entry = next(e for e in details["wedof"] if e["dossier"] == "PEC-CPF-2609" and e["declaration"] == "entree")
    assert entry["ok"] and entry["http_status"] == 400 and "already made: the folder is inTraining" in entry["message"]
    assert wedof.states == {"PEC-CPF-2609": "serviceDoneDeclared", "PEC-CPF-2610": "serviceDoneDeclared"}
    declared = [(e["data"]["command"], e["data"]["target"]) for e in await ledger(hub, "admin.action")]
    assert declared.count(("cpf.declare_entry", "PEC-CPF-2609")) == 1 and len(declared) == 4


async def test_partial_exit_reason_codes(make_hub, workdir, monkeypatch, wedof):
    set_now(monkeypatch, "2027-01-20T09:00:00+01:00")
    hub = await make_hub(cpf_config(workdir, extra_exports=push_export(wedof.port), actions=scenario.ACTIONS))
    await hub.pull("demo")
    await hub.append(scenario.events(), source=None)
    await hub.export("cpf-push", Period.parse("2027-01"))
    done = {d: b for d, s, b in wedof.calls if s == "serviceDone"}
    assert done["CPF-7004"] == {"date": "2027-01-06", "code": "R5", "absenceDuration": 21.0,
                                "forceMajeureAbsence": True, "trainingDuration": 70.0}
    assert done["CPF-7003"]["code"] == "R1" and done["CPF-7001"]["code"] == "R0"


async def test_the_deadline_check_job(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    check = "\n  cpf-watch:\n    kind: cpf\n    deadline_check: {cron: \"0 8 * * 1-5\"}\n" + MILESTONES
    hub = await make_hub(cpf_config(workdir, extra_exports=check))
    await hub.pull("demo")
    jobs = register_jobs(hub.config)
    assert [j.name for j in jobs] == ["cpf-deadlines:cpf-watch"]
    assert "cpf-deadlines:cpf-watch" in [j.name for j in hub.plugins.jobs(hub.config)]
    result = await jobs[0].run(hub.runtime)
    assert result == {"declarations": 4, "appended": 6}  # 4 due + 2 missed entries
    assert (await jobs[0].run(hub.runtime))["appended"] == 0  # deterministic source ids: nothing twice
    # an operator records the entry declared by hand on EDOF: no missed event for it after that
    await hub.append([{
        "type": "admin.action", "occurred_at": "2026-10-21T09:00:00+02:00", "source_id": "edof-manual-1",
        "data": {"actor": "claire", "command": "cpf.declare_exit", "target": "PEC-CPF-2609"}}], source=None)
    set_now(monkeypatch, "2026-10-22T10:00:00+00:00")  # the exits (due 21 Oct) are now late
    assert (await jobs[0].run(hub.runtime))["appended"] == 1
    missed = await ledger(hub, "compliance.deadline_missed")
    assert [e["source_id"] for e in missed][-1] == "cpf-deadline:PEC-CPF-2610:exit:2026-10-16:missed"
    set_now(monkeypatch, "2027-01-20T10:00:00+00:00")  # past the look-back window: nothing more
    assert (await jobs[0].run(hub.runtime))["declarations"] == 0

"""The CLI as a user runs it (subprocesses on a temporary working folder)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parcours(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def copy_demo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return tmp_path


def demo_commands() -> list[list[str]]:
    """The ``parcours`` commands of ``./dev demo``, in order: this test runs what the script runs."""
    section = (ROOT / "dev").read_text().split("\n    demo)\n", 1)[1].split(";;", 1)[0]
    commands = []
    for line in section.splitlines():
        if '"$VENV/bin/parcours"' in line:
            args = line.split('"$VENV/bin/parcours"', 1)[1].split("||")[0].split(">")[0]
            commands.append([a for a in shlex.split(args) if a != "$@"])
    assert commands[0][:2] == ["run", "--once"] and len(commands) >= 3, commands
    return commands


def ledger_count(cwd: Path) -> int:
    with sqlite3.connect(cwd / "var/demo/hub.db") as db:
        return db.execute("select count(*) from events").fetchone()[0]


def demo_files(cwd: Path) -> list[str]:
    """The demo's documents and export versions, as paths."""
    return sorted(str(p.relative_to(cwd)) for folder in ("var/demo/documents", "var/demo/exports")
                  for p in (cwd / folder).rglob("*"))


def test_demo_runs_once_and_again_without_duplicates(tmp_path):
    cwd = copy_demo(tmp_path)
    crm = subprocess.Popen([sys.executable, "-m", "tests.fakes.hubspot_fake", "--port", "0", "--print-port",
                            "--seed", str(cwd / "config/demo-data/01-funnel.ndjson")], stdout=subprocess.PIPE, text=True,
                           cwd=ROOT)
    port = crm.stdout.readline().strip()
    text = (cwd / "config/demo.yaml").read_text().replace("http://127.0.0.1:8091", f"http://127.0.0.1:{port}")
    (cwd / "config/demo.yaml").write_text(text)
    run_once, *rest = demo_commands()
    try:
        first = parcours(*run_once, cwd=cwd)
        contacts = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/contacts").read())
        then = [parcours(*command, cwd=cwd) for command in rest]  # keys, certificates, the invoice bundle
        count, files = ledger_count(cwd), demo_files(cwd)
        # the second ./dev demo: nothing new anywhere
        second = parcours(*run_once, "--json", cwd=cwd)
        again = [parcours(*command, cwd=cwd) for command in rest]
    finally:
        crm.terminate()
    # the sync route LMS -> hub -> CRM: every demo learner's contact got the hub's properties
    written = [c for c in contacts if c["properties"].get("parcours_status")]
    assert len(written) == 12 and {c["properties"]["parcours_status"] for c in written} >= {"completed", "abandoned"}
    assert first.returncode == 0, first.stderr
    assert "pull demo-files" in first.stdout and "543 new" in first.stdout
    assert "pull demo-dossiers      10 new" in first.stdout
    total = int(re.search(r"ledger: (\d+) events", first.stdout).group(1))
    assert f"sink archive            {total} delivered" in first.stdout
    lines = (cwd / "var/demo/out/all-events.ndjson").read_text().splitlines()
    assert len({json.loads(l)["id"] for l in lines}) == len(lines) == count  # each event archived once, by now
    atlas = [json.loads(l) for l in (cwd / "var/demo/out/opco-atlas-attendance.ndjson").read_text().splitlines()]
    assert atlas and {e["learner"]["ref"] for e in atlas} == {f"apprenant-0{i}" for i in range(1, 7)}
    # every funder format's export of the demo's period, with its manifest, recorded in the ledger
    exports = {"opco-atlas": "2026-10", "france-travail": "2026-10", "region-centre": "2026-10",
               "cpf-edof": "2026-10", "bpf": "2026"}
    documents = {json.loads(l)["data"]["document"] for l in lines if json.loads(l)["type"] == "document.issued"}
    for name, period in exports.items():
        assert re.search(rf"export {name} +{period} +v1: \d+ file\(s\)", first.stdout), first.stdout
        folder = cwd / "var/demo/exports" / name / period / "v1"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["files"] and all((folder / f["name"]).stat().st_size == f["bytes"] for f in manifest["files"])
        assert f"{name}/{period}/v1" in documents
    statement = (cwd / "var/demo/exports/opco-atlas/2026-10/v1/atlas-etat-presence-2026-10.csv")
    assert {"ATL-2026-00010" + str(i) for i in range(1, 7)} <= set(re.findall(r"ATL-2026-\d+", statement.read_text("utf-8-sig")))
    presence = next((cwd / "var/demo/exports/france-travail/2026-10/v1").glob("ETAT_PRESENCE_7*.csv")).read_text()
    assert [row.split(";")[0] for row in presence.splitlines()[1:]] == ["1234567A", "3456789C", "2345678B"]
    assert "11 issued, 1 refused" in then[-2].stdout, then[-2].stdout  # Théo Garnier: a half-day not co-signed
    assert "version 1 in" in then[-1].stdout and then[-1].returncode == 0, then[-1].stderr
    # a second pass adds nothing: no event, no document, no export version
    summary = json.loads(second.stdout)
    assert summary["pulls"][0]["appended"] == 0
    assert [e["already_produced"] for e in summary["exports"]] == [True] * 5, "each period is produced once"
    assert second.returncode == 0, second.stderr
    assert ledger_count(cwd) == count and demo_files(cwd) == files
    assert "0 issued, 11 unchanged" in again[-2].stdout, again[-2].stdout
    assert "nothing new since version 1" in again[-1].stdout and again[-1].returncode == 0, again[-1].stdout
    # dropout risk: Lucas Bernard flagged once as of 9 October, routed to the demo's risk feed by the next run
    assert "1 new risk flag(s)" in then[0].stdout and "0 new risk flag(s)" in again[0].stdout, then[0].stdout
    (flag,) = [json.loads(l) for l in (cwd / "var/demo/out/risk-flags.ndjson").read_text().splitlines()]
    assert flag["type"] == "risk.flagged" and flag["learner"]["name"] == "Lucas Bernard"
    assert "assiduité de 64.5 %" in flag["data"]["reasons"][0]["text"] and flag["data"]["model"] == "rules"


def test_sync_dlq_list_and_replay(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.ndjson").write_text(
        '{"type": "lms.progress", "occurred_at": "2026-10-05T10:00:00Z", "source_id": "p1", "data": {"percent": "40"}}\n'
        '{"type": "lms.progress", "occurred_at": "2026-10-05T10:00:00Z", "source_id": "p2", "data": {"percent": "400"}}\n'
        "not json at all\n"
    )
    (tmp_path / "hub.yaml").write_text(
        "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}}\n"
        "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0}\n"
        "  out: {kind: ndjson_out, directory: out}\n"
        "routes:\n  - {name: all, from: inbox, to: out}\n"
    )
    run = parcours("sync", "inbox", "--config", "hub.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "1 new, 0 already known, 2 dead-lettered" in run.stdout
    assert (tmp_path / "inbox/processed/a.ndjson").exists()
    listing = parcours("dlq", "list", "--json", "--config", "hub.yaml", cwd=tmp_path)
    letters = json.loads(listing.stdout)
    assert [(l["stage"], l["source"]) for l in letters] == [("map", "inbox"), ("validate", "inbox")]
    assert "a.ndjson:3: invalid JSON" in letters[0]["error"] and "data.percent" in letters[1]["error"]
    text = parcours("dlq", "list", "--config", "hub.yaml", cwd=tmp_path).stdout
    assert "r:1" in text and "r:2" in text and "validate" in text
    # replaying without fixing anything fails again and says why; exit code 1
    replay = parcours("dlq", "replay", "--source", "inbox", "--config", "hub.yaml", cwd=tmp_path)
    assert replay.returncode == 1 and "still failing" in replay.stdout
    usage = parcours("dlq", "replay", "--config", "hub.yaml", cwd=tmp_path)
    assert usage.returncode == 2
    bad_id = parcours("dlq", "replay", "--id", "x7", "--config", "hub.yaml", cwd=tmp_path)
    assert bad_id.returncode == 2 and "invalid dead-letter id" in bad_id.stderr


def test_sync_refuses_a_sink(tmp_path):
    (tmp_path / "hub.yaml").write_text("connectors:\n  out: {kind: ndjson_out, directory: out}\n")
    run = parcours("sync", "out", "--config", "hub.yaml", cwd=tmp_path)
    assert run.returncode == 2 and "not an enabled pull source" in run.stderr


def test_config_schema_and_help(tmp_path):
    schema = json.loads(parcours("config-schema", cwd=tmp_path).stdout)
    assert schema["title"] == "Parcours Hub configuration"
    for command in (["--help"], ["run", "--help"], ["dlq", "replay", "--help"], ["connectors", "list", "--help"]):
        assert parcours(*command, cwd=tmp_path).returncode == 0


def test_connectors_list_reports_health(tmp_path):
    (tmp_path / "hub.yaml").write_text(
        "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}}\n"
        "connectors:\n  inbox: {kind: file_drop, path: does-not-exist}\n  out: {kind: ndjson_out, directory: out}\n"
    )
    run = parcours("connectors", "list", "--json", "--config", "hub.yaml", cwd=tmp_path)
    data = json.loads(run.stdout)
    assert {k["kind"] for k in data["kinds"]} >= {"file_drop", "ndjson_out", "webhook_out"}
    health = {c["name"]: c for c in data["configured"]}
    assert health["inbox"]["ok"] is False and "does not exist" in health["inbox"]["message"]
    assert health["out"]["ok"] is True
    assert run.returncode == 1


def test_port_in_use_is_one_line_and_exit_2(tmp_path):
    import socket

    (tmp_path / "hub.yaml").write_text("hub:\n  name: Test\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = parcours("run", "--config", "hub.yaml", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: port {port} on 127.0.0.1 is already in use (another `parcours run`?): stop that "
                      "process, or choose another port with --port or hub.http.port"], result.stderr


def test_export_dry_run_nothing_new_and_empty_period_exit_codes(tmp_path):
    cwd = copy_demo(tmp_path)
    text = (cwd / "config/demo.yaml").read_text()
    start, end = text.index("  # Everything, appended"), text.index("# Funder exports")
    (cwd / "config/demo.yaml").write_text(text[:start] + "\n" + text[end:])  # the demo's sources, no sink
    for source in ("demo-files", "demo-dossiers"):
        assert parcours("sync", source, "--config", "config/demo.yaml", cwd=cwd).returncode == 0
    count = ledger_count(cwd)
    export = ("export", "opco-atlas", "--period", "2026-10", "--config", "config/demo.yaml")
    dry = parcours(*export, "--dry-run", "--json", cwd=cwd)
    outcome = json.loads(dry.stdout)
    assert dry.returncode == 0 and (outcome["status"], outcome["dry_run"], outcome["version"]) == ("written", True, 1)
    assert outcome["bytes"]["atlas-etat-presence-2026-10.csv"] > 0
    assert not (cwd / "var/demo/exports").exists() and ledger_count(cwd) == count  # nothing on disk, nothing recorded
    first = parcours(*export, cwd=cwd)
    assert first.returncode == 0 and "version 1 in" in first.stdout
    again = parcours(*export, cwd=cwd)
    assert again.returncode == 0 and "nothing new since version 1" in again.stdout
    assert ledger_count(cwd) == count + 1
    assert "version 2 in" in parcours(*export, "--force", cwd=cwd).stdout
    empty = parcours("export", "opco-atlas", "--period", "2027-03", "--config", "config/demo.yaml", cwd=cwd)
    assert empty.returncode == 3 and "empty period" in empty.stdout
    assert not (cwd / "var/demo/exports/opco-atlas/2027-03").exists()


def test_every_command_loads_under_its_own_name_and_a_plain_start_loads_no_runtime():
    from hub.cli import COMMANDS, main

    assert all(main.get_command(None, name).name == name for name in COMMANDS)
    heavy = ("hub.runtime", "aiohttp", "cryptography", "reportlab", "xlsxwriter", "holidays")  # rich comes with structlog
    probe = f"import sys, hub.cli; print(sorted(m for m in sys.modules if m.startswith({heavy!r})))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"

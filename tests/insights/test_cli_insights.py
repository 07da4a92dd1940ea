"""``parcours insights`` as a user runs it on the demo's data: the tables, --json, --csv, and bad
input named (subprocesses on a temporary working folder)."""

from __future__ import annotations

import csv
import json

from tests.test_cli import parcours
from tests.web.conftest import ACTION, demo_config


def setup(tmp_path):
    (tmp_path / "hub.yaml").write_text('hub:\n  data_dir: var\n  store: {url: "sqlite:///var/hub.db"}\n'
                                       + demo_config(tmp_path))
    assert parcours("sync", "demo", "--config", "hub.yaml", cwd=tmp_path).returncode == 0


def test_the_demo_teaches(tmp_path):
    setup(tmp_path)
    run = parcours("insights", "--config", "hub.yaml", "--json", "--csv", "out", "--charts", "charts", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["enrolments"] == 12
    tables = {t["name"]: t["rows"] for t in data["tables"]}
    modules = {r["module"]: r for r in tables["modules"]}
    assert list(modules) == ["mod-js", "mod-react", "mod-state", "mod-api", "mod-tests"]
    assert modules["mod-state"]["abandoned_here"] == 1 and modules["mod-state"]["completion_pct"] == "91.7"
    assert [r["activity"] for r in tables["stops"]] == ["quiz-mod-react"]  # the one learner who left
    funnel = tables["funnel_channels"]
    assert [(r["channel"], r["contacts"], r["registered"], r["completed"]) for r in funnel] == [("site web", 12, 12, 11)]
    total = next(r for r in tables["hours"] if r["modality"] == "total")
    assert total["planned_hours"] == "840.00" and total["realised_pct"] == "86.9"
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(f"{name}.csv" for name in tables)
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(
        [f"modules-{ACTION}.svg", f"stops-{ACTION}.svg", f"activity_time-{ACTION}.svg", "hours.svg",
         "funnel_actions.svg", "funnel_channels.svg"])
    assert len(data["written"]) == 12
    with open(tmp_path / "out" / "hours.csv", encoding="utf-8", newline="") as fh:
        assert [r["modality"] for r in csv.DictReader(fh)] == ["presentiel", "foad_asynchrone", "total"]

    text = parcours("insights", "--config", "hub.yaml", "--action", ACTION, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Completion and dropout by module" in text.stdout and "quiz-mod-react" in text.stdout


def test_bad_input_is_named(tmp_path):
    setup(tmp_path)
    run = parcours("insights", "--config", "hub.yaml", "--action", "ACT-NOPE", "--csv", "out", cwd=tmp_path)
    assert run.returncode == 2 and "ACT-NOPE" in run.stderr and "no such training action" in run.stderr
    run = parcours("insights", "--config", "hub.yaml", "--from", "2026-13-01", cwd=tmp_path)
    assert run.returncode == 2 and "--from '2026-13-01'" in run.stderr
    run = parcours("insights", "--config", "hub.yaml", "--from", "2026-10-02", "--to", "2026-10-01", cwd=tmp_path)
    assert run.returncode == 2 and "ends" in run.stderr
    assert not (tmp_path / "out").exists()

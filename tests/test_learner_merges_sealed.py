"""Merges of learners count in the figures, so `parcours verify` recomputes them from the admin.action
events of the ledger (conflict resolutions, mapping-file merges) and names a merge the ledger does
not record."""

import json
import sqlite3
import subprocess
import sys

from hub.ledger.merges import recorded_aliases
from tests.test_learners import ev, person


def test_replayed_merges_follow_later_merges():
    def action(command, **data):
        return {"type": "admin.action", "source": "hub", "data": {"command": command, **data}}

    events = [
        action("learners resolve", target="conflict 1", details={"learners": ["B", "A"], "resolution": "merged into A"}),
        action("learners resolve", target="conflict 2", details={"learners": ["C", "D"], "resolution": "kept apart"}),
        action("learners mapping", target="map.csv: L-1: merged A into M; L-1: linked id:nir:1; L-2: merged E into F"),
        {"type": "admin.action", "source": "api", "data": {"command": "learners mapping", "target": "merged X into Y"}},
    ]
    assert recorded_aliases(events) == {"B": "M", "A": "M", "E": "F"}


def test_cli_verify_names_a_merge_the_ledger_does_not_record(tmp_path):
    def parcours(*args):
        return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--config", "hub.yaml"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    (tmp_path / "inbox").mkdir()
    lines = [ev(1, "x", person("17", "twin@example.fr")), ev(2, "x", person("18", "twin@example.fr")),
             ev(3, "x", person("19", "lea@example.fr")), ev(4, "x", person("20", "lea.m@example.fr"))]
    (tmp_path / "inbox" / "a.ndjson").write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    config = ("hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}%s}\n"
              "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1h}}\n")
    (tmp_path / "hub.yaml").write_text(config % "")
    assert parcours("run", "--once").returncode == 0
    (conflict,) = json.loads(parcours("learners", "conflicts", "--json").stdout)
    keep = conflict["learners"][0]["id"]
    assert parcours("learners", "resolve", str(conflict["id"]), "--merge-into", keep).returncode == 0
    # the mapping file merges the learners of inbox:19 and inbox:20 (recorded at the next start)
    (tmp_path / "map.csv").write_text("learner,source,value\nLéa,inbox,19\nLéa,inbox,20\n")
    (tmp_path / "hub.yaml").write_text(config % ", learners: {mapping_file: map.csv}")
    assert parcours("run", "--once").returncode == 0
    ok = parcours("verify")
    assert ok.returncode == 0, ok.stderr

    db = sqlite3.connect(tmp_path / "var" / "hub.db")
    aliases = dict(db.execute("SELECT alias, learner_id FROM learner_aliases"))
    assert len(aliases) == 2
    lea = next(a for a in aliases if a not in {l["id"] for l in conflict["learners"]})
    with db:  # someone moves Léa's merged account to the twins' learner, behind the hub's back
        db.execute("UPDATE learner_aliases SET learner_id = ? WHERE alias = ?", (keep, lea))
    bad = parcours("verify")
    assert bad.returncode == 1
    assert f"LEDGER ALTERED: learner {lea} is merged into {keep}, but the ledger records it merged into" in bad.stderr
    with db:  # or merges two learners with no admin decision at all
        db.execute("UPDATE learner_aliases SET learner_id = ? WHERE alias = ?", (aliases[lea], lea))
        db.execute("INSERT INTO learner_aliases (alias, learner_id) VALUES (?, ?)", (aliases[lea], keep))
    bad = parcours("verify")
    assert (f"LEDGER ALTERED: learner {aliases[lea]} is merged into {keep}, but no admin.action event in the ledger "
            "records that merge") in bad.stderr
    db.close()

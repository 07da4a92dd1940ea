"""`parcours audit-link` as an administrator runs it: make a link (printed once), list it without
its token, revoke it; each an admin.action event, and the address then answers 410."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys

from tests.web.conftest import ACTION
from tests.web.test_cli_accounts import admin_actions, setup


def run(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "hub.cli", "audit-link", *args, "--config", "hub.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_a_link_is_made_listed_and_revoked_from_the_command_line(tmp_path):
    setup(tmp_path)
    made = run(tmp_path, "create", "--action", ACTION, "--sample", "4", "--seed", "11", "--expires", "3d",
               "--label", "Auditeur Qualiopi")
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip().splitlines()[-1].strip()
    assert url.startswith("http://127.0.0.1:8080/app/audit/") and len(url.rsplit("/", 1)[1]) >= 43
    token = url.rsplit("/", 1)[1]
    with sqlite3.connect(tmp_path / "var/hub.db") as db:
        population = sorted(r[0] for r in db.execute("select learner_id from journeys where action = ?", (ACTION,)))
        row = db.execute("select id, learners, token_hash from audit_links").fetchone()
    assert json.loads(row[1]) == sorted(random.Random(11).sample(population, 4))
    assert token not in row[2] and token not in made.stderr

    listed = run(tmp_path, "list", "--json")
    assert listed.returncode == 0 and token not in listed.stdout
    (link,) = json.loads(listed.stdout)
    assert link["id"] == row[0] and link["state"] == "active" and link["label"] == "Auditeur Qualiopi"
    assert link["selection"]["seed"] == 11 and len(link["learners"]) == 4

    revoked = run(tmp_path, "revoke", link["id"])
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(run(tmp_path, "list", "--json").stdout)[0]["state"] == "revoked"
    again = run(tmp_path, "revoke", link["id"])
    assert again.returncode == 1 and "revoked already" in again.stderr
    actions = [(a["command"], a["target"]) for a in admin_actions(tmp_path) if a["command"].startswith("audit-link")]
    assert actions == [("audit-link create", link["id"]), ("audit-link revoke", link["id"])]
    assert token not in json.dumps(admin_actions(tmp_path))


def test_bad_input_names_what_is_wrong(tmp_path):
    setup(tmp_path)
    unknown = run(tmp_path, "create", "--action", "ACT-NOPE", "--sample", "2")
    assert unknown.returncode == 1 and "unknown training action 'ACT-NOPE'" in unknown.stderr
    both = run(tmp_path, "create", "--action", ACTION, "--sample", "2", "--learners", "x")
    assert both.returncode == 2 and "choose one selection" in both.stderr
    long = run(tmp_path, "create", "--action", ACTION, "--sample", "2", "--expires", "1y")
    assert long.returncode == 2 and "--expires" in long.stderr
    too_long = run(tmp_path, "create", "--action", ACTION, "--sample", "2", "--expires", "100d")
    assert too_long.returncode == 1 and "90 days" in too_long.stderr
    assert run(tmp_path, "revoke", "01NOSUCHLINK").returncode == 1
    assert "no audit link" in run(tmp_path, "list").stdout

"""`parcours accounts` as an administrator runs it: create, list, change, disable; every change an
admin.action event in the ledger, never with the secret it set."""

from __future__ import annotations

import json
import sqlite3

import pyotp

from tests.test_cli import parcours
from tests.web.conftest import ACTION, demo_config

PASSWORD = "a long demo password"


def setup(tmp_path):
    (tmp_path / "hub.yaml").write_text('hub:\n  data_dir: var\n  store: {url: "sqlite:///var/hub.db"}\n'
                                       + demo_config(tmp_path))
    assert parcours("sync", "demo", "--config", "hub.yaml", cwd=tmp_path).returncode == 0


def run(tmp_path, *args, stdin: str | None = None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hub.cli", "accounts", *args, "--config", "hub.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, input=stdin, timeout=120)


def admin_actions(tmp_path) -> list[dict]:
    with sqlite3.connect(tmp_path / "var/hub.db") as db:
        return [json.loads(r[0]) for r in db.execute("select data from events where type = 'admin.action' order by seq")]


def test_accounts_are_created_listed_changed_and_disabled(tmp_path):
    setup(tmp_path)
    made = run(tmp_path, "add", "Sophie@Demo.example", "--role", "trainer", "--action", ACTION, "--name", "Sophie",
               "--password-file", "-", "--json", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["email"] == "sophie@demo.example" and created["scopes"]["actions"] == [ACTION]
    assert len(created["recovery_codes"]) == 10 and created["totp_uri"].startswith("otpauth://totp/")
    assert pyotp.TOTP(created["totp_secret"]).now().isdigit()
    learner = run(tmp_path, "add", "theo@demo.example", "--role", "learner", "--learner", "email:theo.garnier@example.fr",
                  "--password-file", "-", stdin=PASSWORD + "\n")
    assert learner.returncode == 0 and "Second factor" not in learner.stdout  # optional for a learner
    again = run(tmp_path, "add", "sophie@demo.example", "--role", "trainer", "--action", ACTION, "--if-missing")
    assert again.returncode == 0 and "exists already" in again.stdout

    listed = json.loads(run(tmp_path, "list", "--json").stdout)
    assert [(a["email"], a["role"], a["second_factor"]) for a in listed] == [
        ("sophie@demo.example", "trainer", True), ("theo@demo.example", "learner", False)]
    assert "password_hash" not in listed[0] and "totp_secret" not in listed[0]

    assert run(tmp_path, "passwd", "sophie@demo.example", "--password-file", "-", stdin="another long one\n").returncode == 0
    renewed = run(tmp_path, "totp", "sophie@demo.example")
    assert renewed.returncode == 0 and created["totp_secret"] not in renewed.stdout and "secret:" in renewed.stdout
    assert run(tmp_path, "disable", "sophie@demo.example").returncode == 0
    assert "disabled" in run(tmp_path, "list").stdout

    recorded = admin_actions(tmp_path)
    assert [a["command"] for a in recorded] == ["accounts add", "accounts add", "accounts passwd", "accounts totp",
                                               "accounts disable"]
    text = json.dumps(recorded)
    assert PASSWORD not in text and created["totp_secret"] not in text and created["recovery_codes"][0] not in text


def test_mistakes_are_refused_with_what_is_wrong(tmp_path):
    setup(tmp_path)
    cases = [
        (["add", "a@demo.example", "--role", "trainer", "--password-file", "-"], "a trainer account needs its actions"),
        (["add", "a@demo.example", "--role", "trainer", "--action", "ACT-NOPE", "--password-file", "-"],
         "unknown training action 'ACT-NOPE'"),
        (["add", "a@demo.example", "--role", "funder", "--funder", "x", "--action", ACTION, "--password-file", "-"],
         "a funder account has no actions scope"),
        (["add", "not-an-address", "--role", "admin", "--password-file", "-"], "is not an e-mail address"),
        (["add", "a@demo.example", "--role", "learner", "--learner", "email:nobody@example.fr", "--password-file", "-"],
         "no learner 'email:nobody@example.fr'"),
        (["passwd", "ghost@demo.example", "--password-file", "-"], "no account has the e-mail address"),
    ]
    for args, message in cases:
        result = run(tmp_path, *args, stdin=PASSWORD + "\n")
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    short = run(tmp_path, "add", "a@demo.example", "--role", "admin", "--password-file", "-", stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    assert run(tmp_path, "add", "b@demo.example", "--role", "admin").returncode == 2  # no terminal to ask on
    assert json.loads(run(tmp_path, "list", "--json").stdout) == []

"""The signed ledger head, end to end: `parcours run --once` writes it beside the data dir, and
`parcours verify` says the ledger is shorter than it was when blocks or events are missing."""

import json
import sqlite3
import subprocess
import sys

from tests.conftest import event


def test_cli_verify_sees_a_truncated_ledger_against_the_signed_head(tmp_path):
    def parcours(*args):
        return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)

    def drop(n):
        (tmp_path / "inbox" / f"{n}.ndjson").write_text(
            "\n".join(json.dumps(event(i)) for i in range(n * 10, n * 10 + 10)) + "\n")

    (tmp_path / "inbox").mkdir()
    (tmp_path / "hub.yaml").write_text(
        "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}}\n"
        "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1h}}\n")
    for n in range(2):  # two runs, two blocks
        drop(n)
        assert parcours("run", "--once", "--config", "hub.yaml").returncode == 0
    head = json.loads((tmp_path / "var-ledger-head.json").read_text())
    assert head["block"] == 1 and head["blocks"] == 2 and head["events"] == 20 and head["signature"]
    assert (tmp_path / "var" / "ledger-head.key").stat().st_mode & 0o077 == 0
    ok = parcours("verify", "--config", "hub.yaml")
    assert ok.returncode == 0, ok.stderr
    assert f"signed head: the ledger holds the 2 block(s) it had at {head['time']}" in ok.stdout
    signed = (tmp_path / "var-ledger-head.json").read_text()
    (tmp_path / "var-ledger-head.json").write_text(json.dumps({**head, "blocks": 1}))  # an edited head
    forged = parcours("verify", "--config", "hub.yaml")
    assert forged.returncode == 1 and "was altered (its signature does not match)" in forged.stderr
    (tmp_path / "var-ledger-head.json").write_text(signed)

    db = sqlite3.connect(tmp_path / "var" / "hub.db")
    with db:  # the newest block and its events go
        db.execute("DELETE FROM outbox WHERE event_seq > 10")
        db.execute("DELETE FROM events WHERE seq > 10")
        db.execute("DELETE FROM blocks WHERE idx = 1")
    db.close()
    bad = parcours("verify", "--config", "hub.yaml")
    assert bad.returncode == 1
    assert (f"LEDGER ALTERED: the ledger is shorter than it was at {head['time']}: the signed head records 2 block(s) "
            "and 20 sealed event(s) (newest block 1); the store holds 1 block(s) and 10 sealed event(s)") in bad.stderr
    as_json = json.loads(parcours("verify", "--json", "--config", "hub.yaml").stdout)
    assert as_json["ok"] is False and as_json["head"]["blocks"] == 2
    # sealing again does not move the head back: the run logs it and the head stays
    drop(2)
    run = parcours("run", "--once", "--config", "hub.yaml")
    assert "ledger head not written" in run.stdout + run.stderr
    assert json.loads((tmp_path / "var-ledger-head.json").read_text())["blocks"] == 2
    assert parcours("verify", "--config", "hub.yaml").returncode == 1

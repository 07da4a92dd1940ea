"""``parcours migrate-store``: a sealed, time-stamped SQLite ledger copied to PostgreSQL verifies
there, row for row; a copy killed with SIGKILL resumes and ends with the same rows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import psycopg
import pytest

from hub.blobs import BlobStore
from hub.store.sqlite import SQLiteStore
from hub.store.transfer import NOT_COPIED, TransferError, sqlite_tables, transfer
from tests.conftest import event
from tests.fakes.tsa import tsa_peer_fixture, tsa_pki_fixture  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres

TSA = """\
  ledger:
    tsa_url: "{url}"
    tsa_ca: "{ca}"
    tsa_timeout: 5s
"""


def hub_yaml(store_url: str, tsa_peer) -> str:
    return (f"hub:\n  data_dir: var\n  store: {{url: '{store_url}'}}\n"
            + TSA.format(url=tsa_peer.url, ca=tsa_peer.pki.ca)
            + "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1h}}\n"
            "  out: {kind: ndjson_out, directory: out}\n"
            "routes:\n  - {name: all, from: inbox, to: out}\n")


def table_rows(conn, table: str, columns: list[str], key: list[str]) -> list[tuple]:
    names = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(f'"{k}"' for k in key)
    rows = conn.execute(f'SELECT {names} FROM "{table}" ORDER BY {order}').fetchall()
    return [tuple(bool(v) if c in ("healthy", "done") and v is not None else (bytes(v) if isinstance(v, memoryview) else v)
                  for c, v in zip(columns, row)) for row in rows]


async def test_a_sealed_anchored_ledger_moves_to_postgresql_and_verifies(workdir, tsa_peer, pg_schema_url):
    from click.testing import CliRunner

    from hub.cli import main

    async def parcours(*args):
        result = await asyncio.wait_for(asyncio.to_thread(CliRunner().invoke, main, list(args)), timeout=120)
        return result.exit_code, result.stdout, result.stderr

    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "a.ndjson").write_text(
        "\n".join(json.dumps(event(i)) for i in range(40)) + "\nnot json\n")
    (workdir / "hub.yaml").write_text(hub_yaml("sqlite:///var/hub.db", tsa_peer))
    code, out, err = await parcours("run", "--once", "--config", "hub.yaml")
    assert code == 0, err
    attachment = BlobStore(workdir / "var" / "blobs").put(b"feuille d'emargement signee", media_type="application/pdf")
    code, out, err = await parcours("verify", "--config", "hub.yaml")
    assert code == 0 and "ledger intact: 1 block(s), 40 sealed event(s)" in out, out + err

    code, out, err = await parcours("migrate-store", "--from", "sqlite:///var/hub.db", "--to", pg_schema_url,
                                    "--batch", "7", "--blobs-from", "var/blobs", "--blobs-to", "shared-blobs")
    assert code == 0, out + err
    assert "the same counts on both sides" in out and "  events: 40" in out and "blobs: 1 copied" in out
    assert BlobStore(workdir / "shared-blobs").get(attachment.sha256) == b"feuille d'emargement signee"

    # every copied table holds the same rows on both sides, byte for byte
    lite = SQLiteStore(workdir / "var" / "hub.db")
    tables = sqlite_tables(lite)
    assert {t.name for t in tables} >= {"events", "blocks", "outbox", "rejects", "learners", "learner_keys",
                                        "sources", "leases", "job_runs", "accounts", "web_sessions", "audit_links",
                                        "consents", "funding", "journeys", "projections", "sinks"}
    assert not {t.name for t in tables} & set(NOT_COPIED)
    with psycopg.connect(pg_schema_url) as pg:
        for t in tables:
            key = list(t.key)
            assert table_rows(pg, t.name, list(t.columns), key) == table_rows(lite.conn, t.name, list(t.columns), key), t.name
        assert pg.execute("SELECT count(*) FROM events").fetchone()[0] == 40
        assert pg.execute("SELECT count(*) FROM blocks WHERE anchor IS NOT NULL").fetchone()[0] == 1
        assert pg.execute("SELECT leaf_format FROM blocks").fetchall() == [(3,)]  # leaves of the stored bytes
        assert pg.execute("SELECT count(*) FROM outbox").fetchone()[0] == 40
        assert pg.execute("SELECT count(*) FROM rejects").fetchone()[0] == 1
    lite.close()

    # the hub on PostgreSQL: the ledger verifies against its anchor and its signed head
    (workdir / "hub.yaml").write_text(hub_yaml(pg_schema_url, tsa_peer))
    code, out, err = await parcours("verify", "--config", "hub.yaml")
    assert code == 0 and "ledger intact: 1 block(s), 40 sealed event(s)" in out, out + err
    assert "time-stamped: 1 anchor(s) valid" in out
    assert await parcours("verify", "--jobs", "1", "--config", "hub.yaml") == (code, out, err)  # the same, in one process
    # new rows after the copy get fresh ids (identity sequences moved past the copied ones)
    (workdir / "inbox" / "b.ndjson").write_text(json.dumps(event(100)) + "\n")
    code, out, err = await parcours("run", "--once", "--config", "hub.yaml")
    assert code == 0, err
    with psycopg.connect(pg_schema_url) as pg:
        assert pg.execute("SELECT count(*), max(id) FROM outbox").fetchone() == (41, 41)
        assert pg.execute("SELECT max(seq) FROM events").fetchone()[0] == 41

    # once complete, the same command changes nothing; another source is refused
    code, out, err = await parcours("migrate-store", "--from", "sqlite:///var/hub.db", "--to", pg_schema_url)
    assert code == 1 and "in the source and 2 in the destination: the copy was complete already" in err, out + err
    other = SQLiteStore(workdir / "other.db")
    other.migrate()
    other.close()
    code, out, err = await parcours("migrate-store", "--from", "sqlite:///other.db", "--to", pg_schema_url)
    assert code == 1 and "holds a copy of another store" in err, out + err


def test_a_destination_with_data_is_refused(tmp_path, pg_schema_url):
    from hub.store import open_store

    source = SQLiteStore(tmp_path / "hub.db")
    source.migrate()
    destination = open_store(pg_schema_url)
    destination.record_pull("inbox", ok=True, error=None, at=1.0)
    try:
        with pytest.raises(TransferError, match="the destination is not empty \\(table 'sources' has rows\\)"):
            transfer(source, destination)
        assert destination.count_events() == 0
    finally:
        source.close()
        destination.close()


def parcours_process(*args: str, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


async def test_a_copy_killed_mid_run_resumes_to_the_same_rows(make_hub, workdir, pg_schema_url):
    hub = await make_hub("", start=False)
    for start in range(0, 6000, 2000):
        await hub.append([event(i) for i in range(start, start + 2000)], source=None)
    await hub.seal()
    await hub.stop()
    source_url = "sqlite:///var/hub.db"

    run = parcours_process("migrate-store", "--from", source_url, "--to", pg_schema_url, "--batch", "20", cwd=workdir)
    copied = 0
    with psycopg.connect(pg_schema_url, autocommit=True) as pg:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            try:
                row = pg.execute("SELECT rows FROM store_transfers WHERE table_name = 'events'").fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            if row and row[0] >= 200:
                os.kill(run.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        run.wait(timeout=30)
        assert run.returncode == -signal.SIGKILL, "the copy ended before it could be killed"
        copied, done = pg.execute("SELECT rows, done FROM store_transfers WHERE table_name = 'events'").fetchone()
        stored = pg.execute("SELECT count(*), coalesce(max(seq), 0) FROM events").fetchone()
        # what is committed is exactly what the progress record says: no half batch
        assert not done and 200 <= copied < 6000 and stored == (copied, copied)

    resumed = parcours_process("migrate-store", "--from", source_url, "--to", pg_schema_url, "--batch", "500",
                               cwd=workdir)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out + err
    assert out.startswith("resumed and copied") and "  events: 6000" in out
    with psycopg.connect(pg_schema_url) as pg:
        assert pg.execute("SELECT count(*), count(DISTINCT id), min(seq), max(seq) FROM events").fetchone() == (
            6000, 6000, 1, 6000)
    lite = sqlite3.connect(workdir / "var" / "hub.db")
    for table in ("events", "blocks", "learners", "learner_keys", "outbox"):
        with psycopg.connect(pg_schema_url) as pg:
            assert pg.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == \
                lite.execute(f"SELECT count(*) FROM {table}").fetchone()[0], table
    lite.close()

    (workdir / "hub.yaml").write_text(
        (workdir / "hub.yaml").read_text().replace('url: "sqlite:///var/hub.db"', f'url: "{pg_schema_url}"'))
    check = subprocess.run([sys.executable, "-m", "hub.cli", "verify", "--config", "hub.yaml"], cwd=workdir,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "sealed event(s)" in check.stdout, check.stdout + check.stderr
    assert copied  # the kill happened mid-copy (checked above), and the resume finished the job

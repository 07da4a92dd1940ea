"""Migrations as files: one numbered script per dialect, run whole by the driver; both stores end
at the same version with the same tables and columns; an older database is brought up to date."""

from __future__ import annotations

import sqlite3

import pytest

from hub.store.migrations import DIALECTS, Migration, migrations
from hub.store.sqlite import SQLiteStore


def sqlite_schema(conn) -> dict[str, list[str]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: sorted(r[1] for r in conn.execute(f"PRAGMA table_info({t})")) for t in tables}


def postgres_schema(conn) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                          "WHERE table_schema = current_schema() ORDER BY table_name, column_name"):
        out.setdefault(r["table_name"], []).append(r["column_name"])
    return out


def test_both_dialects_have_the_same_numbered_migrations():
    sqlite_side, postgres_side = (migrations(d) for d in DIALECTS)
    assert [m.version for m in sqlite_side] == list(range(1, len(sqlite_side) + 1))
    assert [(m.version, m.name) for m in sqlite_side] == [(m.version, m.name) for m in postgres_side]
    assert all(m.sql.strip() for m in sqlite_side + postgres_side)


@pytest.mark.postgres
def test_both_stores_end_at_the_same_version_with_the_same_tables(tmp_path, pg_store_factory):
    lite = SQLiteStore(tmp_path / "hub.db")
    pg = pg_store_factory(migrate=False)
    try:
        assert lite.migrate() == pg.migrate() == [m.version for m in migrations("sqlite")]
        assert lite.schema_version() == pg.schema_version() == len(migrations("postgresql"))
        assert sqlite_schema(lite.conn) == postgres_schema(pg.conn)
    finally:
        lite.close()


def test_an_older_database_is_brought_up_to_date_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)  # as an earlier release left it: versions 1–5, one event
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
    for m in migrations("sqlite")[:5]:
        conn.executescript(m.sql)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (m.version,))
    conn.execute("INSERT INTO events (seq, id, type, occurred_us, received_at, source, source_id, data) "
                 "VALUES (1, 'E1', 'lms.session', 0, '2026-01-01T00:00:00Z', 'moodle', 's1', '{}')")
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    fresh = SQLiteStore(tmp_path / "fresh.db")
    try:
        assert store.schema_version() == 5
        assert store.migrate() == [m.version for m in migrations("sqlite")[5:]]
        fresh.migrate()
        assert sqlite_schema(store.conn) == sqlite_schema(fresh.conn)
        assert [r[0] for r in store.conn.execute("SELECT id FROM events")] == ["E1"]
    finally:
        store.close()
        fresh.close()


def test_a_failing_migration_leaves_nothing_half_done(tmp_path, monkeypatch):
    import hub.store.sqlite as sqlite_module

    store = SQLiteStore(tmp_path / "hub.db")
    try:
        store.migrate()
        version = store.schema_version()
        broken = Migration(version + 1, "broken", "CREATE TABLE half (a);\nCREATE TABLE broken (;\n")
        monkeypatch.setattr(sqlite_module, "migrations", lambda dialect: migrations(dialect) + (broken,))
        with pytest.raises(sqlite3.OperationalError):
            store.migrate()
        assert store.schema_version() == version and "half" not in sqlite_schema(store.conn)
        assert not store.conn.in_transaction
    finally:
        store.close()

"""Moodle's own database, rebuilt from the recorded schema and rows, on PostgreSQL or MariaDB.

The schemas are those of the fixtures: ``db/postgresql/mdl_<table>.sql`` (``pg_dump
--schema-only`` of Moodle 4.4dev) and ``db/mariadb/show_create/mdl_<table>.sql`` (``SHOW CREATE
TABLE`` of what Moodle's XMLDB generator creates on MariaDB 10.11). The rows are
``db/rows/mdl_<table>.csv`` (PostgreSQL CSV: an unquoted empty field is NULL, ``""`` is an
empty string).

:func:`postgres_schema` creates a fresh schema and returns a DSN whose ``search_path`` points at
it; :func:`mariadb_database` creates a fresh database. Both drop what they created on exit.
When the server is unreachable they skip the test with the reason, or fail it when ``CI`` is
set (CI must run them).
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.fakes.moodle import FIXTURES

DB_DIR = FIXTURES / "db"
PG_DSN = os.environ.get("PARCOURS_TEST_POSTGRES_DSN") or "postgresql://postgres@127.0.0.1:5432/test"
MARIADB_DSN = os.environ.get("PARCOURS_TEST_MARIADB_DSN") or "mysql://root@127.0.0.1:3306/test"

LOG_TABLE = "mdl_logstore_standard_log"
#: what the log-store mode reads: the log, and the lookups of learners, courses and quiz attempts
LOGSTORE_TABLES = ("mdl_logstore_standard_log", "mdl_user", "mdl_course", "mdl_quiz_attempts", "mdl_quiz",
                   "mdl_grade_items")


def unavailable(what: str, dsn: str, exc: BaseException) -> None:
    """Skip (or fail under CI) because a database server cannot be used."""
    import pytest

    safe = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", dsn)
    reason = f"{what} not reachable at {safe} ({type(exc).__name__}: {exc}); start it or set the DSN variable"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------- CSV with NULLs


def read_csv(path: Path) -> tuple[list[str], list[list[str | None]]]:
    """PostgreSQL CSV: unquoted empty fields are None, quoted ones are strings (``""`` → '')."""
    text = path.read_text(encoding="utf-8")
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    field: list[str] = []
    quoted = in_quotes = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if in_quotes:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    in_quotes = False
            else:
                field.append(ch)
        elif ch == '"':
            in_quotes = quoted = True
        elif ch == ",":
            row.append("".join(field) if (field or quoted) else None)
            field, quoted = [], False
        elif ch == "\n":
            row.append("".join(field) if (field or quoted) else None)
            rows.append(row)
            row, field, quoted = [], [], False
        elif ch != "\r":
            field.append(ch)
        i += 1
    if field or quoted or row:
        row.append("".join(field) if (field or quoted) else None)
        rows.append(row)
    header = [h or "" for h in rows[0]]
    return header, rows[1:]


def tables(dialect: str) -> list[str]:
    folder = DB_DIR / ("postgresql" if dialect == "postgresql" else "mariadb/show_create")
    return sorted(p.stem for p in folder.glob("mdl_*.sql"))


# --------------------------------------------------------------------------- PostgreSQL


def pg_create_sql(table: str, schema: str) -> str:
    """The pg_dump schema of ``table``, made loadable into ``schema`` by a driver."""
    out = []
    for line in (DB_DIR / "postgresql" / f"{table}.sql").read_text(encoding="utf-8").splitlines():
        if line.startswith("\\") or "set_config('search_path'" in line or " OWNER TO " in line:
            continue  # psql meta-commands (\restrict), the dump's empty search_path, the 'moodle' owner
        out.append(line.replace("public.", f'"{schema}".'))
    return "\n".join(out)


def with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    query["options"] = (query.get("options", "") + f" -csearch_path={schema}").strip()
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextlib.contextmanager
def postgres_schema(load: Iterable[str] | None = None, *, rows: bool = True) -> Iterator[str]:
    """A fresh schema with the recorded Moodle tables (and rows); yields a DSN using it."""
    try:
        import psycopg

        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        unavailable("PostgreSQL", PG_DSN, exc)
        raise
    schema = f"moodle_test_{uuid.uuid4().hex[:10]}"
    try:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        for table in tables("postgresql") if load is None else [t for t in load if t in tables("postgresql")]:
            admin.execute(pg_create_sql(table, schema))
            csv_path = DB_DIR / "rows" / f"{table}.csv"
            if rows and csv_path.exists():
                with admin.cursor().copy(f'COPY "{schema}".{table} FROM STDIN WITH (FORMAT csv, HEADER true)') as copy:
                    copy.write(csv_path.read_bytes())
        yield with_search_path(PG_DSN, schema)
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


# --------------------------------------------------------------------------- MariaDB


def mysql_connect(dsn: str, database: str | None = None) -> Any:
    import pymysql

    parts = urlsplit(dsn)
    return pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=parts.username or "root",
                           password=parts.password or "", database=database or parts.path.lstrip("/") or None,
                           charset="utf8mb4", autocommit=True, connect_timeout=3)


@contextlib.contextmanager
def mariadb_database(load: Iterable[str] | None = None, *, rows: bool = True) -> Iterator[str]:
    """A fresh database with the recorded Moodle tables (``SHOW CREATE TABLE``) and rows; yields its DSN."""
    try:
        admin = mysql_connect(MARIADB_DSN)
    except Exception as exc:  # noqa: BLE001
        unavailable("MariaDB", MARIADB_DSN, exc)
        raise
    name = f"moodle_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cur.execute(f"USE `{name}`")
            for table in tables("mysql") if load is None else [t for t in load if t in tables("mysql")]:
                cur.execute((DB_DIR / "mariadb" / "show_create" / f"{table}.sql").read_text(encoding="utf-8"))
                csv_path = DB_DIR / "rows" / f"{table}.csv"
                if rows and csv_path.exists():
                    header, data = read_csv(csv_path)
                    insert_rows(cur, "mysql", table, header, data)
        parts = urlsplit(MARIADB_DSN)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


# --------------------------------------------------------------------------- rows of our own


def insert_rows(cur: Any, dialect: str, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                batch: int = 1000) -> int:
    """Insert ``rows`` (sequences in ``columns`` order) with a multi-row INSERT per ``batch``."""
    quote = (lambda c: f"`{c}`") if dialect == "mysql" else (lambda c: f'"{c}"')
    head = f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    count = 0
    chunk: list[Sequence[Any]] = []

    def flush() -> None:
        if chunk:
            cur.execute(head + ", ".join([one] * len(chunk)), [v for r in chunk for v in r])
            chunk.clear()

    for row in rows:
        chunk.append(row)
        count += 1
        if len(chunk) >= batch:
            flush()
    flush()
    return count


@contextlib.contextmanager
def connect(dsn: str) -> Iterator[Any]:
    """A writable connection on a test database made by the functions above (for extra rows)."""
    if dsn.startswith("postgres"):
        import psycopg

        conn = psycopg.connect(dsn, autocommit=True)
        try:
            yield conn.cursor()
        finally:
            conn.close()
    else:
        parts = urlsplit(dsn)
        conn = mysql_connect(dsn, parts.path.lstrip("/"))
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()


def dialect_of(dsn: str) -> str:
    return "postgresql" if dsn.startswith("postgres") else "mysql"


LOG_INSERT_COLUMNS = ("id", "eventname", "component", "action", "target", "objecttable", "objectid", "crud",
                      "edulevel", "contextid", "contextlevel", "contextinstanceid", "userid", "courseid",
                      "relateduserid", "anonymous", "other", "timecreated", "origin", "ip", "realuserid")


def add_log_rows(dsn: str, rows: Iterable[dict[str, Any]]) -> int:
    """Append log rows given as dicts (missing columns get Moodle's defaults)."""
    defaults = {"component": "core", "action": "", "target": "", "objecttable": None, "objectid": None, "crud": "r",
                "edulevel": 2, "contextid": 1, "contextlevel": 50, "contextinstanceid": 0, "courseid": 0,
                "relateduserid": None, "anonymous": 0, "other": None, "origin": "web", "ip": "127.0.0.1",
                "realuserid": None}
    values = ([{**defaults, **row}[c] for c in LOG_INSERT_COLUMNS] for row in rows)
    with connect(dsn) as cur:
        return insert_rows(cur, dialect_of(dsn), LOG_TABLE, LOG_INSERT_COLUMNS, values)

"""Read-only SQL access to Moodle's database: the standard log store and a few lookups.

PostgreSQL through psycopg, MariaDB/MySQL through PyMySQL; both are blocking drivers, so every
method here runs in a worker thread (``asyncio.to_thread``) and the connector serialises them.
The log is read by keyset pagination on its primary key (``WHERE id > :last ORDER BY id LIMIT
:page``): each page is one index range scan, whatever the size of the table, and nothing but
the page is ever held in memory. The session is read-only (``default_transaction_read_only`` /
``SET SESSION TRANSACTION READ ONLY``) on top of the read-only grants the docs ask for.
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

from hub.errors import AuthError, ConnectorConfigError, ConnectorError, RetryableError

from .config import LogstoreConfig, missing_driver
from .mapping import NEEDS_OTHER

LOG_COLUMNS = ("id", "eventname", "component", "objectid", "contextlevel", "contextinstanceid", "userid",
               "courseid", "relateduserid", "anonymous", "other", "timecreated", "origin", "realuserid")


class LogstoreDB:
    """One connection to Moodle's database; blocking methods, call them from a worker thread."""

    def __init__(self, config: LogstoreConfig):
        self.config = config
        self.dialect = config.dialect
        self.prefix = config.table_prefix
        self._conn: Any = None
        self._secret = config.dsn.get_secret_value() if config.dsn else ""
        self._password = unquote(urlsplit(self._secret).password or "") if self._secret else ""
        self.missing_tables: set[str] = set()
        self.queries = 0

    @property
    def log_table(self) -> str:
        return f"{self.prefix}logstore_standard_log"

    # ------------------------------------------------------------------ connection
    def _connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        timeout = max(1, int(self.config.timeout.total_seconds()))
        problem = missing_driver(self.dialect)
        if problem:  # a configuration checked where the driver was installed, run where it is not
            raise ConnectorConfigError(f"Moodle log store: {problem}")
        try:
            if self.dialect == "postgresql":
                import psycopg

                conn = psycopg.connect(self._secret, autocommit=True, connect_timeout=min(timeout, 15))
                conn.execute("SET default_transaction_read_only = on")
                conn.execute(f"SET statement_timeout = {timeout * 1000}")
            else:
                import pymysql

                parts = urlsplit(self._secret)
                query = dict(parse_qsl(parts.query))
                kwargs: dict[str, Any] = {
                    "host": parts.hostname or "localhost", "port": parts.port or 3306,
                    "user": unquote(parts.username or ""), "password": self._password,
                    "database": unquote(parts.path.lstrip("/")) or None,
                    "charset": query.get("charset", "utf8mb4"), "autocommit": True,
                    "connect_timeout": min(timeout, 15), "read_timeout": timeout, "write_timeout": timeout,
                }
                if query.get("unix_socket"):
                    kwargs["unix_socket"] = query["unix_socket"]
                conn = pymysql.connect(**kwargs)
                with conn.cursor() as cur:
                    cur.execute("SET SESSION TRANSACTION READ ONLY")
        except Exception as exc:
            raise self._translate(exc, "connect") from None
        self._conn = conn
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def _query(self, sql: str, params: Iterable[Any], what: str) -> list[tuple]:
        conn = self._connect()
        self.queries += 1
        try:
            if self.dialect == "postgresql":
                with conn.cursor() as cur:
                    cur.execute(sql, tuple(params))
                    return cur.fetchall()
            with conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                return list(cur.fetchall())
        except Exception as exc:
            error = self._translate(exc, what)
            if isinstance(error, RetryableError):
                self.close()  # the next call reconnects
            raise error from None

    # ------------------------------------------------------------------ errors
    def _scrub(self, text: str) -> str:
        for secret in (self._secret, self._password):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        return " ".join(text.split())[:400]

    def _translate(self, exc: Exception, what: str) -> ConnectorError:
        if isinstance(exc, ConnectorError):
            return exc
        message = self._scrub(str(exc)) or type(exc).__name__
        where = f"Moodle log store ({self.dialect}) {what}"
        if self.dialect == "postgresql":
            import psycopg
            from psycopg import errors as pg

            if isinstance(exc, (pg.UndefinedTable, pg.UndefinedColumn)):
                return ConnectorConfigError(f"{where}: {message} (check logstore.table_prefix)")
            if isinstance(exc, pg.InsufficientPrivilege):
                return ConnectorConfigError(f"{where}: {message} (grant SELECT on the tables listed in the docs)")
            refused = ("password authentication failed", "no password supplied", "authentication failed",
                       "no pg_hba.conf entry")
            if isinstance(exc, pg.InvalidAuthorizationSpecification) or (
                    isinstance(exc, psycopg.OperationalError)
                    and (any(s in message for s in refused) or ('role "' in message and "does not exist" in message))):
                return AuthError(f"{where}: the database refused the credentials ({message})")
            if isinstance(exc, pg.InvalidCatalogName):
                return ConnectorConfigError(f"{where}: {message}")
            if isinstance(exc, (psycopg.OperationalError, pg.QueryCanceled, psycopg.InterfaceError)):
                return RetryableError(f"{where}: {message}")
            return ConnectorConfigError(f"{where}: {type(exc).__name__}: {message}")
        import pymysql

        code = exc.args[0] if getattr(exc, "args", None) and isinstance(exc.args[0], int) else None
        if code in (1045, 1698):
            return AuthError(f"{where}: the database refused the credentials ({message})")
        if code in (1044, 1049):
            return ConnectorConfigError(f"{where}: {message} (check the database name in logstore.dsn)")
        if code in (1142, 1143):
            return ConnectorConfigError(f"{where}: {message} (grant SELECT on the tables listed in the docs)")
        if code in (1146, 1054):
            return ConnectorConfigError(f"{where}: {message} (check logstore.table_prefix)")
        if isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)):
            return RetryableError(f"{where}: {message}")
        return ConnectorConfigError(f"{where}: {type(exc).__name__}: {message}")

    # ------------------------------------------------------------------ reads
    def ping(self) -> int | None:
        """The highest log id (also proves the table is readable)."""
        rows = self._query(f"SELECT MAX(id) FROM {self.log_table}", (), "check")
        return rows[0][0] if rows else None

    def fetch(self, after_id: int, limit: int) -> list[tuple]:
        """Up to ``limit`` log rows with ``id > after_id``, in id order (columns: :data:`LOG_COLUMNS`)."""
        marks = ", ".join(["%s"] * len(NEEDS_OTHER))
        sql = (
            "SELECT id, eventname, component, objectid, contextlevel, contextinstanceid, userid, courseid, "
            f"relateduserid, anonymous, CASE WHEN eventname IN ({marks}) THEN other ELSE NULL END AS other, "
            f"timecreated, origin, realuserid FROM {self.log_table} WHERE id > %s ORDER BY id LIMIT %s"
        )
        return self._query(sql, (*NEEDS_OTHER, int(after_id), int(limit)), "read")

    def _lookup(self, table: str, columns: str, ids: Iterable[int], what: str) -> list[tuple]:
        ids = sorted({int(i) for i in ids})
        if not ids or table in self.missing_tables:
            return []
        out: list[tuple] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            marks = ", ".join(["%s"] * len(chunk))
            try:
                out.extend(self._query(f"SELECT {columns} FROM {self.prefix}{table} WHERE id IN ({marks})",
                                       chunk, what))
            except ConnectorConfigError:
                # optional enrichment: a table we may not read (or that this Moodle lacks) is skipped
                self.missing_tables.add(table)
                return []
        return out

    def users(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        rows = self._lookup("user", "id, email, firstname, lastname, idnumber", ids, "user lookup")
        return {int(r[0]): {"id": int(r[0]), "email": r[1] or None,
                            "fullname": " ".join(p for p in (r[2], r[3]) if p) or None,
                            "idnumber": r[4] or None} for r in rows}

    def courses(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        rows = self._lookup("course", "id, shortname, idnumber, fullname", ids, "course lookup")
        return {int(r[0]): {"id": int(r[0]), "shortname": r[1], "idnumber": r[2] or "", "fullname": r[3]}
                for r in rows}

    def quiz_attempts(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Attempt number, start and marks of quiz attempts, with their quiz's scale and pass mark when readable."""
        rows = self._lookup("quiz_attempts", "id, quiz, attempt, timestart, sumgrades", ids, "quiz attempt lookup")
        attempts = {int(r[0]): {"quiz": int(r[1]), "attempt": int(r[2]), "timestart": int(r[3] or 0) or None,
                                "sumgrades": None if r[4] is None else str(r[4])} for r in rows}
        quiz_ids = {a["quiz"] for a in attempts.values()}
        quizzes = {int(r[0]): r for r in self._lookup("quiz", "id, name, sumgrades, grade, decimalpoints", quiz_ids,
                                                      "quiz lookup")}
        passes: dict[int, Any] = {}
        if quiz_ids and "grade_items" not in self.missing_tables:
            marks = ", ".join(["%s"] * len(quiz_ids))
            try:
                for instance, gradepass, grademax in self._query(
                        f"SELECT iteminstance, gradepass, grademax FROM {self.prefix}grade_items "
                        f"WHERE itemtype = 'mod' AND itemmodule = 'quiz' AND itemnumber = 0 AND iteminstance IN ({marks})",
                        sorted(quiz_ids), "grade item lookup"):
                    passes[int(instance)] = (gradepass, grademax)
            except ConnectorConfigError:
                self.missing_tables.add("grade_items")
        for attempt in attempts.values():
            quiz = quizzes.get(attempt["quiz"])
            if quiz is not None:
                attempt.update(name=quiz[1], quiz_sumgrades=str(quiz[2]), quiz_grade=str(quiz[3]),
                               decimalpoints=int(quiz[4]) if quiz[4] is not None else 2)
            if attempt["quiz"] in passes:
                attempt["gradepass"] = str(passes[attempt["quiz"]][0])
        return attempts

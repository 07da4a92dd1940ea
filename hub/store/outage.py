"""Whether an exception means "the database did not answer", as opposed to a bug.

A stopped or restarting PostgreSQL server (connection refused, connection lost, server shutting
down) or a SQLite file that stays locked is an outage: a request answers 503 with ``Retry-After``
and a background loop backs off and tries again. Anything else is a bug and is reported as one.
"""

from __future__ import annotations

import sqlite3
import sys

from hub.redaction import redact_text

_SQLITE_OUTAGE = ("locked", "busy", "disk i/o", "unable to open")


def store_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (raised by a store call) means the database is unreachable for now."""
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc).lower() for word in _SQLITE_OUTAGE)
    psycopg = sys.modules.get("psycopg")  # only loaded when the PostgreSQL store is in use
    if psycopg is not None and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    return False


def describe(exc: BaseException) -> str:
    """One line naming the error, without a traceback (the driver's first line)."""
    text = str(exc).strip().splitlines()
    return redact_text(f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)

"""Storage behind one interface: SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

from pathlib import Path

from hub.errors import ConfigError
from hub.store.base import (
    AccountStore,
    BlockStore,
    Claimed,
    DeadLetter,
    DeadLetterStore,
    DeliveryStore,
    EventRow,
    IngestResult,
    JobStore,
    JourneyStore,
    LearnerStore,
    LedgerStore,
    PrivacyStore,
    RejectRow,
    SinkState,
    SourceSinkStore,
    SourceState,
    Store,
    UnreadableEvent,
)
from hub.store.sqlite import SQLiteStore

__all__ = [
    "AccountStore", "BlockStore", "Claimed", "DeadLetter", "DeadLetterStore", "DeliveryStore", "EventRow", "IngestResult",
    "JobStore", "JourneyStore", "LearnerStore", "LedgerStore", "PrivacyStore", "RejectRow", "SinkState", "SourceSinkStore",
    "SourceState", "UnreadableEvent", "Store", "open_store",
]


def open_store(url: str, *, base_dir: Path | None = None, synchronous: str = "full", migrate: bool = True) -> Store:
    """Open (and migrate, unless ``migrate`` is False: a reader of a store another process opened)
    the store named by ``url``: ``sqlite:///path.db`` or ``postgresql://…``."""
    if url.startswith("sqlite:///"):
        raw = url[len("sqlite:///"):]
        path = Path(raw)
        if raw != ":memory:" and not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        store: Store = SQLiteStore(path, synchronous=synchronous)
    elif url.startswith(("postgresql://", "postgres://")):
        try:  # psycopg is an optional dependency: imported only for a PostgreSQL store
            from hub.store.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(f"the PostgreSQL store needs psycopg: pip install 'parcours-hub[postgres]' ({exc})") from None
        store = PostgresStore(url)
    else:
        raise ConfigError(f"unsupported store url {url!r}")
    if migrate:
        store.migrate()
    return store

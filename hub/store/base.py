"""The storage interface shared by the SQLite and PostgreSQL stores.

A store is synchronous and used from one worker thread per process (``Store.call`` runs a
method there from async code), so the event loop never blocks on disk. Every method that
changes state is one transaction.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import functools
from dataclasses import dataclass, field
import json
import re
from typing import Any, Callable, ContextManager, Iterable, Iterator, Mapping, Protocol, Sequence, TypeVar

import orjson

from hub.errors import HubError
from hub.timefmt import format_us

T = TypeVar("T")


@dataclass
class EventRow:
    """An event ready to store (ids assigned, JSON columns encoded)."""

    id: str
    type: str
    occurred_us: int  # microseconds since the epoch, UTC
    received_at: str
    source: str
    source_id: str
    learner: str | None  # JSON
    learner_key: str | None  # links an enrolment's events for routing; the resolved learner id once resolved
    action: str | None
    data: str  # JSON
    evidence: str | None  # JSON
    supersedes: str | None
    learner_id: str | None = None  # set by the store's learner registry at ingest
    learner_ref: dict | None = None  # ``learner`` parsed (not stored: spares the registry a JSON decode)


@dataclass
class RejectRow:
    """A record that could not become an event (map or validate stage)."""

    source: str
    stage: str
    error: str
    payload: str  # JSON
    source_id: str | None = None
    erased_at: float | None = None  # when an erasure removed its personal values (hub.privacy): not replayable
    erased_by: str | None = None  # the privacy.erased record of the ledger that did


@dataclass
class IngestResult:
    """Ids of a batch in input order; ``new`` tells which were appended by this call.

    ``withheld`` maps the input index of each event the consent gate did not append to its reason
    (``<purpose>:<status>``, see hub.consents.gate); its id in ``ids`` is None."""

    ids: list[str | None]
    new: list[bool]
    outbox_rows: int = 0
    rejects: int = 0
    withheld: dict[int, str] = field(default_factory=dict)

    @property
    def appended(self) -> int:
        return sum(self.new)

    @property
    def duplicates(self) -> int:
        return len(self.new) - self.appended - len(self.withheld)


def withhold_rows(ids: list[str | None], new: list[bool], fresh: list[EventRow],
                  refused: dict[str, str]) -> tuple[list[EventRow], dict[int, str]]:
    """Part of ingest: ``fresh`` without the rows the consent gate ``refused`` (id → reason), and
    their reasons by input index (their ``ids`` set to None, ``new`` to False)."""
    if not refused:
        return fresh, {}
    reasons: dict[int, str] = {}
    for index, event_id in enumerate(ids):
        if event_id in refused:  # the row itself, or a repeat of it within the batch
            if new[index]:
                reasons[index] = refused[event_id]
            ids[index], new[index] = None, False
    return [r for r in fresh if r.id not in refused], reasons


@dataclass
class Claimed:
    """An outbox row claimed for delivery, with its event's stored columns."""

    outbox_id: int
    sink: str
    route: str
    attempts: int
    created_at: float
    event: dict[str, Any]


@dataclass
class DeadLetter:
    id: str  # "o:<outbox id>" for deliveries, "r:<reject id>" for map/validate rejects
    stage: str  # map | validate | deliver
    source: str | None
    sink: str | None
    event_id: str | None
    error: str | None
    attempts: int
    created_at: float
    failed_at: float | None
    payload: Any = None
    erased_at: float | None = None  # a reject whose personal values an erasure removed (not replayable)


@dataclass
class SourceState:
    name: str
    cursor: Any = None
    last_pull_at: float | None = None
    last_success_at: float | None = None
    last_error: str | None = None
    healthy: bool = True
    skipped: dict[str, Any] | None = None  # {"reasons": {reason: n}, "unmapped": {value: n}} since the store began


@dataclass
class SinkState:
    name: str
    consecutive_failures: int = 0
    paused_until: float | None = None
    last_error: str | None = None


class UnreadableEvent(HubError):
    """A stored event row that cannot be decoded (an out-of-range time, a JSON column that is not
    JSON or not of its type): written by an older version, or edited in the database."""

    def __init__(self, event: dict[str, Any]):
        self.event = event
        super().__init__(f"event {event['id']} (seq {event['seq']}) is stored but cannot be read: {event['unreadable']}")


# The columns an unreadable row is kept (and sealed) as, exactly as stored.
STORED_COLUMNS = ("id", "type", "occurred_us", "received_at", "source", "source_id", "learner", "action", "data",
                  "evidence", "supersedes")


def event_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored events row as the dict every store returns (JSON columns decoded, UTC text time).

    It never raises: a row that cannot be decoded comes back marked, with ``unreadable`` (what is
    wrong), ``stored`` (its columns as stored, which is what the ledger seals of it) and neutral
    decoded fields, so that a reader can report it and go on (see :func:`decode_problem`)."""
    try:
        return _decoded(row)
    except _UNDECODABLE as exc:
        return {
            "seq": row["seq"], "id": row["id"], "type": row["type"], "occurred_at": None,
            "received_at": row["received_at"], "source": row["source"], "source_id": row["source_id"],
            "learner": None, "action": row["action"], "data": {}, "evidence": [], "supersedes": row["supersedes"],
            "learner_id": row["learner_id"],
            "unreadable": decode_problem(exc),
            "stored": {k: _as_stored(row[k]) for k in STORED_COLUMNS},
        }


def _as_stored(value: Any) -> Any:
    """A column value as JSON can carry it (SQLite may hold bytes in any column: kept as hex)."""
    return {"bytes": bytes(value).hex()} if isinstance(value, (bytes, bytearray, memoryview)) else value


class _WrongType(ValueError):
    pass


_UNDECODABLE = (OverflowError, ValueError, TypeError)


def decode_problem(exc: Exception) -> str:
    """What is wrong with a row ``event_dict`` could not decode, in words."""
    if isinstance(exc, OverflowError):
        return f"occurred_us is outside years 1-9999 ({exc})"
    if isinstance(exc, _WrongType):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"a JSON column is not valid JSON ({exc})"
    return f"{type(exc).__name__}: {exc}"


# orjson reads an integer beyond 64 bits as a float, where json keeps it exact: such text is left to json
_LONG_DIGITS = re.compile(r"[0-9]{19}")


def _loads(text: str) -> tuple[Any, bool]:
    """A JSON column decoded exactly as ``json.loads`` decodes it, and whether it was decoded by
    orjson (three times faster on the rows every read decodes). orjson refuses what json accepts
    beyond the standard (NaN, Infinity, out-of-range numbers, lone surrogate escapes): those
    columns, and any with a run of 19 digits, are decoded by json."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text), True
        except orjson.JSONDecodeError:
            pass
    return json.loads(text), False


def _json_column(row: Mapping[str, Any], name: str, kind: type | None) -> Any:
    text = row[name]
    if not text:
        return None
    if not isinstance(text, str):
        raise _WrongType(f"{name} is not text ({type(text).__name__})")
    value, strict = _loads(text)
    if kind is not None and value is not None and not isinstance(value, kind):
        raise _WrongType(f"{name} holds JSON {type(value).__name__}, not {'an object' if kind is dict else 'a list'}")
    if not strict and "\\ud" in text.lower():  # an escaped lone surrogate decodes to text no encoder can write
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeError:
            raise _WrongType(f"{name} holds an unpaired surrogate escape: not valid Unicode") from None
    return value


def _decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(row["occurred_us"], int):
        raise _WrongType(f"occurred_us is not an integer ({row['occurred_us']!r})")
    data = _json_column(row, "data", dict)
    if data is None:
        raise _WrongType("data is empty or null, not an object")
    return {
        "seq": row["seq"],
        "id": row["id"],
        "type": row["type"],
        "occurred_at": format_us(row["occurred_us"]),
        "received_at": row["received_at"],
        "source": row["source"],
        "source_id": row["source_id"],
        "learner": _json_column(row, "learner", dict),
        "action": row["action"],
        "data": data,
        "evidence": _json_column(row, "evidence", list) or [],
        "supersedes": row["supersedes"],
        "learner_id": row["learner_id"],
    }


def split_batch(rows: list[EventRow], existing: dict[tuple[str, str], str]) -> tuple[list[str], list[bool], list[EventRow]]:
    """Ids in input order, which are new, and the rows to insert (first of each key not stored)."""
    ids: list[str] = []
    new: list[bool] = []
    fresh: list[EventRow] = []
    batch_keys: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (row.source, row.source_id)
        if key in existing:
            ids.append(existing[key])
            new.append(False)
        elif key in batch_keys:
            ids.append(batch_keys[key])
            new.append(False)
        else:
            batch_keys[key] = row.id
            ids.append(row.id)
            new.append(True)
            fresh.append(row)
    return ids, new, fresh


def paged_events(fetch: Callable[[int, int], list], *, after_seq: int, batch: int,
                 limit: int | None, unreadable: bool = False) -> Iterator[dict[str, Any]]:
    """Keyset pagination over the ledger: ``fetch(last_seq, size)`` returns the next rows by seq.

    Rows that cannot be decoded are skipped unless ``unreadable`` (then they come marked, see
    :func:`event_dict`); ``limit`` counts the events yielded."""
    last, left = after_seq, limit
    while True:
        size = batch if left is None else min(batch, left)
        if size <= 0:
            return
        rows = fetch(last, size)
        if not rows:
            return
        for row in rows:
            event = event_dict(row)
            if "unreadable" in event and not unreadable:
                continue
            if left is not None:
                left -= 1
            yield event
        last = rows[-1]["seq"]


class RouteFn(Protocol):
    def __call__(self, rows: list[EventRow], funders: Callable[[Iterable[tuple[str, str]]], dict],
                 consents: Callable[[Iterable[str]], dict]) -> list[list[tuple[str, str]]]:
        """For each new row, the (sink, route name) pairs it must be delivered to (``consents``:
        the learners' latest consent decisions by (learner id, purpose))."""


class WithholdFn(Protocol):
    def __call__(self, rows: list[EventRow], decisions: Callable[[Iterable[str]], dict]) -> dict[str, str]:
        """The ids of the new rows not to append (hub.consents.gate), each with its reason."""


# The store interface, by concern: a caller types itself against the part it uses
# (the dispatcher against DeliveryStore, the scheduler against JobStore, …); Store is the union.


class StoreThread(Protocol):
    """What every part offers async callers: running one of its methods on the store's thread."""

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (a method of this store) on the store's thread."""


class LedgerStore(StoreThread, Protocol):
    """Appending events and reading the ledger."""

    @abc.abstractmethod
    def ingest(
        self,
        rows: list[EventRow],
        route: RouteFn | None,
        *,
        source_cursor: tuple[str, Any] | None = None,
        rejects: list[RejectRow] = (),
        learners: Any = None,
        withhold: WithholdFn | None = None,
    ) -> IngestResult:
        """Append ``rows`` (skipping (source, source_id) already stored), link their learners
        (``learners``: a :class:`hub.learners.LearnerResolver`), leave out the rows ``withhold``
        refuses (a person's consent), keep the consent decisions, queue their deliveries, store the
        source cursor and the rejects: all in one transaction."""

    @abc.abstractmethod
    def get_event(self, event_id: str, *, unreadable: bool = False) -> dict[str, Any] | None:
        """The event ``event_id`` or None. A row that cannot be decoded raises :class:`UnreadableEvent`,
        or comes back marked (see :func:`event_dict`) with ``unreadable``."""

    @abc.abstractmethod
    def iter_events(self, *, after_seq: int = 0, batch: int = 1000, types: list[str] | None = None,
                    limit: int | None = None, unreadable: bool = False) -> Iterator[dict[str, Any]]:
        """Stream stored events in ledger order (``seq`` > ``after_seq``, at most ``limit``). Rows
        that cannot be decoded are skipped, or come marked with ``unreadable`` (see :func:`event_dict`)."""

    @abc.abstractmethod
    def events_naming(self, types: list[str], key: str, values: list[str], *, after_seq: int = 0,
                      limit: int = 1000) -> list[dict[str, Any]]:
        """At most ``limit`` events of ``types`` whose ``data.<key>`` is one of ``values``, with ``seq`` >
        ``after_seq``, by seq: the events about a person that name them in their data rather than as
        their learner (a web account's sign-ins, an auditor's reading of a learner's page)."""

    @abc.abstractmethod
    def count_events(self) -> int: ...

    @abc.abstractmethod
    def max_seq(self) -> int:
        """The ledger's last sequence number (0 when empty)."""

    @abc.abstractmethod
    def event_touches(self, *, after_seq: int, limit: int) -> list[tuple[str, str | None, str | None]]:
        """What the first ``limit`` events after ``after_seq`` concern, by seq: (type, action, learner
        id), the learner id canonical (a merged learner's events name the learner merged into)."""

    @abc.abstractmethod
    def read_snapshot(self) -> ContextManager[None]:
        """A read-only transaction: every read inside sees the store as it was when it began
        (an export reads journeys and events over minutes while ingest goes on)."""


class BlockStore(StoreThread, Protocol):
    """Sealed blocks of the ledger (hub.ledger) and their time-stamp anchors."""

    @abc.abstractmethod
    def last_block(self) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def add_block(self, block: dict[str, Any], leaves: bytes) -> None:
        """Store a sealed block header (with its hash) and its concatenated 32-byte leaf hashes."""

    @abc.abstractmethod
    def iter_blocks(self) -> Iterator[dict[str, Any]]: ...

    @abc.abstractmethod
    def block_for_seq(self, seq: int) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def block_leaves(self, index: int) -> bytes | None: ...

    @abc.abstractmethod
    def block(self, index: int) -> dict[str, Any] | None:
        """Block ``index``'s header, hash and anchor, or None."""

    @abc.abstractmethod
    def block_totals(self) -> dict[str, int]:
        """``blocks``, sealed ``events`` and ``anchored`` blocks as the blocks table counts them."""

    @abc.abstractmethod
    def event_learner_keys(self, first_seq: int, last_seq: int) -> dict[int, str | None]:
        """The ``learner_key`` column of the events from ``first_seq`` to ``last_seq``, by seq (sealed
        from leaf format 2 on, with ``learner_id``)."""

    @abc.abstractmethod
    def stored_leaf_bytes(self, columns: Sequence[str], first_seq: int, last_seq: int | None = None, *,
                          limit: int | None = None) -> list[tuple[int, bytes]]:
        """``(seq, 0x00 || netstrings of columns as stored)`` of the events from ``first_seq`` to
        ``last_seq`` (None: the newest; at most ``limit``), by seq, built by the database: what a
        format-3 leaf hashes (hub.ledger.merkle.stored_form)."""

    @abc.abstractmethod
    def stored_rows(self, columns: Sequence[str], first_seq: int, last_seq: int) -> list[dict[str, Any]]:
        """``{"seq", "id", "stored": {column: value as stored}}`` of the events from ``first_seq`` to ``last_seq``."""

    @abc.abstractmethod
    def stored_rows_at(self, columns: Sequence[str], seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The same as :meth:`stored_rows` for the events of ``seqs`` (read at once), by seq."""

    @abc.abstractmethod
    def undecodable_events(self, first_seq: int, last_seq: int) -> list[dict[str, Any]]:
        """The events from ``first_seq`` to ``last_seq`` that cannot be decoded, marked (see :func:`event_dict`)."""

    @property
    def reader_url(self) -> str | None:
        """The URL another process opens this store with (hub.store.open_store), None when it cannot
        (an in-memory database)."""
        return None

    @abc.abstractmethod
    def first_event(self) -> dict[str, Any] | None:
        """``seq`` and ``id`` of the event with the lowest seq, or None when the ledger is empty."""

    @abc.abstractmethod
    def set_block_anchor(self, index: int, anchor: str) -> bool:
        """Record block ``index``'s time-stamp anchor (JSON, see hub.ledger.anchoring) if it has none yet.

        An anchor is written once: True when this call wrote it, False when the block already had
        one or does not exist.
        """


class JourneyStore(StoreThread, Protocol):
    """The journeys projection (hub.journeys) and the ledger reads it is built from."""

    @abc.abstractmethod
    def projection_cursor(self, name: str = "journeys") -> int: ...

    @abc.abstractmethod
    def load_journeys(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...

    @abc.abstractmethod
    def save_journeys(self, states: dict[tuple[str, str], dict[str, Any]], last_seq: int, name: str = "journeys") -> None:
        """Upsert journey states and advance the projection cursor, in one transaction."""

    @abc.abstractmethod
    def journeys(self, *, action: str | None = None, learner_id: str | None = None) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def journey_learners(self, action: str) -> list[str]:
        """The learners with a projected journey in ``action``, sorted (their states are read in chunks)."""

    @abc.abstractmethod
    def journeys_page(self, after: tuple[str, str] | None, limit: int, *, action: str | None = None) -> list[dict[str, Any]]:
        """At most ``limit`` journey states following the key ``(learner_id, action)`` ``after``,
        in key order (of ``action`` only, when given): the journeys of a large organisation, read
        chunk by chunk, or one page of a web page's list."""

    @abc.abstractmethod
    def reset_journeys(self, learner_ids: list[str] | None = None, name: str = "journeys") -> None: ...

    @abc.abstractmethod
    def journey_figures(self, action: str) -> list[dict[str, Any]]:
        """Every enrolment of ``action``: ``learner_id`` and its stored ``basis`` and ``figures``
        (hub.web.figured), None when none are stored or the journey was written since."""

    @abc.abstractmethod
    def journey_attendance(self, actions: list[str]) -> list[dict[str, Any]]:
        """Every enrolment of ``actions`` (one read for them all), in order of action and learner:
        ``learner_id``, ``action`` and its stored ``basis`` and ``attendance`` (hub.web.today), None
        when none are stored or the journey was written since."""

    @abc.abstractmethod
    def save_journey_figures(self, action: str, figures: dict[str, tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        """Store the figures and the attendance (learner id -> (basis, figures, attendance)) of
        enrolments of ``action``, computed together for ``basis``."""

    @abc.abstractmethod
    def journey_flags(self, action: str) -> list[dict[str, Any]]:
        """The enrolments of ``action`` whose stored risk-list row (hub.risk.listing) holds a flag:
        ``learner_id`` and ``flag``, the row; and those without a stored row, ``flag`` None (none
        stored, or the journey was written since). Those stored without a flag are left out."""

    @abc.abstractmethod
    def refresh_journey_flags(self, action: str, learners: list[str],
                              row_of: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
        """Read the journeys of ``learners`` in ``action``, store ``row_of(state)`` as the row of each
        and return them (learner id -> row), in one transaction during which no other connection
        writes those journeys: a row is never stored after the write of its journey that deleted it."""

    @abc.abstractmethod
    def events_of_learners(self, learner_ids: list[str], *, until_seq: int) -> list[dict[str, Any]]:
        """The events of ``learner_ids`` up to ``until_seq``; rows that cannot be decoded come marked."""

    @abc.abstractmethod
    def learner_events_page(self, learner_ids: list[str], *, action: str | None, after_seq: int,
                            limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` events of ``learner_ids`` about ``action`` (or about no action; every
        action when ``action`` is None), with ``seq`` > ``after_seq``, by seq, each with its
        ``learner_key``: one learner's events read a page at a time (the audit pack, a person's data
        export). Rows that cannot be decoded come marked."""

    @abc.abstractmethod
    def action_events(self, action: str, *, types: list[str], until_seq: int) -> list[dict[str, Any]]:
        """The events of ``types`` about ``action`` as a whole (no learner), up to ``until_seq``,
        in ledger order: a trainer's signature co-signs the half-day of every learner of the action."""

    @abc.abstractmethod
    def event_learner_ids(self) -> list[str]:
        """Every learner id that events were attributed to (aliases included), sorted."""


class SourceSinkStore(StoreThread, Protocol):
    """What the hub remembers of each source (cursor, pull health) and each sink (failures, pause)."""

    @abc.abstractmethod
    def source_state(self, name: str) -> SourceState: ...

    @abc.abstractmethod
    def all_source_states(self) -> list[SourceState]: ...

    @abc.abstractmethod
    def record_pull(self, name: str, *, ok: bool, error: str | None, at: float) -> None: ...

    @abc.abstractmethod
    def add_skipped(self, name: str, reasons: dict[str, int], unmapped: dict[str, int]) -> None:
        """Add to source ``name``'s tally of records that gave no event (by reason) and of the
        values its mapping does not know (see :func:`hub.connector.add_skips`)."""

    @abc.abstractmethod
    def sink_state(self, name: str) -> SinkState: ...

    @abc.abstractmethod
    def save_sink_state(self, state: SinkState) -> None: ...


class DeliveryStore(StoreThread, Protocol):
    """The outbox: claiming deliveries and recording their outcome."""

    @abc.abstractmethod
    def claim(self, sink: str, *, limit: int, now: float, owner: str, lease_seconds: float) -> list[Claimed]:
        """Claim up to ``limit`` due outbox rows of ``sink`` (pending and due, or with an expired lease)."""

    @abc.abstractmethod
    def mark_delivered(self, outbox_ids: list[int], *, at: float) -> None: ...

    @abc.abstractmethod
    def mark_failed(self, outbox_ids: list[int], *, error: str, at: float, retry_at: float | None, stage: str = "deliver") -> None:
        """Record a failed attempt: back to pending until ``retry_at``, or dead when it is None."""

    @abc.abstractmethod
    def release(self, outbox_ids: list[int]) -> None:
        """Give claimed rows back untouched (shutdown, paused sink)."""

    @abc.abstractmethod
    def lease_owners(self) -> list[str]:
        """Owners currently holding claimed (in-flight) outbox rows."""

    @abc.abstractmethod
    def release_owner(self, owner: str) -> int:
        """Give back every row claimed by ``owner`` (a process known to be dead); returns how many."""

    @abc.abstractmethod
    def next_due(self, sink: str) -> float | None:
        """When the earliest pending row of ``sink`` becomes due (epoch seconds), or None."""

    @abc.abstractmethod
    def head_due(self, sink: str) -> float | None:
        """When the first pending row of ``sink`` in outbox order becomes due (epoch seconds), or None.
        The dispatcher delivers a sink's rows in order: while this is in the future, the sink waits."""

    @abc.abstractmethod
    def outbox_counts(self) -> dict[tuple[str, str], int]: ...

    @abc.abstractmethod
    def outbox_backlog(self) -> dict[str, tuple[int, float]]:
        """Per sink with rows waiting (pending or in flight): how many, and when the oldest was queued."""

    @abc.abstractmethod
    def outbox_backlog_by_source(self) -> dict[tuple[str | None, str], int]:
        """The rows still waiting for delivery (pending), by the source of their event and by sink."""


class DeadLetterStore(StoreThread, Protocol):
    """Rejects (map and validate stages) and dead deliveries: listing, replaying, requeueing."""

    @abc.abstractmethod
    def dead_letters(self, *, sink: str | None = None, source: str | None = None, limit: int = 100) -> list[DeadLetter]: ...

    @abc.abstractmethod
    def dead_letter(self, letter_id: str) -> DeadLetter | None:
        """One dead letter still waiting (``o:<n>`` a dead delivery, ``r:<n>`` a reject not replayed);
        None for an id that is not one (malformed, unknown, or replayed since)."""

    @abc.abstractmethod
    def dead_letters_about(self, learner_ids: list[str], needles: list[str], *, limit: int) -> list[DeadLetter]:
        """Dead letters about a person: dead deliveries of events attributed to ``learner_ids`` and
        rejects not replayed whose payload contains one of ``needles`` (an e-mail, a source's id),
        at most ``limit`` of each (a person's data export)."""

    @abc.abstractmethod
    def dead_letter_counts(self) -> dict[str, int]:
        """Dead letters waiting, by stage (map, validate, deliver)."""

    @abc.abstractmethod
    def requeue_dead(self, *, sink: str | None = None, outbox_ids: list[int] | None = None, at: float) -> int:
        """Put dead deliveries back to pending with a fresh attempt count; returns how many."""

    @abc.abstractmethod
    def take_rejects(self, *, source: str | None = None, reject_ids: list[int] | None = None) -> list[tuple[int, RejectRow]]: ...

    @abc.abstractmethod
    def mark_rejects_replayed(self, reject_ids: list[int], *, at: float, error: str | None = None) -> None: ...


class LearnerStore(StoreThread, Protocol):
    """The learner registry: learners, their keys, merges and the conflicts an admin settles."""

    @abc.abstractmethod
    def learner_conflicts(self, *, open_only: bool = True) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def learner(self, learner_id: str) -> dict[str, Any] | None:
        """A learner with its keys and merged ids (following merges)."""

    @abc.abstractmethod
    def learner_by_key(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def canonical_learner(self, learner_id: str) -> str: ...

    @abc.abstractmethod
    def learner_aliases(self, learner_id: str) -> list[str]: ...

    @abc.abstractmethod
    def rectify_learner(self, learner_id: str, field: str, value: str) -> bool:
        """Set a learner's ``name`` or ``email`` in the registry (a rectification, recorded in the
        ledger by its caller); False when there is no such learner."""

    @abc.abstractmethod
    def learner_alias_map(self) -> dict[str, str]:
        """Every merged learner id and the learner it was merged into (what ``verify`` recomputes)."""

    @abc.abstractmethod
    def resolve_learner_conflict(self, conflict_id: int, *, merge_into: str | None, at: float) -> dict[str, Any]:
        """Merge the conflict's learners into ``merge_into``, or keep them apart (None)."""

    @abc.abstractmethod
    def apply_learner_mapping(self, groups: dict[str, list[str]], *, at: float) -> list[str]:
        """Apply the admin's explicit links (label -> keys); returns what changed."""


class JobStore(StoreThread, Protocol):
    """Job runs (de-duplicating scheduled work across daemons) and named leases (leadership)."""

    @abc.abstractmethod
    def claim_job_run(self, key: str, *, owner: str, at: float) -> bool:
        """Record that the job run ``key`` (e.g. ``opco-atlas:2026-10``) is done by ``owner``;
        False when it was already claimed, by this daemon or another."""

    @abc.abstractmethod
    def release_job_run(self, key: str, *, owner: str) -> None:
        """Forget ``owner``'s claim on ``key`` (the run failed or wrote nothing): it may run again."""

    @abc.abstractmethod
    def finish_job_run(self, key: str, *, owner: str, at: float) -> None:
        """Mark ``owner``'s run ``key`` as finished: from then on it is never run again."""

    @abc.abstractmethod
    def job_run(self, key: str) -> dict[str, Any] | None:
        """The claim on ``key``: ``owner``, ``started_at``, ``finished_at`` (None: not finished)."""

    @abc.abstractmethod
    def take_over_job_run(self, key: str, *, previous: str, owner: str, at: float) -> bool:
        """Give ``owner`` the unfinished claim of ``previous`` (a process that died mid-run);
        False when the claim changed meanwhile (finished, or taken over by another)."""

    @abc.abstractmethod
    def acquire_lease(self, name: str, owner: str, *, ttl: float, now: float) -> bool:
        """Take or renew lease ``name`` for ``owner`` unless another owner holds a live one."""

    @abc.abstractmethod
    def release_lease(self, name: str, owner: str) -> None: ...

    @abc.abstractmethod
    def lease_holder(self, name: str, *, now: float) -> str | None:
        """The owner of a live lease ``name``, or None."""


class DuplicateAccount(HubError):
    """An account with this e-mail address exists already."""

    def __init__(self, email: str):
        self.email = email
        super().__init__(f"an account with the e-mail address {email} exists already")


class AccountStore(StoreThread, Protocol):
    """The web app's accounts (hub.web.accounts), their server-side sessions and sign-in failures."""

    @abc.abstractmethod
    def add_account(self, account: dict[str, Any], *, at: float) -> None:
        """Store a new account (``id``, ``email``, ``role``, ``scopes``, ``origin``, optional ``name``,
        ``password_hash``, ``totp_secret``, ``recovery_codes``); :class:`DuplicateAccount` when its
        e-mail address is taken."""

    @abc.abstractmethod
    def account(self, account_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def account_by_email(self, email: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def accounts(self) -> list[dict[str, Any]]:
        """Every account, by e-mail address."""

    @abc.abstractmethod
    def update_account(self, account_id: str, *, at: float, **fields: Any) -> bool:
        """Change fields of an account; False when there is no such account."""

    @abc.abstractmethod
    def use_recovery_code(self, account_id: str, code_hash: str, *, at: float) -> bool:
        """Remove ``code_hash`` from the account's recovery codes: True when it was there (used once)."""

    @abc.abstractmethod
    def use_totp_step(self, account_id: str, step: int, *, at: float) -> bool:
        """Record that the TOTP code of time step ``step`` was used: False when that step or a
        later one was used already (a code works once)."""

    @abc.abstractmethod
    def add_web_session(self, session: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def web_session(self, session_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def update_web_session(self, session_id: str, **fields: Any) -> bool:
        """Change a session that is not revoked; False otherwise."""

    @abc.abstractmethod
    def revoke_web_sessions(self, account_id: str, *, at: float) -> int:
        """Revoke every live session of an account; how many."""

    @abc.abstractmethod
    def login_lock(self, keys: list[str], *, now: float) -> float | None:
        """Until when one of ``keys`` (``email:…``, ``ip:…``) is locked out, or None."""

    @abc.abstractmethod
    def record_login_failure(self, keys: list[str], *, now: float, window: float, limit: int,
                             lockout: float) -> float | None:
        """Count a failed sign-in against each key; a key that reaches ``limit`` failures within
        ``window`` seconds is locked for ``lockout`` seconds. Until when, if this locked one."""

    @abc.abstractmethod
    def clear_login_failures(self, keys: list[str]) -> None: ...


class AuditLinkStore(StoreThread, Protocol):
    """The auditors' links (hub.audit.links): each kept under the SHA-256 of its token, with its scope
    (``action``, ``learners``, ``selection``), ``label``, ``created_by``, ``created_at``, ``expires_at``
    and ``revoked_at`` (epoch seconds)."""

    @abc.abstractmethod
    def add_audit_link(self, link: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def audit_link(self, link_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def audit_link_by_token_hash(self, token_hash: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def audit_links(self) -> list[dict[str, Any]]:
        """Every link, oldest first (revoked and expired ones too)."""

    @abc.abstractmethod
    def revoke_audit_link(self, link_id: str, *, at: float) -> bool:
        """Revoke a link; False when there is no such link or it was revoked already."""


class ConsentStore(StoreThread, Protocol):
    """The latest consent decision (hub.consents.decisions.Decision) of each person for each purpose,
    kept at ingest from the consent.given / consent.withdrawn events."""

    @abc.abstractmethod
    def consent_decisions(self, learner_id: str) -> list[Any]:
        """The latest decision of this learner for each purpose (counting the ids merged into it)."""

    @abc.abstractmethod
    def withdrawn_consents(self, purpose: str) -> list[Any]:
        """Every person (their current learner id, merges applied) whose latest decision for
        ``purpose`` is a withdrawal, oldest withdrawal first."""


class PrivacyStore(StoreThread, Protocol):
    """Retention and erasure (hub.privacy): pseudonymised event rows, each listed in ``erased_events``
    under the ``privacy.erased`` record of the ledger that erased it, and each erasure's progress."""

    @abc.abstractmethod
    def learner_last_events(self) -> list[dict[str, Any]]:
        """For each learner id events were linked to: ``learner_id``, ``last_us`` (its last event),
        ``funnel_us`` (its last ``prospect.*`` event) and ``evidence_us`` (its last event that is neither
        a funnel trace nor an access log), in microseconds since the epoch (None: none)."""

    @abc.abstractmethod
    def learners_funded_by(self, funders: list[str]) -> set[str]:
        """The learner keys with a funding decision from one of ``funders``."""

    @abc.abstractmethod
    def erasable_events(self, learner_ids: list[str], *, until_seq: int) -> list[dict[str, Any]]:
        """The events of ``learner_ids`` up to ``until_seq`` not erased yet, each with its ``learner_key``."""

    @abc.abstractmethod
    def erasable_access_events(self, *, before_us: int, until_seq: int, limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` ``access.*`` events older than ``before_us``, up to ``until_seq``, not erased yet."""

    @abc.abstractmethod
    def erased_seqs(self, first_seq: int, last_seq: int) -> dict[int, str]:
        """The erased events from ``first_seq`` to ``last_seq``: seq -> id of the erasing record."""

    @abc.abstractmethod
    def unapplied_erasure_records(self) -> list[dict[str, Any]]:
        """The hub's ``privacy.erased`` events whose erasure was not applied (a run stopped in between)."""

    @abc.abstractmethod
    def unfinished_erasures(self) -> list[dict[str, Any]]:
        """Erasures applied whose blobs and journeys are not done yet: ``record``, ``learner_id``, ``kind``, ``blobs``."""

    @abc.abstractmethod
    def erased_persons(self) -> set[str]:
        """The learner ids pseudonymised as a whole."""

    @abc.abstractmethod
    def erasure_totals(self) -> dict[str, Any]:
        """``records`` by kind, erased ``events``, ``dead_letters`` (rejects erased), ``unfinished`` erasures."""

    @abc.abstractmethod
    def blob_referenced(self, sha256: str) -> bool:
        """Whether an event row still names blob ``sha256``."""

    @abc.abstractmethod
    def apply_erasures(self, erasures: list[dict[str, Any]], *, at: float) -> list[str]:
        """In one transaction, for each erasure (``record``, ``learner_id``, ``kind``, ``rows``, ``blobs``,
        ``person``, ``dead_letters``): rewrite its ``rows`` (``(seq, learner, data, evidence, learner_key)``),
        list them as erased by its record, rewrite its ``dead_letters`` (``(reject id, payload, error,
        source_id)``, marked erased at ``at`` by its record), and when ``person`` (learner ids) is given
        pseudonymise them in the registry, funding index, conflicts, journeys and web accounts. Records
        applied already are skipped; returns the records this call applied."""

    @abc.abstractmethod
    def learner_identities(self, learner_ids: list[str]) -> list[dict[str, Any]]:
        """What names each of ``learner_ids`` in the registry: ``learner_id``, ``email``, ``name``, ``keys``."""

    @abc.abstractmethod
    def reject_page(self, *, after_id: int, limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` rejects (replayed or not) after id ``after_id``, in id order: ``id``,
        ``source``, ``payload``, ``error``, ``source_id``, ``created_at``."""

    @abc.abstractmethod
    def rejects_by_id(self, reject_ids: list[int]) -> list[dict[str, Any]]:
        """The rejects ``reject_ids`` (those still there), as :meth:`reject_page` gives them."""

    @abc.abstractmethod
    def delete_rejects_before(self, before: float, *, dry_run: bool = False) -> int:
        """Delete the rejects (replayed or not) stored before ``before`` (epoch seconds), in one
        transaction; how many (with ``dry_run``, how many would be, nothing deleted)."""

    @abc.abstractmethod
    def finish_erasures(self, records: list[str], *, at: float) -> None:
        """Mark erasures finished (their blobs removed and journeys re-projected)."""

class Store(LedgerStore, BlockStore, JourneyStore, SourceSinkStore, DeliveryStore, DeadLetterStore,
            LearnerStore, JobStore, AccountStore, AuditLinkStore, ConsentStore, PrivacyStore):
    """Storage for the ledger, outbox, cursors, dead letters, sink states and job leases: every
    part above, plus the schema's lifecycle and the worker thread the store runs on."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (a method of this store) on the store's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown_executor(self) -> None:
        self._executor.shutdown(wait=True)

    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Apply pending schema migrations; return the versions applied."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def close(self) -> None: ...

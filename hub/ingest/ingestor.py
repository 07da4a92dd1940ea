"""The ingest path: validate a batch, assign ids, append to the ledger, queue deliveries.

Requests (``POST /api/events``, webhooks, file imports) are all-or-nothing: one bad event
rejects the batch and nothing is stored. Pulls are per record: bad records become dead
letters with their original payload and the rest of the page is ingested, together with
the source's new cursor, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable

import orjson
from pydantic import BaseModel

from hub.connector import Reject
from hub.consents.gate import ConsentGate
from hub.events import UTC, EventTypeRegistry, EventValidationError
from hub.gcpause import no_gc
from hub.ingest.router import Router
from hub.learners import LearnerResolver, source_key
from hub.redaction import redact_text
from hub.store.base import EventRow, IngestResult, RejectRow, Store
from hub.timefmt import format_utc
from hub.ulid import new_ulids

if TYPE_CHECKING:
    from hub.runtime.metrics import Metrics


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {k: v for k, v in value.__dict__.items() if v is not None}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_json(value: Any) -> str:
    return orjson.dumps(value, default=_json_default).decode()


def _data_json(model: BaseModel) -> str:
    return model.__pydantic_serializer__.to_json(model, exclude_none=True).decode()


NUL_MESSAGE = "contains a NUL character (\\u0000), which the ledger does not keep"
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # an escaped NUL, not an escaped backslash before "u0000"


def storable(text: str | None) -> str | None:
    """``text`` with any NUL character written ``\\u0000``: a dead letter keeps what was refused."""
    return text.replace("\x00", "\\u0000") if text and "\x00" in text else text


def fields_with_nul(row: EventRow) -> list[str]:
    """The fields of ``row`` holding a NUL character: PostgreSQL refuses it in text, SQLite would
    keep it, so both refuse it at the boundary (a cheap substring test first, exact after)."""
    found = [name for name in ("source", "source_id", "action", "supersedes") if "\x00" in (getattr(row, name) or "")]
    found += [name for name in ("learner", "data", "evidence")
              if "\\u0000" in (getattr(row, name) or "") and _JSON_NUL.search(getattr(row, name))]
    return found


def learner_key(source: str, learner: dict | None) -> str | None:
    """The key that links a learner's events for routing by funder (e-mail when known)."""
    if not learner:
        return None
    email = learner.get("email")
    if email:
        return "email:" + email.strip().lower()
    return source_key(source, learner).removeprefix("src:")  # the site too, when ids are per site


class Ingestor:
    """The one door to the ledger: validate, commit (event rows, dedupe keys, outbox rows, cursor
    and dead letters in one transaction), count, and wake the sinks."""

    def __init__(self, store: Store, types: EventTypeRegistry, router: Router | None, *,
                 learners: LearnerResolver | None = None, metrics: Metrics | None = None,
                 log: Any = None, wake: Callable[[], None] | None = None, consents: ConsentGate | None = None):
        self.store = store
        self.consents = consents  # withholds what a person's consent does not cover (hub.consents.gate)
        self.types = types
        self.router = router
        self.learners = learners
        self.metrics = metrics
        self.log = log
        self.wake = wake  # called on the event loop when a commit queued deliveries

    # ------------------------------------------------------------------ preparation
    def prepare(self, items: list[Any], *, source: str | None, default_source: str = "api",
                ids: list[str] | None = None) -> list[EventRow]:
        """Validate ``items`` all-or-nothing and build rows (new ULIDs unless ``ids`` are given).
        Raises EventValidationError."""
        with no_gc():
            return self._prepare(items, source=source, default_source=default_source, ids=ids)

    def _prepare(self, items: list[Any], *, source: str | None, default_source: str,
                 ids: list[str] | None) -> list[EventRow]:
        validated = self.types.validate_batch(items)
        if ids is not None and len(ids) != len(validated):
            raise ValueError(f"{len(ids)} ids for {len(validated)} events")
        ids = ids or new_ulids(len(validated))
        received = format_utc(dt.datetime.now(UTC))
        rows, problems = [], []
        for index, (event_id, item) in enumerate(zip(ids, validated)):
            src = source or item.get("source") or default_source
            learner = item.get("learner")
            evidence = item.get("evidence")
            data = item.get("data")
            row = EventRow(
                id=event_id,
                type=item["type"],
                occurred_us=round(item["occurred_at"].timestamp() * 1_000_000),
                received_at=received,
                source=src,
                source_id=item["source_id"],
                learner=orjson.dumps(learner).decode() if learner else None,
                learner_key=learner_key(src, learner),
                action=item.get("action"),
                data=_data_json(data) if data is not None else "{}",
                evidence=orjson.dumps(evidence).decode() if evidence else None,
                supersedes=item.get("supersedes"),
                learner_ref=learner,
            )
            problems.extend((index, field, NUL_MESSAGE) for field in fields_with_nul(row))
            rows.append(row)
        if problems:
            raise EventValidationError(problems)
        return rows

    def prepare_tolerant(self, items: list[Any], *, source: str) -> tuple[list[EventRow], list[RejectRow]]:
        """Validate per record: bad records become ``validate``-stage rejects, the rest rows.

        Validation runs in passes (the schema first, then what only a built row shows, such as a
        NUL character): each pass sets aside the records it refuses, until one passes whole."""
        positions = list(range(len(items)))  # the original index of each record still in the running
        bad: dict[int, list[str]] = {}
        while positions:
            try:
                rows = self.prepare([items[i] for i in positions], source=source)
                break
            except EventValidationError as exc:
                refused = set()
                for index, path, msg in exc.problems:
                    refused.add(positions[index])
                    bad.setdefault(positions[index], []).append(f"{path}: {msg}" if path else msg)
                positions = [i for i in positions if i not in refused]
        else:
            rows = []
        rejects = [
            RejectRow(source, "validate", storable("; ".join(msgs)), encode_json(items[i]), storable(_source_id(items[i])))
            for i, msgs in sorted(bad.items())
        ]
        return rows, rejects

    # ------------------------------------------------------------------ commit
    def commit(self, rows: list[EventRow], *, cursor: tuple[str, Any] | None = None,
               rejects: Iterable[RejectRow] = ()) -> IngestResult:
        """Synchronous commit on the store's thread (use :meth:`append` from async code)."""
        rejects = list(rejects)
        gate = self.consents.withhold if self.consents is not None and self.consents.active else None
        with no_gc():
            result = self.store.ingest(rows, self.router.route if self.router else None,
                                       source_cursor=cursor, rejects=rejects, learners=self.learners, withhold=gate)
        if self.metrics is not None:
            self.metrics.count_ingest(rows, result, rejects)
        if result.withheld and self.log is not None:  # counts and reasons only: nothing about the person
            reasons: dict[str, int] = {}
            for index, reason in result.withheld.items():
                key = f"{rows[index].source} {rows[index].type} {reason}"
                reasons[key] = reasons.get(key, 0) + 1
            self.log.info("events withheld: no consent in force", withheld=len(result.withheld), reasons=reasons)
        return result

    async def append(self, items: list[Any], *, source: str | None, default_source: str = "api",
                     cursor: tuple[str, Any] | None = None, rejects: Iterable[RejectRow] = (),
                     per_record: bool = False, ids: list[str] | None = None) -> IngestResult:
        """Validate ``items``, commit them with ``cursor`` and ``rejects``, and wake the sinks.

        All or nothing (raises :class:`EventValidationError`, nothing stored) unless
        ``per_record``: then each invalid item becomes a ``validate``-stage dead letter and the
        others are appended, as a pull does with a page. ``ids`` gives the events' ids (a
        document's event carries the document's id) instead of new ULIDs.
        """
        if per_record:
            if ids is not None:
                raise ValueError("ids are given for an all-or-nothing batch, not per record")
            rows, invalid = self.prepare_tolerant(items, source=source or default_source)
            rejects = [*rejects, *invalid]
        else:
            rows = self.prepare(items, source=source, default_source=default_source, ids=ids)
            rejects = list(rejects)
        result = await self.store.call(self.commit, rows, cursor=cursor, rejects=rejects)
        if self.log is not None:
            for reject in rejects:
                self.log.warning("record dead-lettered", connector=reject.source, stage=reject.stage,
                                 source_id=reject.source_id, error=reject.error)
        if result.outbox_rows and self.wake is not None:
            self.wake()
        return result


def reject_rows(source: str, rejects: Iterable[Reject]) -> list[RejectRow]:
    """Dead letters of a source's records (their error texts with any URL redacted)."""
    return [RejectRow(source, r.stage, storable(redact_text(r.error)), encode_json(r.payload), storable(r.source_id))
            for r in rejects]


def _source_id(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("source_id"), str):
        return item["source_id"]
    return None

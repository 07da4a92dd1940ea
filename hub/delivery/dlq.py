"""Dead letters: list them and replay them (CLI ``parcours dlq`` and ``/api/dlq``).

Ids are ``o:<n>`` for deliveries that failed (replayed by queueing them again for the same
sink, with the current sink configuration) and ``r:<n>`` for source records rejected at the
map or validate stage (replayed by mapping / validating them again with the current code).
Every replay is recorded in the ledger as an ``admin.action`` event. :func:`replay_now` is what
``parcours dlq replay`` and the web app's "Rejouer" button do: replay, then deliver what was
requeued at once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from hub.connector import Connector
from hub.errors import HubError
from hub.events import EventValidationError
from hub.ingest.audit import record_admin_action
from hub.redaction import redact_text

if TYPE_CHECKING:
    from hub.ingest.audit import Append
    from hub.store.base import DeadLetterStore


def parse_ids(ids: list[str] | None) -> tuple[list[int] | None, list[int] | None]:
    """Split ``o:``/``r:`` ids into outbox and reject ids (None = no filter)."""
    if not ids:
        return None, None
    outbox, rejects = [], []
    for raw in ids:
        kind, _, number = str(raw).partition(":")
        if kind not in ("o", "r") or not (number.isascii() and number.isdigit() and len(number) <= 18):
            raise HubError(f"invalid dead-letter id {raw!r}: expected o:<n> or r:<n> as listed by `parcours dlq list`")
        (outbox if kind == "o" else rejects).append(int(number))
    return outbox, rejects


class DeadLetters:
    """Replays dead letters: failed deliveries are queued again, rejected source records mapped
    and validated again (the connector's ``map_record`` for the map stage) and appended.

    It gets what it uses: the store, the connectors by name, ``append`` (the one door to the
    ledger) and ``wake`` (tells the sink loops that rows are due)."""

    def __init__(self, store: "DeadLetterStore", connectors: Mapping[str, Connector], append: "Append",
                 wake: Callable[[], None]):
        self.store = store
        self.connectors = connectors
        self.append = append
        self.wake = wake

    async def replay(self, *, sink: str | None = None, source: str | None = None, ids: list[str] | None = None,
                     actor: str | None = None) -> dict[str, Any]:
        """Replay the dead letters of ``sink`` or ``source``, or those ``ids`` (all when none is
        given); the replay is recorded as an ``admin.action`` by ``actor``."""
        outbox_ids, reject_ids = parse_ids(ids)
        requeued = 0
        if source is None and (outbox_ids is None or outbox_ids):
            requeued = await self.store.call(self.store.requeue_dead, sink=sink, outbox_ids=outbox_ids, at=time.time())
        replayed, errors = 0, []
        if sink is None and (reject_ids is None or reject_ids):
            replayed, errors = await self.replay_rejects(source=source, reject_ids=reject_ids)
        if requeued or replayed:
            await record_admin_action(self.append, actor, "dlq replay",
                                      f"sink={sink or '*'} source={source or '*'} ids={','.join(ids or []) or '*'} "
                                      f"requeued={requeued} replayed={replayed}")
            self.wake()
        return {"requeued": requeued, "replayed": replayed, "errors": errors}

    async def replay_rejects(self, *, source: str | None = None,
                             reject_ids: list[int] | None = None) -> tuple[int, list[str]]:
        """Map / validate dead-lettered source records again with the current code and config;
        how many were appended, and the errors of those that still fail."""
        taken = await self.store.call(self.store.take_rejects, source=source, reject_ids=reject_ids)
        replayed, errors = 0, []
        for reject_id, reject in taken:
            if reject.erased_at is not None:  # its personal values are gone: replaying it would make a wrong event
                message = erased_refusal(reject.erased_at, reject.erased_by)
                await self.store.call(self.store.mark_rejects_replayed, [reject_id], at=time.time(), error=message)
                errors.append(f"r:{reject_id}: {message}")
                continue
            connector = self.connectors.get(reject.source)
            try:
                payload = json.loads(reject.payload)
                if reject.stage == "map":
                    if connector is None:
                        raise HubError(f"connector {reject.source!r} is not enabled")
                    items = connector.map_record(payload)
                else:
                    items = [payload]
                await self.append(items, source=reject.source)
            except Exception as exc:  # a mapping bug of one record (KeyError…) must not stop the others
                message = redact_text(str(exc) if isinstance(exc, (EventValidationError, HubError)) else f"{type(exc).__name__}: {exc}")
                await self.store.call(self.store.mark_rejects_replayed, [reject_id], at=time.time(), error=message)
                errors.append(f"r:{reject_id}: {message}")
                continue
            await self.store.call(self.store.mark_rejects_replayed, [reject_id], at=time.time())
            replayed += 1
        return replayed, errors


def erased_refusal(erased_at: float, record: str | None) -> str:
    """Why a reject an erasure scrubbed is not replayed."""
    when = dt.datetime.fromtimestamp(erased_at, dt.timezone.utc).strftime("%Y-%m-%d")
    return (f"not replayed: its personal data was erased on {when} (privacy.erased record {record or '?'}); "
            "the source must send the record again if it is still wanted")


async def replay_now(hub, *, sink: str | None = None, source: str | None = None, ids: list[str] | None = None,
                     actor: str | None = None, deliver: bool = True) -> dict[str, Any]:
    """Replay these dead letters (:meth:`DeadLetters.replay`), then, with ``deliver``, deliver the
    due rows of ``sink`` (of every sink when none is named) now, paused or not; the summary, with
    ``delivery``: sink -> DeliveryStats as a dict."""
    summary = await hub.dead_letters.replay(sink=sink, source=source, ids=ids, actor=actor)
    if deliver:
        sinks = [sink] if sink else hub.config.sinks()
        summary["delivery"] = {s: (await hub.dispatcher.deliver_due(s, ignore_pause=True)).__dict__ for s in sinks}
    return summary

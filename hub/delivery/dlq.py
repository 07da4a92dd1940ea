"""Dead letters: list them and replay them (CLI ``parcours dlq`` and ``/api/dlq``).

Ids are ``o:<n>`` for deliveries that failed (replayed by queueing them again for the same
sink, with the current sink configuration) and ``r:<n>`` for source records rejected at the
map or validate stage (replayed by mapping / validating them again with the current code).
Every replay is recorded in the ledger as an ``admin.action`` event.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hub.errors import HubError
from hub.ingest.audit import record_admin_action

if TYPE_CHECKING:
    from hub.runtime.app import Hub


def parse_ids(ids: list[str] | None) -> tuple[list[int] | None, list[int] | None]:
    """Split ``o:``/``r:`` ids into outbox and reject ids (None = no filter)."""
    if not ids:
        return None, None
    outbox, rejects = [], []
    for raw in ids:
        kind, _, number = str(raw).partition(":")
        if kind not in ("o", "r") or not number.isdigit():
            raise HubError(f"invalid dead-letter id {raw!r}: expected o:<n> or r:<n> as listed by `parcours dlq list`")
        (outbox if kind == "o" else rejects).append(int(number))
    return outbox, rejects


async def replay(hub: "Hub", *, sink: str | None = None, source: str | None = None,
                 ids: list[str] | None = None, actor: str | None = None) -> dict[str, Any]:
    outbox_ids, reject_ids = parse_ids(ids)
    requeued = 0
    if source is None and (outbox_ids is None or outbox_ids):
        requeued = await hub.store.call(hub.store.requeue_dead, sink=sink, outbox_ids=outbox_ids, at=time.time())
    replayed, errors = 0, []
    if sink is None and (reject_ids is None or reject_ids):
        replayed, errors = await hub.replay_rejects(source=source, reject_ids=reject_ids)
    if requeued or replayed:
        await record_admin_action(hub.append, actor, "dlq replay",
                                  f"sink={sink or '*'} source={source or '*'} ids={','.join(ids or []) or '*'} "
                                  f"requeued={requeued} replayed={replayed}")
        hub.dispatcher.wake()
    return {"requeued": requeued, "replayed": replayed, "errors": errors}

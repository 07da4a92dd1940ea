"""Live pages: who is told when the ledger changes where they look.

One watcher per web app reads the ledger's last sequence number every ``interval`` seconds while
someone listens (one cheap query, whatever the number of open pages), and on a change reads what
the events appended since concern — their type, training action and learner, three small columns
read by sequence (an index range: never a scan of the ledger nor a decoded event) — and gives
each listener that summary. Each open page's stream (hub.web.routes_live) keeps what its topic
covers. It sees what any daemon sharing the store appended (PostgreSQL), not only this process's.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

ATTENDANCE_TYPES = frozenset({"attendance.signed", "attendance.absent"})
MAX_READ = 5000  # events read per poll at most; a larger burst is told as "everything changed"


@dataclass(frozen=True)
class Touch:
    """What one appended event concerns."""

    action: str | None
    learner: str | None  # the learner's canonical id (merged learners are one person)
    attendance: bool


@dataclass(frozen=True)
class Changes:
    """What the events appended since the last poll concern; ``everything`` when there were too
    many to read (every open page refreshes)."""

    touches: frozenset[Touch]
    everything: bool = False


class LedgerWatcher:
    def __init__(self, store, *, interval: float = 1.0, log=None):
        self.store, self.interval, self.log = store, interval, log
        self._listeners: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None
        self._last: int | None = None

    def listen(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self._listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        return queue

    def leave(self, queue: asyncio.Queue) -> None:
        self._listeners.discard(queue)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while self._listeners:
            try:
                await self._poll()
            except Exception as exc:  # the store does not answer: pages stay as they are, polling goes on
                if self.log is not None:
                    self.log.warning("live pages: the ledger could not be read", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.interval)
        self._task = None

    async def _poll(self) -> None:
        if self._last is None:
            self._last = await self.store.call(self.store.max_seq)
            return
        last = await self.store.call(self.store.max_seq)
        if last <= self._last:
            return
        changes = await self.store.call(self._read, self._last)
        self._last = last
        for queue in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(changes)

    def _read(self, after: int) -> Changes:
        rows = self.store.event_touches(after_seq=after, limit=MAX_READ)
        touches = frozenset(Touch(action, learner, kind in ATTENDANCE_TYPES) for kind, action, learner in rows)
        return Changes(touches, everything=len(rows) >= MAX_READ)

"""Live pages: who is told when attendance arrives in the ledger.

One watcher per web app reads the ledger's last sequence number every ``interval`` seconds while
someone listens (one cheap query, whatever the number of open pages), and on a change reads the
attendance events appended since (by sequence, an index range: never a scan of the ledger) and
tells each listener the training actions they concern. It sees what any daemon sharing the store
appended (PostgreSQL), not only this process's.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

ATTENDANCE_TYPES = ["attendance.signed", "attendance.absent"]
MAX_READ = 5000  # events read per poll at most; a larger burst is told as "everything changed"


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
        events = await self.store.call(self._read, self._last)
        self._last = last
        actions = {e["action"] for e in events if e.get("action")}
        if len(events) >= MAX_READ:
            actions.add("*")
        if actions:
            for queue in list(self._listeners):
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(actions)

    def _read(self, after: int) -> list[dict[str, Any]]:
        return list(self.store.iter_events(after_seq=after, types=ATTENDANCE_TYPES, limit=MAX_READ))

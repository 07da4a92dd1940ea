"""The watcher behind the live pages: one poll for every listener, attendance only, and a store
that does not answer for a while does not end it."""

from __future__ import annotations

import asyncio

from hub.web.live import LedgerWatcher


class Ledger:
    """A store's reads the watcher uses, over a list of events; ``down`` polls fail first."""

    def __init__(self):
        self.events: list[dict] = []
        self.down = 0
        self.reads = 0

    async def call(self, fn, *args):
        return fn(*args)

    def max_seq(self) -> int:
        self.reads += 1
        if self.down:
            self.down -= 1
            raise ConnectionError("the database is restarting")
        return len(self.events)

    def iter_events(self, *, after_seq, types, limit):
        return [e for e in self.events[after_seq:] if e["type"] in types][:limit]


class Log:
    def __init__(self):
        self.warnings = []

    def warning(self, message, **fields):
        self.warnings.append(fields["error"])


async def test_listeners_hear_of_attendance_in_their_actions_even_after_an_outage():
    ledger, log = Ledger(), Log()
    watcher = LedgerWatcher(ledger, interval=0.01, log=log)
    first, second = watcher.listen(), watcher.listen()
    await asyncio.sleep(0.05)
    ledger.down = 3
    ledger.events += [{"type": "lms.progress", "action": "A"}, {"type": "attendance.signed", "action": "B"},
                      {"type": "attendance.absent", "action": "C"}]
    async with asyncio.timeout(2):
        assert await first.get() == {"B", "C"} and await second.get() == {"B", "C"}
    assert log.warnings == ["ConnectionError: the database is restarting"] * 3
    watcher.leave(first)
    watcher.leave(second)
    await asyncio.sleep(0.05)
    reads = ledger.reads
    await asyncio.sleep(0.05)
    assert ledger.reads == reads  # nobody listens: the watcher stopped polling
    await watcher.stop()

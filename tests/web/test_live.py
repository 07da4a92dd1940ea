"""The watcher behind the live pages: one poll for every listener, what the appended events
concern (type, action, learner: never the events themselves), a burst too large to read told as
"everything", and a store that does not answer for a while does not end it."""

from __future__ import annotations

import asyncio

from hub.web import live
from hub.web.live import Changes, LedgerWatcher, Touch


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

    def event_touches(self, *, after_seq, limit):
        return [(e["type"], e.get("action"), e.get("learner")) for e in self.events[after_seq:]][:limit]


class Log:
    def __init__(self):
        self.warnings = []

    def warning(self, message, **fields):
        self.warnings.append(fields["error"])


async def test_listeners_hear_what_was_appended_even_after_an_outage():
    ledger, log = Ledger(), Log()
    watcher = LedgerWatcher(ledger, interval=0.01, log=log)
    first, second = watcher.listen(), watcher.listen()
    await asyncio.sleep(0.05)
    ledger.down = 3
    ledger.events += [{"type": "lms.progress", "action": "A", "learner": "L1"},
                      {"type": "attendance.signed", "action": "B", "learner": "L2"},
                      {"type": "attendance.absent", "action": "B", "learner": "L2"},
                      {"type": "account.signed_in"}]
    expected = Changes(frozenset({Touch("A", "L1", False), Touch("B", "L2", True), Touch(None, None, False)}))
    async with asyncio.timeout(2):
        assert await first.get() == expected and await second.get() == expected
    assert log.warnings == ["ConnectionError: the database is restarting"] * 3
    watcher.leave(first)
    watcher.leave(second)
    await asyncio.sleep(0.05)
    reads = ledger.reads
    await asyncio.sleep(0.05)
    assert ledger.reads == reads  # nobody listens: the watcher stopped polling
    await watcher.stop()


async def test_a_burst_beyond_what_one_poll_reads_is_everything(monkeypatch):
    monkeypatch.setattr(live, "MAX_READ", 3)
    ledger = Ledger()
    watcher = LedgerWatcher(ledger, interval=0.01)
    queue = watcher.listen()
    await asyncio.sleep(0.05)
    ledger.events += [{"type": "lms.progress", "action": "A", "learner": f"L{i}"} for i in range(5)]
    async with asyncio.timeout(2):
        assert (await queue.get()).everything
    watcher.leave(queue)
    await watcher.stop()

"""Each configured connector's health, as ``parcours connectors list`` prints it and the web
app's connectors page shows it: the connector's own check (the one /readyz runs), overridden by a
failed pull until one succeeds; when it last pulled and succeeded and the lag since; the source
records it skipped, by reason, and the values it could not map; the events it brought that still
wait in a sink's outbox; and, for a sink, its own outbox by state and its pause.

Read from the store in four queries whatever the number of connectors (source states, outbox
counts, outbox backlog by source, one sink state per sink), never from the ledger."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ConnectorHealth:
    name: str
    kind: str
    enabled: bool
    ok: bool | None  # None: disabled (not checked)
    message: str | None  # redacted (Hub.check_connectors, or the store's last pull error)
    details: dict[str, Any] | None = None
    last_pull_at: float | None = None
    last_success_at: float | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> source records skipped (no event)
    unmapped: dict[str, int] = field(default_factory=dict)  # value -> records that could not be mapped
    waiting: dict[str, int] = field(default_factory=dict)  # sink -> its events still pending delivery there
    outbox: dict[str, int] | None = None  # a sink: its outbox rows by state (pending, dead, delivered…)
    paused_until: float | None = None  # a sink paused after failures, until then

    def lag(self, now: float) -> float | None:
        """Seconds since the last successful pull (None: it never pulled, or it does not pull)."""
        return None if self.last_success_at is None else max(0.0, now - self.last_success_at)

    @property
    def backlog(self) -> int:
        """Rows still to deliver: a sink's pending rows, else the connector's events pending in sinks."""
        return (self.outbox or {}).get("pending", 0) if self.outbox is not None else sum(self.waiting.values())


def _store_view(store, sinks: list[str]) -> tuple[dict, dict, dict, dict]:
    """What the health reads from the store, in one call on its thread."""
    states = {s.name: s for s in store.all_source_states()}
    return states, store.outbox_counts(), store.outbox_backlog_by_source(), {s: store.sink_state(s) for s in sinks}


class SharedChecks:
    """The connectors' own health checks, asked at most once per ``ttl`` seconds whatever the number
    of pages refreshing at once (each check may call the connector's remote system), and never
    twice at the same time."""

    def __init__(self, hub, ttl: float):
        self.hub, self.ttl = hub, ttl
        self._lock = asyncio.Lock()
        self._at, self._checks = float("-inf"), {}

    async def __call__(self) -> dict[str, dict[str, Any]]:
        async with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                self._checks, self._at = await self.hub.check_connectors(), time.monotonic()
            return self._checks


async def connectors_health(hub, checks: dict[str, dict[str, Any]] | None = None) -> list[ConnectorHealth]:
    """Every configured connector's health, in the configuration's order; ``checks``: the
    connectors' health checks when already asked (:class:`SharedChecks`), else asked now."""
    checks = await hub.check_connectors() if checks is None else checks
    sinks = hub.config.sinks()
    states, counts, backlog, sink_states = await hub.store.call(_store_view, hub.store, sinks)
    now, found = time.time(), []
    for name, cfg in hub.config.connectors.items():
        check = checks.get(name, {"ok": None, "message": "disabled"})
        state = states.get(name)
        if state is not None and not state.healthy:
            check = {"ok": False, "message": state.last_error}
        health = ConnectorHealth(name, cfg.kind, cfg.enabled, check["ok"], check.get("message"), check.get("details"))
        if state is not None:
            health.last_pull_at, health.last_success_at = state.last_pull_at, state.last_success_at
            health.skipped = dict((state.skipped or {}).get("reasons", {}))
            health.unmapped = dict((state.skipped or {}).get("unmapped", {}))
        health.waiting = {sink: n for (source, sink), n in sorted(backlog.items(), key=lambda i: i[0][1]) if source == name}
        if name in sinks:
            health.outbox = {st: n for (sink, st), n in sorted(counts.items()) if sink == name}
            paused = sink_states[name].paused_until
            health.paused_until = paused if paused and paused > now else None
        found.append(health)
    return found

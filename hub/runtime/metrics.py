"""Prometheus metrics of one hub process (``GET /metrics``)."""

from __future__ import annotations

import time
from collections import Counter as Tally

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("parcours_events_ingested", "Events appended to the ledger", ["type", "source"], registry=r)
        self.duplicates = Counter("parcours_events_duplicate", "Events received again and not appended", ["source"], registry=r)
        self.rejects = Counter("parcours_events_rejected", "Source records dead-lettered at map/validate", ["source", "stage"], registry=r)
        self.deliveries = Gauge("parcours_outbox_rows", "Outbox rows by sink and state", ["sink", "state"], registry=r)
        self.dead_letters = Gauge("parcours_dead_letters", "Dead letters waiting for replay", ["stage"], registry=r)
        self.delivery_attempts = Counter("parcours_delivery_attempts", "Delivery attempts by outcome", ["sink", "outcome"], registry=r)
        self.pulls = Counter("parcours_pulls", "Pull runs by outcome", ["source", "outcome"], registry=r)
        self.pull_lag = Gauge("parcours_pull_lag_seconds", "Seconds since the last successful pull", ["source"], registry=r)
        self.sink_paused = Gauge("parcours_sink_paused", "1 while a sink is paused after repeated failures", ["sink"], registry=r)
        self.requests = Histogram(
            "parcours_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def count_ingest(self, rows, result, rejects=()) -> None:
        appended: Tally = Tally()
        duplicates: Tally = Tally()
        for row, is_new in zip(rows, result.new):
            if is_new:
                appended[(row.type, row.source)] += 1
            else:
                duplicates[row.source] += 1
        for (type_, source), n in appended.items():
            self.events.labels(type_, source).inc(n)
        for source, n in duplicates.items():
            self.duplicates.labels(source).inc(n)
        for (source, stage), n in Tally((r.source, r.stage) for r in rejects).items():
            self.rejects.labels(source, stage).inc(n)

    def refresh(self, store, sources: list[str], sinks: list[str] = ()) -> None:
        """Update the gauges from the store (call on the store's thread)."""
        self.deliveries.clear()
        for (sink, state), n in store.outbox_counts().items():
            self.deliveries.labels(sink, state).set(n)
        for stage, n in store.dead_letter_counts().items():
            self.dead_letters.labels(stage).set(n)
        now = time.time()
        for sink in sinks:
            state = store.sink_state(sink)
            self.sink_paused.labels(sink).set(1 if state.paused_until and state.paused_until > now else 0)
        states = {s.name: s for s in store.all_source_states()}
        for name in sources:
            state = states.get(name)
            if state and state.last_success_at:
                self.pull_lag.labels(name).set(now - state.last_success_at)

    def render(self) -> bytes:
        return generate_latest(self.registry)

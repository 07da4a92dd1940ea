"""Prometheus metrics of one hub process (``GET /metrics``).

Two kinds (docs/operations.md lists every metric):

* counted by this process where the work happens (ingest, deliveries, pulls, sealing, anchoring,
  refused documents, HTTP requests): they start at zero when the process starts;
* read from the store at each scrape (:meth:`Metrics.refresh`), so every daemon on one database
  shows the same values whichever process did the work: outbox rows, dead letters, paused sinks,
  last successful pulls, and the documents and exports recorded in the ledger (``document.issued``
  events, read incrementally: each scrape reads only the events appended since the previous one).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter as Tally

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)

import hub

# The `_created` series (a counter's creation time) doubles every counter and says nothing here.
disable_created_metrics()


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Info("parcours_build", "The running version", registry=r).info({"version": hub.__version__})
        self.events = Counter("parcours_events_ingested", "Events appended to the ledger", ["type", "source"], registry=r)
        self.duplicates = Counter("parcours_events_duplicate", "Events received again and not appended", ["source"], registry=r)
        self.skipped = Counter("parcours_records_skipped", "Well-formed source records that gave no event, by reason",
                               ["source", "reason"], registry=r)
        self.withheld = Counter("parcours_events_withheld", "Events not appended: the person's consent does not cover "
                                "them (hub.consents), by reason (<purpose>:<status>)", ["source", "reason"], registry=r)
        self.rejects = Counter("parcours_events_rejected", "Source records dead-lettered at map/validate", ["source", "stage"], registry=r)
        self.deliveries = Gauge("parcours_outbox_rows", "Outbox rows by sink and state", ["sink", "state"], registry=r)
        self.dead_letters = Gauge("parcours_dead_letters", "Dead letters waiting for replay", ["stage"], registry=r)
        self.delivery_attempts = Counter("parcours_delivery_attempts", "Delivery attempts by outcome", ["sink", "outcome"], registry=r)
        self.pulls = Counter("parcours_pulls", "Pull runs by outcome", ["source", "outcome"], registry=r)
        self.pull_success = Gauge("parcours_pull_last_success_timestamp_seconds",
                                  "Unix time of the source's last successful pull", ["source"], registry=r)
        self.sink_paused = Gauge("parcours_sink_paused", "1 while a sink is paused after repeated failures", ["sink"], registry=r)
        self.blocks = Counter("parcours_blocks_sealed", "Ledger blocks sealed by this process", registry=r)
        self.seal_success = Gauge("parcours_seal_last_success_timestamp_seconds",
                                  "Unix time this process last completed a sealing run", registry=r)
        self.anchors = Counter("parcours_anchors", "Time-stamp anchors requested by this process, by outcome",
                               ["outcome"], registry=r)
        self.anchor_success = Gauge("parcours_anchor_last_success_timestamp_seconds",
                                    "Unix time this process last obtained a time-stamp anchor", registry=r)
        self.documents = Counter("parcours_documents_issued", "Documents issued (document.issued in the ledger)",
                                 ["type"], registry=r)
        self.documents_success = Gauge("parcours_documents_last_success_timestamp_seconds",
                                       "Unix time the newest document of this type was issued", ["type"], registry=r)
        self.refused = Counter("parcours_documents_refused", "Documents refused by this process (enrolment not eligible)",
                               ["type"], registry=r)
        self.exports = Counter("parcours_exports_produced", "Funder export versions recorded in the ledger",
                               ["export"], registry=r)
        self.exports_success = Gauge("parcours_export_last_success_timestamp_seconds",
                                     "Unix time the newest version of this export was recorded", ["export"], registry=r)
        self.requests = Histogram(
            "parcours_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._issued_seen_seq = 0  # document.issued events read up to this seq

    def count_ingest(self, rows, result, rejects=()) -> None:
        appended: Tally = Tally()
        duplicates: Tally = Tally()
        for index, (row, is_new) in enumerate(zip(rows, result.new)):
            if is_new:
                appended[(row.type, row.source)] += 1
            elif index not in result.withheld:
                duplicates[row.source] += 1
        for (source, reason), n in Tally((rows[i].source, reason) for i, reason in result.withheld.items()).items():
            self.withheld.labels(source, reason).inc(n)
        for (type_, source), n in appended.items():
            self.events.labels(type_, source).inc(n)
        for source, n in duplicates.items():
            self.duplicates.labels(source).inc(n)
        for (source, stage), n in Tally((r.source, r.stage) for r in rejects).items():
            self.rejects.labels(source, stage).inc(n)

    def count_skipped(self, source: str, reasons: dict[str, int]) -> None:
        for reason, n in reasons.items():
            self.skipped.labels(source, reason).inc(n)

    def count_seal(self, blocks: list) -> None:
        """A sealing run completed (``blocks`` may be empty: nothing new to seal)."""
        self.blocks.inc(len(blocks))
        self.seal_success.set_to_current_time()

    def count_anchor(self, obtained: bool) -> None:
        self.anchors.labels("obtained" if obtained else "failed").inc()
        if obtained:
            self.anchor_success.set_to_current_time()

    def count_refused(self, doc_type: str, n: int) -> None:
        self.refused.labels(doc_type).inc(n)

    def refresh(self, store, sources: list[str], sinks: list[str] = ()) -> None:
        """Update what is read from the store (call on the store's thread)."""
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
                self.pull_success.labels(name).set(state.last_success_at)
        self._read_issued(store)

    def _read_issued(self, store) -> None:
        """Count the ``document.issued`` events appended since the last scrape: exports (document type
        ``export:<kind>``, document ``<export>/<period>/v<n>``) by export, the others by document type."""
        for event in store.iter_events(after_seq=self._issued_seen_seq, types=["document.issued"], batch=5000):
            self._issued_seen_seq = event["seq"]
            data, at = event["data"], _epoch(event["received_at"])
            doc_type = str(data.get("document_type", ""))
            if doc_type.startswith("export:"):
                name = str(data.get("document", "")).split("/", 1)[0]
                self.exports.labels(name).inc()
                self.exports_success.labels(name).set(at)
            else:
                self.documents.labels(doc_type).inc()
                self.documents_success.labels(doc_type).set(at)

    def render(self) -> bytes:
        return generate_latest(self.registry)

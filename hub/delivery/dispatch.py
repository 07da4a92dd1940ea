"""Delivery of routed events to sinks: batches, a durable retry schedule, dead letters, pauses.

At-least-once: an outbox row is marked delivered only after the sink returned; sinks that can
(file sinks) skip what they already hold, webhook receivers de-duplicate on the idempotency key.
A failed batch goes back to ``pending`` with one retry time computed by tenacity's random
exponential wait (capped by ``backoff_max``), honouring ``Retry-After``, and nothing later is
claimed for that sink until it is due, so a sink's events arrive in outbox order. After
``max_attempts`` or ``max_age`` a delivery becomes a dead letter; a sink that cannot be reached at all
(:class:`~hub.errors.UnreachableError`) is not counted against ``max_attempts``: a sink down
for hours keeps its backlog until ``max_age``. ``rate_limit`` paces the drain.
A permanent error on a batch is narrowed down by delivering its events one by one, so a
single poison event does not dead-letter its neighbours. After ``pause_after_failures``
failed batches in a row the sink pauses for ``pause_for`` and resumes by itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from tenacity import wait_random_exponential

from hub.config import DeliveryConfig
from hub.connector import EventSink
from hub.errors import ConnectorError, PermanentError, RetryableError, UnreachableError
from hub.events import TraceEvent, to_trace_event
from hub.leases import owner_is_dead, process_owner
from hub.rates import Pacer
from hub.redaction import redact_text
from hub.store.base import Claimed, SinkState
from hub.store.outage import describe, store_unavailable

if TYPE_CHECKING:
    from hub.runtime.metrics import Metrics
    from hub.store.base import DeliveryStore, SourceSinkStore

    class DispatchStore(DeliveryStore, SourceSinkStore, Protocol):
        """The parts of the store the dispatcher uses: the outbox and the sinks' states."""


STORE_BACKOFF_INITIAL = 0.25  # seconds before a delivery loop tries the store again after an error
STORE_BACKOFF_MAX = 5.0


@dataclass
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: "DeliveryStats") -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead
        self.batches += other.batches
        self.errors.extend(other.errors)


def backoff_seconds(policy: DeliveryConfig, attempt: int) -> float:
    """Wait before retry number ``attempt`` (1-based): random exponential, capped."""
    wait = wait_random_exponential(multiplier=policy.backoff_initial.total_seconds(), max=policy.backoff_max.total_seconds())
    return float(wait(SimpleNamespace(attempt_number=attempt)))


def readable_claims(claimed: list[Claimed]) -> tuple[list[Claimed], list[TraceEvent], list[tuple[Claimed, str]]]:
    """Split claimed rows into those whose stored event converts to a TraceEvent (with the events)
    and those that cannot be read, with what is wrong: a bad row must not hold up its batch."""
    good, events, bad = [], [], []
    for item in claimed:
        problem = item.event.get("unreadable")
        if problem is None:
            try:
                events.append(to_trace_event(item.event))
            except ValueError as exc:  # pydantic's ValidationError is one
                problem = "not a valid event: " + " ".join(str(exc).split())[:500]
            else:
                good.append(item)
                continue
        bad.append((item, problem))
    return good, events, bad


class Dispatcher:
    """Delivers the outbox to the sinks: one loop per sink in the daemon, or one pass on demand.

    It gets what it uses: the store, the sink connectors by name, each sink's delivery policy,
    the HTTP request timeout (a claim's lease outlives a delivery), the metrics and a logger.
    """

    def __init__(self, store: "DispatchStore", sinks: Mapping[str, EventSink], delivery_for: Callable[[str], DeliveryConfig],
                 *, request_timeout: float, metrics: "Metrics", log: Any):
        self.store = store
        self.sinks = sinks
        self.delivery_for = delivery_for
        self.request_timeout = request_timeout
        self.metrics = metrics
        self.owner = process_owner()
        self._wake: dict[str, asyncio.Event] = {}
        self._held: dict[str, list[int]] = {}  # per sink: the claimed batch being delivered
        self._unrecorded: dict[str, list[int]] = {}  # per sink: delivered, but the store did not record it
        self._pacers: dict[str, Pacer] = {}  # per rate-limited sink: when its next batch may start
        self._stopping = asyncio.Event()
        self.log = log.bind(component="dispatch")

    def wake(self, sinks: set[str] | None = None) -> None:
        """Tell sink loops that new rows may be due (after an ingest)."""
        for name, event in self._wake.items():
            if sinks is None or name in sinks:
                event.set()

    # ------------------------------------------------------------------ daemon loop
    async def recover(self) -> int:
        """Give back rows claimed by processes of this host that died (kill -9, power cut)."""
        released = 0
        for owner in await self.store.call(self.store.lease_owners):
            if owner != self.owner and owner_is_dead(owner):
                released += await self.store.call(self.store.release_owner, owner)
        if released:
            self.log.warning("recovered deliveries claimed by a dead process", count=released)
        return released

    async def run(self) -> None:
        """One loop per enabled sink until :meth:`stop` (the daemon supervises :meth:`sink_loop` instead)."""
        await self.recover()
        await asyncio.gather(*(self.sink_loop(name) for name in self.sinks))

    def stop(self) -> None:
        self._stopping.set()
        for event in self._wake.values():
            event.set()

    async def sink_loop(self, sink: str) -> None:
        """Deliver ``sink``'s rows as they become due, until :meth:`stop`.

        A store error (the database is down) never ends the loop: it is logged in one line, the
        loop backs off (doubling up to ``STORE_BACKOFF_MAX`` seconds) and tries again; once the
        store answers, the batch it was holding is settled first (marked delivered if the sink
        had it, else given back) so nothing waits for its lease to expire.
        """
        policy = self.delivery_for(sink)
        wake = self._wake.setdefault(sink, asyncio.Event())
        failures = 0
        while not self._stopping.is_set():
            try:
                if failures:
                    await self._settle(sink)
                stats = await self.deliver_due(sink, max_batches=10)
                delay = 0.0 if stats.batches else await self._idle_delay(sink, policy)
                if failures:
                    self.log.info("store answers again, delivery resumes", sink=sink, after_failures=failures)
                    failures = 0
            except Exception as exc:
                failures += 1
                delay = min(STORE_BACKOFF_INITIAL * 2 ** (failures - 1), STORE_BACKOFF_MAX)
                if store_unavailable(exc):
                    self.log.warning("store unavailable, delivery waits", sink=sink, error=describe(exc),
                                     retry_in=delay, failures=failures)
                else:
                    self.log.exception("delivery loop error", sink=sink, retry_in=delay)
            if not delay:
                continue
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass

    async def _idle_delay(self, sink: str, policy: DeliveryConfig) -> float:
        """How long to sleep when nothing was due: the poll interval, a pause, or the next retry."""
        delay = policy.poll_interval.total_seconds()
        state = await self.store.call(self.store.sink_state, sink)
        if state.paused_until and state.paused_until > time.time():
            return max(delay, state.paused_until - time.time())
        due = await self.store.call(self.store.head_due, sink)
        if due is not None:
            delay = min(max(due - time.time(), 0.05), max(delay, 30.0))
        return delay

    async def _settle(self, sink: str) -> None:
        """Record what a store error left open: rows the sink accepted are delivered, the rest go back."""
        delivered = self._unrecorded.get(sink, [])
        if delivered:
            await self.store.call(self.store.mark_delivered, delivered, at=time.time())
            self._unrecorded.pop(sink, None)
        held = [i for i in self._held.get(sink, []) if i not in set(delivered)]
        if held:
            await self.store.call(self.store.release, held)
        self._held.pop(sink, None)

    # ------------------------------------------------------------------ one pass
    @property
    def lease_seconds(self) -> float:
        return self.delivery_timeout * 2 + 30

    @property
    def delivery_timeout(self) -> float:
        return self.request_timeout * 4

    async def deliver_due(self, sink: str, *, max_batches: int | None = None, ignore_pause: bool = False) -> DeliveryStats:
        """Deliver the rows of ``sink`` that are due now, batch after batch."""
        store = self.store
        policy = self.delivery_for(sink)
        stats = DeliveryStats()
        while max_batches is None or stats.batches < max_batches:
            if self._stopping.is_set():
                break
            state = await store.call(store.sink_state, sink)
            if not ignore_pause and state.paused_until and state.paused_until > time.time():
                break
            if not ignore_pause:  # a failed batch waits for its retry: nothing after it may overtake it
                due = await store.call(store.head_due, sink)
                if due is not None and due > time.time():
                    break
            pacer = self._pacer(sink, policy)
            limit = policy.batch_size if pacer is None else pacer.batch_limit(policy.batch_size)
            if pacer is not None and pacer.wait() > 0 and await self._sleep(pacer.wait()):
                break
            claimed = await store.call(
                store.claim, sink, limit=limit, now=time.time(), owner=self.owner, lease_seconds=self.lease_seconds
            )
            if not claimed:
                break
            self._held[sink] = [c.outbox_id for c in claimed]
            if pacer is not None:
                pacer.sent(len(claimed))
            batch = await self._deliver_batch(sink, claimed, policy, state)
            self._held.pop(sink, None)
            stats.add(batch)
            if batch.retried:  # the sink is failing: come back when the retries are due
                break
        return stats

    def _pacer(self, sink: str, policy: DeliveryConfig) -> Pacer | None:
        rate = policy.events_per_second
        if rate is None:
            return None
        pacer = self._pacers.get(sink)
        if pacer is None or pacer.rate != rate:
            pacer = self._pacers[sink] = Pacer(rate)
        return pacer

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the dispatcher stops first (then True)."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def _deliver_batch(self, sink: str, claimed: list[Claimed], policy: DeliveryConfig, state: SinkState) -> DeliveryStats:
        connector = self.sinks[sink]
        store = self.store
        stats = DeliveryStats(batches=1)
        claimed, events, unreadable = readable_claims(claimed)
        if unreadable:  # dead at once, with what is wrong; the rest of the batch goes on
            stats.dead += await self._dead_letter_unreadable(sink, unreadable)
            if not claimed:
                return stats
        error = await self._attempt(connector, events, policy)
        now = time.time()
        if error is None:
            try:
                await store.call(store.mark_delivered, [c.outbox_id for c in claimed], at=now)
            except Exception:  # the sink has them: record it once the store answers (see _settle)
                self._unrecorded.setdefault(sink, []).extend(c.outbox_id for c in claimed)
                raise
            stats.delivered = len(claimed)
            self.metrics.delivery_attempts.labels(sink, "delivered").inc(len(claimed))
            self.log.info("delivered", sink=sink, count=len(claimed))  # counts: a big sync's ids flood a terminal
            self.log.debug("delivered events", sink=sink, event_ids=[e.id for e in events])
            if state.consecutive_failures or state.paused_until:
                await store.call(store.save_sink_state, SinkState(sink))
            return stats
        if isinstance(error, PermanentError) and len(claimed) > 1:
            # narrow the poison event(s) down: deliver one by one
            stats.batches = 0
            for index, item in enumerate(claimed):
                one = await self._deliver_batch(sink, [item], policy, await store.call(store.sink_state, sink))
                stats.add(one)
                if one.retried:  # the rest waits behind it (in order): give it back untried
                    await store.call(store.release, [c.outbox_id for c in claimed[index + 1:]])
                    break
            return stats
        stats.add(await self._record_failure(sink, claimed, error, policy, state, now))
        return stats

    async def _dead_letter_unreadable(self, sink: str, unreadable: list[tuple[Claimed, str]]) -> int:
        now = time.time()
        for item, problem in unreadable:
            message = redact_text(f"stored event cannot be read: {problem}")
            await self.store.call(self.store.mark_failed, [item.outbox_id], error=message, at=now, retry_at=None)
            self.log.warning("dead letter", sink=sink, event_id=item.event["id"], seq=item.event["seq"], error=message)
        self.metrics.delivery_attempts.labels(sink, "dead").inc(len(unreadable))
        return len(unreadable)

    async def _attempt(self, connector, events: list[TraceEvent], policy: DeliveryConfig) -> ConnectorError | None:
        try:
            await asyncio.wait_for(connector.deliver(events), timeout=self.delivery_timeout)
        except ConnectorError as exc:
            return exc
        except asyncio.TimeoutError:
            return UnreachableError("delivery timed out")
        except Exception as exc:  # a bug in a sink must not lose events: retry, then dead-letter
            return RetryableError(f"unexpected {type(exc).__name__}: {exc}")
        return None

    async def _record_failure(self, sink, claimed, error: ConnectorError, policy, state: SinkState, now: float) -> DeliveryStats:
        store = self.store
        stats = DeliveryStats()
        message = redact_text(f"{type(error).__name__}: {error}")
        stats.errors.append(message)
        dead, retry = [], []
        max_age = policy.max_age.total_seconds()
        for item in claimed:
            exhausted = item.attempts + 1 >= policy.max_attempts and not isinstance(error, UnreachableError)
            if not error.retryable or exhausted or now - item.created_at >= max_age:
                dead.append(item)
            else:
                retry.append(item)
        # one retry time for the batch: it comes due whole, in order, before anything after it
        retry_groups = {}
        if retry:
            wait = backoff_seconds(policy, max(item.attempts for item in retry) + 1)
            if error.retry_after:
                wait = max(wait, error.retry_after)
            retry_groups[round(now + wait, 3)] = retry
        if dead:
            await store.call(store.mark_failed, [c.outbox_id for c in dead], error=message, at=now, retry_at=None)
            stats.dead += len(dead)
            self.metrics.delivery_attempts.labels(sink, "dead").inc(len(dead))
            for item in dead:
                self.log.warning("dead letter", sink=sink, event_id=item.event["id"], attempts=item.attempts + 1, error=message)
        for retry_at, items in retry_groups.items():
            await store.call(store.mark_failed, [c.outbox_id for c in items], error=message, at=now, retry_at=retry_at)
            stats.retried += len(items)
            self.metrics.delivery_attempts.labels(sink, "retry").inc(len(items))
            for item in items:
                self.log.info("delivery failed, will retry", sink=sink, event_id=item.event["id"],
                              attempt=item.attempts + 1, retry_in=round(retry_at - now, 1), error=message)
        failures = state.consecutive_failures + 1
        paused_until = None
        if failures >= policy.pause_after_failures:
            paused_until = now + max(policy.pause_for.total_seconds(), error.retry_after or 0)
            self.log.warning("sink paused", sink=sink, failures=failures, seconds=round(paused_until - now))
        await store.call(store.save_sink_state, SinkState(sink, failures, paused_until, message))
        return stats

"""APScheduler 3 runs each pull source on its schedule and the jobs plugins declare.

Jobs never overlap themselves (``max_instances=1``, missed runs coalesced). With several
daemons on one database, only the holder of the ``scheduler`` lease runs jobs: APScheduler 3
cannot share a job store between processes, so leadership is a lease in the store, renewed
every few seconds and taken over when its holder disappears.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub.connector import Schedule, crontab_to_apscheduler
from hub.leases import owner_is_dead, process_owner
from hub.store.outage import describe, store_unavailable

if TYPE_CHECKING:
    from hub.store.base import JobStore

LEASE_NAME = "scheduler"
LEASE_TTL = 30.0
RENEW_EVERY = 10.0


@dataclass
class Job:
    """A job the scheduler runs on ``schedule``: ``run`` takes no argument (the hub binds it)."""

    name: str
    schedule: Schedule
    run: Callable[[], Awaitable[Any]]


def trigger_for(schedule: Schedule, timezone: Any):
    if schedule.cron is not None:
        return CronTrigger.from_crontab(crontab_to_apscheduler(schedule.cron), timezone=timezone)
    return IntervalTrigger(seconds=schedule.every.total_seconds(), timezone=timezone)


class HubScheduler:
    """Runs ``jobs`` while this process holds the scheduler lease in ``leases`` (the store)."""

    def __init__(self, jobs: list[Job], leases: "JobStore", *, timezone: Any, log: Any):
        self.jobs = jobs
        self.leases = leases
        self.timezone = timezone
        self.owner = process_owner()
        self.scheduler = AsyncIOScheduler(timezone=timezone)
        self.is_leader = False
        self._renewed_at = 0.0  # monotonic time of the last successful renewal
        self._running: set[asyncio.Task] = set()
        self.log = log.bind(component="scheduler")

    async def start(self) -> None:
        await self._renew()
        for spec in self.jobs:
            self.scheduler.add_job(
                self._guarded, trigger_for(spec.schedule, self.timezone), args=[spec],
                id=spec.name, name=spec.name, max_instances=1, coalesce=True, misfire_grace_time=300,
                next_run_time=_first_run(spec),
            )
        self.scheduler.add_job(self._renew, IntervalTrigger(seconds=RENEW_EVERY), id="lease", max_instances=1)
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._running:  # let running jobs finish their current page
            await asyncio.wait(list(self._running), timeout=30)
        if self.is_leader:
            try:
                await self.leases.call(self.leases.release_lease, LEASE_NAME, self.owner)
            except Exception as exc:  # the store is down: the lease expires by itself
                self.log.warning("scheduler lease not released", error=describe(exc))

    @property
    def running(self) -> bool:
        """True while APScheduler runs the jobs and the lease renewal (reported by /readyz)."""
        return self.scheduler.running

    async def _renew(self) -> None:
        """Take or keep the lease. A store error is logged in one line and the next renewal tries
        again; leadership is given up once the lease may have expired meanwhile."""
        was = self.is_leader
        try:
            await self._take_lease()
        except Exception as exc:
            if time.monotonic() - self._renewed_at >= LEASE_TTL:
                self.is_leader = False
            self.log.warning("scheduler lease not renewed", error=describe(exc), retry_in=RENEW_EVERY,
                             leader=self.is_leader)
        if self.is_leader != was:
            self.log.info("scheduler leadership", leader=self.is_leader, owner=self.owner)

    async def _take_lease(self) -> None:
        store = self.leases
        holder = await store.call(store.lease_holder, LEASE_NAME, now=time.time())
        if holder and holder != self.owner and owner_is_dead(holder):
            await store.call(store.release_lease, LEASE_NAME, holder)  # its process died on this host
        self.is_leader = await store.call(store.acquire_lease, LEASE_NAME, self.owner, ttl=LEASE_TTL, now=time.time())
        self._renewed_at = time.monotonic()

    async def _guarded(self, spec: Job) -> None:
        if not self.is_leader:
            return
        task = asyncio.current_task()
        self._running.add(task)
        try:
            await spec.run()
        except Exception as exc:  # the job runs again at its next time: that is its backoff
            if store_unavailable(exc):
                self.log.warning("job failed: store unavailable", job=spec.name, error=describe(exc))
            else:
                self.log.exception("job failed", job=spec.name)
        finally:
            self._running.discard(task)


def _first_run(spec: Job):
    """Interval jobs run once at start-up (catch up after downtime); cron jobs wait for their time."""
    if spec.schedule.every is not None:
        return dt.datetime.now(dt.timezone.utc)
    return None

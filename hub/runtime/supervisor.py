"""Keeps the daemon's background loops running, and says which ones are not.

Each loop (a delivery loop per sink, the scheduler's lease renewal) is a coroutine that should
run until the daemon stops. The loops catch store errors themselves; should one end or raise
anyway, the supervisor logs it in one line and starts it again after a backoff (doubling from
``initial`` up to ``maximum`` seconds, reset once a run has lasted longer than ``maximum``).
While a loop waits to be restarted it is reported as not running: ``/readyz`` turns 503.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from hub.store.outage import describe


@dataclass
class LoopState:
    running: bool = False
    restarts: int = 0
    last_error: str | None = None


class Supervisor:
    def __init__(self, log: Any, *, initial: float = 0.5, maximum: float = 10.0):
        self.log = log.bind(component="supervisor")
        self.initial, self.maximum = initial, maximum
        self.states: dict[str, LoopState] = {}
        self._probes: dict[str, Callable[[], bool]] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._stopping = asyncio.Event()

    def start(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run ``loop()`` under supervision as ``name``."""
        self.states[name] = LoopState()
        self._tasks[name] = asyncio.create_task(self._keep(name, loop), name=f"loop:{name}")

    def watch(self, name: str, is_running: Callable[[], bool]) -> None:
        """Report ``name`` (run by something else, e.g. APScheduler) as running when ``is_running()``."""
        self._probes[name] = is_running

    def status(self) -> dict[str, bool]:
        """Every loop and whether it runs now."""
        out = {name: state.running for name, state in self.states.items()}
        out.update({name: bool(probe()) for name, probe in self._probes.items()})
        return out

    def not_running(self) -> list[str]:
        return sorted(name for name, running in self.status().items() if not running)

    async def _keep(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        state, delay = self.states[name], self.initial
        while not self._stopping.is_set():
            started = time.monotonic()
            state.running = True
            try:
                await loop()
                error = "ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = describe(exc)
            finally:
                state.running = False
            if self._stopping.is_set():
                return
            if time.monotonic() - started > self.maximum:
                delay = self.initial
            state.restarts += 1
            state.last_error = error
            self.log.warning("background loop stopped, restarting", loop=name, error=error, retry_in=delay)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, self.maximum)

    async def stop(self, timeout: float, tell_loops: Callable[[], None] = lambda: None) -> None:
        """Stop restarting loops, ``tell_loops()`` to end, let them finish (their current batch) within
        ``timeout`` seconds, then cancel what is left."""
        self._stopping.set()
        tell_loops()
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

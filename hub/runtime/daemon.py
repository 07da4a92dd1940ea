"""``parcours run``: HTTP server, scheduler and delivery loops in one process.

SIGTERM / SIGINT drain: /readyz turns 503, the listener stops accepting, in-flight requests
finish (a request is acknowledged only after its commit), running pulls finish their page,
delivery loops finish their batch, then connectors and the store close. A database outage does
not change this: loops waiting for the store end at once, and the exit status is 0.
"""

from __future__ import annotations

import asyncio
import errno
import signal
from typing import TYPE_CHECKING

from aiohttp import web

from hub.errors import HubError
from hub.runtime.scheduler import HubScheduler
from hub.runtime.server import DRAINING_KEY, build_app

if TYPE_CHECKING:
    from hub.runtime.app import Hub

DRAIN_SECONDS = 30.0


class PortInUse(HubError):
    """The listen address is taken by another process: said in one line, not a traceback."""

    def __init__(self, host: str, port: int):
        super().__init__(f"port {port} on {host} is already in use (another `parcours run`?): stop that process, "
                         f"or choose another port with --port or hub.http.port")
        self.host, self.port = host, port


async def serve(hub: "Hub", *, host: str | None = None, port: int | None = None, ready: asyncio.Event | None = None) -> None:
    http = hub.config.hub.http
    host = host or http.host
    port = http.port if port is None else port
    await hub.start()
    app = build_app(hub)
    runner = web.AppRunner(app, shutdown_timeout=DRAIN_SECONDS, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await hub.stop()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise
    hub.log.info("listening", address=[f"{a[0]}:{a[1]}" for a in runner.addresses], config=str(hub.config.path))
    scheduler = HubScheduler(hub.scheduled_jobs(), hub.store, timezone=hub.config.timezone, log=hub.log)
    await scheduler.start()
    hub.loops.watch("scheduler", lambda: scheduler.running)
    await hub.dispatcher.recover()
    for sink in hub.dispatcher.sinks:  # one supervised loop per sink: a store outage pauses it, never ends it
        hub.loops.start(f"dispatch:{sink}", lambda s=sink: hub.dispatcher.sink_loop(s))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()

    hub.log.info("stopping: draining in-flight work")
    app[DRAINING_KEY]["on"] = True
    hub.stopping = True  # running pulls end after their current page
    await scheduler.stop()
    await runner.cleanup()  # stops accepting, waits for in-flight requests
    await hub.loops.stop(DRAIN_SECONDS, tell_loops=hub.dispatcher.stop)  # each loop finishes its batch
    await hub.stop()
    hub.log.info("stopped")

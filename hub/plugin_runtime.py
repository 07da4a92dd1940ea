"""What a plugin gets from the running hub: a small, stable interface instead of the hub itself.

The ``startup`` and ``shutdown`` hooks and the jobs a plugin declares (``register_jobs``) receive a
:class:`PluginRuntime`. It offers what plugins need and nothing that would tie them to the hub's
internals: the validated configuration, a logger, the one door to the ledger (``append``), the
ledger's events and the up-to-date journeys a page at a time, a configured funder export by name,
and a way to run a background task that the hub cancels when it stops.

Example job (see ``register_jobs`` in :mod:`hub.hookspecs`)::

    async def nightly(runtime: PluginRuntime) -> None:
        async for reports in runtime.journey_pages():
            ...
        await runtime.append([{"type": "alert.raised", ...}], source="hub")
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

from hub.connector import Schedule

if TYPE_CHECKING:
    from hub.config import LoadedConfig
    from hub.formats import FunderFormat
    from hub.journeys.compute import JourneyReport
    from hub.store.base import IngestResult


@dataclass(frozen=True)
class PluginRuntime:
    """The running hub as plugins see it. Built by the hub; plugins never construct one."""

    #: the validated configuration (``config.model`` is the whole file, ``config.exports`` the exports)
    config: "LoadedConfig"
    #: a structlog logger bound to the plugin's component
    log: Any
    _append: Callable[..., Awaitable["IngestResult"]]
    _journey_pages: Callable[..., AsyncIterator[list["JourneyReport"]]]
    _events: Callable[..., AsyncIterator[list[dict[str, Any]]]]
    _funder_format: Callable[[str], "FunderFormat"]
    _spawn: Callable[[Awaitable[Any]], asyncio.Task]

    async def append(self, items: list[dict[str, Any]], *, source: str) -> "IngestResult":
        """Validate ``items`` (event inputs, as ``POST /api/events`` takes them) and append them
        to the ledger all or nothing; sinks are woken. Raises :class:`hub.events.EventValidationError`."""
        return await self._append(items, source=source)

    def journey_pages(self, *, today: dt.date | None = None) -> AsyncIterator[list["JourneyReport"]]:
        """Every enrolment's journey, brought up to date with the ledger, a page of reports at a time."""
        return self._journey_pages(today=today)

    def events(self, *, types: list[str] | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """The ledger's events (of ``types`` when given) in append order, a page at a time."""
        return self._events(types=types)

    def funder_format(self, name: str) -> "FunderFormat":
        """The configured export ``name`` (raises :class:`hub.errors.HubError` when there is none)."""
        return self._funder_format(name)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Run ``coro`` in the background; the hub cancels it when it stops."""
        return self._spawn(coro)

    @property
    def timezone(self) -> dt.tzinfo:
        """The organisation's time zone (``hub.timezone``)."""
        return self.config.timezone


@dataclass
class JobSpec:
    """A scheduled job declared by a plugin (``register_jobs`` hook): ``run`` is awaited with the
    :class:`PluginRuntime` on ``schedule``."""

    name: str
    schedule: Schedule
    run: Callable[[PluginRuntime], Awaitable[Any]]

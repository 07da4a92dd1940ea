"""pytest plugin shipped with Parcours Hub (entry point ``pytest11``: ``parcours``).

Fixtures for connector authors:

* ``parcours_context`` — a :class:`hub.connector.ConnectorContext` under ``tmp_path`` (see
  :func:`hub.testing.make_context`); its aiohttp session is closed after the test.
* ``parcours_sample_events`` — a function ``(n=3, source="sample") -> list[TraceEvent]`` of
  valid events (:func:`hub.testing.sample_events`), for sinks.

The contract test classes come from :func:`hub.testing.get_connector_test_class` and, for
funder formats, :func:`hub.testing.get_format_test_class` (whose data comes from a fixture
``parcours_format_hub`` that the test module defines).
This module imports nothing heavy at load time (``hub.testing`` is imported when a fixture
is first used), so it costs pytest start-up nothing. ``parcours_context`` is an async
fixture when pytest-asyncio is active (strict or auto mode), and a plain one otherwise.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Iterator

import pytest


def _new_context(tmp_path: Any) -> Any:
    from hub.testing import make_context

    return make_context(tmp_path, "test")


async def _async_context(tmp_path):
    """A ConnectorContext under ``tmp_path``; its HTTP session is closed after the test."""
    from hub.testing import close_context

    context = _new_context(tmp_path)
    try:
        yield context
    finally:
        await close_context(context)


def _sync_context(tmp_path) -> Iterator[Any]:
    """A ConnectorContext under ``tmp_path`` (pytest-asyncio is not active: no async tests)."""
    context = _new_context(tmp_path)
    yield context
    session = context._session
    loop = getattr(session, "_loop", None)
    if session is not None and not session.closed and loop is not None and not loop.is_closed() \
            and not loop.is_running():
        loop.run_until_complete(session.close())


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin("asyncio"):
        import pytest_asyncio

        context_fixture = pytest_asyncio.fixture(name="parcours_context")(_async_context)
    else:
        context_fixture = pytest.fixture(name="parcours_context")(_sync_context)
    holder = types.ModuleType(f"{__name__}.context")  # a module: pytest reads fixtures off its attributes
    holder.parcours_context = context_fixture
    config.pluginmanager.register(holder, "parcours-context")


@pytest.fixture
def parcours_sample_events() -> Callable[..., list]:
    """``parcours_sample_events(n=3, source="sample")``: ``n`` valid TraceEvents for a sink."""
    from hub.testing import sample_events

    return sample_events

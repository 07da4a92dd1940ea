"""pytest plugin shipped with Parcours Hub (entry point ``pytest11``: ``parcours``).

Fixtures for connector authors:

* ``parcours_context`` — a :class:`hub.connector.ConnectorContext` under ``tmp_path`` (see
  :func:`hub.testing.make_context`); its aiohttp session is closed after the test.
* ``parcours_sample_events`` — a function ``n -> list[TraceEvent]`` of valid events
  (:func:`hub.testing.sample_events`), for sinks.

The contract test class itself comes from :func:`hub.testing.get_connector_test_class`.
This module imports nothing heavy at load time, so it costs pytest start-up nothing, and it
works without pytest-asyncio (the context fixture then closes its session on a best-effort
basis).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

try:  # pytest-asyncio is already loaded as a plugin when installed: importing it is free
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised only without pytest-asyncio
    pytest_asyncio = None


def _new_context(tmp_path: Any) -> Any:
    from hub.testing import make_context

    return make_context(tmp_path, "test")


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def parcours_context(tmp_path):
        """A ConnectorContext under ``tmp_path``; its HTTP session is closed after the test."""
        from hub.testing import close_context

        context = _new_context(tmp_path)
        try:
            yield context
        finally:
            await close_context(context)

else:  # pragma: no cover

    @pytest.fixture
    def parcours_context(tmp_path) -> Iterator[Any]:
        """A ConnectorContext under ``tmp_path`` (install pytest-asyncio for async tests)."""
        context = _new_context(tmp_path)
        yield context
        session = context._session
        loop = getattr(session, "_loop", None)
        if session is not None and not session.closed and loop is not None and not loop.is_closed() \
                and not loop.is_running():
            loop.run_until_complete(session.close())


@pytest.fixture
def parcours_sample_events() -> Callable[..., list]:
    """``parcours_sample_events(n=3, source="sample")``: ``n`` valid TraceEvents for a sink."""
    from hub.testing import sample_events

    return sample_events

"""Helpers of the contract kits: a connector context for tests, captured logs, sample events, peers."""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import json
import re
import sys
import zoneinfo
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping

import aiohttp
import structlog
from pydantic import BaseModel, SecretBytes, SecretStr

from hub.blobs import BlobStore
from hub.connector import (
    ConnectorContext,
)
from hub.errors import (
    AuthError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)
from hub.events import (
    LearnerRef,
    TraceEvent,
)
from hub.ulid import new_ulids

Peer = Callable[[Path], Any]
FailingPeer = Callable[[int, Path], Any]

DEFAULT_FAILING_STATUSES = (500, 503, 429, 400, 401)
_CREDENTIAL_FIELD = re.compile(r"(secret|password|passwd|token|api_?key|private_key)$", re.I)


# --------------------------------------------------------------------------- helpers


class _LineLogger:
    """A structlog logger that keeps every rendered line and echoes it to stderr.

    The lines let the kit check that nothing secret was logged; stderr lets pytest show
    them when a test fails (it is looked up at call time, so pytest's capture applies).
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _write(self, message: str = "", *args: Any, **kwargs: Any) -> None:
        line = " ".join([str(message), *map(str, args)])
        self.lines.append(line)
        print(line, file=sys.stderr)

    msg = debug = info = warning = warn = error = critical = exception = fatal = log = _write


def _test_logger(name: str) -> Any:
    return structlog.wrap_logger(
        _LineLogger(),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["level", "event"], drop_missing=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(0),
        context_class=dict,
    ).bind(connector=name)


def make_context(
    tmp_path: Path | str,
    name: str = "test",
    *,
    timezone: str = "Europe/Paris",
    http_timeout: float = 30.0,
) -> ConnectorContext:
    """A :class:`~hub.connector.ConnectorContext` for tests, everything under ``tmp_path``.

    It has a blob store in ``tmp_path/blobs``, a data folder ``tmp_path/data/<name>``, the
    ``Europe/Paris`` time zone, a structlog logger whose lines :func:`captured_logs` returns,
    and an aiohttp session created on first use of ``context.http``. Close that session with
    ``await close_context(context)`` at the end of the test (the ``parcours_context`` fixture
    does it for you).
    """
    root = Path(tmp_path)
    data_dir = root / "data" / name
    data_dir.mkdir(parents=True, exist_ok=True)

    def session_factory() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=http_timeout), headers={"User-Agent": "parcours-hub-tests"}
        )

    return ConnectorContext(
        name=name,
        blobs=BlobStore(root / "blobs"),
        log=_test_logger(name),
        timezone=zoneinfo.ZoneInfo(timezone),
        data_dir=data_dir,
        _session_factory=session_factory,
    )


async def close_context(context: ConnectorContext) -> None:
    """Close the context's aiohttp session if a test opened it."""
    session = context._session
    if session is not None and not session.closed:
        await session.close()
    context._session = None


def captured_logs(context: ConnectorContext) -> list[str]:
    """The log lines a connector wrote through a :func:`make_context` logger."""
    logger = getattr(context.log, "_logger", None)
    return list(getattr(logger, "lines", []))


_SAMPLE_START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def sample_events(n: int = 3, *, source: str = "sample") -> list[TraceEvent]:
    """``n`` valid :class:`~hub.events.TraceEvent` objects, as a sink receives them.

    Types cycle through ``lms.activity_completed``, ``lms.session`` and ``attendance.signed``;
    ids are fresh ULIDs, everything else is deterministic.
    """
    received = dt.datetime.now(dt.timezone.utc)
    events = []
    for i, event_id in enumerate(new_ulids(n)):
        at = _SAMPLE_START + dt.timedelta(hours=i)
        kind = i % 3
        if kind == 0:
            type_, data = "lms.activity_completed", {"activity": f"mod-{i}", "activity_name": f"Module {i}"}
        elif kind == 1:
            end = at + dt.timedelta(minutes=45)
            type_, data = "lms.session", {"start": at.isoformat(), "end": end.isoformat(), "duration_seconds": 2700}
        else:
            type_, data = "attendance.signed", {"date": at.date().isoformat(), "half_day": "am", "proof": "e-signature"}
        events.append(TraceEvent(
            id=event_id, type=type_, occurred_at=at, received_at=received, source=source,
            source_id=f"sample-{i}", learner=LearnerRef(ref=f"learner-{i % 2}", email=f"learner{i % 2}@example.org"),
            action="SESSION-2026-03", data=data,
        ))
    return events


def expected_error(status: int) -> type[Exception]:
    """The taxonomy class a connector must raise when its peer answers HTTP ``status``."""
    if status == 429:
        return RateLimitedError
    if status in (401, 403):
        return AuthError
    if status in (408, 425) or status >= 500:
        return RetryableError
    return PermanentError


@contextlib.asynccontextmanager
async def enter_peer(peer: Callable[..., Any] | None, *args: Any) -> AsyncIterator[dict[str, Any]]:
    """Start ``peer(*args)`` (see the module docs for what a peer may return) and yield its overrides."""
    if peer is None:
        yield {}
        return
    result = peer(*args)
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aenter__"):
        async with result as overrides:
            yield dict(overrides or {})
    elif hasattr(result, "__enter__"):
        with result as overrides:
            yield dict(overrides or {})
    elif isinstance(result, Mapping):
        yield dict(result)
    else:
        raise TypeError(f"peer {peer!r} returned {type(result).__name__}; expected a dict or a context manager yielding one")


def _secret_values(value: Any) -> list[str]:
    """Every secret held by a config model (nested models, lists and dicts included)."""
    out: list[str] = []
    if isinstance(value, SecretStr):
        out.append(value.get_secret_value())
    elif isinstance(value, SecretBytes):
        out.append(value.get_secret_value().decode(errors="replace"))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            out.extend(_secret_values(getattr(value, name)))
    elif isinstance(value, Mapping):
        for item in value.values():
            out.extend(_secret_values(item))
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            out.extend(_secret_values(item))
    return [s for s in out if len(s) >= 4]


def _mentions_secret_type(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_mentions_secret_type(arg) for arg in getattr(annotation, "__args__", ()) or ())


def _cursor_json(cursor: Any) -> str:
    return json.dumps(cursor, sort_keys=True)



"""The contract kit: one pytest class that every connector must pass, one for funder formats.

In the spirit of the Singer SDK's ``get_tap_test_class``, :func:`get_connector_test_class`
turns a connector class and a sample configuration into a pytest test class. Assign it to a
name starting with ``Test`` in a test module and pytest runs the whole contract::

    from hub.testing import get_connector_test_class

    TestMyLms = get_connector_test_class(
        MyLms,
        {"base_url": "http://127.0.0.1:9/", "token": "test-token"},
        pull_peer=fake_lms,          # starts a fake LMS and returns config overrides
    )

The async tests are marked ``pytest.mark.asyncio``: install ``pytest-asyncio`` (strict or
auto mode both work). Subclass the returned class to add your own tests, or to override a
check that does not apply to your connector (give the reason in a docstring).

Peers
-----
A *peer* is what the connector talks to during a test: a fake HTTP server, a folder of
files. You write it; the kit starts it for each test that needs it. A peer is a callable
``peer(folder)`` that receives an empty folder (a :class:`pathlib.Path` under ``tmp_path``)
and returns the config overrides that point the connector at it, either

* a ``dict`` (e.g. a folder of files that needs no clean-up), or
* an async (or plain) context manager yielding that ``dict``: start the server on enter and
  stop it on exit (``contextlib.asynccontextmanager`` makes this a five-line function).

The overrides are merged over ``config`` (top-level keys), so ``config`` may hold
placeholders such as ``http://127.0.0.1:9/`` but must validate on its own. A peer must serve
the same records each time it is started.

``failing_peer(status, folder)`` is the same, but the peer answers *every* request with HTTP
``status`` (with a ``Retry-After: <seconds>`` header when ``status`` is 429).

What is checked
---------------
Every connector:
  ``kind`` is a non-empty string; the class has a docstring; ``Config`` subclasses
  :class:`~hub.connector.ConnectorConfig`, validates ``config`` and refuses unknown keys; the
  configuration JSON Schema can be generated; fields named like credentials are ``SecretStr``
  and no secret value appears in ``repr(config)``/``str(config)``, in an error message or in
  what the connector logs; ``check()`` returns a :class:`~hub.connector.Health` (``ok`` when a
  working peer is given); the types in ``emits`` are known event types.
Pull sources (``pull_peer``):
  ``pull(None)`` returns a :class:`~hub.connector.PullResult` whose events are valid event
  inputs (:meth:`hub.events.EventTypeRegistry.validate_batch`, with ``extra_event_types``) of a
  type in ``emits`` when ``emits`` is declared, whose cursor survives a JSON round trip and
  whose rejects can be stored and replayed with ``map_record``; while ``has_more`` the cursor
  changes, within ``max_pages`` pages; a full sync returns at least one event; a new
  connector instance pulling from the final cursor returns no source id already returned;
  pulling again from ``None`` returns only source ids already returned, and a fresh peer
  returns exactly the same ones (so the hub's de-duplication makes re-pulls idempotent);
  against ``failing_peer(status)``, ``pull(None)`` raises the class below.
Webhook sources (``webhook_body`` + ``sign_request``):
  a correctly signed request yields valid events, and the same source ids when handled
  twice; a tampered body (one byte added) and a wrong signature raise
  :class:`~hub.errors.WebhookRejected` with status 401; a signed ``malformed_body`` is refused
  with 400; ``stale_request(body)``, if given, is refused (400 or 401).
Sinks (``sink_peer``, ``failing_peer``):
  delivering :func:`sample_events` succeeds; against ``failing_peer(status)``, ``deliver``
  raises the class below.
Peer errors (pull sources and sinks, ``failing_peer``):
  500/503 raise :class:`~hub.errors.RetryableError`, 429
  :class:`~hub.errors.RateLimitedError` with ``retry_after`` set, 400
  :class:`~hub.errors.PermanentError`, 401 :class:`~hub.errors.AuthError` (see
  :func:`expected_error`; ``failing_statuses`` chooses which are tried). The error message
  must not carry a secret.

Helpers for your own tests: :func:`make_context`, :func:`close_context`,
:func:`captured_logs`, :func:`sample_events`; the pytest plugin :mod:`hub.pytest_plugin`
offers them as the fixtures ``parcours_context`` and ``parcours_sample_events``.

Funder formats
--------------
:func:`get_format_test_class` does the same for a funder format: its class and ``Config``
(JSON Schema, every option described), and its exports run on a test hub's ledger (files only
under the output folder, nothing written and the missing fields listed when data is
incomplete, the same bytes twice on the same ledger). The data comes from a fixture
``parcours_format_hub`` you define (see :class:`FormatContract`); :func:`export_files` runs a
format on a hub without versioning nor recording, for your own tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import inspect
import itertools
import json
import re
import sys
import tempfile
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

import aiohttp
import pytest
import structlog
from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from hub.blobs import BlobStore
from hub.config import json_schema
from hub.connector import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    EventSink,
    Health,
    PullResult,
    PullSource,
    Reject,
    WebhookRequest,
    WebhookResult,
    WebhookSource,
)
from hub.errors import (
    AuthError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    WebhookRejected,
)
from hub.events import (
    EventData,
    EventTypeRegistry,
    EventValidationError,
    LearnerRef,
    TraceEvent,
)
from hub.formats import (
    ExportRequest,
    ExportResult,
    FunderFormat,
    FunderFormatConfig,
    MissingField,
    Period,
)
from hub.ingest.ingestor import encode_json
from hub.runtime.exporting import export_journeys
from hub.store import open_store
from hub.ulid import new_ulids

__all__ = [
    "ConnectorContract",
    "ContractSpec",
    "captured_logs",
    "close_context",
    "expected_error",
    "export_files",
    "FormatContract",
    "FormatSpec",
    "get_connector_test_class",
    "get_format_test_class",
    "make_context",
    "sample_events",
]

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


# --------------------------------------------------------------------------- the contract


@dataclass(frozen=True)
class ContractSpec:
    """What :func:`get_connector_test_class` was given; the generated class keeps it as ``contract``."""

    connector_cls: type[Connector]
    config: dict[str, Any]
    name: str = "contract"
    pull_peer: Peer | None = None
    sink_peer: Peer | None = None
    webhook_peer: Peer | None = None
    failing_peer: FailingPeer | None = None
    failing_statuses: tuple[int, ...] = DEFAULT_FAILING_STATUSES
    webhook_body: bytes | None = None
    sign_request: Callable[[bytes], WebhookRequest] | None = None
    wrong_signature: Callable[[bytes], WebhookRequest] | None = None
    stale_request: Callable[[bytes], WebhookRequest] | None = None
    malformed_body: bytes | None = b"{not json"
    extra_event_types: Mapping[str, type[EventData]] = field(default_factory=dict)
    max_pages: int = 100
    timeout: float = 30.0

    def full_config(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {"kind": self.connector_cls.kind, **self.config, **(overrides or {})}

    def validated_config(self, overrides: Mapping[str, Any] | None = None) -> ConnectorConfig:
        return self.connector_cls.Config.model_validate(self.full_config(overrides))

    @functools.cached_property
    def registry(self) -> EventTypeRegistry:
        """The core vocabulary plus ``extra_event_types`` (built once: its validator is costly)."""
        registry = EventTypeRegistry()
        for type_name, model in self.extra_event_types.items():
            registry.register(type_name, model)
        return registry


@dataclass
class SyncRun:
    """What a full sync (pulls following ``has_more``) returned."""

    pages: list[PullResult] = field(default_factory=list)
    cursor: Any = None

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for page in self.pages for e in page.events]

    @property
    def rejects(self) -> list[Reject]:
        return [r for page in self.pages for r in page.rejects]

    @property
    def source_ids(self) -> list[str]:
        return [e["source_id"] for e in self.events]


def _hint(text: str) -> str:
    return f"{text} (see hub.testing.get_connector_test_class)"


class ConnectorContract:
    """The contract tests. Use :func:`get_connector_test_class` rather than subclassing directly."""

    __test__ = False
    contract: ContractSpec

    # ------------------------------------------------------------------ plumbing
    def pytest_generate_tests(self, metafunc: Any) -> None:
        if "failing_status" in metafunc.fixturenames:
            statuses = list(self.contract.failing_statuses) if self.contract.failing_peer else [None]
            metafunc.parametrize("failing_status", statuses, ids=[str(s) for s in statuses])

    @contextlib.asynccontextmanager
    async def open_connector(self, tmp_path: Path, overrides: Mapping[str, Any] | None = None,
                             *, label: str = "c") -> AsyncIterator[Connector]:
        """An opened connector (config = ``config`` + ``overrides``) on a fresh test context.

        On exit the connector and its HTTP session are closed, and its log lines are checked
        for secret values.
        """
        spec = self.contract
        config = spec.validated_config(overrides)
        context = make_context(tmp_path / f"ctx-{label}", spec.name, http_timeout=spec.timeout)
        connector = spec.connector_cls(spec.name, config, context)
        try:
            await self._call(connector.open())
            try:
                yield connector
            finally:
                await self._call(connector.close())
        finally:
            await close_context(context)
        logged = "\n".join(captured_logs(context))
        for secret in _secret_values(config):
            assert secret not in logged, "the connector logged a secret value from its configuration"

    def peer(self, peer: Callable[..., Any] | None, tmp_path: Path, *args: Any, label: str = "peer"):
        folder = tmp_path / label
        folder.mkdir(parents=True, exist_ok=True)
        return enter_peer(peer, *args, folder)

    async def _call(self, awaitable: Any) -> Any:
        async with asyncio.timeout(self.contract.timeout):
            return await awaitable

    def assert_no_secret(self, text: str, overrides: Mapping[str, Any] | None = None) -> None:
        for secret in _secret_values(self.contract.validated_config(overrides)):
            assert secret not in text, "an error message carries a secret value from the configuration"

    def assert_valid_events(self, events: Any, what: str) -> list[dict[str, Any]]:
        assert isinstance(events, list), f"{what}: events must be a list of dicts, got {type(events).__name__}"
        try:
            validated = self.contract.registry.validate_batch(events)
        except EventValidationError as exc:
            pytest.fail(f"{what}: invalid event inputs: {exc}")
        emits = self.contract.connector_cls.emits
        if emits:
            for i, event in enumerate(validated):
                assert event["type"] in emits, (
                    f"{what}: event {i} has type {event['type']!r}, not declared in emits {list(emits)}")
        return validated

    def assert_page(self, result: Any, what: str, connector: Connector) -> Any:
        assert isinstance(result, PullResult), f"{what}: pull() must return a PullResult, got {type(result).__name__}"
        self.assert_valid_events(result.events, what)
        try:
            cursor = json.loads(json.dumps(result.cursor))
        except (TypeError, ValueError) as exc:
            pytest.fail(f"{what}: the cursor {result.cursor!r} is not JSON-serialisable: {exc}")
        for reject in result.rejects:
            assert isinstance(reject, Reject), f"{what}: rejects must be hub.connector.Reject objects"
            assert reject.stage in ("map", "validate"), f"{what}: reject stage {reject.stage!r}"
            assert isinstance(reject.error, str) and reject.error, f"{what}: a reject needs an error message"
            try:
                payload = json.loads(encode_json(reject.payload))
            except TypeError as exc:
                pytest.fail(f"{what}: a reject payload cannot be stored as JSON: {exc}")
            if reject.stage == "map":
                # the hub replays a map-stage dead letter with map_record(payload)
                with pytest.raises(Exception) as raised:
                    connector.map_record(payload)
                assert not isinstance(raised.value, NotImplementedError), (
                    f"{what}: the source returns map-stage rejects, so it must implement map_record() for replay")
        return cursor

    async def sync(self, connector: Connector, cursor: Any = None, what: str = "sync") -> SyncRun:
        """Pull from ``cursor`` following ``has_more``, checking every page; the cursor goes through JSON."""
        run = SyncRun(cursor=cursor)
        for page_no in range(1, self.contract.max_pages + 1):
            result = await self._call(connector.pull(cursor))
            label = f"{what}, page {page_no} (from cursor {cursor!r})"
            next_cursor = self.assert_page(result, label, connector)
            run.pages.append(result)
            if not result.has_more:
                run.cursor = next_cursor
                return run
            assert _cursor_json(next_cursor) != _cursor_json(cursor), (
                f"{label}: has_more is set but the cursor did not change: the hub would loop forever")
            cursor = run.cursor = next_cursor
        pytest.fail(f"{what}: still has_more after {self.contract.max_pages} pages (max_pages)")

    # ------------------------------------------------------------------ every connector
    def test_kind_is_a_name(self) -> None:
        kind = getattr(self.contract.connector_cls, "kind", None)
        assert isinstance(kind, str) and kind.strip(), "the connector class must set `kind` to a non-empty string"

    def test_has_docstring(self) -> None:
        cls = self.contract.connector_cls
        doc = cls.__dict__.get("__doc__")
        assert doc and doc.strip(), f"{cls.__name__} needs a docstring: its first line is shown by `parcours connectors list`"

    def test_declares_capabilities_and_known_event_types(self) -> None:
        cls = self.contract.connector_cls
        assert cls.capabilities(), f"{cls.__name__} must inherit PullSource, WebhookSource or EventSink"
        registry = self.contract.registry
        unknown = [t for t in cls.emits if t not in registry]
        assert not unknown, _hint(f"emits names unknown event types {unknown}; register them or pass extra_event_types")

    def test_config_model_validates_config(self) -> None:
        cls = self.contract.connector_cls
        assert isinstance(cls.Config, type) and issubclass(cls.Config, ConnectorConfig), (
            "Config must subclass hub.connector.ConnectorConfig")
        try:
            config = self.contract.validated_config()
        except ValidationError as exc:
            pytest.fail(f"the given config does not validate against {cls.Config.__name__}: {exc}")
        assert config.kind == cls.kind
        with pytest.raises(ValidationError):
            cls.Config.model_validate(self.contract.full_config({"surely_not_a_config_key": 1}))

    def test_config_json_schema(self) -> None:
        cls = self.contract.connector_cls
        json.dumps(cls.Config.model_json_schema(mode="validation"))
        schema = json_schema({cls.kind: cls})
        assert f"connector_{cls.kind}" in json.dumps(schema)

    def test_secrets_are_secret(self) -> None:
        cls = self.contract.connector_cls
        plain = [name for name, info in cls.Config.model_fields.items()
                 if _CREDENTIAL_FIELD.search(name) and not _mentions_secret_type(info.annotation)]
        assert not plain, f"credential fields {plain} must be typed SecretStr so they are never printed"
        config = self.contract.validated_config()
        for secret in _secret_values(config):
            assert secret not in repr(config), "a secret value appears in repr(config)"
            assert secret not in str(config), "a secret value appears in str(config)"
            assert secret not in config.model_dump_json(), "a secret value appears in the config's JSON dump"

    @pytest.mark.asyncio
    async def test_check_returns_health(self, tmp_path: Path) -> None:
        spec = self.contract
        peer = spec.pull_peer or spec.sink_peer or spec.webhook_peer
        async with self.peer(peer, tmp_path) as overrides, self.open_connector(tmp_path, overrides) as connector:
            health = await self._call(connector.check())
        assert isinstance(health, Health), f"check() must return hub.connector.Health, got {type(health).__name__}"
        if peer is not None:
            assert health.ok, f"check() against the working peer says: {health.message}"
            self.assert_no_secret(health.message, overrides)

    # ------------------------------------------------------------------ pull sources
    @pytest.mark.asyncio
    async def test_pull_first_page(self, tmp_path: Path) -> None:
        async with self.peer(self.contract.pull_peer, tmp_path) as overrides, \
                self.open_connector(tmp_path, overrides) as connector:
            result = await self._call(connector.pull(None))
            self.assert_page(result, "pull(None)", connector)

    @pytest.mark.asyncio
    async def test_pull_full_sync_pages_progress(self, tmp_path: Path) -> None:
        async with self.peer(self.contract.pull_peer, tmp_path) as overrides, \
                self.open_connector(tmp_path, overrides) as connector:
            run = await self.sync(connector, None, "full sync")
        assert run.events, _hint("a full sync from None returned no event: give a pull_peer that serves records")

    @pytest.mark.asyncio
    async def test_pull_resume_from_final_cursor(self, tmp_path: Path) -> None:
        async with self.peer(self.contract.pull_peer, tmp_path) as overrides:
            async with self.open_connector(tmp_path, overrides, label="first") as connector:
                first = await self.sync(connector, None, "full sync")
            # a new instance, as after a restart: the cursor is the only state
            async with self.open_connector(tmp_path, overrides, label="again") as connector:
                again = await self.sync(connector, first.cursor, "sync from the final cursor")
        repeated = sorted(set(first.source_ids) & set(again.source_ids))
        assert not repeated, f"pulling from the final cursor returned source ids already returned: {repeated[:10]}"

    @pytest.mark.asyncio
    async def test_pull_repull_returns_same_source_ids(self, tmp_path: Path) -> None:
        pull_peer = self.contract.pull_peer
        async with self.peer(pull_peer, tmp_path) as overrides:
            async with self.open_connector(tmp_path, overrides, label="first") as connector:
                first = await self.sync(connector, None, "full sync")
            async with self.open_connector(tmp_path, overrides, label="again") as connector:
                again = await self.sync(connector, None, "second sync from None")
        new = sorted(set(again.source_ids) - set(first.source_ids))
        assert not new, f"a second sync from None returned source ids the first did not (unstable ids?): {new[:10]}"
        async with self.peer(pull_peer, tmp_path, label="peer-fresh") as overrides, \
                self.open_connector(tmp_path, overrides, label="fresh") as connector:
            fresh = await self.sync(connector, None, "sync from None on a fresh peer")
        assert sorted(set(fresh.source_ids)) == sorted(set(first.source_ids)), (
            "a fresh peer serving the same records gave other source ids: source ids must be stable")

    @pytest.mark.asyncio
    async def test_pull_error_classification(self, tmp_path: Path, failing_status: int | None) -> None:
        await self.check_error_classification(tmp_path, failing_status, lambda c: c.pull(None))

    # ------------------------------------------------------------------ webhook sources
    def _webhook_parts(self) -> tuple[bytes, Callable[[bytes], WebhookRequest]]:
        spec = self.contract
        if spec.webhook_body is None or spec.sign_request is None:
            pytest.skip(_hint("pass webhook_body= and sign_request= to check webhook handling"))
        return spec.webhook_body, spec.sign_request

    async def _expect_rejected(self, request: WebhookRequest, statuses: Sequence[int], what: str,
                               tmp_path: Path) -> None:
        async with self.peer(self.contract.webhook_peer, tmp_path) as overrides, \
                self.open_connector(tmp_path, overrides) as connector:
            try:
                await self._call(connector.handle_webhook(request))
            except WebhookRejected as exc:
                assert exc.status in statuses, f"{what}: rejected with status {exc.status}, expected {list(statuses)}"
                self.assert_no_secret(str(exc), overrides)
                return
        pytest.fail(f"{what} was accepted; it must raise hub.errors.WebhookRejected (status {'/'.join(map(str, statuses))})")

    @pytest.mark.asyncio
    async def test_webhook_signed_request(self, tmp_path: Path) -> None:
        body, sign = self._webhook_parts()
        async with self.peer(self.contract.webhook_peer, tmp_path) as overrides, \
                self.open_connector(tmp_path, overrides) as connector:
            results = [await self._call(connector.handle_webhook(sign(body))) for _ in range(2)]
        for attempt, result in enumerate(results, 1):
            assert isinstance(result, WebhookResult), "handle_webhook() must return a hub.connector.WebhookResult"
            self.assert_valid_events(result.events, f"signed webhook (attempt {attempt})")
            json.dumps(result.response)
        assert results[0].events, "a correctly signed request yielded no event"
        ids = [[e["source_id"] for e in r.events] for r in results]
        assert ids[0] == ids[1], "the same webhook handled twice gave other source ids: the hub could not de-duplicate"

    @pytest.mark.asyncio
    async def test_webhook_tampered_body(self, tmp_path: Path) -> None:
        body, sign = self._webhook_parts()
        request = dataclasses.replace(sign(body), body=body + b" ")
        await self._expect_rejected(request, (401,), "a request whose body was changed after signing", tmp_path)

    @pytest.mark.asyncio
    async def test_webhook_wrong_signature(self, tmp_path: Path) -> None:
        body, sign = self._webhook_parts()
        if self.contract.wrong_signature is not None:
            request = self.contract.wrong_signature(body)
        else:
            request = sign(body)
            headers = dict(request.headers)
            names = [h for h in headers if "signature" in h.lower()]
            if not names:
                pytest.skip(_hint("no *signature* header found: pass wrong_signature= to check signature checks"))
            for name in names:
                value = headers[name]
                headers[name] = value[:-1] + ("0" if value[-1:] != "0" else "1")
            request = dataclasses.replace(request, headers=headers)
        await self._expect_rejected(request, (401,), "a request with a wrong signature", tmp_path)

    @pytest.mark.asyncio
    async def test_webhook_malformed_body(self, tmp_path: Path) -> None:
        _body, sign = self._webhook_parts()
        if self.contract.malformed_body is None:
            pytest.skip(_hint("malformed_body=None"))
        await self._expect_rejected(sign(self.contract.malformed_body), (400,), "a signed but malformed body", tmp_path)

    @pytest.mark.asyncio
    async def test_webhook_stale_request(self, tmp_path: Path) -> None:
        body, _sign = self._webhook_parts()
        if self.contract.stale_request is None:
            pytest.skip(_hint("pass stale_request= to check the timestamp tolerance"))
        await self._expect_rejected(self.contract.stale_request(body), (400, 401), "a request with an old timestamp", tmp_path)

    # ------------------------------------------------------------------ sinks
    @pytest.mark.asyncio
    async def test_sink_delivers_batch(self, tmp_path: Path) -> None:
        events = sample_events(3, source="contract-source")
        async with self.peer(self.contract.sink_peer, tmp_path) as overrides, \
                self.open_connector(tmp_path, overrides) as connector:
            result = await self._call(connector.deliver(events))
        assert result is None, "deliver() returns None on success (and raises a hub.errors error otherwise)"

    @pytest.mark.asyncio
    async def test_sink_error_classification(self, tmp_path: Path, failing_status: int | None) -> None:
        await self.check_error_classification(
            tmp_path, failing_status, lambda c: c.deliver(sample_events(2, source="contract-source")))

    # ------------------------------------------------------------------ peer errors
    async def check_error_classification(self, tmp_path: Path, status: int | None,
                                         call: Callable[[Any], Any]) -> None:
        """``call(connector)`` against ``failing_peer(status)`` must raise the taxonomy class for ``status``."""
        spec = self.contract
        if status is None:
            pytest.skip(_hint("pass failing_peer= to check how peer errors are classified"))
        expected = expected_error(status)
        async with self.peer(spec.failing_peer, tmp_path, status) as overrides, \
                self.open_connector(tmp_path, overrides) as connector:
            with pytest.raises(Exception) as raised:
                await self._call(call(connector))
        exc = raised.value
        assert isinstance(exc, expected), (
            f"a peer answering HTTP {status} must raise {expected.__name__}, got {type(exc).__name__}: {exc}")
        if status == 429:
            assert exc.retry_after is not None, "HTTP 429 with Retry-After must set RateLimitedError.retry_after"
        self.assert_no_secret(str(exc), overrides)


_CAPABILITY_PREFIXES = {PullSource: "test_pull_", WebhookSource: "test_webhook_", EventSink: "test_sink_"}


def get_connector_test_class(
    connector_cls: type[Connector],
    config: Mapping[str, Any],
    *,
    name: str = "contract",
    pull_peer: Peer | None = None,
    sink_peer: Peer | None = None,
    webhook_peer: Peer | None = None,
    failing_peer: FailingPeer | None = None,
    failing_statuses: Sequence[int] = DEFAULT_FAILING_STATUSES,
    webhook_body: bytes | None = None,
    sign_request: Callable[[bytes], WebhookRequest] | None = None,
    wrong_signature: Callable[[bytes], WebhookRequest] | None = None,
    stale_request: Callable[[bytes], WebhookRequest] | None = None,
    malformed_body: bytes | None = b"{not json",
    extra_event_types: Mapping[str, type[EventData]] | None = None,
    max_pages: int = 100,
    timeout: float = 30.0,
) -> type[ConnectorContract]:
    """Return a pytest class running the connector contract on ``connector_cls``.

    :param connector_cls: the connector class under test.
    :param config: a configuration that validates on its own (``kind`` may be left out);
        peers' overrides are merged over it.
    :param name: the connector instance name used in the tests.
    :param pull_peer: ``peer(folder)`` serving records for the pull tests (see the module
        docs for what a peer returns). Without it the pull tests use ``config`` as is.
    :param sink_peer: ``peer(folder)`` accepting deliveries for the sink tests.
    :param webhook_peer: ``peer(folder)`` for webhook sources that call their peer back.
    :param failing_peer: ``failing_peer(status, folder)``: a peer answering every request with
        ``status`` (plus ``Retry-After`` on 429), used by the pull and sink error tests;
        without it error classification is skipped.
    :param failing_statuses: the statuses tried with ``failing_peer``.
    :param webhook_body: a body a real sender would post; with ``sign_request`` it enables the
        webhook tests.
    :param sign_request: ``sign_request(body) -> WebhookRequest``, correctly signed now.
    :param wrong_signature: ``wrong_signature(body) -> WebhookRequest`` signed with a wrong
        secret; by default the kit alters the last character of every ``*signature*`` header.
    :param stale_request: ``stale_request(body) -> WebhookRequest`` correctly signed but with a
        timestamp outside the tolerance.
    :param malformed_body: a body the source must refuse with 400 once signed (``None`` skips).
    :param extra_event_types: ``{"family.name": DataModel}`` types the connector's plugin
        registers, added to the core vocabulary for validation.
    :param max_pages: a full sync taking more pages than this fails (an endless ``has_more``).
    :param timeout: seconds allowed for each connector call.

    Tests of a capability the class does not offer are left out; tests whose peer or
    callable is missing are skipped with a hint.
    """
    if not (isinstance(connector_cls, type) and issubclass(connector_cls, Connector)):
        raise TypeError(f"{connector_cls!r} is not a hub.connector.Connector subclass")
    spec = ContractSpec(
        connector_cls=connector_cls, config=dict(config), name=name, pull_peer=pull_peer, sink_peer=sink_peer,
        webhook_peer=webhook_peer, failing_peer=failing_peer, failing_statuses=tuple(failing_statuses),
        webhook_body=webhook_body, sign_request=sign_request, wrong_signature=wrong_signature,
        stale_request=stale_request, malformed_body=malformed_body, extra_event_types=dict(extra_event_types or {}),
        max_pages=max_pages, timeout=timeout,
    )
    class_name = f"Test{connector_cls.__name__}Contract"
    caller = sys._getframe(1).f_globals.get("__name__", __name__)
    attrs: dict[str, Any] = {"__test__": True, "contract": spec, "__module__": caller, "__qualname__": class_name,
                             "__doc__": f"The connector contract for {connector_cls.__module__}.{connector_cls.__qualname__}."}
    for capability, prefix in _CAPABILITY_PREFIXES.items():
        if not issubclass(connector_cls, capability):
            for attr in dir(ConnectorContract):
                if attr.startswith(prefix):
                    attrs[attr] = None  # not collected by pytest
    return type(class_name, (ConnectorContract,), attrs)


# --------------------------------------------------------------------------- the funder-format contract


async def export_files(hub: Any, name: str, period: Any, out_dir: Path, *, allow_incomplete: bool = False) -> Any:
    """Run the format of export ``name`` on ``hub``'s ledger into ``out_dir``: its ``ExportResult``.

    Unlike ``hub.export`` nothing is versioned, recorded nor discarded: the format's own answer,
    and the ledger left as it was (two calls read the same ledger).
    """
    period = Period.parse(period) if isinstance(period, str) else period
    fmt = hub.funder_format(name)
    await hub.project()
    out_dir.mkdir(parents=True, exist_ok=True)
    reader = open_store(hub.config.hub.store.url, base_dir=Path.cwd())

    def events(types: list[str] | None = None):
        through = reader.projection_cursor()
        return itertools.takewhile(lambda e: e["seq"] <= through, reader.iter_events(types=types, batch=5000))

    request = ExportRequest(name, period, export_journeys(hub.config, fmt, reader, period, None), out_dir, hub.config,
                            events, allow_incomplete)

    def export() -> Any:
        with reader.read_snapshot():
            return fmt.export(request)

    try:
        return await asyncio.to_thread(export)
    finally:
        reader.close()


def _files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _undocumented_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Fields of ``model`` (and of the models it nests) without a description."""
    found = []
    for field_name, info in model.model_fields.items():
        where = f"{prefix}{field_name}"
        if not (info.description or "").strip():
            found.append(where)
        for nested in _nested_models(info.annotation):
            if nested is not model and not nested.__module__.startswith("hub."):  # the core documents its own
                found += _undocumented_fields(nested, f"{where}.")
    return found


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


@dataclass(frozen=True)
class FormatSpec:
    """What :func:`get_format_test_class` was given; the generated class keeps it as ``contract``."""

    format_cls: type[FunderFormat]
    export: str
    period: str
    incomplete: bool = True


class FormatContract:
    """The funder-format contract tests. Use :func:`get_format_test_class` rather than subclassing directly.

    The tests ask for the fixture ``parcours_format_hub``: an async factory
    ``(complete: bool = True) -> Hub``, a started hub whose configuration has the export under test
    and whose ledger holds the test data, complete or (``complete=False``) lacking fields the
    funder requires.
    """

    __test__ = False
    contract: FormatSpec

    @pytest.fixture
    def parcours_tempdir(self, tmp_path: Path, monkeypatch: Any) -> Path:
        """Temporary files go under ``tmp_path/tmp``: the format must leave nothing there."""
        folder = tmp_path / "tmp"
        folder.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(folder))
        return folder

    async def _export(self, hub: Any, out_dir: Path, **kwargs: Any) -> Any:
        spec = self.contract
        result = await export_files(hub, spec.export, spec.period, out_dir, **kwargs)
        assert isinstance(result, ExportResult), _format_hint(f"export() returned {type(result).__name__}, "
                                                              "not an ExportResult")
        return result

    # ------------------------------------------------------------------ the class
    def test_kind_and_docstring(self) -> None:
        cls = self.contract.format_cls
        assert isinstance(getattr(cls, "kind", None), str) and re.fullmatch(r"[a-z][a-z0-9_]*", cls.kind), \
            _format_hint("kind must be a lowercase name")
        assert (cls.__doc__ or "").strip(), _format_hint(f"{cls.__name__} needs a docstring (it documents the format)")
        assert cls.period in ("month", "year"), _format_hint("period is 'month' or 'year'")

    def test_config_json_schema(self) -> None:
        config_cls = self.contract.format_cls.Config
        assert issubclass(config_cls, FunderFormatConfig), _format_hint("Config must subclass FunderFormatConfig")
        schema = config_cls.model_json_schema()
        assert schema.get("type") == "object" and "kind" in schema.get("properties", {})
        json.dumps(schema)  # serialisable as it is published in config/schema.json
        assert (schema.get("description") or "").strip(), _format_hint("Config needs a docstring")

    def test_options_are_documented(self) -> None:
        undocumented = _undocumented_fields(self.contract.format_cls.Config)
        assert not undocumented, _format_hint(f"options without a description: {', '.join(undocumented)}")

    # ------------------------------------------------------------------ the files
    @pytest.mark.asyncio
    async def test_writes_only_under_its_output_folder(self, parcours_format_hub: Any, tmp_path: Path,
                                                       parcours_tempdir: Path) -> None:
        hub = await parcours_format_hub()
        out_dir = tmp_path / "exports" / "out"
        roots = {tmp_path, Path.cwd()}
        before = {p for root in roots for p in _files_under(root)}
        result = await self._export(hub, out_dir)
        assert not result.missing, f"the complete data still misses fields: {result.missing[:5]}"
        written = set(_files_under(out_dir))
        assert written, "the export wrote no file"
        assert {Path(f) for f in result.files} <= written, "ExportResult.files names files that are not in out_dir"
        stray = [p for root in roots for p in _files_under(root)
                 if p not in before and not p.is_relative_to(out_dir) and not p.name.endswith(("-wal", "-shm", "-journal"))]
        assert not stray, _format_hint(f"files written outside the output folder: {[str(p) for p in stray]}")
        assert not list(parcours_tempdir.iterdir()), "temporary files were left behind"

    @pytest.mark.asyncio
    async def test_incomplete_data_lists_missing_fields_and_writes_nothing(self, parcours_format_hub: Any,
                                                                          tmp_path: Path) -> None:
        if not self.contract.incomplete:
            pytest.skip(_format_hint("no incomplete data given (incomplete=False)"))
        hub = await parcours_format_hub(complete=False)
        out_dir = tmp_path / "exports" / "out"
        result = await self._export(hub, out_dir)
        assert result.missing, "incomplete data, yet no missing field listed"
        for missing in result.missing:
            assert isinstance(missing, MissingField) and missing.field and missing.message, \
                f"a MissingField names the field and says what to do: {missing!r}"
        assert not _files_under(out_dir) and not result.files, \
            _format_hint("with missing fields and allow_incomplete false, write nothing")

    @pytest.mark.asyncio
    async def test_same_ledger_same_bytes(self, parcours_format_hub: Any, tmp_path: Path) -> None:
        hub = await parcours_format_hub()
        first = await self._export(hub, tmp_path / "exports" / "first")
        second = await self._export(hub, tmp_path / "exports" / "second")
        one = {p.relative_to(tmp_path / "exports" / "first"): data
               for p, data in _files_under(tmp_path / "exports" / "first").items()}
        two = {p.relative_to(tmp_path / "exports" / "second"): data
               for p, data in _files_under(tmp_path / "exports" / "second").items()}
        assert sorted(one) == sorted(two), "two runs on the same ledger wrote different files"
        differ = [str(name) for name in one if one[name] != two[name]]
        assert not differ, _format_hint(f"two runs on the same ledger wrote different bytes: {differ}")
        assert first.notes == second.notes


def _format_hint(text: str) -> str:
    return f"{text} (see hub.testing.get_format_test_class)"


def get_format_test_class(format_cls: type[FunderFormat], *, export: str, period: str, incomplete: bool = True) -> type[FormatContract]:
    """Return a pytest class running the funder-format contract on ``format_cls``.

    :param format_cls: the :class:`hub.formats.FunderFormat` subclass under test.
    :param export: the name of its export in the test hub's configuration.
    :param period: the period exported (``2026-10``, ``2026``…), one the test data covers.
    :param incomplete: whether ``parcours_format_hub(complete=False)`` gives data lacking
        required fields (else that test is skipped).

    The test module (or a conftest) defines the fixture ``parcours_format_hub``, an async
    factory ``(complete: bool = True) -> Hub``. What is checked: ``kind``, docstring and
    ``period``; ``Config`` subclasses ``FunderFormatConfig``, its JSON Schema can be generated
    and every option (nested ones included) has a description; on complete data the export
    lists nothing missing and writes only under its output folder (temporary files removed);
    on incomplete data it lists the missing fields and writes nothing; two runs on the same
    ledger write the same files, byte for byte.
    """
    if not (isinstance(format_cls, type) and issubclass(format_cls, FunderFormat)):
        raise TypeError(f"{format_cls!r} is not a hub.formats.FunderFormat subclass")
    spec = FormatSpec(format_cls, export, period, incomplete)
    class_name = f"Test{format_cls.__name__}Contract"
    caller = sys._getframe(1).f_globals.get("__name__", __name__)
    attrs: dict[str, Any] = {"__test__": True, "contract": spec, "__module__": caller, "__qualname__": class_name,
                             "__doc__": f"The funder-format contract for {format_cls.__module__}.{format_cls.__qualname__}."}
    return type(class_name, (FormatContract,), attrs)

"""The connector contract: the pytest class every connector must pass (see :mod:`hub.testing`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

import pytest
from pydantic import ValidationError

from hub.config import json_schema
from hub.connector import (
    Connector,
    ConnectorConfig,
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
    WebhookRejected,
)
from hub.events import (
    EventData,
    EventTypeRegistry,
    EventValidationError,
)
from hub.ingest.ingestor import encode_json
from hub.testing.context import (
    _CREDENTIAL_FIELD,
    DEFAULT_FAILING_STATUSES,
    FailingPeer,
    Peer,
    _cursor_json,
    _mentions_secret_type,
    _secret_values,
    captured_logs,
    close_context,
    enter_peer,
    expected_error,
    make_context,
    sample_events,
)

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



"""What a connector is: a small class around a pydantic config model.

A connector class sets ``kind`` and ``Config`` and inherits one or more capabilities:

* :class:`PullSource` — ``pull(cursor)`` returns event inputs and the next cursor;
* :class:`WebhookSource` — ``handle_webhook(request)`` verifies a request and returns event inputs;
* :class:`EventSink` — ``deliver(events)`` sends a batch or raises an error of :mod:`hub.errors`.

All I/O is async and lives in these methods; the plugin hooks only hand the classes over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Awaitable, ClassVar, Literal, Mapping

import aiohttp
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, WithJsonSchema, model_validator

from hub.rates import RateLimit
from hub.durations import Duration
from hub.errors import AuthError, ConnectorError

if TYPE_CHECKING:
    from hub.blobs import BlobStore
    from hub.events import TraceEvent


def crontab_to_apscheduler(expr: str) -> str:
    """Crontab numbers weekdays from Sunday = 0; APScheduler 3 from Monday = 0. Translate them."""
    fields = expr.split()
    if len(fields) != 5:
        return expr
    names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    def convert(part: str) -> str:
        base, _, step = part.partition("/")
        if "-" in base and all(x.isdigit() for x in base.split("-", 1)):
            a, b = (int(x) for x in base.split("-", 1))
            if a <= b <= 7 and not (a == 0 and b >= 6):
                if a == 0:  # sun-… crosses APScheduler's week boundary: sun,mon-…
                    base = "sun" + (f",mon-{names[b]}" if b >= 1 else "")
                    return base if not step else part
                base = f"{names[a]}-{names[b]}" if b < 7 else f"{names[a]}-sat,sun"
            elif a == 0 and b >= 6:
                base = "*"
        elif base.isdigit():
            base = names[int(base) % 8]
        return base + (f"/{step}" if step else "")

    fields[4] = ",".join(convert(p) for p in fields[4].split(","))
    return " ".join(fields)


class Schedule(BaseModel):
    """When a pull source runs: ``every: 5m`` or ``cron: "0 6 * * 1-5"`` (crontab syntax, hub time zone)."""

    model_config = ConfigDict(extra="forbid")
    every: Duration | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "Schedule":
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(crontab_to_apscheduler(self.cron))
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {self.cron!r}: {exc}") from None
        if self.every is not None and self.every.total_seconds() < 1:
            raise ValueError("'every' must be at least 1s")
        return self


class DeliveryOverrides(BaseModel):
    """Per-sink overrides of ``hub.delivery``."""

    model_config = ConfigDict(extra="forbid")
    batch_size: int | None = Field(default=None, ge=1, le=10_000)
    max_attempts: int | None = Field(default=None, ge=1)
    max_age: Duration | None = None
    rate_limit: RateLimit | None = None


def _split_secrets(value: Any) -> Any:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        return [s for s in value.replace(",", " ").split() if s]
    return value


#: Secrets that one ``${env:…}`` or ``${file:…}`` reference holds, separated by commas, spaces or
#: new lines: a webhook's signing secrets, two while one is being rolled.
SecretList = Annotated[list[SecretStr], BeforeValidator(_split_secrets), WithJsonSchema({"anyOf": [
    {"type": "string", "format": "password", "writeOnly": True},
    {"type": "array", "items": {"type": "string", "format": "password", "writeOnly": True}},
]})]


class ConnectorConfig(BaseModel):
    """Fields every connector accepts. A connector's ``Config`` subclasses this."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    enabled: bool = True
    schedule: Schedule | None = Field(default=None, description="Pull schedule (pull sources only)")
    delivery: DeliveryOverrides | None = Field(default=None, description="Delivery overrides (sinks only)")


@dataclass
class ConnectorContext:
    """What the hub lends a connector: its name, a shared HTTP session, the blob store, a logger."""

    name: str
    blobs: "BlobStore"
    log: Any
    timezone: dt.tzinfo
    data_dir: Any
    _session_factory: Any = None
    _session: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The hub's shared aiohttp session (created on first use, closed by the hub)."""
        if self._session is None or self._session.closed:
            self._session = self._session_factory()
        return self._session


@dataclass
class Health:
    ok: bool
    message: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)


async def probe(call: Awaitable[Any], *, refused: str, unreachable: str) -> Health:
    """A connector's health from one cheap call to its peer. ``refused`` is the message when the
    credentials are refused, ``unreachable`` for any other error; ``{error}`` in them stands for
    the error."""
    try:
        await call
    except AuthError as exc:
        return Health(False, refused.format(error=exc))
    except ConnectorError as exc:
        return Health(False, unreachable.format(error=exc))
    return Health(True)


@dataclass
class Reject:
    """A record a source could not turn into a valid event: dead-lettered, never dropped.

    ``stage`` is ``map`` (the source record itself was malformed) or ``validate`` (the mapped
    event failed validation). ``payload`` is the original record, kept for replay.
    """

    stage: Literal["map", "validate"]
    error: str
    payload: Any
    source_id: str | None = None


#: distinct unmapped values kept per source (the rarest fold into ``(others)``)
MAX_UNMAPPED = 50
OTHERS = "(others)"


def add_skips(tally: Mapping[str, Any] | None, reasons: Mapping[str, int],
              unmapped: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """``tally`` (``{"reasons": {reason: n}, "unmapped": {value: n}}``) plus these counts, the
    unmapped values bounded to :data:`MAX_UNMAPPED` (the rarest fold into ``(others)``)."""
    tally = tally or {}
    out_reasons = dict(tally.get("reasons") or {})
    for reason, n in reasons.items():
        out_reasons[reason] = out_reasons.get(reason, 0) + n
    values = dict(tally.get("unmapped") or {})
    for value, n in unmapped.items():
        values[value] = values.get(value, 0) + n
    others = values.pop(OTHERS, 0)
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[:MAX_UNMAPPED])
    others += sum(n for _, n in ranked[MAX_UNMAPPED:])
    if others:
        kept[OTHERS] = others
    return {"reasons": dict(sorted(out_reasons.items())), "unmapped": kept}


@dataclass
class PullResult:
    """What one ``pull`` returns.

    ``events`` are event-input dicts; ``cursor`` is JSON-serialisable and stored in the same
    transaction as the events; ``has_more`` asks the hub to pull again at once (paging);
    ``rejects`` are records that could not be mapped; ``skipped`` counts, by reason, the
    well-formed records that give no event (nothing vanishes without a trace: the hub shows them in
    the sync summary, the metrics and ``connectors list``); ``unmapped`` counts the values the
    mapping does not know (an xAPI verb IRI), for the admin to map them; ``warnings`` are what
    the admin should know about this page although nothing failed (the sync summary shows them).
    """

    events: list[dict[str, Any]]
    cursor: Any = None
    has_more: bool = False
    rejects: list[Reject] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WebhookRequest:
    """A received webhook, independent of the HTTP framework: exactly the bytes that came.

    ``headers`` is case-insensitive (``headers.get("stripe-signature")`` works whatever the
    case the sender or a proxy used)."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    remote: str | None = None


@dataclass
class WebhookResult:
    """Event inputs from one webhook request; ``response`` is an optional JSON body to answer;
    ``rejects`` are records of the request that could not be mapped (dead-lettered with the events,
    the valid records of a batch are not lost for one bad record); ``skipped`` and ``unmapped`` as
    for :class:`PullResult`."""

    events: list[dict[str, Any]]
    response: Any = None
    rejects: list[Reject] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)


class Connector:
    """Base of every connector. Subclasses set ``kind``, ``Config`` and a docstring."""

    kind: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    #: event types this connector may emit (documentation and contract tests)
    emits: ClassVar[tuple[str, ...]] = ()
    #: webhook sources: keep each verified request body as an evidence blob of its events
    keep_webhook_body: ClassVar[bool] = True

    def __init__(self, name: str, config: ConnectorConfig, context: ConnectorContext):
        self.name = name
        self.config = config
        self.context = context

    @classmethod
    def capabilities(cls) -> list[str]:
        caps = []
        if issubclass(cls, PullSource):
            caps.append("pull")
        if issubclass(cls, WebhookSource):
            caps.append("webhook")
        if issubclass(cls, EventSink):
            caps.append("sink")
        return caps

    async def open(self) -> None:
        """Called once before first use (after the store is open)."""

    async def close(self) -> None:
        """Called once at shutdown."""

    async def check(self) -> Health:
        """Can this connector reach its peer with its credentials? Used by /readyz."""
        return Health(True)


class PullSource:
    """Capability: the hub calls ``pull`` on the connector's schedule."""

    async def pull(self, cursor: Any) -> PullResult:
        """Fetch what changed since ``cursor`` (None on the first run)."""
        raise NotImplementedError

    def map_record(self, record: Any) -> list[dict[str, Any]]:
        """Map one source record again (used to replay a ``map``-stage dead letter)."""
        raise NotImplementedError(f"{type(self).__name__} cannot re-map records")


class WebhookSource:
    """Capability: ``POST /webhooks/{name}`` is handed to ``handle_webhook``."""

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Verify ``request`` (raise :class:`hub.errors.WebhookRejected`) and map it to events."""
        raise NotImplementedError


class EventSink:
    """Capability: the dispatcher hands batches of routed events to ``deliver``."""

    async def deliver(self, events: list["TraceEvent"]) -> None:
        """Send ``events``; return normally on success or raise a :mod:`hub.errors` error.

        Events come in outbox order. Delivery is at least once: after a crash or a lost answer
        the same events are handed over again, so a sink passes each event's ``id`` on as its
        idempotency key (the peer de-duplicates on it) or, when it owns its storage (files),
        skips the events it already holds. Raise :class:`~hub.errors.UnreachableError` when the
        peer cannot be reached at all: such failures wait (up to ``delivery.max_age``) without
        counting against ``max_attempts``.
        """
        raise NotImplementedError

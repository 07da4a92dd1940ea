"""``xapi``: learning traces from any xAPI Learning Record Store, pulled or pushed.

Pull: ``GET <endpoint>statements?since=…&limit=…&ascending=true`` with HTTP Basic auth and
``X-Experience-API-Version``, following the ``more`` links of each StatementResult. The cursor
holds the time of the newest statement seen (``stored`` or, for Ralph, ``timestamp``), the ids
seen at exactly that time (statements sharing one time are neither lost nor repeated), the
``more`` link being followed, and the opening statements waiting for their closing one.

Push: ``POST /webhooks/<name>`` accepts what an LMS plugin or an LRS forwarder would POST to an
LRS's ``statements`` resource — one statement or an array, ``application/json`` — after checking
HTTP Basic credentials or a bearer token in constant time. It answers the array of statement
ids, like an LRS.

Statements become events by verb (see :mod:`connectors.xapi.mapping`); each event's
``source_id`` is the statement id, so re-pulls and re-pushes are de-duplicated by the hub.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import datetime as dt
import functools
import hmac
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import orjson
import yarl
from pydantic import AnyHttpUrl, AwareDatetime, Field, SecretStr, field_validator, model_validator

from connectors.xapi.clock import CursorClock
from connectors.xapi.iso8601 import UTC, format_timestamp, parse_timestamp
from connectors.xapi.mapping import (
    ACTIVITY_LISTS,
    EMITS,
    LEARNER_KINDS,
    Mapped,
    MappingOptions,
    Pairing,
    StatementError,
    StatementMapper,
    VERB_MEANINGS,
    in_time_order,
    statement_uuid,
)
from hub.connector import (
    Connector,
    ConnectorConfig,
    Health,
    PullResult,
    PullSource,
    Reject,
    WebhookRequest,
    WebhookResult,
    WebhookSource,
)
from hub.durations import Duration
from hub.errors import AuthError, ConnectorConfigError, ConnectorError, PermanentError, WebhookRejected
from hub.hookspecs import hookimpl
from hub.http import ANY_2XX, HttpClient, HttpSettings, Response

VERSION_RE = r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$"
MARGIN = dt.timedelta(milliseconds=1)


class XapiConfig(ConnectorConfig, HttpSettings.with_defaults(retry_max_wait=dt.timedelta(seconds=60))):
    endpoint: AnyHttpUrl | None = Field(
        default=None,
        description="The LRS's xAPI base URL, e.g. https://lrs.example.fr/xAPI/ (statements are read from "
        "<endpoint>statements). Leave it out for a push-only connector",
    )
    username: SecretStr | None = Field(default=None, description="LRS client key / user for HTTP Basic auth (${env:…} or ${file:…})")
    password: SecretStr | None = Field(default=None, description="LRS client secret / password for HTTP Basic auth (${env:…} or ${file:…})")
    version: str = Field(default="1.0.3", pattern=VERSION_RE, description="X-Experience-API-Version sent to the LRS")
    page_limit: int = Field(default=500, ge=1, le=10_000, description="Statements asked per page (the LRS may send fewer)")
    since: AwareDatetime | None = Field(default=None, description="Ignore statements before this time (first pull only)")
    cursor_field: Literal["stored", "timestamp"] = Field(
        default="stored",
        description="What the LRS's `since` filters on: `stored` (xAPI) or `timestamp` (Ralph)",
    )
    overlap: Duration | None = Field(
        default=None,
        description="Read again this much before the cursor at each pull, for statements that arrive late "
        "(default 0s with cursor_field stored, 1h with timestamp); the hub drops the duplicates",
    )
    action_from: list[str] = Field(
        default_factory=lambda: ["grouping", "parent"],
        description="Where the training action comes from, first match wins: registration, object, "
        "grouping|parent|category|other (last activity of the list), <list>:<activity type IRI>, extension:<IRI>",
    )
    actions: dict[str, str] = Field(
        default_factory=dict, description="Map a found value (activity IRI, registration…) to the action id used by the hub")
    learner_from: list[Literal["account", "mbox", "mbox_sha1sum", "openid"]] = Field(
        default_factory=lambda: list(LEARNER_KINDS), min_length=1,
        description="Which actor identifier becomes the learner ref, in order of preference")
    id_namespaces: dict[str, str] = Field(
        default_factory=dict,
        description="account.homePage -> learner id namespace, e.g. {'https://moodle.example.fr': 'moodle_user'}")
    verbs: dict[str, Literal[VERB_MEANINGS]] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Verb IRI -> what it means here, for verbs the mapping does not know (listed as not mapped "
        "by `parcours sync` and `connectors list`) or to change a known one: " + ", ".join(VERB_MEANINGS)
        + " (ignore: skip it without listing it)")
    languages: list[str] = Field(default_factory=lambda: ["fr-FR", "fr", "en-US", "en", "und"], min_length=1,
                                 description="Preferred languages for activity names")
    pair_window: Duration = Field(default=dt.timedelta(hours=12),
                                  description="Longest session or class whose start is paired with its end")
    keep_statements: bool = Field(default=False, description="Keep each statement's JSON as an evidence blob of its events")
    push_username: SecretStr | None = Field(default=None, description="HTTP Basic user expected on POST /webhooks/<name>")
    push_password: SecretStr | None = Field(default=None, description="HTTP Basic password expected on POST /webhooks/<name>")
    push_token: SecretStr | None = Field(default=None, description="Bearer token accepted on POST /webhooks/<name>")
    push_batches: Literal["keep_valid", "all_or_nothing"] = Field(
        default="keep_valid",
        description="A pushed batch with malformed statements: keep_valid stores the valid ones and dead-letters "
        "the others (for forwarders such as Ralph, which drop a refused batch); all_or_nothing refuses the "
        "whole request with 400, as an LRS does for POST statements")

    @field_validator("endpoint")
    @classmethod
    def _clean_endpoint(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is None:
            return None
        if value.username or value.password:
            raise ValueError("put the credentials in username/password, not in the URL")
        if value.query or value.fragment:
            raise ValueError("the endpoint is a base URL: no query string or fragment")
        return value

    @field_validator("action_from")
    @classmethod
    def _check_rules(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            head, sep, tail = rule.partition(":")
            if rule in ("registration", "object") or head in ACTIVITY_LISTS and (not sep or tail):
                continue
            if head == "extension" and tail:
                continue
            raise ValueError(f"unknown action_from rule {rule!r}: use registration, object, extension:<IRI>, "
                             f"{', '.join(ACTIVITY_LISTS)} or <list>:<activity type IRI>")
        return rules

    @field_validator("verbs")
    @classmethod
    def _check_verbs(cls, value: dict[str, str]) -> dict[str, str]:
        for iri in value:
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", iri):
                raise ValueError(f"{iri!r} is not a verb IRI (e.g. http://adlnet.gov/expapi/verbs/experienced)")
        return value

    @field_validator("id_namespaces")
    @classmethod
    def _check_namespaces(cls, value: dict[str, str]) -> dict[str, str]:
        for home, namespace in value.items():
            if not re.match(r"^[a-z][a-z0-9_]*$", namespace) or len(namespace) > 60:
                raise ValueError(f"namespace {namespace!r} for {home!r}: use lowercase letters, digits and _")
        return {home.rstrip("/"): ns for home, ns in value.items()}

    @model_validator(mode="after")
    def _pairs(self) -> "XapiConfig":
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if (self.push_username is None) != (self.push_password is None):
            raise ValueError("give both push_username and push_password, or neither")
        if self.endpoint is None and self.push_username is None and self.push_token is None:
            raise ValueError("give an endpoint to pull from, or push credentials (push_username/push_password "
                             "or push_token), or both")
        return self


@dataclass
class _Cursor:
    """Where a pull resumes (see the module documentation); JSON in the store."""

    since: dt.datetime | None = None
    seen: list[str] = field(default_factory=list)
    more: str | None = None
    high: dt.datetime | None = None
    high_ids: list[str] = field(default_factory=list)
    ordered: bool = True
    open: dict[str, Any] = field(default_factory=dict)
    closed: dict[str, Any] = field(default_factory=dict)  # openings consumed and intervals closed (see Pairing)
    counted: dict[str, str] = field(default_factory=dict)  # statement id -> cursor time: gave no event, counted
    restarted: str | None = None  # `since` when a refused `more` link made the traversal start again

    @classmethod
    def load(cls, cursor: Any, initial_since: dt.datetime | None) -> "_Cursor":
        if not cursor:
            return cls(since=initial_since)
        if not isinstance(cursor, dict):
            raise ConnectorConfigError(f"unreadable cursor {cursor!r}: reset this source's cursor")

        def when(name: str) -> dt.datetime | None:
            value = cursor.get(name)
            return parse_timestamp(value) if isinstance(value, str) else None

        return cls(
            since=when("since"), seen=[str(i) for i in cursor.get("seen") or []], more=cursor.get("more") or None,
            high=when("high"), high_ids=[str(i) for i in cursor.get("high_ids") or []],
            ordered=bool(cursor.get("ordered", True)), open=dict(cursor.get("open") or {}),
            closed=dict(cursor.get("closed") or {}), counted=dict(cursor.get("counted") or {}),
            restarted=cursor.get("restarted") or None,
        )

    def restart(self) -> None:
        self.more, self.high, self.high_ids, self.ordered, self.restarted = None, None, [], True, None

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"since": format_timestamp(self.since) if self.since else None, "seen": sorted(self.seen)}
        if self.more:
            out.update(more=self.more, high=format_timestamp(self.high) if self.high else None,
                       high_ids=sorted(self.high_ids), ordered=self.ordered)
            if self.restarted:
                out["restarted"] = self.restarted
        if self.open:
            out["open"] = self.open
        if self.closed:
            out["closed"] = self.closed
        if self.counted:
            out["counted"] = dict(sorted(self.counted.items()))
        return out

    def forget_counted(self, overlap: dt.timedelta, keep: int = 20_000) -> None:
        """Drop the statements no re-read can bring back (before ``since`` − ``overlap``)."""
        if self.since is None:
            return
        horizon = format_timestamp(self.since - overlap - MARGIN)
        kept = sorted(((t, i) for i, t in self.counted.items() if t >= horizon), reverse=True)[:keep]
        self.counted = {i: t for t, i in kept}


@dataclass
class _Tally:
    """Statements of one page or request that gave no event, by reason, and their unknown verbs."""

    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    unmapped: collections.Counter[str] = field(default_factory=collections.Counter)


def _advance(since: dt.datetime | None, seen: list[str], high: dt.datetime | None,
             high_ids: list[str]) -> tuple[dt.datetime | None, list[str]]:
    if high is None:
        return since, seen
    if since is None or high > since:
        return high, list(high_ids)
    if high == since:
        return since, sorted(set(seen) | set(high_ids))
    return since, seen


class Xapi(Connector, PullSource, WebhookSource):
    """Pull xAPI statements from an LRS and accept statements pushed by an LMS or an LRS."""

    kind = "xapi"
    Config = XapiConfig
    emits = EMITS

    def __init__(self, name: str, config: XapiConfig, context: Any):
        super().__init__(name, config, context)
        self.mapper = StatementMapper(MappingOptions(
            learner_from=tuple(config.learner_from), action_from=tuple(config.action_from), actions=dict(config.actions),
            id_namespaces=dict(config.id_namespaces), languages=tuple(config.languages), timezone=context.timezone,
            pair_window=config.pair_window, verbs=dict(config.verbs),
        ))
        self._sleep = asyncio.sleep  # tests replace it to record the waits
        self.counters: collections.Counter[str] = collections.Counter()
        self.skipped: collections.Counter[str] = collections.Counter()
        self.unmapped_verbs: collections.Counter[str] = collections.Counter()
        self.cursor_warnings: dict[str, str] = {}  # kind -> the latest warning about statement times

    # ------------------------------------------------------------------ URLs
    @property
    def base_url(self) -> str | None:
        if self.config.endpoint is None:
            return None
        base = str(self.config.endpoint)
        base = re.sub(r"/statements/?$", "/", base)  # people paste the statements URL
        return base if base.endswith("/") else base + "/"

    @property
    def statements_url(self) -> str:
        assert self.base_url is not None
        return self.base_url + "statements"

    @property
    def overlap(self) -> dt.timedelta:
        if self.config.overlap is not None:
            return self.config.overlap
        return dt.timedelta(0) if self.config.cursor_field == "stored" else dt.timedelta(hours=1)

    def _resolve_more(self, more: str) -> str:
        base = self.base_url or ""
        target = urljoin(base, more)
        a, b = urlsplit(base), urlsplit(target)
        if (a.scheme, a.netloc) != (b.scheme, b.netloc):
            raise PermanentError(f"the LRS's `more` link points to another server ({b.scheme}://{b.hostname}); "
                                 "refusing to send the credentials there")
        return target

    # ------------------------------------------------------------------ health
    def health_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "statements": self.counters["statements"], "events": self.counters["events"],
            "rejected": self.counters["rejected"], "skipped": dict(sorted(self.skipped.items())),
        }
        if self.unmapped_verbs:
            out["unmapped_verbs"] = dict(self.unmapped_verbs.most_common(10))
        if self.cursor_warnings:
            out["cursor_warnings"] = dict(sorted(self.cursor_warnings.items()))
        return out

    async def check(self) -> Health:
        if self.base_url is None:
            return Health(True, "push only (no endpoint to pull from)", self.health_details())
        try:
            await self._get(self.statements_url, {"limit": "1", "since": format_timestamp(dt.datetime.now(UTC))},
                            retries=0)
        except ConnectorError as exc:
            return Health(False, str(exc), self.health_details())
        return Health(True, "ok", self.health_details())

    def _count(self, mapped: Mapped, tally: "_Tally") -> None:
        self.counters["statements"] += 1
        self.counters["events"] += len(mapped.events)
        if mapped.skipped:
            self.skipped[mapped.skipped] += 1
            tally.skipped[mapped.skipped] += 1
            if mapped.skipped == "unmapped_verb":
                self.unmapped_verbs[mapped.verb] += 1
                tally.unmapped[mapped.verb] += 1
            level = self.context.log.warning if mapped.skipped == "voided" else self.context.log.debug
            level("statement skipped", statement=mapped.statement_id, verb=mapped.verb, reason=mapped.skipped,
                  note=mapped.note)

    # ------------------------------------------------------------------ pull
    async def pull(self, cursor: Any) -> PullResult:
        if self.base_url is None:
            return PullResult([], cursor, has_more=False)
        state = _Cursor.load(cursor, self.config.since)
        page = await self._fetch_page(state)
        statements: list[Any] = page["statements"]
        more = page.get("more") or None
        if more is not None and more == state.more:
            self.context.log.warning("the LRS answered the same `more` link again; ending this pull")
            more = None
        field_name = self.config.cursor_field
        values = [self._cursor_value(s, field_name) for s in statements]
        known = [v for v in values if v is not None]
        ordered_page = all(a <= b for a, b in zip(known, known[1:], strict=False)) and (
            not known or state.high is None or known[0] >= state.high)
        lower = state.since - self.overlap if state.since is not None else None
        seen = set(state.seen)
        high, high_ids = state.high, list(state.high_ids)
        pairing = Pairing(state.open, self.config.pair_window, closed=state.closed, memory=self.overlap)
        tally = _Tally()
        clock = CursorClock(field_name, self.overlap)
        events: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        kept: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for index, statement in in_time_order(statements, self.context.timezone):
            value = values[index]
            sid = statement.get("id") if isinstance(statement, dict) else None
            if value is not None:
                if high is None or value > high:
                    high, high_ids = value, [str(sid)]
                elif value == high and str(sid) not in high_ids:
                    high_ids.append(str(sid))
                if state.since is not None:
                    if lower is not None and value < lower:
                        if value >= lower - MARGIN:
                            continue  # the query's margin: read by an earlier pull
                        clock.returned_older(statement, lower, value)  # the LRS filters on another field
                    if value == state.since and str(sid) in seen:
                        continue  # returned by the previous page already
                if state.since is None or value > state.since:
                    clock.read(statement)
            if isinstance(sid, str) and pairing.paired(sid.lower()):
                continue  # an opening or closing read again by the overlap: it was paired already
            # read again by the overlap after giving no event: counted (or dead-lettered) once
            again = isinstance(sid, str) and sid in state.counted
            try:
                mapped = self.mapper.map(statement, pairing, require_id=True)
            except StatementError as exc:
                if again:
                    continue
                self.counters["statements"] += 1
                self.counters["rejected"] += 1
                label = sid if isinstance(sid, str) else f"#{index} of the page"
                rejects.append(Reject("map", f"statement {label}: {exc}", statement,
                                      source_id=sid if isinstance(sid, str) else None))
                self._remember(state, sid, value)
                continue
            if not mapped.events:
                if again:
                    continue
                self._remember(state, sid, value)
            self._count(mapped, tally)
            events.extend(mapped.events)
            if self.config.keep_statements and mapped.events:
                kept.append((statement, mapped.events))
        if kept:
            await asyncio.to_thread(self._keep, kept)
        if more is not None:
            state.more, state.high, state.high_ids = more, high, high_ids
            state.ordered = state.ordered and ordered_page
            if state.ordered:  # pages come in order: a restart may begin after this page
                state.since, state.seen = _advance(state.since, state.seen, high, high_ids)
        else:
            state.since, state.seen = _advance(state.since, state.seen, high, high_ids)
            state.restart()
        state.open, state.closed = pairing.dump(), pairing.dump_closed()
        state.forget_counted(self.overlap)
        if statements:
            self.context.log.debug("xAPI page read", statements=len(statements), events=len(events),
                                  rejected=len(rejects), more=more is not None)
        warnings = clock.warnings()
        for kind, message in warnings.items():
            self.cursor_warnings[kind] = message
            self.context.log.warning("the cursor may miss statements", kind=kind, detail=message)
        return PullResult(events, state.dump(), has_more=more is not None, rejects=rejects,
                          skipped=dict(tally.skipped), unmapped=dict(tally.unmapped), warnings=list(warnings.values()))

    def _remember(self, state: "_Cursor", sid: Any, value: dt.datetime | None) -> None:
        """Note a statement that gave no event, for the overlap's re-reads (only they need it)."""
        if self.overlap and isinstance(sid, str) and value is not None:
            state.counted[sid] = format_timestamp(value)

    def map_record(self, record: Any) -> list[dict[str, Any]]:
        """Map one statement again (replay of a ``map`` dead letter). No pairing state: a closing
        statement without ``result.duration`` gives no event here."""
        return self.mapper.map(record, None, require_id=True).events

    def _cursor_value(self, statement: Any, name: str) -> dt.datetime | None:
        if not isinstance(statement, dict) or not isinstance(statement.get(name), str):
            return None
        try:
            return parse_timestamp(statement[name]).astimezone(UTC)
        except ValueError:
            return None

    def _keep(self, kept: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        for statement, events in kept:
            ref = self.context.blobs.put(orjson.dumps(statement), media_type="application/json",
                                         name=f"xapi-statement-{statement.get('id')}.json")
            evidence = ref.model_dump(exclude_none=True)
            for item in events:
                item["evidence"] = [*item.get("evidence", []), evidence]

    async def _fetch_page(self, state: _Cursor) -> dict[str, Any]:
        if state.more:
            target = self._resolve_more(state.more)
            try:
                return await self._get(target)
            except PermanentError as exc:
                since = format_timestamp(state.since) if state.since else "start"
                if state.restarted == since:  # refused again, with no progress since the last restart
                    raise PermanentError(f"{exc}: the LRS refuses its own `more` links; the statements after "
                                         f"{since} cannot be read") from None
                self.context.log.warning("the LRS refused the `more` link (expired?); reading again from the cursor",
                                         error=str(exc))
                state.restart()
                state.restarted = since
        params = {"limit": str(self.config.page_limit), "ascending": "true"}
        if state.since is not None:
            params["since"] = format_timestamp(state.since - self.overlap - MARGIN)
        return await self._get(self.statements_url, params)

    # ------------------------------------------------------------------ HTTP
    @functools.cached_property
    def http(self) -> HttpClient:
        return self.config.client(lambda: self.context.http, base_url=self.base_url or "",
                                  auth_headers=self._basic_auth, refine_error=self._explain_error,
                                  sleep=lambda seconds: self._sleep(seconds), log=self.context.log)

    def _basic_auth(self) -> dict[str, str]:
        if self.config.username is None or self.config.password is None:
            return {}
        pair = f"{self.config.username.get_secret_value()}:{self.config.password.get_secret_value()}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    @staticmethod
    def _explain_error(error: ConnectorError, answer: Response, what: str) -> ConnectorError:
        if 300 <= answer.status < 400:
            location = answer.headers.get("Location", "?")
            return ConnectorConfigError(f"{what}: HTTP {answer.status} redirect to {location}: "
                                        "set `endpoint` to the final URL")
        if isinstance(error, AuthError):
            return AuthError(f"the LRS refused the credentials (HTTP {answer.status} on {what}): "
                             "check `username` and `password`")
        return error

    async def _get(self, url: str, params: dict[str, str] | None = None, *, retries: int | None = None) -> dict[str, Any]:
        """GET a StatementResult, retrying 429/5xx and network errors with backoff (honouring Retry-After)."""
        target = yarl.URL(url, encoded=True)  # a `more` link is followed as the LRS wrote it
        path = target.path
        response = await self.http.request("GET", target, params=params, ok=ANY_2XX, retries=retries,
                                           headers={"X-Experience-API-Version": self.config.version},
                                           what=f"GET {path}")
        try:
            page = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            raise ConnectorConfigError(f"GET {path}: the answer is not JSON; is `endpoint` the LRS's xAPI base URL?") from None
        if not isinstance(page, dict) or not isinstance(page.get("statements"), list):
            raise ConnectorConfigError(f"GET {path}: the answer is not an xAPI StatementResult; "
                                       "is `endpoint` the LRS's xAPI base URL?")
        if page.get("more") is not None and not isinstance(page["more"], str):
            raise ConnectorConfigError(f"GET {path}: `more` is not a string")
        return page

    # ------------------------------------------------------------------ push
    def _authenticate(self, headers: dict[str, str]) -> None:
        config = self.config
        if config.push_username is None and config.push_token is None:
            raise WebhookRejected(403, "push is not enabled on this connector (set push_username/push_password or push_token)")
        scheme, _, value = headers.get("authorization", "").strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        ok = False
        if scheme == "basic" and config.push_username is not None and config.push_password is not None:
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, sep, password = "", "", ""
            user_ok = hmac.compare_digest(user.encode(), config.push_username.get_secret_value().encode())
            password_ok = hmac.compare_digest(password.encode(), config.push_password.get_secret_value().encode())
            ok = bool(sep) & user_ok & password_ok
        elif scheme == "bearer" and config.push_token is not None:
            ok = hmac.compare_digest(value.encode(), config.push_token.get_secret_value().encode())
        if not ok:
            raise WebhookRejected(401, "invalid or missing credentials")

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self._authenticate(headers)
        version = headers.get("x-experience-api-version")
        if version is not None and not re.match(VERSION_RE, version.strip()):
            raise WebhookRejected(400, f"unsupported X-Experience-API-Version {version[:20]!r} (1.0.x or 2.0 expected)")
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type.startswith("multipart/"):
            raise WebhookRejected(400, "statements with attachments (multipart/mixed) are not accepted; send application/json")
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise WebhookRejected(400, "the body is not JSON") from None
        if request.method.upper() == "PUT":
            statement_id = request.query.get("statementId")
            if not statement_id or not isinstance(body, dict):
                raise WebhookRejected(400, "PUT needs ?statementId= and one statement")
            if body.get("id", statement_id) != statement_id:
                raise WebhookRejected(400, "the statement id does not match ?statementId=")
            body = {**body, "id": statement_id}
        statements = [body] if isinstance(body, dict) else body
        if not isinstance(statements, list):
            raise WebhookRejected(400, "expected a statement or an array of statements")
        received = dt.datetime.now(UTC)
        pairing = Pairing(None, self.config.pair_window)
        results: dict[int, Mapped] = {}
        refused: dict[int, Reject] = {}
        for index, statement in in_time_order(statements, self.context.timezone):
            try:
                results[index] = self.mapper.map(statement, pairing, require_id=False, received_at=received)
            except StatementError as exc:
                if self.config.push_batches == "all_or_nothing":
                    self.context.log.warning("pushed statements refused", statement=index, error=str(exc))
                    raise WebhookRejected(400, f"statement {index}: {exc}; nothing was stored") from None
                refused[index] = self._pushed_reject(index, statement, exc, received)
        events: list[dict[str, Any]] = []
        kept: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        tally = _Tally()
        for index in sorted(results):
            mapped = results[index]
            self._count(mapped, tally)
            events.extend(mapped.events)
            if self.config.keep_statements and mapped.events:
                kept.append((statements[index], mapped.events))
        if kept:
            await asyncio.to_thread(self._keep, kept)
        ids = [results[i].statement_id if i in results else refused[i].source_id for i in range(len(statements))]
        counts = {"skipped": dict(tally.skipped), "unmapped": dict(tally.unmapped)}
        if not refused:
            return WebhookResult(events, response=ids, **counts)  # what an LRS answers
        answer = {"ids": ids, "stored": sorted(results),
                  "dead_lettered": [{"index": i, "id": refused[i].source_id, "error": refused[i].error}
                                    for i in sorted(refused)]}
        return WebhookResult(events, response=answer, rejects=[refused[i] for i in sorted(refused)], **counts)

    def _pushed_reject(self, index: int, statement: Any, error: StatementError, received: dt.datetime) -> Reject:
        """A malformed pushed statement as a dead letter: completed as an LRS stores it (its
        deterministic ``id`` when it has none, ``stored`` = when it arrived) so that a replay maps
        it to the events it would have given."""
        self.counters["statements"] += 1
        self.counters["rejected"] += 1
        payload, sid = statement, None
        if isinstance(statement, dict):
            payload = dict(statement)
            if payload.get("id") is None:
                payload["id"] = statement_uuid(statement)
            if payload.get("timestamp") is None and payload.get("stored") is None:
                payload["stored"] = format_timestamp(received)
            sid = payload["id"] if isinstance(payload["id"], str) else None
        label = sid or "without a usable id"
        self.context.log.warning("pushed statement dead-lettered", statement=index, error=str(error))
        return Reject("map", f"statement {index} ({label}): {error}", payload, source_id=sid)


@hookimpl
def register_connectors():
    return [Xapi]


__all__ = ["Xapi", "XapiConfig"]

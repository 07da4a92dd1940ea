"""``hubspot``: HubSpot CRM as a source (contacts, deals, webhooks v3) and as a sink (contact properties).

Source
    Contacts and deals are read incrementally by modification date with the CRM search API
    (``POST /crm/v3/objects/{contacts|deals}/search``, a ``GTE`` filter on ``lastmodifieddate`` /
    ``hs_lastmodifieddate``, sorted ascending, paged with ``after``, 100 per page). A contact
    gives ``prospect.contact_created``; a deal in one of ``registered_stages`` gives one
    ``enrolment.registered`` per associated contact (associations and contacts are read in one
    batch call each per page). Webhooks (``POST /webhooks/<name>``) are verified with the v3
    signature (``X-HubSpot-Signature-v3`` = base64 HMAC-SHA256 of method + URI + body +
    timestamp, keyed with the app's client secret; ``X-HubSpot-Request-Timestamp`` no older
    than 5 minutes) and give the same events with the same source ids as the pull.

Sink
    ``lms.progress``, ``attendance.signed/absent`` and ``enrolment.*`` events update contact
    properties (names in ``properties``). Contacts are found by ``learner.ids.hubspot_contact``
    or by e-mail with batch reads (one call per 100), then updated with one batch update per 100
    contacts. See docs/connectors/hubspot.md for what each property means.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any, Iterable, Literal

import orjson
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from hub.connector import (
    Connector, ConnectorConfig, EventSink, Health, PullResult, PullSource, Reject, WebhookRequest, WebhookResult,
    WebhookSource, probe,
)
from hub.durations import Duration
from hub.errors import PermanentError, WebhookRejected
from hub.hookspecs import hookimpl
from hub.http import HttpSettings

UTC = dt.timezone.utc
BATCH = 100          # HubSpot batch endpoints take up to 100 inputs
SEARCH_CAP = 10_000  # the search API pages through at most 10,000 results of one query
MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
CONTACT_PROPERTIES = ["email", "firstname", "lastname", "phone", "createdate", "lastmodifieddate"]
DEAL_PROPERTIES = ["dealname", "dealstage", "pipeline", "closedate", "createdate", "hs_lastmodifieddate"]
STATUS_TYPES = {"enrolment.registered": "registered", "enrolment.started": "started",
                "enrolment.completed": "completed", "enrolment.abandoned": "abandoned"}


class ContactProperties(BaseModel):
    """Contact properties the sink writes (create them in HubSpot first); ``null`` leaves one out."""

    model_config = ConfigDict(extra="forbid")
    progress: str | None = Field(default="parcours_progress", description="Number: last lms.progress percent (0–100)")
    status: str | None = Field(default="parcours_status",
                               description="Text or dropdown: registered, started, completed or abandoned")
    last_activity: str | None = Field(default="parcours_last_activity",
                                      description="Date and time: latest event time seen for the learner (never goes back)")
    last_attendance: str | None = Field(
        default="parcours_last_attendance",
        description="Text: latest half-day and its state, e.g. '2026-10-05 am signed' (never goes back)")
    action: str | None = Field(default=None, description="Text: the training action of the last status written")


class StatusValues(BaseModel):
    """The values written in the status property (the internal values of a dropdown property)."""

    model_config = ConfigDict(extra="forbid")
    registered: str = Field(default="registered", description="Written on enrolment.registered")
    started: str = Field(default="started", description="Written on enrolment.started")
    completed: str = Field(default="completed", description="Written on enrolment.completed")
    abandoned: str = Field(default="abandoned", description="Written on enrolment.abandoned")


class HubSpotConfig(ConnectorConfig, HttpSettings):
    base_url: AnyHttpUrl = Field(default="https://api.hubapi.com", description="HubSpot API base URL")
    token: SecretStr = Field(description="Private app access token (${env:…} or ${file:…})")
    client_secret: SecretStr | None = Field(
        default=None, description="The app's client secret, which signs webhooks (needed to receive webhooks)")
    webhook_url: AnyHttpUrl | None = Field(
        default=None,
        description="The exact target URL configured in HubSpot (e.g. https://hub.example.org/webhooks/hubspot); "
        "it is part of the signature. Default: https://<Host header><path>")
    webhook_tolerance: Duration = Field(default=dt.timedelta(minutes=5),
                                        description="Oldest accepted X-HubSpot-Request-Timestamp")
    webhook_fetch: bool = Field(default=True,
                                description="Read the contacts and deals named by a webhook (one batch call each)")
    objects: list[Literal["contacts", "deals"]] = Field(default_factory=lambda: ["contacts", "deals"],
                                                        description="What the pull reads ([]: no pull, a sink only)")
    start_date: dt.date | None = Field(default=None, description="First run: records modified since this day (default: all)")
    page_size: int = Field(default=100, ge=1, le=100, description="Search page size (HubSpot allows up to 100 here)")
    lookback: Duration = Field(
        default=dt.timedelta(minutes=5),
        description="Overlap re-read at each pull: the search index lags a few seconds behind writes")
    registered_stages: list[str] = Field(default_factory=lambda: ["closedwon"],
                                         description="Deal stages (internal ids) that mean the learner registered")
    deal_program_property: str | None = Field(default="dealname", description="Deal property giving data.program")
    deal_action_property: str | None = Field(default=None, description="Deal property giving the training action")
    contact_origin_property: str | None = Field(default="hs_analytics_source",
                                                description="Contact property giving data.origin")
    properties: ContactProperties = Field(default_factory=ContactProperties, description="Sink: contact properties written")
    status_values: StatusValues = Field(default_factory=StatusValues, description="Sink: values of the status property")
    on_unknown_contact: Literal["dead_letter", "skip"] = Field(
        default="dead_letter",
        description="Sink: an event whose contact does not exist in HubSpot is dead-lettered (replayable) or skipped")


# ---------------------------------------------------------------------- helpers


def _ms(value: Any, field: str) -> int:
    """Epoch milliseconds from a HubSpot date-time (ISO 8601 string or milliseconds)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{field}: invalid date-time {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    raise ValueError(f"{field}: missing")


def _iso_ms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _chunks(items: list[Any], size: int = BATCH) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _hubspot_detail(body: bytes) -> str | None:
    """HubSpot's own explanation of a 4xx (``category``: ``message``) for the error text."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    parts = [str(payload[k]) for k in ("category", "message") if payload.get(k)]
    return ": ".join(parts) or None


def _retry_after(status: int, headers: Any) -> float | None:
    """Delay from HubSpot's rate-limit headers when a 429 or 5xx carries no Retry-After."""
    if status != 429:
        return None
    if headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
        return 3600.0  # the daily quota is spent: let the hub pause the work
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval and interval.isdigit():
        return max(0.1, int(interval) / 1000)
    return 10.0  # HubSpot's burst limits are counted over 10 seconds


# ---------------------------------------------------------------------- connector


class HubSpot(Connector, PullSource, WebhookSource, EventSink):
    """HubSpot CRM: contacts and deals in (search API and v3-signed webhooks), learner progress out."""

    kind = "hubspot"
    Config = HubSpotConfig
    emits = ("prospect.contact_created", "enrolment.registered")
    keep_webhook_body = True

    def __init__(self, name, config, context):
        super().__init__(name, config, context)
        self.config: HubSpotConfig
        self.http = self.config.client(
            lambda: self.context.http,
            base_url=str(self.config.base_url),
            auth_headers=lambda: {"Authorization": f"Bearer {self.config.token.get_secret_value()}"},
            retry_after=_retry_after,
            error_detail=_hubspot_detail,
            log=self.context.log,
        )

    async def _call(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        response = await self.http.request(method, path, json=body, params=params)
        return response.json(f"{method} {path}")

    async def check(self) -> Health:
        return await probe(
            self._call("GET", "/crm/v3/objects/contacts", params={"limit": 1}),
            refused="HubSpot refused the private app token ({error}): it is invalid, expired, rotated or lacks the "
                    "crm.objects.contacts scopes; see Settings > Integrations > Private apps",
            unreachable="HubSpot is not reachable: {error}")

    # ================================================================== source: pull
    def _initial_state(self) -> dict[str, Any]:
        since = 0
        if self.config.start_date:
            start = dt.datetime.combine(self.config.start_date, dt.time(), self.context.timezone)
            since = int(start.timestamp() * 1000)
        return {"since": since, "after": None, "max": since, "recent": {}}

    async def pull(self, cursor: Any) -> PullResult:
        cursor = dict(cursor or {})
        objects = list(dict.fromkeys(self.config.objects))
        if not objects:  # a sink only: `parcours run --once` pulls every pull-capable connector
            return PullResult([], cursor, has_more=False)
        phase = cursor.get("phase") if cursor.get("phase") in objects else objects[0]
        state = dict(cursor.get(phase) or self._initial_state())
        recent: dict[str, int] = dict(state.get("recent") or {})
        prop = MODIFIED[phase]
        properties = CONTACT_PROPERTIES + ([self.config.contact_origin_property]
                                           if self.config.contact_origin_property else [])
        if phase == "deals":
            properties = DEAL_PROPERTIES + [p for p in (self.config.deal_program_property,
                                                        self.config.deal_action_property) if p]
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(state["since"])}]}],
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": list(dict.fromkeys(properties)),
            "limit": self.config.page_size,
        }
        if state.get("after"):
            body["after"] = state["after"]
        page = await self._call("POST", f"/crm/v3/objects/{phase}/search", body)
        results = page.get("results") if isinstance(page, dict) else None
        if not isinstance(results, list):
            raise PermanentError(f"POST /crm/v3/objects/{phase}/search: 'results' is not a list")

        fresh: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        top = int(state.get("max") or state["since"])
        for record in results:
            try:
                record_id = str(record["id"])
                modified = _ms((record.get("properties") or {}).get(prop) or record.get("updatedAt"), f"properties.{prop}")
            except (KeyError, TypeError, ValueError) as exc:
                rejects.append(Reject("map", f"{phase[:-1]} {_label(record)}: {_message(exc)}", record))
                continue
            top = max(top, modified)
            if recent.get(record_id) == modified:
                continue  # read by an earlier page or pull, unchanged since
            recent[record_id] = modified
            fresh.append(record)

        if phase == "deals":
            fresh = await self._with_contacts([r for r in fresh if self._registered(r)])
        events: list[dict[str, Any]] = []
        for record in fresh:
            try:
                events.extend(self.map_record(record))
            except (KeyError, TypeError, ValueError) as exc:
                rejects.append(Reject("map", f"{phase[:-1]} {_label(record)}: {_message(exc)}", record,
                                      source_id=str(record.get("id")) if isinstance(record, dict) else None))

        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if after and _offset(after) + self.config.page_size <= SEARCH_CAP:
            state.update(after=str(after), max=top)
            more_here = True
        elif after:  # the search API stops at 10,000 results: start a new query from the newest time seen
            state.update(since=top, after=None, max=top)
            more_here = True
        else:
            floor = top - int(self.config.lookback.total_seconds() * 1000)
            state.update(since=max(floor, 0), after=None, max=top)
            recent = {k: v for k, v in recent.items() if v >= floor}
            more_here = False
        state["recent"] = recent
        cursor[phase] = state
        has_more = True
        if more_here:
            cursor["phase"] = phase
        elif objects.index(phase) + 1 < len(objects):
            cursor["phase"] = objects[objects.index(phase) + 1]
        else:
            cursor["phase"] = objects[0]
            has_more = False
        return PullResult(events, cursor, has_more=has_more, rejects=rejects)

    def _registered(self, deal: Any) -> bool:
        stage = ((deal.get("properties") or {}) if isinstance(deal, dict) else {}).get("dealstage")
        return stage in self.config.registered_stages

    async def _with_contacts(self, deals: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The deals with their associated contacts under ``_contacts`` (2 batch calls per 100 deals)."""
        if not deals:
            return []
        out: list[dict[str, Any]] = []
        for chunk in _chunks(deals):
            answer = await self._call("POST", "/crm/v4/associations/deals/contacts/batch/read",
                                      {"inputs": [{"id": str(d.get("id"))} for d in chunk]})
            linked: dict[str, list[str]] = {}
            for result in (answer or {}).get("results") or []:
                from_id = str((result.get("from") or {}).get("id"))
                linked[from_id] = [str(t["toObjectId"]) for t in result.get("to") or [] if t.get("toObjectId") is not None]
            contact_ids = sorted({cid for ids in linked.values() for cid in ids})
            contacts = await self._read_contacts(contact_ids, CONTACT_PROPERTIES)
            for deal in chunk:
                ids = linked.get(str(deal.get("id")), [])
                out.append({**deal, "_contacts": [contacts[c] for c in ids if c in contacts]})
        return out

    async def _read_contacts(self, ids: list[str], properties: list[str],
                             id_property: str | None = None) -> dict[str, dict[str, Any]]:
        """Contacts by id (or by ``id_property`` value, lower-cased), one batch read per 100."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            body: dict[str, Any] = {"inputs": [{"id": i} for i in chunk], "properties": properties}
            if id_property:
                body["idProperty"] = id_property
            answer = await self._call("POST", "/crm/v3/objects/contacts/batch/read", body)
            for record in (answer or {}).get("results") or []:
                if not isinstance(record, dict) or record.get("id") is None:
                    continue
                key = str(record["id"]) if not id_property else \
                    str((record.get("properties") or {}).get(id_property) or "").strip().lower()
                if key:
                    found[key] = record
        return found

    def map_record(self, record: Any) -> list[dict[str, Any]]:
        """Map a contact or a deal (with the ``_contacts`` the pull attached) to event inputs."""
        if not isinstance(record, dict):
            raise ValueError("expected a HubSpot object")
        if "_contacts" in record or "dealstage" in (record.get("properties") or {}):
            return self._map_deal(record)
        return [self._map_contact(record)]

    def _learner(self, contact: dict[str, Any]) -> dict[str, Any]:
        props = contact.get("properties") or {}
        contact_id = str(contact["id"])
        learner: dict[str, Any] = {"ref": contact_id, "ids": {"hubspot_contact": contact_id}}
        if props.get("email"):
            learner["email"] = str(props["email"]).strip()[:320]
        name = " ".join(str(props[k]).strip() for k in ("firstname", "lastname") if props.get(k))
        if name:
            learner["name"] = name[:300]
        return learner

    def _map_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        if contact.get("id") in (None, ""):
            raise ValueError("id: missing")
        props = contact.get("properties")
        if not isinstance(props, dict):
            raise ValueError("properties: expected an object")
        created = _ms(props.get("createdate") or contact.get("createdAt"), "properties.createdate")
        data = {k: v for k, v in {
            "email": props.get("email") or None, "first_name": props.get("firstname") or None,
            "last_name": props.get("lastname") or None, "phone": props.get("phone") or None,
            "origin": props.get(self.config.contact_origin_property) if self.config.contact_origin_property else None,
        }.items() if v}
        return {"type": "prospect.contact_created", "occurred_at": _iso_ms(created),
                "source_id": f"contact:{contact['id']}:created", "learner": self._learner(contact), "data": data}

    def _map_deal(self, deal: dict[str, Any]) -> list[dict[str, Any]]:
        if deal.get("id") in (None, ""):
            raise ValueError("id: missing")
        props = deal.get("properties")
        if not isinstance(props, dict):
            raise ValueError("properties: expected an object")
        contacts = deal.get("_contacts")
        if not contacts:
            raise ValueError("no associated contact: associate the learner's contact with the deal in HubSpot")
        try:
            when = _ms(props.get("closedate"), "properties.closedate")
        except ValueError:
            when = _ms(props.get("hs_lastmodifieddate") or deal.get("updatedAt"), "properties.hs_lastmodifieddate")
        program = props.get(self.config.deal_program_property) if self.config.deal_program_property else None
        action = props.get(self.config.deal_action_property) if self.config.deal_action_property else None
        events = []
        for contact in contacts:
            event: dict[str, Any] = {
                "type": "enrolment.registered", "occurred_at": _iso_ms(when),
                "source_id": f"deal:{deal['id']}:contact:{contact['id']}:registered",
                "learner": self._learner(contact),
                "data": {"enrolment": f"hubspot-deal-{deal['id']}", "program": (str(program) if program else None),
                         "details": {"deal_id": str(deal["id"]), "dealstage": props.get("dealstage"),
                                     "pipeline": props.get("pipeline")}},
            }
            if action:
                event["action"] = str(action)[:200]
            events.append(event)
        return events

    # ================================================================== source: webhooks
    def _webhook_uri(self, request: WebhookRequest, headers: dict[str, str]) -> str:
        if self.config.webhook_url is not None:
            base = str(self.config.webhook_url)
        else:
            proto = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
            host = headers.get("x-forwarded-host") or headers.get("host", "")
            base = f"{proto}://{host}{request.path}"
        if request.query:
            base += "?" + "&".join(f"{k}={v}" for k, v in request.query.items())
        return base

    def verify(self, request: WebhookRequest, *, now_ms: int | None = None) -> None:
        """Check the v3 signature and the timestamp of a HubSpot request; raise WebhookRejected(401)."""
        if self.config.client_secret is None:
            raise WebhookRejected(403, "webhooks are not enabled for this connector: set client_secret")
        headers = {k.lower(): v for k, v in request.headers.items()}
        signature = headers.get("x-hubspot-signature-v3", "")
        stamp = headers.get("x-hubspot-request-timestamp", "")
        if not signature or not stamp:
            raise WebhookRejected(401, "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
        if not stamp.strip().isdigit():
            raise WebhookRejected(401, "invalid X-HubSpot-Request-Timestamp")
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(now_ms - int(stamp)) > self.config.webhook_tolerance.total_seconds() * 1000:
            raise WebhookRejected(401, "X-HubSpot-Request-Timestamp is outside the tolerance (replayed request?)")
        source = (request.method.upper() + self._webhook_uri(request, headers)).encode() + request.body + stamp.encode()
        secret = self.config.client_secret.get_secret_value().encode()
        expected = base64.b64encode(hmac.new(secret, source, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature.strip().encode()):
            raise WebhookRejected(401, "invalid X-HubSpot-Signature-v3")

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        self.verify(request)
        try:  # the standard parser: object ids of any length stay exact integers (orjson makes floats of them)
            notifications = json.loads(request.body)
        except (ValueError, RecursionError):
            raise WebhookRejected(400, "the body is not JSON") from None
        if isinstance(notifications, dict):
            notifications = [notifications]
        if not isinstance(notifications, list):
            raise WebhookRejected(400, "expected a JSON array of webhook events")
        contacts: dict[str, int] = {}
        deals: dict[str, int] = {}
        for index, item in enumerate(notifications):
            if not isinstance(item, dict):
                raise WebhookRejected(400, f"event {index}: expected an object")
            kind, object_id = item.get("subscriptionType"), item.get("objectId")
            if not isinstance(kind, str) or object_id in (None, "") or isinstance(object_id, (dict, list)):
                raise WebhookRejected(400, f"event {index}: subscriptionType and objectId are required")
            if isinstance(object_id, (float, bool)) or (isinstance(object_id, str) and not object_id.isdigit()):
                raise WebhookRejected(400, f"event {index}: objectId must be an integer")
            try:
                occurred = _ms(item.get("occurredAt"), "occurredAt")
            except ValueError as exc:
                raise WebhookRejected(400, f"event {index}: {exc}") from None
            if kind == "contact.creation":
                contacts[str(object_id)] = occurred
            elif kind == "deal.creation" or (kind == "deal.propertyChange" and item.get("propertyName") == "dealstage"
                                             and item.get("propertyValue") in self.config.registered_stages):
                deals[str(object_id)] = occurred
        events: list[dict[str, Any]] = []
        if not self.config.webhook_fetch:
            for contact_id, occurred in contacts.items():
                events.append({"type": "prospect.contact_created", "occurred_at": _iso_ms(occurred),
                               "source_id": f"contact:{contact_id}:created",
                               "learner": {"ref": contact_id, "ids": {"hubspot_contact": contact_id}}})
            return WebhookResult(events, response={"received": len(notifications), "events": len(events)})
        if contacts:
            found = await self._read_contacts(sorted(contacts), CONTACT_PROPERTIES + (
                [self.config.contact_origin_property] if self.config.contact_origin_property else []))
            for contact_id in sorted(contacts):
                if contact_id in found:
                    events.append(self._map_contact(found[contact_id]))
        if deals:
            records: list[dict[str, Any]] = []
            for chunk in _chunks(sorted(deals)):
                answer = await self._call("POST", "/crm/v3/objects/deals/batch/read", {
                    "inputs": [{"id": d} for d in chunk],
                    "properties": DEAL_PROPERTIES + [p for p in (self.config.deal_program_property,
                                                                 self.config.deal_action_property) if p]})
                records.extend(r for r in (answer or {}).get("results") or [] if isinstance(r, dict))
            for deal in await self._with_contacts([r for r in records if self._registered(r)]):
                if deal.get("_contacts"):
                    events.extend(self._map_deal(deal))
        return WebhookResult(events, response={"received": len(notifications), "events": len(events)})

    # ================================================================== sink
    async def deliver(self, events) -> None:
        props = self.config.properties
        wanted = [p for p in (props.last_activity, props.last_attendance) if p]
        targets: list[tuple[Any, str | None, str | None]] = []  # (event, hubspot id, e-mail)
        for event in events:
            learner = event.learner
            if learner is None:
                continue  # not about a learner (a trainer's signature…): nothing to write
            contact_id = (learner.ids or {}).get("hubspot_contact")
            email = (learner.email or "").strip().lower() or None
            if not contact_id and not email:
                self.context.log.warning("event skipped: its learner has no e-mail nor HubSpot id",
                                         event_id=event.id, learner=learner.ref)
                continue
            targets.append((event, contact_id, email))
        if not targets:
            return
        by_id = await self._read_contacts(sorted({c for _e, c, _m in targets if c}), ["email", *wanted])
        emails = sorted({m for _e, c, m in targets if m and (not c or c not in by_id)})
        by_email = await self._read_contacts(emails, ["email", *wanted], id_property="email") if emails else {}

        current: dict[str, dict[str, Any]] = {}
        grouped: dict[str, list[Any]] = {}
        unknown: list[Any] = []
        for event, contact_id, email in targets:
            record = by_id.get(contact_id) if contact_id else None
            record = record or (by_email.get(email) if email else None)
            if record is None:
                unknown.append(event)
                continue
            cid = str(record["id"])
            current[cid] = record.get("properties") or {}
            grouped.setdefault(cid, []).append(event)

        inputs = []
        for cid, contact_events in grouped.items():
            update = self._contact_update(contact_events, current[cid])
            if update:
                inputs.append({"id": cid, "properties": update})
        missing: list[str] = []
        for chunk in _chunks(inputs):
            answer = await self._call("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": chunk})
            for error in (answer or {}).get("errors") or []:  # 207: some contacts vanished meanwhile
                missing.extend(str(i) for i in ((error.get("context") or {}).get("ids") or []))
        if missing:
            unknown.extend(e for cid in missing for e in grouped.get(cid, []))
        if unknown:
            refs = sorted({e.learner.ref for e in unknown})
            message = (f"{len(unknown)} event(s) name a HubSpot contact that does not exist "
                       f"(learner refs: {', '.join(refs[:10])}{'…' if len(refs) > 10 else ''})")
            if self.config.on_unknown_contact == "dead_letter":
                raise PermanentError(message)
            self.context.log.warning("events skipped: " + message, event_ids=[e.id for e in unknown])

    def _contact_update(self, events: list[Any], current: dict[str, Any]) -> dict[str, str]:
        """The property values to write for one contact, from its events (oldest first) and current values."""
        props = self.config.properties
        update: dict[str, str] = {}
        latest_ms: int | None = None
        attendance: str | None = None
        for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
            at_ms = int(event.occurred_at.timestamp() * 1000)
            latest_ms = at_ms if latest_ms is None else max(latest_ms, at_ms)
            data = event.data or {}
            if event.type == "lms.progress" and props.progress and data.get("percent") is not None:
                update[props.progress] = _number(data["percent"])
            elif event.type in STATUS_TYPES and props.status:
                update[props.status] = getattr(self.config.status_values, STATUS_TYPES[event.type])
                if props.action and event.action:
                    update[props.action] = event.action
            elif event.type in ("attendance.signed", "attendance.absent") and props.last_attendance:
                if event.type == "attendance.signed" and data.get("signer", "learner") != "learner":
                    continue
                state = "signed" if event.type == "attendance.signed" else \
                    ("absent-justified" if data.get("justified") else "absent")
                value = f"{data.get('date')} {data.get('half_day')} {state}"
                if attendance is None or value[:13] >= attendance[:13]:
                    attendance = value
        if attendance and props.last_attendance:
            existing = str(current.get(props.last_attendance) or "")
            if not existing or attendance[:13] >= existing[:13]:
                update[props.last_attendance] = attendance
        if latest_ms is not None and props.last_activity:
            try:
                existing_ms = _ms(current.get(props.last_activity), "last_activity")
            except ValueError:
                existing_ms = None
            if existing_ms is None or latest_ms > existing_ms:
                update[props.last_activity] = str(latest_ms)
        return update


def _number(value: Any) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _offset(after: Any) -> int:
    try:
        return int(after)
    except (TypeError, ValueError):
        return 0


def _label(record: Any) -> str:
    return str(record.get("id")) if isinstance(record, dict) and record.get("id") not in (None, "") else "(no id)"


def _message(exc: BaseException) -> str:
    return f"{exc.args[0]} missing" if isinstance(exc, KeyError) else str(exc)


@hookimpl
def register_connectors():
    return [HubSpot]


__all__ = ["HubSpot", "HubSpotConfig", "ContactProperties", "StatusValues"]

"""``yousign``: e-signatures from Yousign (API v3) as enrolment and attendance evidence.

Yousign posts a webhook for each subscribed event. The connector:

1. verifies ``X-Yousign-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` with each
   configured subscription secret (constant time), and refuses events whose ``event_time`` is
   older than ``max_event_age`` (a replay: Yousign's own retries stop after about four days);
2. reads the Signature Request (``GET /signature_requests/{id}``) and finds its *tag* — a rule
   of ``tags`` matching its ``external_id`` (or ``name``) — which says what it is: CGV
   (``terms``), a convention / contract (``agreement``) or an attendance sheet
   (``attendance``), and for which action, learner, date and half-day;
3. downloads the signed documents and the audit trail (Bearer API key, timeouts, retries
   honouring ``Retry-After``), stores them as evidence blobs and emits
   ``enrolment.terms_accepted`` / ``attendance.signed`` on ``signer.done`` (one per signer) or
   ``enrolment.agreement_signed`` on ``signature_request.done`` (one per request).

Requests without a tag and other event names are acknowledged and ignored. Source ids name the
fact (``signer:<request>:<signer>``, ``signature_request:<request>``), so Yousign's retries and a
second subscription sending the same fact are de-duplicated. See ``docs/connectors/yousign.md``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote
from typing import Any, ClassVar, Literal, Mapping

import orjson
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from hub.connector import (
    Connector, ConnectorConfig, Health, SecretList, WebhookRequest, WebhookResult, WebhookSource, probe,
)
from hub.durations import Duration
from hub.errors import PermanentError, WebhookRejected
from hub.hookspecs import hookimpl
from hub.http import ANY_2XX, HttpClient, HttpSettings, Response

SIGNATURE_HEADER = "X-Yousign-Signature-256"
PRODUCTION_API = "https://api.yousign.app/v3"
SANDBOX_API = "https://api-sandbox.yousign.app/v3"
HANDLED_EVENTS = ("signer.done", "signature_request.done")
TAG_GROUPS = frozenset({"action", "learner", "date", "half_day", "document", "agreement_type", "reference", "modality"})


def compute_signature(secret: str, body: bytes) -> str:
    """The ``X-Yousign-Signature-256`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """True when ``header`` is the signature of ``body`` under one of ``secrets``."""
    if not header:
        return False
    given = header.strip().encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(compute_signature(secret, body).encode(), given)
    return matched


# --------------------------------------------------------------------------- config


class TagRule(BaseModel):
    """How to recognise a Signature Request the hub cares about, and what it says.

    ``pattern`` is a regular expression searched in the request's ``field``; its named groups
    give ``action``, ``learner``, ``date`` (YYYY-MM-DD), ``half_day`` (am/pm), ``document``,
    ``agreement_type``, ``reference`` and ``modality``. The first rule that matches wins.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["terms", "agreement", "attendance"] = Field(description="What a matching request is")
    field: Literal["external_id", "name"] = Field(default="external_id", description="Request field searched")
    pattern: str = Field(description="Regular expression with named groups")
    document: str | None = Field(default=None, description="terms: name/version of the terms when no 'document' group")
    agreement_type: Literal["convention", "contrat", "other"] | None = Field(
        default=None, description="agreement: type when no 'agreement_type' group (default convention)")
    modality: Literal["presentiel", "distanciel_synchrone", "foad_asynchrone"] | None = Field(
        default=None, description="attendance: modality when no 'modality' group (default presentiel)")
    _regex: re.Pattern = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self) -> "TagRule":
        try:
            self._regex = re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"invalid pattern {self.pattern!r}: {exc}") from None
        unknown = set(self._regex.groupindex) - TAG_GROUPS
        if unknown:
            raise ValueError(f"unknown named groups {sorted(unknown)} (allowed: {', '.join(sorted(TAG_GROUPS))})")
        if self.kind == "attendance" and not {"date", "half_day"} <= set(self._regex.groupindex):
            raise ValueError("an attendance rule needs the named groups 'date' and 'half_day'")
        return self

    def match(self, request: Mapping[str, Any]) -> dict[str, str] | None:
        value = request.get(self.field)
        if not isinstance(value, str):
            return None
        found = self._regex.search(value)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v}


DEFAULT_TAGS: list[dict[str, Any]] = [
    {"kind": "terms", "pattern": r"^(?:cgv|terms):(?P<action>[^:]+)(?::(?P<learner>[^:]+))?$"},
    {"kind": "agreement",
     "pattern": r"^(?P<agreement_type>convention|contrat):(?P<action>[^:]+)(?::(?P<learner>[^:]+))?$"},
    {"kind": "attendance",
     "pattern": r"^(?:emargement|attendance):(?P<action>[^:]+):(?P<date>\d{4}-\d{2}-\d{2}):(?P<half_day>am|pm)"
                r"(?::(?P<learner>[^:]+))?$"},
]


class YousignConfig(ConnectorConfig, HttpSettings.with_defaults(
        timeout=dt.timedelta(seconds=20), retries=2, retry_backoff=dt.timedelta(milliseconds=500))):
    api_key: SecretStr = Field(description="Yousign API key (Read-Only is enough), for the downloads")
    webhook_secrets: SecretList = Field(
        description="Webhook subscription secret key(s): one ${env:…}/${file:…} reference holding one or more "
        "secrets separated by commas or spaces (two while moving to a new subscription)",
    )
    sandbox: bool = Field(default=False, description="Use the sandbox API and accept only sandbox events")
    api_base: AnyHttpUrl | None = Field(default=None, description="API base URL; default from 'sandbox' (tests use a fake)")
    tags: list[TagRule] = Field(default_factory=lambda: [TagRule.model_validate(t) for t in DEFAULT_TAGS],
                                description="Rules recognising tagged Signature Requests (first match wins)")
    staff_emails: list[str] = Field(
        default_factory=list,
        description="E-mails of the organisation's own signers (trainers, managers): their attendance signatures "
        "are trainer signatures, and they are never taken for the learner")
    max_event_age: Duration = Field(default=dt.timedelta(days=7),
                                    description="Older signed events are refused as replays (Yousign retries ~4 days)")
    #: ``max_attempts`` (tries per API call) was the name of ``retries`` + 1
    former_http_keys: ClassVar[Mapping[str, str]] = {"max_attempts": "attempts"}

    @field_validator("webhook_secrets")
    @classmethod
    def _one_secret(cls, value: list[SecretStr]) -> list[SecretStr]:
        if not value:
            raise ValueError("give at least one webhook secret")
        return value

    @field_validator("staff_emails")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value if v.strip()]

    @property
    def base_url(self) -> str:
        if self.api_base is not None:
            return str(self.api_base).rstrip("/")
        return SANDBOX_API if self.sandbox else PRODUCTION_API


# --------------------------------------------------------------------------- the connector


@dataclass(frozen=True)
class Tag:
    rule: TagRule
    groups: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.groups.get(name)


class Ignored(Exception):
    """The webhook is genuine but carries nothing for the hub (answered 200 with the reason)."""


class Yousign(Connector, WebhookSource):
    """Yousign e-signatures of CGV, conventions and attendance sheets, with documents and audit trails."""

    kind = "yousign"
    Config = YousignConfig
    emits = ("enrolment.terms_accepted", "enrolment.agreement_signed", "attendance.signed")
    #: seconds a check() result is reused: Yousign rate-limits polling, and /readyz may be probed often
    check_cache_ok, check_cache_failed = 300.0, 60.0

    config: YousignConfig
    _checked: tuple[float, Health] | None = None

    # ------------------------------------------------------------------ webhook
    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        secrets = [s.get_secret_value() for s in self.config.webhook_secrets]
        if not verify_signature(request.body, _header(request.headers, SIGNATURE_HEADER), secrets):
            raise WebhookRejected(401, f"missing or invalid {SIGNATURE_HEADER}")
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise WebhookRejected(400, f"body is not JSON: {exc}") from None
        try:
            event = _check_payload(payload)
        except ValueError as exc:
            raise WebhookRejected(400, f"unexpected Yousign webhook: {exc}") from None
        age = time.time() - event["time"]
        if age > self.config.max_event_age.total_seconds():
            raise WebhookRejected(401, "event_time is older than max_event_age: a replayed request?")
        try:
            items = await self._map(event)
        except Ignored as reason:
            self.context.log.info("yousign event ignored", yousign_event=event["id"], reason=str(reason))
            return WebhookResult([], response={"received": True, "ignored": str(reason)})
        return WebhookResult(items)

    async def _map(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        name = event["name"]
        if name not in HANDLED_EVENTS:
            raise Ignored(f"event {name} is not used (subscribe to {' and '.join(HANDLED_EVENTS)})")
        if event["sandbox"] != self.config.sandbox:
            raise Ignored("a sandbox event sent to a production connector" if event["sandbox"]
                          else "a production event sent to a sandbox connector")
        request_id = event["request_id"]
        signature_request = await self._get_json(f"/signature_requests/{_seg(request_id)}")
        if not isinstance(signature_request, dict) or signature_request.get("id") != request_id:
            raise PermanentError(f"GET /signature_requests/{request_id}: unexpected answer")
        tag = self.tag_of(signature_request)
        if tag is None:
            raise Ignored(f"signature request {request_id} carries no tag (see the 'tags' rules)")
        if name == "signer.done":
            if tag.rule.kind == "agreement":
                raise Ignored("an agreement is recorded on signature_request.done, once every party has signed")
            signer = await self._signer(request_id, event["signer"])
            staff = _email(signer) in self.config.staff_emails
            if tag.rule.kind == "terms" and staff:
                raise Ignored("the organisation's own signature of the terms")
            evidence = await self._evidence(signature_request, signer["id"])
            if tag.rule.kind == "attendance":
                return [self._attendance(event, signature_request, tag, signer, staff, evidence)]
            return [self._terms(event, signature_request, tag, signer, evidence)]
        if tag.rule.kind != "agreement":
            raise Ignored(f"{tag.rule.kind} signatures are recorded signer by signer (signer.done)")
        signers = [await self._signer(request_id, {"id": s["id"]})
                   for s in signature_request.get("signers") or [] if isinstance(s, dict) and s.get("id")]
        evidence = await self._evidence(signature_request, None)
        return [self._agreement(event, signature_request, tag, signers, evidence)]

    def tag_of(self, signature_request: Mapping[str, Any]) -> Tag | None:
        """The first tag rule matching this Signature Request, with its groups."""
        for rule in self.config.tags:
            groups = rule.match(signature_request)
            if groups is not None:
                return Tag(rule, groups)
        return None

    # ------------------------------------------------------------------ events
    def _base(self, type_: str, source_id: str, event: dict, signature_request: dict, tag: Tag,
              data: dict, evidence: list[dict], learner: dict | None, details: dict) -> dict[str, Any]:
        details = {k: v for k, v in {
            "signature_request": signature_request.get("id"), "signature_request_name": signature_request.get("name"),
            "external_id": signature_request.get("external_id"), "yousign_event": event["id"],
            "yousign_event_name": event["name"], **details}.items() if v is not None}
        item: dict[str, Any] = {
            "type": type_,
            "occurred_at": event["occurred_at"],
            "source_id": source_id,
            "data": {**{k: v for k, v in data.items() if v is not None}, "details": details},
            "evidence": evidence,
        }
        if learner:
            item["learner"] = learner
        if tag.get("action"):
            item["action"] = tag.get("action")
        return item

    def _attendance(self, event, signature_request, tag, signer, staff, evidence) -> dict[str, Any]:
        data = {
            "date": tag.get("date"),
            "half_day": tag.get("half_day"),
            "modality": tag.get("modality") or tag.rule.modality or "presentiel",
            "signer": "trainer" if staff else "learner",
            "signer_name": _name(signer),
            "signed_at": event["occurred_at"],
            "proof": _proof(signer),
        }
        learner = None if staff else self._learner_of(signer, tag)
        return self._base("attendance.signed", f"signer:{signature_request['id']}:{signer['id']}", event,
                          signature_request, tag, data, evidence, learner, _signer_details(signer))

    def _terms(self, event, signature_request, tag, signer, evidence) -> dict[str, Any]:
        document = tag.get("document") or tag.rule.document or signature_request.get("name") or "CGV"
        data = {"document": document, "method": _proof(signer)}
        return self._base("enrolment.terms_accepted", f"signer:{signature_request['id']}:{signer['id']}", event,
                          signature_request, tag, data, evidence, self._learner_of(signer, tag), _signer_details(signer))

    def _agreement(self, event, signature_request, tag, signers, evidence) -> dict[str, Any]:
        others = [s for s in signers if _email(s) not in self.config.staff_emails]
        learner = None
        if len(others) == 1:
            learner = self._learner_of(others[0], tag)
        elif tag.get("learner"):
            learner = {"ref": tag.get("learner")}
        data = {
            "agreement_type": tag.get("agreement_type") or tag.rule.agreement_type or "convention",
            "reference": tag.get("reference") or signature_request.get("name") or signature_request["id"],
            "signed_by": ", ".join(n for n in (_name(s) for s in signers) if n) or None,
        }
        return self._base("enrolment.agreement_signed", f"signature_request:{signature_request['id']}", event,
                          signature_request, tag, data, evidence, learner, {"signers": len(signers)})

    def _learner_of(self, signer: Mapping[str, Any], tag: Tag) -> dict[str, Any]:
        email = _email(signer)
        learner: dict[str, Any] = {"ref": tag.get("learner") or email or f"yousign-signer:{signer['id']}"}
        if email:
            learner["email"] = email
        if _name(signer):
            learner["name"] = _name(signer)
        return learner

    # ------------------------------------------------------------------ API
    async def _signer(self, request_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
        info = given.get("info")
        if isinstance(info, dict) and (info.get("email") or info.get("last_name")):
            return dict(given)
        signer = await self._get_json(f"/signature_requests/{_seg(request_id)}/signers/{_seg(given['id'])}")
        if not isinstance(signer, dict) or not isinstance(signer.get("id"), str):
            raise PermanentError(f"GET /signature_requests/{request_id}/signers/{given['id']}: unexpected answer")
        return signer

    async def _evidence(self, signature_request: Mapping[str, Any], signer_id: str | None) -> list[dict[str, Any]]:
        request_id = signature_request["id"]
        done = signature_request.get("status") == "done"
        documents = await self._get(f"/signature_requests/{_seg(request_id)}/documents/download",
                                    [("version", "completed")] if done else [])
        if signer_id is not None:
            trail = await self._get(
                f"/signature_requests/{_seg(request_id)}/signers/{_seg(signer_id)}/audit_trails/download", [])
            trail_name = f"yousign-{request_id}-audit-trail-{signer_id}"
        else:
            trail = await self._get(f"/signature_requests/{_seg(request_id)}/audit_trails/download",
                                    [("merge", "true")])
            trail_name = f"yousign-{request_id}-audit-trails"
        refs = []
        for response, name in ((documents, f"yousign-{request_id}-documents"), (trail, trail_name)):
            if not response.body:
                raise PermanentError(f"{name}: Yousign sent an empty file")
            media_type = (response.content_type.split(";")[0].strip() or "application/pdf").lower()
            extension = {"application/pdf": ".pdf", "application/zip": ".zip"}.get(media_type, "")
            ref = await asyncio.to_thread(self.context.blobs.put, response.body, media_type=media_type,
                                          name=name + extension)
            refs.append(ref.model_dump(exclude_none=True))
        return refs

    async def check(self) -> Health:
        """One cheap API call (``GET /signature_requests?limit=1``), its result reused for a while."""
        now = time.monotonic()
        if self._checked is not None:
            at, health = self._checked
            if now - at < (self.check_cache_ok if health.ok else self.check_cache_failed):
                return health
        environment = "sandbox" if self.config.sandbox else "production"
        health = await probe(
            self._get("/signature_requests", [("limit", "1")], retries=0),
            refused="Yousign refused the API key ({error}): check api_key and that it was created for the "
                    f"{environment} environment",
            unreachable="Yousign API not reachable: {error}")
        self._checked = (now, health)
        return health

    async def _get_json(self, path: str) -> Any:
        response = await self._get(path, [])
        try:
            return orjson.loads(response.body)
        except orjson.JSONDecodeError:
            raise PermanentError(f"GET {path}: the answer is not JSON") from None

    @functools.cached_property
    def http(self) -> HttpClient:
        key = self.config.api_key
        return self.config.client(lambda: self.context.http, base_url=self.config.base_url,
                                  auth_headers=lambda: {"Authorization": f"Bearer {key.get_secret_value()}"},
                                  log=self.context.log)

    async def _get(self, path: str, params: list[tuple[str, str]], *, retries: int | None = None) -> Response:
        # documents and audit trails are PDFs or ZIPs: accept any type
        return await self.http.request("GET", self.http.url(path), params=params, headers={"Accept": "*/*"},
                                       ok=ANY_2XX, retries=retries)


# --------------------------------------------------------------------------- helpers


def _seg(value: str) -> str:
    """An id as one URL path segment."""
    return quote(value, safe="")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _check_payload(payload: Any) -> dict[str, Any]:
    """The parts of a webhook payload the connector uses; ``ValueError`` when malformed."""
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    event_id, name, data = payload.get("event_id"), payload.get("event_name"), payload.get("data")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("missing event_id")
    if not isinstance(name, str) or not name:
        raise ValueError("missing event_name")
    raw_time = payload.get("event_time")
    if isinstance(raw_time, str) and raw_time.strip().isdigit():
        raw_time = int(raw_time)
    if not isinstance(raw_time, int) or isinstance(raw_time, bool):
        raise ValueError("event_time must be a unix time")
    if not isinstance(data, dict):
        raise ValueError("missing data")
    event = {"id": event_id, "name": name, "time": raw_time, "sandbox": payload.get("sandbox") is True,
             "occurred_at": dt.datetime.fromtimestamp(raw_time, dt.timezone.utc).isoformat()}
    if name in HANDLED_EVENTS:
        request = data.get("signature_request")
        if not isinstance(request, dict) or not isinstance(request.get("id"), str) or not request["id"]:
            raise ValueError("missing data.signature_request.id")
        event["request_id"] = request["id"]
        if name == "signer.done":
            signer = data.get("signer")
            if not isinstance(signer, dict) or not isinstance(signer.get("id"), str) or not signer["id"]:
                raise ValueError("missing data.signer.id")
            event["signer"] = signer
    return event


def _info(signer: Mapping[str, Any]) -> Mapping[str, Any]:
    info = signer.get("info")
    return info if isinstance(info, dict) else {}


def _email(signer: Mapping[str, Any]) -> str | None:
    email = _info(signer).get("email")
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


def _name(signer: Mapping[str, Any]) -> str | None:
    info = _info(signer)
    parts = [info.get("first_name"), info.get("last_name")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return name or None


def _proof(signer: Mapping[str, Any]) -> str:
    level = signer.get("signature_level") or "electronic_signature"
    mode = signer.get("signature_authentication_mode")
    return f"yousign {level}" + (f" ({mode})" if mode else "")


def _signer_details(signer: Mapping[str, Any]) -> dict[str, Any]:
    return {"signer": signer.get("id"), "signature_level": signer.get("signature_level"),
            "authentication_mode": signer.get("signature_authentication_mode")}


@hookimpl
def register_connectors():
    return [Yousign]


__all__ = ["Yousign", "YousignConfig", "TagRule", "compute_signature", "verify_signature"]

"""``edusign``: pull Edusign courses (signing slots) into ``attendance.signed`` / ``attendance.absent``.

Edusign's external API (``https://ext.edusign.fr/v1``, ``Authorization: Bearer <API key>``)
lists courses with ``GET /course?page=&start=&end=``; each course carries its ``STUDENTS``
(``studentId``, ``state``, ``timestamp``, ``signature``, ``absenceId``, ``comment``…) and its
trainers (``PROFESSOR``, ``PROFESSOR_SIGNATURE``, ``PROFESSOR_2``, ``PROFESSOR_SIGNATURE_2``…).
Learners and trainers are looked up with ``GET /student/{id}`` and ``GET /professor/{id}``.
Business errors come back as HTTP 200 with ``{"status": "error", "message": …}``.

One course is one slot: its start time in the hub's time zone gives the date and the half-day.
A learner's signature becomes ``attendance.signed`` (the signature image is stored as evidence
with the Edusign record), a learner still unsigned once the course is over becomes
``attendance.absent`` (``justified`` when Edusign holds an absence justification), and each
trainer signature becomes an ``attendance.signed`` with ``signer: trainer``. See
docs/connectors/edusign.md for the mapping, the cursor and the configuration.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import re
from typing import Any, Literal

import orjson
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connector import Connector, ConnectorConfig, Health, PullResult, PullSource, Reject
from hub.durations import Duration
from hub.errors import AuthError, ConnectorError, PermanentError
from hub.hookspecs import hookimpl
from hub.http import HttpSettings, Page, paginate

UTC = dt.timezone.utc
PROFESSOR_KEY = re.compile(r"^PROFESSOR(?:_(\d+))?$")
SIGNATURE_MAX_BYTES = 5 * 1024 * 1024
#: courses longer than this are still followed through the cursor's open list
MAX_COURSE_LENGTH = dt.timedelta(days=1)


class ActionMapping(BaseModel):
    """How a course is tied to a training action (``action`` of the events)."""

    model_config = ConfigDict(extra="forbid")
    field: str | None = Field(default="TRAINING_ID", description="Course field holding the action (e.g. TRAINING_ID, API_ID)")
    name_pattern: str | None = Field(
        default=None,
        description="Regular expression applied to the course NAME; the named group 'action' (or group 1) "
        "is the action. Tried before 'field'.")
    values: dict[str, str] = Field(default_factory=dict, description="Table from the raw value to the hub's action id")
    default: str | None = Field(default=None, description="Action when nothing else matches (None: no action)")

    @field_validator("name_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    def resolve(self, course: dict[str, Any]) -> str | None:
        raw: str | None = None
        if self.name_pattern and isinstance(course.get("NAME"), str):
            match = re.search(self.name_pattern, course["NAME"])
            if match:
                raw = match.groupdict().get("action") or (match.group(1) if match.groups() else match.group(0))
        if raw is None and self.field:
            value = course.get(self.field)
            if value not in (None, ""):
                raw = str(value)
        if raw is None:
            return self.default
        return self.values.get(raw, raw)[:200]


class EdusignConfig(ConnectorConfig, HttpSettings):
    base_url: AnyHttpUrl = Field(default="https://ext.edusign.fr/v1", description="Edusign external API base URL")
    api_key: SecretStr = Field(description="Edusign API key (${env:…} or ${file:…}); Applications > private app > API keys")
    start_date: dt.date | None = Field(
        default=None, description="Courses starting on or after this day are read on the first run (default: 30 days ago)")
    window: Duration = Field(default=dt.timedelta(days=7), description="Span of course start times read by one pull (backfill page)")
    settle: Duration = Field(
        default=dt.timedelta(days=7),
        description="How long after its end a course is re-read for late signatures, justifications and trainer signatures")
    absent_after: Duration = Field(
        default=dt.timedelta(hours=2),
        description="Delay after a course's end before unsigned learners are recorded absent (immediately once LOCKED)")
    pm_from: dt.time = Field(default=dt.time(12, 0), description="Local start time from which a course is an afternoon (pm) slot")
    modality: Literal["presentiel", "distanciel_synchrone", "foad_asynchrone"] = Field(
        default="presentiel", description="Modality of the slots")
    remote_field: str | None = Field(
        default="ZOOM", description="Course field that, when true, makes the slot 'distanciel_synchrone' (None: ignore)")
    action: ActionMapping = Field(default_factory=ActionMapping, description="Course → training action mapping")
    student_id_namespace: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9_]*$",
        description="Put the student's API_ID (your own id, e.g. the Moodle user id) in learner.ids under this name")
    trainer_events: bool = Field(default=True, description="Emit trainers' own signatures (signer: trainer)")
    download_signatures: bool = Field(default=True, description="Store the signature images as evidence blobs")
    page_limit: int = Field(default=200, ge=1, le=10_000, description="Safety limit of API pages read per pull")


def _parse_time(value: Any, field: str) -> dt.datetime:
    """An Edusign date-time (ISO 8601; a time without offset is UTC, as Edusign sends)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: expected an ISO 8601 date-time, got {value!r}")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: invalid date-time {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "null")
    return bool(value)


def _name(person: dict[str, Any] | None) -> str | None:
    if not person:
        return None
    name = " ".join(str(p).strip() for p in (person.get("FIRSTNAME"), person.get("LASTNAME")) if p)
    return name[:300] or None


class Edusign(Connector, PullSource):
    """Pull Edusign signing slots: learners' and trainers' signatures, absences, with the proofs."""

    kind = "edusign"
    Config = EdusignConfig
    emits = ("attendance.signed", "attendance.absent")

    def __init__(self, name, config, context):
        super().__init__(name, config, context)
        self.config: EdusignConfig
        self._people: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.http = self.config.client(
            lambda: self.context.http,
            base_url=str(self.config.base_url),
            auth_headers=lambda: {"Authorization": f"Bearer {self.config.api_key.get_secret_value()}"},
            retry_after=lambda status, headers: 10.0 if status == 429 else None,
            log=self.context.log,
        )

    # ------------------------------------------------------------------ API
    def _now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET an Edusign resource and return its ``result`` (raises on ``status: error``)."""
        response = await self.http.request("GET", path, params=params, ok=(200,))
        payload = response.json(f"GET {path}")
        if not isinstance(payload, dict):
            raise PermanentError(f"GET {path}: unexpected answer (not a JSON object)")
        if payload.get("status") == "error":
            message = payload.get("message")
            message = message if isinstance(message, str) else "validation errors"
            raise PermanentError(f"GET {path}: Edusign says: {message[:200]}")
        return payload.get("result")

    async def check(self) -> Health:
        try:
            await self._get("/school")
        except AuthError as exc:
            return Health(False, f"Edusign refused the API key ({exc}): it is invalid, revoked or lacks the API option; "
                                 "create a key in Edusign > Applications > your private app > API keys")
        except ConnectorError as exc:
            if "HTTP 402" in str(exc):
                return Health(False, f"Edusign refused the call ({exc}): the account has no subscription, "
                                     "a payment default or no API option")
            return Health(False, f"Edusign is not reachable: {exc}")
        return Health(True)

    async def _person(self, kind: Literal["student", "professor"], person_id: str) -> dict[str, Any] | None:
        key = (kind, person_id)
        if key not in self._people:
            try:
                result = await self._get(f"/{kind}/{person_id}")
            except PermanentError as exc:  # deleted or unknown: keep the id only
                self.context.log.warning("edusign person not found", kind=kind, id=person_id, error=str(exc))
                result = None
            if len(self._people) > 20_000:
                self._people.clear()
            self._people[key] = result if isinstance(result, dict) else None
        return self._people[key]

    async def _courses(self, start: dt.datetime, end: dt.datetime) -> list[Any]:
        previous: list[Any] = []

        async def course_page(number: int) -> Page[int]:
            nonlocal previous
            result = await self._get("/course", {"page": number, "start": _iso(start), "end": _iso(end)})
            if not isinstance(result, list):
                raise PermanentError("GET /course: 'result' is not a list")
            if not result or result == previous:  # an API that ignores 'page' would loop forever
                return Page([], None)
            previous = result
            return Page(result, number + 1)

        def limit_reached() -> None:
            self.context.log.warning("edusign page limit reached", pages=self.config.page_limit)

        return [course async for page in paginate(course_page, 0, max_pages=self.config.page_limit,
                                                  on_limit=limit_reached) for course in page]

    # ------------------------------------------------------------------ pull
    async def pull(self, cursor: Any) -> PullResult:
        now = self._now()
        cursor = cursor or {}
        first = self.config.start_date
        initial = (dt.datetime.combine(first, dt.time(), self.context.timezone).astimezone(UTC) if first
                   else now - dt.timedelta(days=30))
        next_ = _parse_time(cursor["next"], "cursor.next") if cursor.get("next") else initial
        pulled_at = _parse_time(cursor["pulled_at"], "cursor.pulled_at") if cursor.get("pulled_at") else None
        open_: dict[str, dict[str, Any]] = dict(cursor.get("open") or {})
        bad: dict[str, str] = dict(cursor.get("bad") or {})
        settle = self.config.settle

        range_start = next_
        if pulled_at is not None:
            range_start = min(range_start, pulled_at - settle - MAX_COURSE_LENGTH)
        for item in open_.values():
            range_start = min(range_start, _parse_time(item["start"], "cursor.open.start"))
        range_end = min(next_ + self.config.window, now)
        range_end = max(range_end, next_)

        events: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for course in await self._courses(range_start, range_end):
            fingerprint = hashlib.sha256(orjson.dumps(course, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
            try:
                course_id, start, end = _course_times(course)
            except ValueError as exc:
                if fingerprint not in bad:
                    bad[fingerprint] = _iso(now)
                    rejects.append(Reject("map", f"course {_course_label(course)}: {exc}", course))
                continue
            if not (range_start <= start < range_end):
                continue  # read by the window that holds its start
            state = open_.get(course_id)
            if state is None and start < next_ and pulled_at is not None and end + settle <= pulled_at:
                continue  # finished and fully read by an earlier pull
            done = set(state["keys"]) if state else set()
            plan, problems = self._plan(course, course_id, start, end, now)
            new = [fact for fact in plan if fact["key"] not in done]
            new_problems = [(key, message) for key, message in problems if key not in done]
            if new or new_problems:
                record = await self._augment(course, new)
                built, errors = self._build(record, now, keys={fact["key"] for fact in new})
                events.extend(built)
                for key, message in [*new_problems, *errors]:
                    rejects.append(Reject("map", f"course {course_id}: {message}", record, source_id=key))
                done.update(fact["key"] for fact in new)
                done.update(key for key, _ in new_problems)
            if end + settle <= now:
                open_.pop(course_id, None)
            else:
                open_[course_id] = {"start": _iso(start), "keys": sorted(done)}

        horizon = now - settle - self.config.window - MAX_COURSE_LENGTH
        bad = {k: v for k, v in bad.items() if _parse_time(v, "cursor.bad") >= horizon}
        next_cursor: dict[str, Any] = {"next": _iso(range_end), "pulled_at": _iso(now), "open": open_}
        if bad:
            next_cursor["bad"] = bad
        return PullResult(events, next_cursor, has_more=range_end < now, rejects=rejects)

    # ------------------------------------------------------------------ mapping
    def _closed(self, course: dict[str, Any], end: dt.datetime, now: dt.datetime) -> bool:
        return _truthy(course.get("LOCKED")) or end + self.config.absent_after <= now

    def _plan(self, course: dict[str, Any], course_id: str, start: dt.datetime, end: dt.datetime,
              now: dt.datetime) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """The facts a course holds now, each with its stable key, and the entries that are malformed."""
        facts: list[dict[str, Any]] = []
        problems: list[tuple[str, str]] = []
        closed = self._closed(course, end, now)
        students = course.get("STUDENTS") or []
        if not isinstance(students, list):
            return facts, [(f"course:{course_id}:students", "STUDENTS: expected a list")]
        for index, entry in enumerate(students):
            if not isinstance(entry, dict) or not entry.get("studentId"):
                problems.append((f"course:{course_id}:entry:{index}", f"STUDENTS[{index}].studentId: missing"))
                continue
            student = str(entry["studentId"])
            base = f"course:{course_id}:student:{student}"
            if "state" in entry and not isinstance(entry["state"], (bool, int, type(None))):
                problems.append((f"{base}:entry", f"STUDENTS[{index}].state: expected a boolean, got {entry['state']!r}"))
                continue
            if entry.get("timestamp") not in (None, ""):
                try:
                    _parse_time(entry["timestamp"], f"STUDENTS[{index}].timestamp")
                except ValueError as exc:
                    problems.append((f"{base}:entry", str(exc)))
                    continue
            if not closed:
                continue  # decided once the slot is over: co-signature and absences are then known
            if _truthy(entry.get("state")) or entry.get("signature"):
                facts.append({"key": f"{base}:signed", "kind": "signed", "index": index, "student": student})
            else:
                justified = bool(entry.get("absenceId"))
                suffix = ":justified" if justified else ""
                facts.append({"key": f"{base}:absent{suffix}", "kind": "absent", "index": index, "student": student})
        if self.config.trainer_events:
            for professor, signature in _professors(course):
                if signature:
                    facts.append({"key": f"course:{course_id}:professor:{professor}:signed", "kind": "trainer",
                                  "professor": professor})
        return facts, problems

    async def _augment(self, course: dict[str, Any], facts: list[dict[str, Any]]) -> dict[str, Any]:
        """The course with what mapping needs from other calls: people and stored proofs."""
        extra: dict[str, Any] = {"students": {}, "professors": {}, "evidence": {}}
        for professor, _sig in _professors(course):
            extra["professors"][professor] = await self._person("professor", professor)
        summary = _course_summary(course)
        students = course.get("STUDENTS") or []
        for fact in facts:
            refs = []
            if fact["kind"] == "trainer":
                signature = dict(_professors(course)).get(fact["professor"])
                evidence_record = {"course": summary, "professor": fact["professor"], "signature": signature}
                blob = await self._signature_blob(signature, f"edusign-{fact['key']}")
            else:
                student = fact["student"]
                extra["students"][student] = await self._person("student", student)
                entry = students[fact["index"]]
                evidence_record = {"course": summary, "entry": entry}
                blob = await self._signature_blob(entry.get("signature"), f"edusign-{fact['key']}") \
                    if fact["kind"] == "signed" else None
            if blob is not None:
                refs.append(blob)
            record_ref = await asyncio.to_thread(
                self.context.blobs.put, orjson.dumps(evidence_record, option=orjson.OPT_SORT_KEYS),
                media_type="application/json", name=f"edusign-{fact['key']}.json")
            refs.append(record_ref.model_dump(exclude_none=True))
            extra["evidence"][fact["key"]] = refs
        return {**course, "_parcours": extra}

    async def _signature_blob(self, signature: Any, name: str) -> dict[str, Any] | None:
        """Store a signature (image URL, data: URL or base64) as a blob; None when there is none."""
        if not self.config.download_signatures or not isinstance(signature, str) or not signature.strip():
            return None
        value = signature.strip()
        media_type, content = "application/octet-stream", None
        if value.startswith(("http://", "https://")):
            response = await self.http.request("GET", value, ok=(200,), max_bytes=SIGNATURE_MAX_BYTES)
            content = response.body
            media_type = (response.headers.get("Content-Type") or "image/png").split(";")[0].strip()
        elif value.startswith("data:"):
            header, _, data = value.partition(",")
            media_type = header[5:].split(";")[0] or "image/png"
            try:
                content = base64.b64decode(data, validate=False) if ";base64" in header else data.encode()
            except (binascii.Error, ValueError):
                content = None
        else:
            try:
                content, media_type = base64.b64decode(value, validate=True), "image/png"
            except (binascii.Error, ValueError):
                content = None
        if content is None:  # keep what Edusign gave, as text
            content, media_type = value.encode(), "text/plain"
        ref = await asyncio.to_thread(self.context.blobs.put, content, media_type=media_type, name=name)
        return ref.model_dump(exclude_none=True)

    def map_record(self, record: Any) -> list[dict[str, Any]]:
        """Map an Edusign course again (a dead-lettered record, with what ``pull`` added to it)."""
        if not isinstance(record, dict):
            raise ValueError("expected an Edusign course object")
        events, errors = self._build(record, self._now(), keys=None)
        if errors:
            raise ValueError("; ".join(message for _key, message in errors))
        return events

    def _build(self, record: dict[str, Any], now: dt.datetime,
               keys: set[str] | None) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        course_id, start, end = _course_times(record)
        plan, problems = self._plan(record, course_id, start, end, now)
        extra = record.get("_parcours") or {}
        people_s, people_p = extra.get("students") or {}, extra.get("professors") or {}
        evidence = extra.get("evidence") or {}
        local = start.astimezone(self.context.timezone)
        half_day = "am" if local.time() < self.config.pm_from else "pm"
        modality = self.config.modality
        if self.config.remote_field and _truthy(record.get(self.config.remote_field)):
            modality = "distanciel_synchrone"
        action = self.config.action.resolve(record)
        signed_professors = [p for p, sig in _professors(record) if sig]
        trainer_names = [n for n in (_name(people_p.get(p)) for p in signed_professors) if n]
        trainer_name = ", ".join(trainer_names)[:300] or None
        details_base = {"course_id": course_id, "course_name": record.get("NAME"),
                        "start": _iso(start), "end": _iso(end)}
        if record.get("CLASSROOM"):
            details_base["classroom"] = record.get("CLASSROOM")
        events: list[dict[str, Any]] = []
        errors: list[tuple[str, str]] = []
        students = record.get("STUDENTS") or []
        for fact in plan:
            if keys is not None and fact["key"] not in keys:
                continue
            try:
                if fact["kind"] == "trainer":
                    person = people_p.get(fact["professor"])
                    signature = dict(_professors(record)).get(fact["professor"])
                    event = {
                        "type": "attendance.signed",
                        "occurred_at": _iso(end),
                        "data": {"date": local.date().isoformat(), "half_day": half_day, "modality": modality,
                                 "signer": "trainer", "signer_name": _name(person), "trainer_cosigned": True,
                                 "trainer_name": _name(person), "proof": "edusign:trainer-signature",
                                 "details": {**details_base, "professor_id": fact["professor"],
                                             "signature_kind": _signature_kind(signature)}},
                    }
                else:
                    entry = students[fact["index"]]
                    person = people_s.get(fact["student"])
                    learner: dict[str, Any] = {"ref": fact["student"], "ids": {"edusign_student": fact["student"]}}
                    if person:
                        if person.get("EMAIL"):
                            learner["email"] = str(person["EMAIL"]).strip()[:320]
                        if _name(person):
                            learner["name"] = _name(person)
                        if self.config.student_id_namespace and person.get("API_ID") not in (None, ""):
                            learner["ids"][self.config.student_id_namespace] = str(person["API_ID"])[:200]
                    details = {**details_base}
                    for source_key, target in (("delay", "delay_minutes"), ("excluded", "excluded"),
                                               ("earlyDeparture", "early_departure"), ("absenceId", "absence_id")):
                        if entry.get(source_key) not in (None, "", False, 0):
                            details[target] = entry[source_key]
                    if fact["kind"] == "signed":
                        signed_at = (_parse_time(entry["timestamp"], "timestamp")
                                     if entry.get("timestamp") not in (None, "") else None)
                        event = {
                            "type": "attendance.signed",
                            "occurred_at": _iso(signed_at or start),
                            "learner": learner,
                            "data": {"date": local.date().isoformat(), "half_day": half_day, "modality": modality,
                                     "signer": "learner", "signer_name": learner.get("name"),
                                     "trainer_cosigned": bool(signed_professors), "trainer_name": trainer_name,
                                     "signed_at": _iso(signed_at) if signed_at else None,
                                     "proof": "edusign:" + _signature_kind(entry.get("signature")),
                                     "details": details},
                        }
                    else:
                        justified = fact["key"].endswith(":justified")
                        event = {
                            "type": "attendance.absent",
                            "occurred_at": _iso(end),
                            "learner": learner,
                            "data": {"date": local.date().isoformat(), "half_day": half_day, "justified": justified,
                                     "reason": (str(entry["comment"])[:500] if entry.get("comment") else None),
                                     "details": details},
                        }
                event["source_id"] = fact["key"]
                if action:
                    event["action"] = action
                if evidence.get(fact["key"]):
                    event["evidence"] = list(evidence[fact["key"]])
                events.append(event)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                errors.append((fact["key"], f"{fact['key']}: {exc}"))
        if keys is None:
            errors = problems + errors
        return events, errors


def _course_times(course: Any) -> tuple[str, dt.datetime, dt.datetime]:
    if not isinstance(course, dict):
        raise ValueError("expected a JSON object")
    if course.get("ID") in (None, ""):
        raise ValueError("ID: missing")
    start = _parse_time(course.get("START"), "START")
    end = _parse_time(course.get("END"), "END")
    if end < start:
        raise ValueError(f"END: {course.get('END')!r} is before START {course.get('START')!r}")
    return str(course["ID"]), start, end


def _course_label(course: Any) -> str:
    if isinstance(course, dict) and course.get("ID") not in (None, ""):
        return str(course["ID"])
    return "(no ID)"


def _course_summary(course: dict[str, Any]) -> dict[str, Any]:
    keep = ("ID", "NAME", "START", "END", "LOCKED", "TRAINING_ID", "API_ID", "CLASSROOM")
    summary = {k: course[k] for k in keep if k in course}
    for key, value in course.items():
        if PROFESSOR_KEY.match(key) or key.startswith("PROFESSOR_SIGNATURE"):
            summary[key] = value
    return summary


def _professors(course: dict[str, Any]) -> list[tuple[str, Any]]:
    """(professor id, signature) for PROFESSOR, PROFESSOR_2, … in order."""
    found = []
    for key, value in course.items():
        match = PROFESSOR_KEY.match(key)
        if match and value not in (None, ""):
            index = match.group(1)
            signature = course.get("PROFESSOR_SIGNATURE" + (f"_{index}" if index else ""))
            found.append((int(index or 1), str(value), signature))
    return [(pid, sig) for _i, pid, sig in sorted(found)]


def _signature_kind(signature: Any) -> str:
    if not isinstance(signature, str) or not signature.strip():
        return "marked-present"
    return "signature-image" if signature.startswith(("http://", "https://", "data:")) else "signature"


@hookimpl
def register_connectors():
    return [Edusign]


__all__ = ["Edusign", "EdusignConfig", "ActionMapping"]

"""xAPI statements to Parcours event inputs.

One statement gives zero, one or two event inputs. The verb decides the event type (ADL,
cmi5, activitystrea.ms, video and Moodle verbs, see :data:`VERBS`), the object's activity
type refines it (``terminated`` on a video is a viewing, on a virtual classroom an
attendance, otherwise an LMS session). A statement that cannot be read raises
:class:`StatementError`, whose message starts with the field at fault; a well-formed
statement whose verb carries no evidence the vocabulary can hold is *skipped* with a reason
code that the connector counts.

Session and virtual-class durations come from ``result.duration`` of the closing statement
(``terminated``, ``abandoned``, ``logged-out``, ``leave``). When it is missing, the closing
statement is paired with the opening ones (``launched``/``initialized``/``logged-in``,
``join``) of the same learner, activity and session kept in a :class:`Pairing`.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Sequence

import orjson

from connectors.xapi.iso8601 import UTC, duration_seconds, format_timestamp, parse_duration, parse_timestamp

ADL = "http://adlnet.gov/expapi/verbs/"
ADL_W3ID = "https://w3id.org/xapi/adl/verbs/"
AS_JOIN = ("http://activitystrea.ms/join", "http://activitystrea.ms/schema/1.0/join")
AS_LEAVE = ("http://activitystrea.ms/leave", "http://activitystrea.ms/schema/1.0/leave")
VOIDED = ADL + "voided"

#: verb IRI -> what it means here
VERBS: dict[str, str] = {
    ADL + "completed": "completed",
    ADL + "passed": "passed",
    ADL + "mastered": "passed",
    ADL + "failed": "failed",
    ADL_W3ID + "satisfied": "satisfied",
    ADL + "scored": "scored",
    ADL + "attempted": "attempted",
    ADL + "progressed": "progressed",
    ADL + "attended": "attended",
    ADL + "launched": "open",
    ADL + "initialized": "open",
    ADL_W3ID + "logged-in": "open",
    "https://brindlewaye.com/xAPITerms/verbs/loggedin/": "open",
    ADL + "terminated": "close",
    ADL_W3ID + "abandoned": "close",
    ADL_W3ID + "logged-out": "close",
    "https://brindlewaye.com/xAPITerms/verbs/loggedout/": "close",
    **{iri: "join" for iri in AS_JOIN},
    **{iri: "leave" for iri in AS_LEAVE},
    "https://w3id.org/xapi/video/verbs/played": "played",
    "http://id.tincanapi.com/verb/downloaded": "downloaded",
    ADL + "registered": "registered",
    ADL + "asked": "tutor",
    ADL + "commented": "tutor",
    ADL + "responded": "tutor",
}

#: activity types (``object.definition.type``) and profile categories that make an object a
#: media or a virtual classroom
MEDIA_TYPES = frozenset({
    "https://w3id.org/xapi/video/activity-type/video",
    "https://w3id.org/xapi/audio/activity-type/audio",
    "http://activitystrea.ms/schema/1.0/video",
    "http://activitystrea.ms/schema/1.0/audio",
})
MEDIA_CATEGORIES = frozenset({"https://w3id.org/xapi/video", "https://w3id.org/xapi/audio"})
CLASS_TYPES = frozenset({
    "https://w3id.org/xapi/virtual-classroom/activity-types/virtual-classroom",
    "http://id.tincanapi.com/activitytype/webinar",
    "http://id.tincanapi.com/activitytype/meeting",
})
CLASS_CATEGORIES = frozenset({"https://w3id.org/xapi/virtual-classroom"})

CMI5_PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"
CMI5_SESSION = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
VIDEO_PROGRESS = "https://w3id.org/xapi/video/extensions/progress"
VIDEO_SEGMENTS = "https://w3id.org/xapi/video/extensions/played-segments"
VIDEO_SESSION = "https://w3id.org/xapi/video/extensions/session-id"

#: what a verb map (the connector's ``verbs``) may give a verb: a meaning of :data:`VERBS`, or
#: ``ignore`` (the verb carries nothing to keep: skipped as ``ignored_verb``, not as unknown)
VERB_MEANINGS = (*sorted(set(VERBS.values())), "ignore")

#: every event type the mapping may produce
EMITS = (
    "lms.session",
    "lms.activity_completed",
    "lms.quiz_attempted",
    "assessment.graded",
    "lms.progress",
    "lms.virtual_class_attended",
    "lms.media_played",
    "lms.resource_downloaded",
    "enrolment.registered",
    "lms.tutor_interaction",
)

#: reasons a well-formed statement yields no event (counted in the connector's health details)
SKIP_REASONS = {
    "unmapped_verb": "its verb has no counterpart in the vocabulary (map it with `verbs`)",
    "ignored_verb": "its verb is mapped to `ignore` in the connector's `verbs`",
    "voided": "it voids another statement (see 'Voided statements')",
    "opening": "it opens a session or a class; the event is made from the closing statement",
    "unpaired_close": "it closes a session or class but has no result.duration and no opening statement was seen",
    "no_duration": "'attended' without result.duration",
    "no_score": "'scored' or 'attempted' without result.score",
    "no_progress": "'progressed' without a progress extension or result.score.scaled",
    "not_an_activity": "its object is an Agent, a Group or a statement, not an Activity",
    "no_instructor": "'asked', 'commented' or 'responded' without context.instructor: not an exchange with a tutor",
}

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
ACTIVITY_LISTS = ("parent", "grouping", "category", "other")
LEARNER_KINDS = ("account", "mbox", "mbox_sha1sum", "openid")
#: namespace of the deterministic ids given to pushed statements that come without an ``id``
PUSH_NAMESPACE = uuid.UUID("5b0f8a52-3c1e-4d7a-9f47-6a1d0c2e8b91")
MAX_REF = 200


class StatementError(ValueError):
    """A statement that cannot be read; the message starts with the field at fault."""


@dataclass
class MappingOptions:
    learner_from: Sequence[str] = LEARNER_KINDS
    action_from: Sequence[str] = ("grouping", "parent")
    actions: Mapping[str, str] = field(default_factory=dict)
    id_namespaces: Mapping[str, str] = field(default_factory=dict)
    languages: Sequence[str] = ("fr-FR", "fr", "en-US", "en", "und")
    timezone: dt.tzinfo = UTC
    pair_window: dt.timedelta = dt.timedelta(hours=12)
    verbs: Mapping[str, str] = field(default_factory=dict)  # the admin's verb map: IRI -> VERB_MEANINGS


@dataclass
class Mapped:
    """What one statement gave: its id, its event inputs, or the reason it gave none."""

    statement_id: str
    verb: str
    events: list[dict[str, Any]]
    skipped: str | None = None
    note: str | None = None


def statement_uuid(statement: Mapping[str, Any]) -> str:
    """The deterministic id of a pushed statement without ``id``: UUID5 of its canonical JSON."""
    canonical = orjson.dumps(statement, option=orjson.OPT_SORT_KEYS)
    return str(uuid.uuid5(PUSH_NAMESPACE, canonical.decode()))


# --------------------------------------------------------------------------- pairing


class Pairing:
    """Opening statements waiting for their closing one, by pairing key.

    The state is plain JSON so that a pull source can keep it in its cursor, committed with the
    events: ``open`` (``{key: [[iso time, statement id], ...]}``) and ``closed``
    (``{"consumed": {statement id: iso time}, "ends": {key: iso time}}``). Each opening is
    consumed once: an opening read again (an overlapping re-read of the LRS) after its closing was
    paired is recognised by its id and ignored, and an opening older than the last interval closed
    on its key cannot start a new one, so two intervals of one key never overlap. A closing pairs
    only with openings at most ``window`` before it. Openings older than ``window`` before the
    latest statement time seen are dropped; what was closed is remembered for ``window`` or
    ``memory`` (the connector's overlap) when longer; at most ``max_keys`` keys are kept (the
    oldest go first).
    """

    def __init__(self, state: Mapping[str, Any] | None, window: dt.timedelta, max_keys: int = 5000, *,
                 closed: Mapping[str, Any] | None = None, memory: dt.timedelta = dt.timedelta(0)):
        self.window = window
        self.memory = max(window, memory)
        self.max_keys = max_keys
        self.open: dict[str, list[list[str]]] = {}
        for key, items in (state or {}).items():
            if isinstance(key, str) and isinstance(items, list):
                kept = [[str(i[0]), str(i[1])] for i in items if isinstance(i, (list, tuple)) and len(i) == 2]
                if kept:
                    self.open[key] = kept
        closed = closed if isinstance(closed, Mapping) else {}
        self.consumed: dict[str, str] = {str(k): str(v) for k, v in (closed.get("consumed") or {}).items()}
        self.ends: dict[str, str] = {str(k): str(v) for k, v in (closed.get("ends") or {}).items()}
        self.latest: dt.datetime | None = None

    def opening(self, key: str, at: dt.datetime, statement_id: str) -> None:
        self._seen(at)
        stamp = format_timestamp(at)
        if statement_id in self.consumed or stamp < self.ends.get(key, ""):
            return  # read again after its closing, or older than the interval already closed on this key
        items = self.open.setdefault(key, [])
        entry = [stamp, statement_id]
        if entry not in items:
            items.append(entry)
            items.sort()
        del items[:-20]  # a learner reconnecting 20 times without closing: keep the latest

    def closing(self, key: str, at: dt.datetime, statement_id: str | None = None) -> dt.datetime | None:
        """The earliest opening at or before ``at`` and at most ``window`` before it (all openings
        up to ``at`` are consumed, and so is the closing statement itself)."""
        self._seen(at)
        stamp = format_timestamp(at)
        if statement_id is not None:
            self.consumed[statement_id] = stamp
        items = self.open.get(key) or []
        before = [i for i in items if i[0] <= stamp]
        rest = [i for i in items if i[0] > stamp]
        if rest:
            self.open[key] = rest
        else:
            self.open.pop(key, None)
        for when, statement_id in before:
            self.consumed[statement_id] = when
        if stamp > self.ends.get(key, ""):
            self.ends[key] = stamp
        horizon = format_timestamp(at - self.window)
        usable = [i for i in before if i[0] >= horizon]
        return parse_timestamp(usable[0][0]) if usable else None

    def discard(self, key: str, at: dt.datetime, statement_id: str | None = None) -> None:
        """A closing statement that carried its own duration: forget the openings it closes."""
        self.closing(key, at, statement_id)

    def paired(self, statement_id: str) -> bool:
        """Whether this statement already opened or closed an interval (a re-read of it changes nothing)."""
        return statement_id in self.consumed

    def _seen(self, at: dt.datetime) -> None:
        if self.latest is None or at > self.latest:
            self.latest = at

    def dump(self) -> dict[str, list[list[str]]]:
        """The openings still waiting (the ``open`` part of the state)."""
        if self.latest is not None:
            horizon = format_timestamp(self.latest - self.window)
            for key in list(self.open):
                kept = [i for i in self.open[key] if i[0] >= horizon]
                if kept:
                    self.open[key] = kept
                else:
                    del self.open[key]
        if len(self.open) > self.max_keys:
            newest = sorted(self.open, key=lambda k: self.open[k][-1][0], reverse=True)[: self.max_keys]
            self.open = {k: self.open[k] for k in sorted(newest)}
        return {k: self.open[k] for k in sorted(self.open)}

    def dump_closed(self) -> dict[str, dict[str, str]]:
        """What was closed, remembered for ``memory`` (the ``closed`` part of the state)."""
        if self.latest is not None:
            horizon = format_timestamp(self.latest - self.memory)
            self.consumed = {k: v for k, v in self.consumed.items() if v >= horizon}
            self.ends = {k: v for k, v in self.ends.items() if v >= horizon}
        if len(self.ends) > self.max_keys:
            self.ends = dict(sorted(self.ends.items(), key=lambda kv: kv[1])[-self.max_keys:])
        if len(self.consumed) > 20 * self.max_keys:
            self.consumed = dict(sorted(self.consumed.items(), key=lambda kv: kv[1])[-20 * self.max_keys:])
        if not self.consumed and not self.ends:
            return {}
        return {"consumed": dict(sorted(self.consumed.items())), "ends": dict(sorted(self.ends.items()))}


# --------------------------------------------------------------------------- reading helpers


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):  # xAPI 1.0.0 allowed a single activity instead of an array
        return [value]
    raise StatementError(f"{where}: expected an array of activities")


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StatementError(f"{where}: expected a number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - JSON numbers always convert
        raise StatementError(f"{where}: expected a number, got {value!r}") from None


def _plain(value: Decimal) -> int | float:
    """A JSON-friendly number: integers stay integers."""
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class _Score:
    scaled: Decimal | None
    raw: Decimal | None
    minimum: Decimal | None
    maximum: Decimal | None

    def as_points(self) -> tuple[int | float, int | float | None]:
        """(score, max_score) for the vocabulary: raw points when given, else a percentage."""
        if self.raw is not None:
            return _plain(self.raw), (_plain(self.maximum) if self.maximum is not None and self.maximum > 0 else None)
        assert self.scaled is not None
        return _plain((self.scaled * 100).quantize(Decimal("0.01")).normalize()), 100

    def as_details(self) -> dict[str, Any]:
        out = {"scaled": self.scaled, "raw": self.raw, "min": self.minimum, "max": self.maximum}
        return {k: _plain(v) for k, v in out.items() if v is not None}


def _score(result: Mapping[str, Any]) -> _Score | None:
    score = result.get("score")
    if score is None:
        return None
    if not isinstance(score, dict):
        raise StatementError("result.score: expected an object")
    parts = {k: (_number(score[k], f"result.score.{k}") if score.get(k) is not None else None)
             for k in ("scaled", "raw", "min", "max")}
    scaled, raw, minimum, maximum = parts["scaled"], parts["raw"], parts["min"], parts["max"]
    if scaled is not None and not (-1 <= scaled <= 1):
        raise StatementError(f"result.score.scaled: {score['scaled']!r} is outside -1..1")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise StatementError("result.score.min: greater than result.score.max")
    if raw is not None and ((minimum is not None and raw < minimum) or (maximum is not None and raw > maximum)):
        raise StatementError(f"result.score.raw: {score['raw']!r} is outside result.score.min..max")
    if scaled is None and raw is None:
        return None
    return _Score(scaled, raw, minimum, maximum)


def _segments_seconds(value: Any) -> int | None:
    """Seconds watched from the video profile's ``played-segments`` (``0[.]5.2[,]10[.]20``)."""
    if not isinstance(value, str) or not value:
        return None
    total = 0.0
    try:
        for segment in value.split("[,]"):
            start, end = (float(x) for x in segment.split("[.]"))
            total += max(0.0, end - start)
    except ValueError:
        return None
    return int(round(total))


# --------------------------------------------------------------------------- the mapper


class StatementMapper:
    """Maps statements with one set of options; see the module documentation."""

    def __init__(self, options: MappingOptions):
        self.options = options

    # ------------------------------------------------------------------ entry point
    def map(self, statement: Any, pairing: Pairing | None = None, *, require_id: bool = True,
            received_at: dt.datetime | None = None) -> Mapped:
        """Map one statement. ``pairing`` (optional) pairs closing statements without duration.

        ``require_id``: statements read from an LRS always have an ``id``; pushed ones may
        not, and then get :func:`statement_uuid`. ``received_at`` stands for ``timestamp``
        when a pushed statement has neither ``timestamp`` nor ``stored``.
        """
        if not isinstance(statement, dict):
            raise StatementError("statement: expected a JSON object")
        statement_id = self._id(statement, require_id)
        verb = statement.get("verb")
        if not isinstance(verb, dict) or not isinstance(verb.get("id"), str) or not verb["id"]:
            raise StatementError("verb.id: missing")
        verb_id = verb["id"]
        obj = statement.get("object")
        if not isinstance(obj, dict):
            raise StatementError("object: missing")
        object_type = obj.get("objectType", "Activity")
        if verb_id == VOIDED:
            target = obj.get("id") if object_type == "StatementRef" else None
            return Mapped(statement_id, verb_id, [], "voided", f"voids statement {target}")
        learner = self._learner(statement.get("actor"))
        occurred = self._occurred(statement, received_at)
        if object_type == "Activity":
            if not isinstance(obj.get("id"), str) or not obj["id"]:
                raise StatementError("object.id: missing")
        elif object_type not in ("Agent", "Group", "SubStatement", "StatementRef"):
            raise StatementError(f"object.objectType: unknown type {object_type!r}")
        result = statement.get("result")
        result = {} if result is None else result
        if not isinstance(result, dict):
            raise StatementError("result: expected an object")
        duration = None
        if result.get("duration") is not None:
            try:
                duration = parse_duration(result["duration"])
            except ValueError as exc:
                raise StatementError(f"result.duration: {exc}") from None
        score = _score(result)
        extensions = result.get("extensions")
        extensions = {} if extensions is None else extensions
        if not isinstance(extensions, dict):
            raise StatementError("result.extensions: expected an object")
        context = statement.get("context")
        context = {} if context is None else context
        if not isinstance(context, dict):
            raise StatementError("context: expected an object")
        kind = self.options.verbs.get(verb_id) or VERBS.get(verb_id)
        if kind is None:
            return Mapped(statement_id, verb_id, [], "unmapped_verb")
        if kind == "ignore":
            return Mapped(statement_id, verb_id, [], "ignored_verb")
        if object_type != "Activity":
            return Mapped(statement_id, verb_id, [], "not_an_activity")
        s = _Statement(self, statement, statement_id, verb_id, learner, occurred, obj, result, duration, score,
                       extensions, context)
        return s.events(kind, pairing)

    # ------------------------------------------------------------------ envelope parts
    def _id(self, statement: Mapping[str, Any], require_id: bool) -> str:
        value = statement.get("id")
        if value is None:
            if require_id:
                raise StatementError("id: missing")
            return statement_uuid(statement)
        if not isinstance(value, str) or not UUID_RE.match(value):
            raise StatementError(f"id: {value!r} is not a UUID")
        return value.lower()

    def _occurred(self, statement: Mapping[str, Any], received_at: dt.datetime | None) -> dt.datetime:
        for name in ("timestamp", "stored"):
            value = statement.get(name)
            if value is not None:
                try:
                    return parse_timestamp(value, self.options.timezone)
                except ValueError as exc:
                    raise StatementError(f"{name}: {exc}") from None
        if received_at is not None:
            return received_at
        raise StatementError("timestamp: missing (and no stored)")

    def _learner(self, actor: Any) -> dict[str, Any]:
        if not isinstance(actor, dict):
            raise StatementError("actor: missing")
        found: dict[str, str] = {}
        account = actor.get("account")
        if account is not None:
            if not isinstance(account, dict) or not isinstance(account.get("name"), str) or not account["name"]:
                raise StatementError("actor.account.name: missing")
            found["account"] = account["name"]
        mbox = actor.get("mbox")
        email = None
        if mbox is not None:
            if not isinstance(mbox, str) or not mbox.lower().startswith("mailto:") or "@" not in mbox:
                raise StatementError(f"actor.mbox: {mbox!r} is not a mailto: IRI")
            email = mbox[len("mailto:"):]
            found["mbox"] = email
        sha1 = actor.get("mbox_sha1sum")
        if sha1 is not None:
            if not isinstance(sha1, str) or not SHA1_RE.match(sha1):
                raise StatementError("actor.mbox_sha1sum: not a SHA-1 hex digest")
            found["mbox_sha1sum"] = sha1.lower()
        openid = actor.get("openid")
        if openid is not None:
            if not isinstance(openid, str) or not openid:
                raise StatementError("actor.openid: not an IRI")
            found["openid"] = openid
        if not found:
            if actor.get("objectType") == "Group":
                raise StatementError("actor: an anonymous Group (no mbox, mbox_sha1sum, openid or account) is not a learner")
            raise StatementError("actor: no identifier (mbox, mbox_sha1sum, openid or account)")
        ref = next((found[k] for k in self.options.learner_from if k in found), None)
        if ref is None:
            wanted = ", ".join(self.options.learner_from)
            raise StatementError(f"actor: none of the identifiers of learner_from ({wanted}) is present "
                                 f"(it has {', '.join(found)})")
        if len(ref) > MAX_REF:
            raise StatementError(f"actor: identifier longer than {MAX_REF} characters")
        learner: dict[str, Any] = {"ref": ref}
        home = account.get("homePage") if account is not None else None
        if ref is found.get("account") and isinstance(home, str) and home.strip():
            if len(home.strip()) > MAX_REF:
                raise StatementError(f"actor.account.homePage: longer than {MAX_REF} characters")
            learner["site"] = home.strip()  # an account name is unique only on its homePage
        if email:
            learner["email"] = email[:320]
        name = actor.get("name")
        if isinstance(name, str) and name.strip():
            learner["name"] = name.strip()[:300]
        ids: dict[str, str] = {}
        if "account" in found and len(found["account"]) <= MAX_REF:
            ids["xapi_account"] = found["account"]
            namespace = self.options.id_namespaces.get(str(account.get("homePage") or "").rstrip("/"))
            if namespace:
                ids[namespace] = found["account"]
        if "mbox_sha1sum" in found:
            ids["xapi_mbox_sha1sum"] = found["mbox_sha1sum"]
        if "openid" in found and len(found["openid"]) <= MAX_REF:
            ids["xapi_openid"] = found["openid"]
        if ids:
            learner["ids"] = ids
        return learner

    def name_of(self, definition: Any) -> str | None:
        """The activity name in the preferred language (``languages``), else any."""
        if not isinstance(definition, dict) or not isinstance(definition.get("name"), dict):
            return None
        names = {k: v for k, v in definition["name"].items() if isinstance(v, str) and v.strip()}
        if not names:
            return None
        lowered = {k.lower(): v for k, v in names.items()}
        for language in self.options.languages:
            if language.lower() in lowered:
                return lowered[language.lower()].strip()
        for language in self.options.languages:  # "fr" also matches "fr-CA"
            for key, value in lowered.items():
                if key.split("-")[0] == language.lower().split("-")[0]:
                    return value.strip()
        return next(iter(names.values())).strip()


class _Statement:
    """One statement being mapped (the parts the event builders need)."""

    def __init__(self, mapper: StatementMapper, raw: Mapping[str, Any], statement_id: str, verb: str,
                 learner: dict[str, Any], occurred: dt.datetime, obj: Mapping[str, Any], result: Mapping[str, Any],
                 duration: dt.timedelta | None, score: _Score | None, extensions: Mapping[str, Any],
                 context: Mapping[str, Any]):
        self.mapper, self.raw, self.id, self.verb = mapper, raw, statement_id, verb
        self.learner, self.occurred, self.obj, self.result = learner, occurred, obj, result
        self.duration, self.score, self.extensions, self.context = duration, score, extensions, context
        self.definition = obj.get("definition") if isinstance(obj.get("definition"), dict) else {}
        self.activity = obj["id"]
        self.activity_name = mapper.name_of(self.definition)
        self.activity_type = self.definition.get("type") if isinstance(self.definition.get("type"), str) else None
        activities = context.get("contextActivities")
        activities = {} if activities is None else activities
        if not isinstance(activities, dict):
            raise StatementError("context.contextActivities: expected an object")
        self.activities = {name: _as_list(activities.get(name), f"context.contextActivities.{name}")
                           for name in ACTIVITY_LISTS}
        ctx_ext = context.get("extensions")
        ctx_ext = {} if ctx_ext is None else ctx_ext
        if not isinstance(ctx_ext, dict):
            raise StatementError("context.extensions: expected an object")
        self.context_extensions = ctx_ext
        registration = context.get("registration")
        if registration is not None and (not isinstance(registration, str) or not UUID_RE.match(registration)):
            raise StatementError(f"context.registration: {registration!r} is not a UUID")
        self.registration = registration
        session = ctx_ext.get(CMI5_SESSION) or ctx_ext.get(VIDEO_SESSION)
        self.session_id = str(session) if session not in (None, "") else None
        self.action = self._action()
        categories = {a.get("id") for a in self.activities["category"] if isinstance(a, dict)}
        if self.activity_type in MEDIA_TYPES or categories & MEDIA_CATEGORIES:
            self.object_kind = "media"
        elif self.activity_type in CLASS_TYPES or categories & CLASS_CATEGORIES:
            self.object_kind = "class"
        else:
            self.object_kind = "other"

    # ------------------------------------------------------------------ context
    def _action(self) -> str | None:
        options = self.mapper.options
        for rule in options.action_from:
            value, where = None, rule
            if rule == "registration":
                value, where = self.registration, "context.registration"
            elif rule == "object":
                value, where = self.activity, "object.id"
            elif rule.startswith("extension:"):
                key = rule[len("extension:"):]
                raw = self.context_extensions.get(key)
                where = f"context.extensions[{key}]"
                if isinstance(raw, (str, int)) and not isinstance(raw, bool) and str(raw).strip():
                    value = str(raw).strip()
            else:
                list_name, _, type_iri = rule.partition(":")
                candidates = [a for a in self.activities.get(list_name, []) if isinstance(a, dict) and isinstance(a.get("id"), str)]
                if type_iri:
                    candidates = [a for a in candidates if isinstance(a.get("definition"), dict)
                                  and a["definition"].get("type") == type_iri]
                    chosen = candidates[0] if candidates else None
                else:
                    chosen = candidates[-1] if candidates else None
                if chosen is not None:
                    value, where = chosen["id"], f"context.contextActivities.{list_name}"
            if value:
                action = options.actions.get(value, value)
                if len(action) > MAX_REF:
                    raise StatementError(f"{where}: {action[:60]!r}… is longer than {MAX_REF} characters; "
                                         "map it to a shorter action id with `actions`")
                return action
        return None

    def details(self, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"verb": self.verb}
        if self.registration:
            out["registration"] = self.registration
        if self.session_id:
            out["session_id"] = self.session_id
        platform = self.context.get("platform")
        if isinstance(platform, str) and platform:
            out["platform"] = platform
        out.update({k: v for k, v in extra.items() if v is not None})
        return out

    def event(self, type_: str, data: dict[str, Any], *, suffix: str = "") -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": type_,
            "occurred_at": self.occurred.isoformat(),
            "source_id": self.id + suffix,
            "learner": self.learner,
            "data": data,
        }
        if self.action:
            item["action"] = self.action
        return item

    def pair_key(self, family: str) -> str:
        parts = [family, self.learner["ref"], self.activity, self.session_id or self.registration or ""]
        if self.learner.get("site"):
            parts.append(self.learner["site"])
        return "|".join(parts)

    # ------------------------------------------------------------------ by verb
    def events(self, kind: str, pairing: Pairing | None) -> Mapped:
        def done(events: list[dict[str, Any]], skipped: str | None = None) -> Mapped:
            return Mapped(self.id, self.verb, events, skipped)

        duration_s = duration_seconds(self.duration) if self.duration is not None else None
        if kind in ("completed", "passed", "failed", "satisfied"):
            if kind == "completed" and self.object_kind == "media":
                return done([self.media_played(completed=True)])
            state = {"completed": "complete", "satisfied": "complete", "passed": "pass", "failed": "fail"}[kind]
            data = {"activity": self.activity, "state": state,
                    "details": self.details(duration_seconds=duration_s,
                                            score=self.score.as_details() if self.score else None,
                                            success=self.result.get("success") if isinstance(self.result.get("success"), bool) else None)}
            if self.activity_name:
                data["activity_name"] = self.activity_name[:300]
            if self.activity_type:
                data["activity_type"] = self.activity_type
            events = [self.event("lms.activity_completed", data)]
            if self.score is not None:
                events.append(self.graded(passed={"passed": True, "failed": False}.get(kind)))
            return done(events)
        if kind == "scored":
            if self.score is None:
                return done([], "no_score")
            return done([self.graded(passed=None)])
        if kind == "attempted":
            if self.score is None:
                return done([], "no_score")
            points, maximum = self.score.as_points()
            data = {"activity": self.activity, "score": points, "finished_at": self.occurred.isoformat(),
                    "details": self.details(duration_seconds=duration_s, score=self.score.as_details())}
            if maximum is not None:
                data["max_score"] = maximum
            if isinstance(self.result.get("success"), bool):
                data["passed"] = self.result["success"]
            if self.duration is not None:
                data["started_at"] = (self.occurred - self.duration).isoformat()
            if self.activity_name:
                data["activity_name"] = self.activity_name[:300]
            return done([self.event("lms.quiz_attempted", data)])
        if kind == "progressed":
            percent = self.progress()
            if percent is None:
                return done([], "no_progress")
            details = self.details(activity=self.activity, activity_name=self.activity_name)
            return done([self.event("lms.progress", {"percent": percent, "details": details})])
        if kind == "attended":
            if self.duration is None:
                return done([], "no_duration")
            return done([self.attended(self.occurred - self.duration, self.occurred)])
        if kind == "played":
            return done([self.media_played()])
        if kind == "downloaded":
            data = {"resource": self.activity, "details": self.details()}
            if self.activity_name:
                data["resource_name"] = self.activity_name[:300]
            return done([self.event("lms.resource_downloaded", data)])
        if kind == "tutor":
            tutor = self.instructor()
            if tutor is None:
                return done([], "no_instructor")
            data = {"kind": "message", "tutor": tutor,
                    "details": self.details(activity=self.activity, activity_type=self.activity_type)}
            if self.activity_name:
                data["summary"] = self.activity_name[:300]
            return done([self.event("lms.tutor_interaction", data)])
        if kind == "registered":
            data = {"program": self.activity, "details": self.details(program_name=self.activity_name)}
            if self.registration:
                data["enrolment"] = self.registration
            return done([self.event("enrolment.registered", data)])
        if kind in ("open", "join"):
            if self.object_kind == "media":
                return done([], "opening")
            family = "class" if kind == "join" or self.object_kind == "class" else "session"
            if pairing is not None:
                pairing.opening(self.pair_key(family), self.occurred, self.id)
            return done([], "opening")
        if kind in ("close", "leave"):
            if self.object_kind == "media":  # the end of a viewing: how much was watched
                return done([self.media_played()])
            family = "class" if kind == "leave" or self.object_kind == "class" else "session"
            key = self.pair_key(family)
            if self.duration is not None:
                start = self.occurred - self.duration
                if pairing is not None:
                    pairing.discard(key, self.occurred, self.id)
            else:
                start = pairing.closing(key, self.occurred, self.id) if pairing is not None else None
                if start is None:
                    return done([], "unpaired_close")
            if family == "class":
                return done([self.attended(start, self.occurred)])
            return done([self.session(start, self.occurred)])
        raise AssertionError(f"unhandled verb kind {kind}")  # pragma: no cover

    def instructor(self) -> str | None:
        """The tutor a statement is addressed to (``context.instructor``): its name, else its e-mail
        address or account name; None when there is none."""
        agent = self.context.get("instructor")
        if not isinstance(agent, dict):
            return None
        account = agent.get("account") if isinstance(agent.get("account"), dict) else {}
        mbox = agent.get("mbox") if isinstance(agent.get("mbox"), str) else ""
        for value in (agent.get("name"), mbox.removeprefix("mailto:"), account.get("name")):
            if isinstance(value, str) and value.strip():
                return value.strip()[:300]
        return None

    # ------------------------------------------------------------------ builders
    def graded(self, passed: bool | None) -> dict[str, Any]:
        assert self.score is not None
        points, maximum = self.score.as_points()
        if passed is None and isinstance(self.result.get("success"), bool):
            passed = self.result["success"]
        data: dict[str, Any] = {"assessment": self.activity, "score": points,
                                "details": self.details(assessment_name=self.activity_name, score=self.score.as_details())}
        if maximum is not None:
            data["max_score"] = maximum
        if passed is not None:
            data["passed"] = passed
        suffix = "" if VERBS.get(self.verb) == "scored" else "#score"
        return self.event("assessment.graded", data, suffix=suffix)

    def progress(self) -> int | float | None:
        if self.extensions.get(CMI5_PROGRESS) is not None:
            value = _number(self.extensions[CMI5_PROGRESS], f"result.extensions[{CMI5_PROGRESS}]")
            if not 0 <= value <= 100:
                raise StatementError(f"result.extensions[{CMI5_PROGRESS}]: {_plain(value)} is outside 0..100")
            return _plain(value)
        if self.extensions.get(VIDEO_PROGRESS) is not None:
            value = _number(self.extensions[VIDEO_PROGRESS], f"result.extensions[{VIDEO_PROGRESS}]")
            if not 0 <= value <= 1:
                raise StatementError(f"result.extensions[{VIDEO_PROGRESS}]: {_plain(value)} is outside 0..1")
            return _plain((value * 100).quantize(Decimal("0.01")).normalize())
        if self.score is not None and self.score.scaled is not None and self.score.scaled >= 0:
            return _plain((self.score.scaled * 100).quantize(Decimal("0.01")).normalize())
        return None

    def media_played(self, *, completed: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"media": self.activity, "details": self.details()}
        if self.activity_name:
            data["media_name"] = self.activity_name[:300]
        played = _segments_seconds(self.extensions.get(VIDEO_SEGMENTS))
        if played is not None:
            data["played_seconds"] = played
        if self.extensions.get(VIDEO_PROGRESS) is not None:
            data["progress_percent"] = self.progress()
        elif completed:
            data["progress_percent"] = 100
        return self.event("lms.media_played", data)

    def attended(self, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        data: dict[str, Any] = {"meeting": self.activity, "joined_at": start.isoformat(), "left_at": end.isoformat(),
                                "duration_seconds": duration_seconds(end - start), "details": self.details()}
        if self.activity_name:
            data["meeting_name"] = self.activity_name[:300]
        return self.event("lms.virtual_class_attended", data)

    def session(self, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        details = self.details(activity=self.activity, activity_name=self.activity_name)
        data = {"start": start.isoformat(), "end": end.isoformat(), "duration_seconds": duration_seconds(end - start),
                "details": details}
        return self.event("lms.session", data)


def sort_key(statement: Any, default_tz: dt.tzinfo = UTC) -> tuple[dt.datetime, str]:
    """Statement time then id, for pairing in time order (unreadable statements last)."""
    far = dt.datetime.max.replace(tzinfo=UTC)
    if not isinstance(statement, dict):
        return far, ""
    for name in ("timestamp", "stored"):
        value = statement.get(name)
        if isinstance(value, str):
            try:
                return parse_timestamp(value, default_tz).astimezone(UTC), str(statement.get("id") or "")
            except ValueError:
                return far, str(statement.get("id") or "")
    return far, str(statement.get("id") or "")


def in_time_order(statements: Iterable[Any], default_tz: dt.tzinfo = UTC) -> list[tuple[int, Any]]:
    """``(original index, statement)`` pairs sorted by :func:`sort_key` (stable)."""
    return sorted(enumerate(statements), key=lambda pair: sort_key(pair[1], default_tz))

"""Moodle records to hub event inputs.

Every function here is pure: it receives one self-contained *record* (the raw Moodle answer
plus the course, the learner and the activity it belongs to) and returns event-input dicts, or
raises :class:`MappingError` naming the field that is wrong. The same record is what a
``map``-stage dead letter keeps, so ``Moodle.map_record`` can replay it.

Source ids are built from the fact, never from when it was fetched, and are shared by the two
modes when both can see the same fact (``completion:<cmid>:<user>:<state>``,
``course_completed:…``, ``quiz_attempt:…``), so the hub's de-duplication keeps one.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from pydantic import AwareDatetime, Field

from hub.events import EventData

UTC = dt.timezone.utc


# --------------------------------------------------------------------------- event types of this plugin


class ActivityViewed(EventData):
    """A learner opened a course activity (a page, a SCORM package, a quiz…): a per-activity trace."""

    activity: str = Field(min_length=1, description="Course module, 'cm:<id>'")
    activity_name: str | None = None
    activity_type: str | None = Field(default=None, description="Moodle module name: page, scorm, quiz…")
    verb: str = Field(default="viewed", description="viewed, or launched for a SCORM SCO")


class WorkSubmitted(EventData):
    """A learner handed in work (an assignment submission): the 'travaux réalisés' of a FOAD."""

    activity: str = Field(min_length=1, description="Course module, 'cm:<id>'")
    activity_name: str | None = None
    activity_type: str | None = None
    attempt: int = Field(default=1, ge=1)
    submitted_at: AwareDatetime | None = None


EVENT_TYPES: dict[str, type[EventData]] = {
    "moodle.activity_viewed": ActivityViewed,
    "moodle.work_submitted": WorkSubmitted,
}

EMITS = (
    "lms.session",
    "lms.activity_completed",
    "lms.quiz_attempted",
    "lms.resource_downloaded",
    "lms.virtual_class_attended",
    "lms.progress",
    "assessment.graded",
    "enrolment.registered",
    "enrolment.completed",
    "attendance.signed",
    "attendance.absent",
    "moodle.activity_viewed",
    "moodle.work_submitted",
)

# --------------------------------------------------------------------------- log event names

EV = "\\core\\event\\"
LOGIN = EV + "user_loggedin"
LOGOUT = EV + "user_loggedout"
COMPLETION_UPDATED = EV + "course_module_completion_updated"
COURSE_COMPLETED = EV + "course_completed"
ENROLMENT_CREATED = EV + "user_enrolment_created"
QUIZ_SUBMITTED = "\\mod_quiz\\event\\attempt_submitted"
SCO_LAUNCHED = "\\mod_scorm\\event\\sco_launched"
SCORM_SCORE = "\\mod_scorm\\event\\scoreraw_submitted"
ASSIGN_SUBMITTED = "\\mod_assign\\event\\assessable_submitted"
BBB_JOINED = "\\mod_bigbluebuttonbn\\event\\meeting_joined"
BBB_LEFT = "\\mod_bigbluebuttonbn\\event\\meeting_left"
BBB_ENDED = "\\mod_bigbluebuttonbn\\event\\meeting_ended"
RESOURCE_VIEWED = "\\mod_resource\\event\\course_module_viewed"
FOLDER_DOWNLOADED = "\\mod_folder\\event\\all_files_downloaded"

#: events that say nothing about the learner being connected
NOT_PRESENCE = {
    EV + "user_login_failed", EV + "webservice_login_failed", EV + "webservice_function_called",
    EV + "email_failed", EV + "user_login_failed_lockout", EV + "notification_sent", EV + "message_sent",
}
#: log events whose ``other`` column the mapping needs (only these are read from the database)
NEEDS_OTHER = (COMPLETION_UPDATED, ENROLMENT_CREATED, SCORM_SCORE)
#: log events mapped to activity events (sessions aside)
ACTIVITY_EVENTS = {RESOURCE_VIEWED, FOLDER_DOWNLOADED, SCO_LAUNCHED, ENROLMENT_CREATED, COMPLETION_UPDATED,
                   COURSE_COMPLETED, QUIZ_SUBMITTED, SCORM_SCORE, ASSIGN_SUBMITTED}
#: completions: read from the log in both modes, under the ids web services give them, because the
#: log has every learner's, a teacher's override included, as soon as it is made
COMPLETION_EVENTS = {COMPLETION_UPDATED, COURSE_COMPLETED}
#: results left to web services when they are configured (the log lacks the scores they give)
RESULT_EVENTS = {QUIZ_SUBMITTED, SCORM_SCORE, ASSIGN_SUBMITTED}
_VIEWED = re.compile(r"^\\mod_([a-z0-9_]+)\\event\\course_module_viewed$")

COMPLETION_STATES = {1: "complete", 2: "pass", 3: "fail"}


def completion_id(cmid: int, user: int, state: int, done: int | None = None, legacy_until: int | None = None) -> str:
    """The source id of an activity completion: the activity, the learner and the state reached.

    Both paths see the same fact (web services: the completion record, ``timecompleted`` = its
    ``timemodified``; the log: the ``course_module_completion_updated`` row, logged a moment after
    the record was written, often a second later), so no time is in the id. A completion sent
    before the upgrade to these ids, at or before ``legacy_until``, keeps its former id
    ``completion:<cmid>:<user>:<timecompleted>`` so that it is not sent again under a new one.
    """
    if done is not None and legacy_until is not None and done <= legacy_until:
        return f"completion:{cmid}:{user}:{done}"
    return f"completion:{cmid}:{user}:{COMPLETION_STATES[state]}"


class MappingError(ValueError):
    """A record that cannot become an event; the message names the record and the field."""

    def __init__(self, where: str, field: str, problem: str):
        super().__init__(f"{where}: {field}: {problem}")
        self.where, self.field, self.problem = where, field, problem


# --------------------------------------------------------------------------- value helpers


def _int(value: Any, *, where: str, field: str, positive: bool = False, optional: bool = False) -> int | None:
    if value is None or value == "":
        if optional:
            return None
        raise MappingError(where, field, "missing")
    if isinstance(value, bool):
        raise MappingError(where, field, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        number = int(value.strip())
    else:
        raise MappingError(where, field, f"expected an integer, got {value!r}")
    if positive and number <= 0:
        raise MappingError(where, field, f"expected a positive number, got {number}")
    return number


def _time(value: Any, *, where: str, field: str, optional: bool = False) -> int | None:
    """A Unix time (seconds) from a Moodle field; 0 and null count as missing."""
    if value in (None, "", 0, "0"):
        if optional:
            return None
        raise MappingError(where, field, "missing (expected a Unix time)")
    try:
        number = _int(value, where=where, field=field)
    except MappingError:
        raise MappingError(where, field, f"expected a Unix time, got {value!r}") from None
    if not 0 < number < 32503680000:  # year 3000
        raise MappingError(where, field, f"expected a Unix time, got {value!r}")
    return number


def _num(value: Any, *, where: str, field: str, optional: bool = True) -> str | None:
    if value is None or value == "":
        if optional:
            return None
        raise MappingError(where, field, "missing")
    if isinstance(value, bool):
        raise MappingError(where, field, f"expected a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(where, field, f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise MappingError(where, field, f"expected a number, got {value!r}")
    return _fmt(number)


def _fmt(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text if text != "-0" else "0"


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, UTC).isoformat()


def _dict(value: Any, *, where: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(where, field, f"expected an object, got {type(value).__name__}")
    return value


def _listed(value: Any, *, where: str, field: str, id_key: str, label: str) -> tuple[dict[str, Any], int, str]:
    """An item of the list ``field`` of a web-service answer, its id (``id_key``, positive), and
    ``where`` completed with ``label`` and that id for the messages about the item."""
    item = _dict(value, where=where, field=f"{field}[]")
    item_id = _int(item.get(id_key), where=where, field=f"{field}[].{id_key}", positive=True)
    return item, item_id, f"{where} {label} {item_id}"  # type: ignore[return-value]


def duration_seconds(text: Any) -> int | None:
    """SCORM times: ``HH:MM:SS(.ss)`` (1.2) or ISO 8601 ``PT1H2M3.5S`` (2004); None when unreadable."""
    if text is None:
        return None
    text = str(text).strip()
    match = re.fullmatch(r"(\d+):(\d{1,2}):(\d{1,2})(?:\.\d+)?", text)
    if match:
        h, m, s = (int(g) for g in match.groups())
        return h * 3600 + m * 60 + s
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text)
    if match and text not in ("P", "PT"):
        d, h, m, s = match.groups()
        return int(d or 0) * 86400 + int(h or 0) * 3600 + int(m or 0) * 60 + int(float(s or 0))
    return None


_PASS_CLASS = re.compile(r"text-success")
_FAIL_CLASS = re.compile(r"text-danger")


def passed_from_formatted(html: Any) -> bool | None:
    """gradereport's ``gradeformatted`` carries a pass/fail icon when the item has a grade to pass."""
    if not isinstance(html, str) or "<" not in html:
        return None
    if _PASS_CLASS.search(html):
        return True
    if _FAIL_CLASS.search(html):
        return False
    return None


# --------------------------------------------------------------------------- the mapper


class Mapper:
    """Maps records with the connector's settings (course → action, time zone, attendance rules)."""

    def __init__(self, *, action_from: str = "shortname", timezone: dt.tzinfo = UTC,
                 attendance_modality: str = "presentiel", attendance_excused: Iterable[str] = ("E",),
                 log_results: bool = True, emit_views: bool = True, user_id_namespace: str = "moodle_user"):
        self.action_from = action_from
        self.user_id_namespace = user_id_namespace
        self.emit_views = emit_views
        self.tz = timezone
        self.modality = attendance_modality
        self.excused = {a.strip().upper() for a in attendance_excused}
        self.log_results = log_results
        self._learners: dict[tuple, dict[str, Any]] = {}  # the same learner reference for a user's events

    # ------------------------------------------------------------------ shared parts
    def action(self, course: dict[str, Any] | None) -> str | None:
        if not course:
            return None
        if self.action_from == "id":
            return str(course["id"])
        if self.action_from == "idnumber" and course.get("idnumber"):
            return str(course["idnumber"])
        return str(course.get("shortname") or course["id"])

    def learner(self, user: dict[str, Any] | None) -> dict[str, Any] | None:
        if not user:
            return None
        key = (user["id"], user.get("email"), user.get("fullname"), user.get("idnumber"))
        found = self._learners.get(key)
        if found is None:
            if len(self._learners) > 10_000:
                self._learners.clear()
            found = self._learners[key] = self._learner(user)
        return found

    def _learner(self, user: dict[str, Any]) -> dict[str, Any]:
        ids = {self.user_id_namespace: str(user["id"])}
        if user.get("idnumber"):
            ids["idnumber"] = str(user["idnumber"])[:200]
        out: dict[str, Any] = {"ref": str(user["id"]), "ids": ids}
        if user.get("email"):
            out["email"] = str(user["email"])[:320]
        name = user.get("fullname") or " ".join(
            p for p in (user.get("firstname"), user.get("lastname")) if p)
        if name:
            out["name"] = str(name)[:300]
        return out

    def _event(self, type_: str, at: int, source_id: str, record: dict[str, Any], data: dict[str, Any],
               user: dict[str, Any] | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {"type": type_, "occurred_at": iso(at), "source_id": source_id, "data": data}
        learner = self.learner(user if user is not None else record.get("user"))
        if learner:
            event["learner"] = learner
        action = self.action(record.get("course"))
        if action:
            event["action"] = action
        return event

    def local_date(self, ts: int) -> dt.date:
        return dt.datetime.fromtimestamp(ts, self.tz).date()

    # ------------------------------------------------------------------ dispatch
    def map(self, record: Any) -> list[dict[str, Any]]:
        if not isinstance(record, dict) or "kind" not in record:
            raise MappingError("record", "kind", "not a Moodle record of this connector")
        method = getattr(self, f"map_{record['kind']}", None)
        if method is None:
            raise MappingError("record", "kind", f"unknown record kind {record['kind']!r}")
        return method(record)

    # ------------------------------------------------------------------ web services
    def map_activity_completion(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        user = r["user"]
        where = f"core_completion_get_activities_completion_status (course {r['course']['id']}, user {user['id']})"
        status, cmid, where = _listed(r["status"], where=where, field="statuses", id_key="cmid", label="cmid")
        state = _int(status.get("state"), where=where, field="state")
        if state == 0:
            return []
        if state not in COMPLETION_STATES:
            raise MappingError(where, "state", f"expected 0-3, got {state}")
        done = _time(status.get("timecompleted"), where=where, field="timecompleted")
        cm = r.get("cm") or {}
        data: dict[str, Any] = {"activity": f"cm:{cmid}", "state": COMPLETION_STATES[state],
                                "activity_type": status.get("modname") or cm.get("modname")}
        if cm.get("name"):
            data["activity_name"] = cm["name"]
        details = {}
        if status.get("overrideby"):
            details["overridden_by"] = status["overrideby"]
        if status.get("isautomatic") is False or status.get("tracking") == 1:
            details["tracking"] = "manual"
        if details:
            data["details"] = details
        return [self._event("lms.activity_completed", done,
                            completion_id(cmid, user["id"], state, done, r.get("legacy_until")), r, data)]

    def map_course_completion(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        user = r["user"]
        where = f"core_completion_get_course_completion_status (course {r['course']['id']}, user {user['id']})"
        status = _dict(r.get("completionstatus"), where=where, field="completionstatus")
        if not status.get("completed"):
            return []
        times = []
        for i, item in enumerate(status.get("completions") or []):
            t = _time(_dict(item, where=where, field=f"completions[{i}]").get("timecompleted"),
                      where=where, field=f"completions[{i}].timecompleted", optional=True)
            if t:
                times.append(t)
        if not times:
            raise MappingError(where, "completions[].timecompleted", "the course is completed but no criterion has a time")
        done = max(times)
        data = {"date": self.local_date(done).isoformat(), "details": {"completed_at": iso(done)}}
        return [self._event("enrolment.completed", done, f"course_completed:{r['course']['id']}:{user['id']}", r, data)]

    def map_progress(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        user = r["user"]
        percent = r["percent"]
        data = {"percent": str(percent), "details": {"completed": r["completed"], "tracked": r["tracked"]}}
        return [self._event("lms.progress", r["at"], f"progress:{r['course']['id']}:{user['id']}:{percent}", r, data)]

    def map_grade(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        user = r["user"]
        where = f"gradereport_user_get_grade_items (course {r['course']['id']}, user {user['id']})"
        item, item_id, where = _listed(r["item"], where=where, field="gradeitems", id_key="id", label="grade item")
        score = _num(item.get("graderaw"), where=where, field="graderaw")
        if score is None:
            return []
        at = (_time(item.get("gradedategraded"), where=where, field="gradedategraded", optional=True)
              or _time(item.get("gradedatesubmitted"), where=where, field="gradedategraded"))
        if item.get("itemtype") == "course":
            assessment = f"course:{r['course']['id']}"
        elif item.get("cmid"):
            assessment = f"cm:{_int(item.get('cmid'), where=where, field='cmid', positive=True)}"
        else:
            assessment = f"grade_item:{item_id}"
        data: dict[str, Any] = {"assessment": assessment, "score": score}
        grademax = _num(item.get("grademax"), where=where, field="grademax")
        if grademax is not None and Decimal(grademax) > 0:
            data["max_score"] = grademax
        passed = passed_from_formatted(item.get("gradeformatted"))
        if passed is not None:
            data["passed"] = passed
        details = {"grade_item": item_id, "item_name": item.get("itemname") or r["course"].get("fullname"),
                   "item_type": item.get("itemmodule") or item.get("itemtype")}
        if item.get("gradeisoverridden"):
            details["overridden"] = True
        data["details"] = details
        return [self._event("assessment.graded", at, f"grade:{item_id}:{user['id']}:{at}", r, data)]

    def map_quiz_attempt(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        user, quiz = r["user"], r["quiz"]
        where = f"mod_quiz_get_user_attempts (quiz {quiz['id']}, user {user['id']})"
        attempt, attempt_id, where = _listed(r["attempt"], where=where, field="attempts", id_key="id", label="attempt")
        if attempt.get("state") != "finished" or attempt.get("preview"):
            return []
        finished = _time(attempt.get("timefinish"), where=where, field="timefinish")
        started = _time(attempt.get("timestart"), where=where, field="timestart", optional=True)
        number = _int(attempt.get("attempt"), where=where, field="attempt", positive=True)
        raw = _num(attempt.get("sumgrades"), where=where, field="sumgrades")
        data: dict[str, Any] = {"activity": f"cm:{quiz['coursemodule']}", "activity_name": quiz.get("name"),
                                "attempt": number, "finished_at": iso(finished)}
        if started:
            data["started_at"] = iso(started)
        data.update(quiz_result(raw, quiz.get("sumgrades"), quiz.get("grade"), quiz.get("decimalpoints", 2),
                                r.get("gradepass")))
        data["details"] = {"attempt_id": attempt_id, "raw_sumgrades": raw}
        # graded again after it was finished (manual grading, regrade): a new fact, a new id
        modified = _time(attempt.get("timemodified"), where=where, field="timemodified", optional=True)
        source_id = f"quiz_attempt:{attempt_id}"
        if modified and modified > finished:
            source_id += f":{modified}"
            data["details"]["graded_at"] = iso(modified)
        return [self._event("lms.quiz_attempted", finished, source_id, r, data)]

    def map_scorm_attempt(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        user, cm, sco, payload = r["user"], r["cm"], r["sco"], r["data"]
        where = f"mod_scorm_get_scorm_sco_tracks (sco {sco['id']}, user {user['id']})"
        payload = _dict(payload, where=where, field="data")
        number = _int(payload.get("attempt"), where=where, field="data.attempt", positive=True)
        tracks = payload.get("tracks")
        if not isinstance(tracks, list):
            raise MappingError(where, "data.tracks", "expected a list")
        if not tracks:
            return []
        elements: dict[str, Any] = {}
        for i, track in enumerate(tracks):
            if not isinstance(track, dict) or not isinstance(track.get("element"), str):
                raise MappingError(where, f"data.tracks[{i}].element", "missing")
            elements[track["element"]] = track.get("value")
        where += f" attempt {number}"
        modified = _time(elements.get("timemodified"), where=where, field="tracks.timemodified")
        started = _time(elements.get("x.start.time"), where=where, field="tracks.x.start.time", optional=True)
        status = str(elements.get("status") or elements.get("cmi.core.lesson_status")
                     or elements.get("cmi.success_status") or elements.get("cmi.completion_status") or "").lower()
        score = _num(elements.get("score_raw", elements.get("cmi.core.score.raw", elements.get("cmi.score.raw"))),
                     where=where, field="tracks.score_raw")
        score_max = _num(elements.get("cmi.core.score.max", elements.get("cmi.score.max")), where=where,
                         field="tracks.cmi.core.score.max")
        data: dict[str, Any] = {"activity": f"cm:{cm['id']}", "activity_name": cm.get("name"), "attempt": number}
        if score is not None:
            data["score"] = score
            if score_max is not None and Decimal(score_max) > 0:
                data["max_score"] = score_max
        if status in ("passed", "failed"):
            data["passed"] = status == "passed"
        if started:
            data["started_at"] = iso(started)
        if status in ("passed", "failed", "completed"):
            data["finished_at"] = iso(modified)
        session_time = elements.get("session_time", elements.get("cmi.core.session_time",
                                                                 elements.get("cmi.session_time")))
        total_time = elements.get("total_time", elements.get("cmi.core.total_time", elements.get("cmi.total_time")))
        details = {"activity_type": "scorm", "sco": sco.get("identifier") or sco["id"], "sco_title": sco.get("title"),
                   "lesson_status": status or None,
                   "session_time_seconds": duration_seconds(session_time),
                   "total_time_seconds": duration_seconds(total_time)}
        data["details"] = {k: v for k, v in details.items() if v is not None}
        return [self._event("lms.quiz_attempted", modified,
                            f"scorm:{sco['id']}:{user['id']}:{number}:{modified}", r, data)]

    def map_submission(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        cm, sub = r["cm"], r["submission"]
        where = f"mod_assign_get_submissions (assignment cm {cm['id']})"
        sub = _dict(sub, where=where, field="submissions[]")
        sub_id = _int(sub.get("id"), where=where, field="submissions[].id", positive=True)
        where += f" submission {sub_id}"
        if sub.get("status") != "submitted":
            return []
        at = _time(sub.get("timemodified"), where=where, field="timemodified")
        attempt = (_int(sub.get("attemptnumber"), where=where, field="attemptnumber", optional=True) or 0) + 1
        data = {"activity": f"cm:{cm['id']}", "activity_name": cm.get("name"), "activity_type": "assign",
                "attempt": attempt, "submitted_at": iso(at),
                "details": {"submission_id": sub_id, "grading_status": sub.get("gradingstatus")}}
        return [self._event("moodle.work_submitted", at, f"submission:{sub_id}:{at}", r, data)]

    def half_days(self, start: int, duration: int) -> list[str]:
        begin = dt.datetime.fromtimestamp(start, self.tz)
        end = dt.datetime.fromtimestamp(start + max(duration, 0), self.tz)
        noon = begin.replace(hour=12, minute=0, second=0, microsecond=0)
        one_pm = begin.replace(hour=13, minute=0, second=0, microsecond=0)
        out = []
        if begin < noon:
            out.append("am")
        if begin >= noon or (end > one_pm and end.date() == begin.date()):
            out.append("pm")
        return out

    def map_attendance(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        cm, session, entry = r["cm"], r["session"], r["log"]
        where = f"mod_attendance_get_sessions (attendance cm {cm['id']}, session {session.get('id')})"
        session_id = _int(session.get("id"), where=where, field="id", positive=True)
        entry = _dict(entry, where=where, field="attendance_log[]")
        student = _int(entry.get("studentid"), where=where, field="attendance_log[].studentid", positive=True)
        status_id = _int(entry.get("statusid"), where=where, field="attendance_log[].statusid", positive=True)
        where += f" student {student}"
        start = _time(session.get("sessdate"), where=where, field="sessdate")
        duration = _int(session.get("duration"), where=where, field="duration", optional=True) or 0
        statuses = {s.get("id"): s for s in session.get("statuses") or [] if isinstance(s, dict)}
        status = statuses.get(status_id) or statuses.get(str(status_id))
        if status is None:
            raise MappingError(where, "attendance_log[].statusid", f"status {status_id} is not among the session's statuses")
        acronym = str(status.get("acronym") or "").strip().upper()
        grade = _num(status.get("grade"), where=where, field="statuses[].grade") or "0"
        taken = _time(session.get("lasttaken"), where=where, field="lasttaken", optional=True)
        taken_by = _int(session.get("lasttakenby"), where=where, field="lasttakenby", optional=True)
        user = r.get("user") or {"id": student}
        date = self.local_date(start).isoformat()
        absent = acronym in self.excused or Decimal(grade) <= 0
        details = {"session_id": session_id, "status": acronym, "status_description": status.get("description"),
                   "session_start": iso(start), "session_duration_seconds": duration}
        if session.get("description"):
            details["session_description"] = str(session["description"])[:200]
        events = []
        for half in self.half_days(start, duration):
            sid = f"attendance:{session_id}:{student}:{status_id}:{half}"
            if absent:
                data: dict[str, Any] = {"date": date, "half_day": half, "justified": acronym in self.excused,
                                        "reason": entry.get("remarks") or status.get("description") or None,
                                        "details": details}
                events.append(self._event("attendance.absent", start, sid, r, data, user=user))
            else:
                data = {"date": date, "half_day": half, "modality": self.modality,
                        "signer": "learner" if taken_by == student else "trainer",
                        "proof": f"Moodle mod_attendance ({cm.get('name') or 'attendance'}): status {acronym}",
                        "details": {**details, "taken_by": taken_by, "remarks": entry.get("remarks") or None}}
                if taken:
                    data["signed_at"] = iso(taken)
                events.append(self._event("attendance.signed", start, sid, r, data, user=user))
        return events

    # ------------------------------------------------------------------ log store
    def map_session(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        s = r["session"]
        data = {"start": iso(s["start"]), "end": iso(s["end"]), "duration_seconds": max(0, s["end"] - s["start"]),
                "details": {"events": s["count"], "opened_by": s["opened_by"], "closed_by": s["closed_by"],
                            "first_log_id": s["first_id"], "last_log_id": s["last_id"],
                            **({"courses": s["courses"]} if s.get("courses") else {})}}
        user = r.get("user") or {"id": s["user"]}
        return [self._event("lms.session", s["start"], f"session:{s['user']}:{s['first_id']}", r, data, user=user)]

    def map_virtual_class(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        v = r["vc"]
        joined, left = v.get("joined"), v.get("left")
        data: dict[str, Any] = {"meeting": f"cm:{v['cm']}", "duration_seconds": max(0, (left - joined)) if joined and left else 0}
        if joined:
            data["joined_at"] = iso(joined)
        if left:
            data["left_at"] = iso(left)
        details = {"closed_by": v.get("closed_by"), "join_log_id": v.get("join_id"), "left_log_id": v.get("left_id")}
        data["details"] = {k: val for k, val in details.items() if val is not None}
        first = v.get("join_id") or v.get("left_id")
        user = r.get("user") or {"id": v["user"]}
        return [self._event("lms.virtual_class_attended", joined or left, f"vc:{v['user']}:{first}", r, data, user=user)]

    def map_log(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        row = _dict(r.get("row"), where="log row", field="row")
        log_id = _int(row.get("id"), where="log row", field="id", positive=True)
        where = f"log row {log_id}"
        name = row.get("eventname")
        if not isinstance(name, str) or not name:
            raise MappingError(where, "eventname", "missing")
        at = _time(row.get("timecreated"), where=where, field="timecreated")
        user_id = _int(row.get("userid"), where=where, field="userid")
        cmid = row.get("contextinstanceid") if row.get("contextlevel") == 70 else None
        if name in RESULT_EVENTS and not self.log_results:
            return []
        actor = r.get("user") or {"id": user_id}
        if name in (RESOURCE_VIEWED, FOLDER_DOWNLOADED):
            cmid = _int(cmid, where=where, field="contextinstanceid", positive=True)
            data = {"resource": f"cm:{cmid}", "details": {"module": (row.get("component") or "").replace("mod_", "")}}
            return [self._event("lms.resource_downloaded", at, f"log:{log_id}", r, data, user=actor)]
        if name == SCO_LAUNCHED or _VIEWED.match(name):
            if not self.emit_views:
                return []
            cmid = _int(cmid, where=where, field="contextinstanceid", positive=True)
            module = (row.get("component") or "").replace("mod_", "") or None
            data = {"activity": f"cm:{cmid}", "activity_type": module,
                    "verb": "launched" if name == SCO_LAUNCHED else "viewed"}
            return [self._event("moodle.activity_viewed", at, f"log:{log_id}", r, data, user=actor)]
        if name == ENROLMENT_CREATED:
            learner_id = _int(row.get("relateduserid"), where=where, field="relateduserid", positive=True)
            enrolment = _int(row.get("objectid"), where=where, field="objectid", positive=True)
            other = _other(row, where)
            data = {"enrolment": str(enrolment), "details": {"method": other.get("enrol"), "enrolled_by": user_id}}
            return [self._event("enrolment.registered", at, f"enrolment:{enrolment}", r, data,
                                user=r.get("related") or {"id": learner_id})]
        if name == COMPLETION_UPDATED:
            learner_id = _int(row.get("relateduserid"), where=where, field="relateduserid", positive=True)
            cmid = _int(row.get("contextinstanceid"), where=where, field="contextinstanceid", positive=True)
            other = _other(row, where)
            state = _int(other.get("completionstate"), where=where, field="other.completionstate")
            if state == 0:
                return []
            if state not in COMPLETION_STATES:
                raise MappingError(where, "other.completionstate", f"expected 0-3, got {state}")
            data = {"activity": f"cm:{cmid}", "state": COMPLETION_STATES[state]}
            if other.get("overrideby"):
                data["details"] = {"overridden_by": other["overrideby"]}
            return [self._event("lms.activity_completed", at, completion_id(cmid, learner_id, state), r, data,
                                user=r.get("related") or {"id": learner_id})]
        if name == COURSE_COMPLETED:
            learner_id = _int(row.get("relateduserid"), where=where, field="relateduserid", positive=True)
            course_id = _int(row.get("courseid"), where=where, field="courseid", positive=True)
            data = {"date": self.local_date(at).isoformat(), "details": {"completed_at": iso(at)}}
            return [self._event("enrolment.completed", at, f"course_completed:{course_id}:{learner_id}", r, data,
                                user=r.get("related") or {"id": learner_id})]
        if name == QUIZ_SUBMITTED:
            attempt_id = _int(row.get("objectid"), where=where, field="objectid", positive=True)
            learner_id = _int(row.get("relateduserid"), where=where, field="relateduserid", optional=True) or user_id
            cmid = _int(cmid, where=where, field="contextinstanceid", positive=True)
            extra = r.get("extra") or {}
            data = {"activity": f"cm:{cmid}", "finished_at": iso(at), "details": {"attempt_id": attempt_id}}
            if extra.get("attempt"):
                data["attempt"] = int(extra["attempt"])
            if extra.get("timestart"):
                data["started_at"] = iso(int(extra["timestart"]))
            raw = _num(extra.get("sumgrades"), where=where, field="quiz_attempts.sumgrades")
            data.update(quiz_result(raw, extra.get("quiz_sumgrades"), extra.get("quiz_grade"),
                                    extra.get("decimalpoints", 2), extra.get("gradepass")))
            data["details"]["raw_sumgrades"] = raw
            if extra.get("name"):
                data["activity_name"] = extra["name"]
            return [self._event("lms.quiz_attempted", at, f"quiz_attempt:{attempt_id}", r, data,
                                user=r.get("related") or {"id": learner_id})]
        if name == SCORM_SCORE:
            learner_id = _int(row.get("relateduserid"), where=where, field="relateduserid", optional=True) or user_id
            cmid = _int(cmid, where=where, field="contextinstanceid", positive=True)
            other = _other(row, where)
            score = _num(other.get("cmivalue"), where=where, field="other.cmivalue", optional=False)
            data = {"activity": f"cm:{cmid}", "score": score,
                    "details": {"activity_type": "scorm", "scorm_attempt_id": other.get("attemptid")}}
            return [self._event("lms.quiz_attempted", at, f"log:{log_id}", r, data,
                                user=r.get("related") or {"id": learner_id})]
        if name == ASSIGN_SUBMITTED:
            cmid = _int(cmid, where=where, field="contextinstanceid", positive=True)
            data = {"activity": f"cm:{cmid}", "activity_type": "assign", "submitted_at": iso(at),
                    "details": {"submission_id": row.get("objectid")}}
            return [self._event("moodle.work_submitted", at, f"log:{log_id}", r, data, user=actor)]
        return []


def quiz_result(raw: str | None, total: Any, grade: Any, places: Any, gradepass: Any) -> dict[str, Any]:
    """Score of a quiz attempt on the quiz's grade scale (as Moodle shows it) and pass/fail.

    ``raw`` is the attempt's ``sumgrades`` (marks out of the quiz's ``sumgrades``); the quiz is
    graded out of ``grade``; ``gradepass`` is the grade item's grade to pass (0 or None: unknown).
    """
    out: dict[str, Any] = {}
    if raw is None:
        return out
    try:
        total_d, grade_d = Decimal(str(total or 0)), Decimal(str(grade or 0))
    except InvalidOperation:
        total_d = grade_d = Decimal(0)
    if total_d > 0 and grade_d > 0:
        digits = int(places) if isinstance(places, int) and 0 <= places <= 5 else 2
        score = (Decimal(raw) * grade_d / total_d).quantize(Decimal(1).scaleb(-digits))
        out["score"], out["max_score"] = _fmt(score), _fmt(grade_d)
        try:
            mark = Decimal(str(gradepass)) if gradepass not in (None, "") else Decimal(0)
        except InvalidOperation:
            mark = Decimal(0)
        if mark > 0:
            out["passed"] = score >= mark
    return out  # scale unknown: the raw marks stay in details only


def _other(row: dict[str, Any], where: str) -> dict[str, Any]:
    import orjson

    raw = row.get("other")
    if raw in (None, "", "null", "N;"):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        raise MappingError(where, "other", "not valid JSON") from None
    return value if isinstance(value, dict) else {}


def is_view(eventname: str) -> bool:
    return bool(_VIEWED.match(eventname)) or eventname == SCO_LAUNCHED

"""One course through the web services: which calls, in which order, and what is new.

Per round (every pull that starts from a finished cursor) the connector lists the followed
courses once and fetches, in one call each for all of them, the functions that accept a list
of courses (quizzes). Then one page per course:

* course-wide calls, whatever the number of learners: enrolled users (with their last course
  access), course contents (activity names), the grade report of every user
  (``gradereport_user_get_grade_items`` without ``userid``), the submissions of every
  assignment of the course in one call, each attendance instance's sessions with their
  statuses, each SCORM package's SCOs;
* per learner, because Moodle offers these functions for one user at a time (it has no
  per-course call for completion): activity completion, course completion, the attempts of each
  quiz, the SCORM attempts. A learner is polled when their last access to the course is newer
  than what the cursor saw (minus ``recheck``), when the grade report shows a new grade of theirs
  (a teacher graded their essay), and in any case once per
  ``learner_poll_interval``, at a moment of the interval drawn from the course and user ids, so
  that a teacher's override for a learner who never comes back arrives and the polls of a
  course are spread evenly over the interval (:func:`due`).

Course-wide records are filtered by time, one stream per kind of record (grades, submissions,
attendance): a fact is sent when its time is after the stream's high-water mark minus
``recheck`` and its source id is not among those already sent in that overlap. Per-learner
records are filtered by the *learner's* mark (the newest fact of that learner seen by their last
full poll), not the course's: another learner's newer facts never hide a fact of a learner
polled later. Course completions, whose time is that of the latest criterion (cron may mark the
course complete after the poll that saw that criterion), are sent once per learner. The cursor
keeps, per course, the last course access seen, the time of the course's last round, one mark
per learner, the learners whose course completion was sent and, per stream, the mark and the ids
of the overlap only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zlib
from typing import TYPE_CHECKING, Any

from hub.connector import Reject

from .mapping import MappingError
from .ws import MoodleWSError

if TYPE_CHECKING:
    from . import Moodle

#: functions the connector cannot work without
REQUIRED_FUNCTIONS = (
    "core_webservice_get_site_info",
    "core_course_get_courses",
    "core_course_get_contents",
    "core_enrol_get_enrolled_users",
    "core_completion_get_activities_completion_status",
)
#: optional functions and what is not collected without them
OPTIONAL_FUNCTIONS = {
    "core_course_get_courses_by_field": "courses given by shortname",
    "core_completion_get_course_completion_status": "course completion (enrolment.completed)",
    "gradereport_user_get_grade_items": "grades (assessment.graded)",
    "mod_quiz_get_quizzes_by_courses": "quiz attempts",
    "mod_quiz_get_user_attempts": "quiz attempts",
    "mod_quiz_get_user_best_grade": "pass/fail of quiz attempts",
    "mod_scorm_get_scorm_scoes": "SCORM tracks",
    "mod_scorm_get_scorm_attempt_count": "SCORM tracks",
    "mod_scorm_get_scorm_sco_tracks": "SCORM tracks",
    "mod_assign_get_submissions": "assignment submissions (moodle.work_submitted)",
    "mod_attendance_get_sessions": "attendance plugin sessions (attendance.signed / attendance.absent)",
    "mod_bigbluebuttonbn_get_bigbluebuttonbns_by_courses": "BigBlueButton activities (to warn when no log store "
                                                           "is configured for live presence)",
}
SITE_COURSE_FORMAT = "site"
#: records read one learner at a time: filtered by that learner's own mark
PER_LEARNER = frozenset({"activity_completion", "course_completion", "progress", "quiz_attempt", "scorm_attempt"})
#: the version of a course's cursor state; states without it were written before completion ids
#: became ``completion:<cmid>:<user>:<state>`` (see :attr:`CourseSync.legacy_until`)
STATE_VERSION = 2


def due(course_id: int, user_id: int, last: float, now: float, interval: float) -> bool:
    """Is this learner's periodic poll due in a round at ``now``, the course's previous round at ``last``?

    Each learner has a fixed moment in every interval (an offset drawn from the course and user
    ids); the poll is due when that moment passed since the previous round. So each learner is
    polled once per interval, whatever the schedule, and a course's learners are spread over it.
    """
    offset = zlib.crc32(f"{course_id}:{user_id}".encode()) % max(1, int(interval))
    return (now - offset) // interval > (last - offset) // interval


def _crc(source_id: str) -> int:
    return zlib.crc32(source_id.encode())


def course_ref(course: dict[str, Any]) -> dict[str, Any]:
    return {"id": course["id"], "shortname": course.get("shortname"), "idnumber": course.get("idnumber") or "",
            "fullname": course.get("fullname")}


def user_ref(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "fullname": user.get("fullname"), "email": user.get("email") or None,
            "idnumber": user.get("idnumber") or None}


class Round:
    """What one round fetched once for all its courses (kept in memory, rebuilt after a restart)."""

    def __init__(self) -> None:
        self.courses: dict[int, dict[str, Any]] = {}
        self.quizzes: dict[int, list[dict[str, Any]]] = {}
        self.bbb: dict[int, int] = {}


class CourseSync:
    """Fetch one course and turn it into events, rejects and the course's next cursor state."""

    def __init__(self, connector: "Moodle", course: dict[str, Any], rnd: Round, state: dict[str, Any] | None):
        self.c = connector
        self.ws = connector.ws
        self.course = course
        self.cref = course_ref(course)
        self.rnd = rnd
        state = state or {}
        #: last course access seen (learners are polled again from there, minus the overlap)
        self.access: int | None = state.get("access")
        #: one mark per stream (kind of record ~ web-service function): its newest fact, and the
        #: source ids already sent within the overlap below it
        self.streams: dict[str, dict[str, Any]] = {k: {"t": v.get("t"), "recent": dict(v.get("recent") or {})}
                                                   for k, v in (state.get("streams") or {}).items()
                                                   if k not in PER_LEARNER}
        self.overlap = int(connector.config.recheck.total_seconds())
        #: per learner, the newest per-learner fact seen by their last full poll, and the ids (CRC-32)
        #: of the facts within ``recheck`` below it
        self.marks: dict[int, tuple[int, list[int]]] = {int(k): (v[0], v[1])
                                                        for k, v in (state.get("learners") or {}).items()}
        #: what each learner polled in this pass answered: (source id, time, event), settled at the end
        self.answers: dict[int, list[tuple[str, int, dict[str, Any]]]] = {}
        #: learners whose course completion was sent
        self.completed: set[int] = set(state.get("completed") or [])
        #: the hub's clock at the course's previous round (None: first round)
        self.last_round: float | None = state.get("round_at")
        self.now = connector.clock()
        #: activity completions up to this time keep the id they were sent with before the upgrade
        #: (``completion:<cmid>:<user>:<time>``): the newest one the former cursor had seen
        if state.get("v") == STATE_VERSION:
            self.legacy_until: int | None = state.get("legacy_until")
        else:
            self.legacy_until = (state.get("streams") or {}).get("activity_completion", {}).get("t")
        self.seen_by: dict[str, dict[str, int]] = {}
        self.high_by: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self.grades: dict[str, Any] = {}
        self.learners: dict[int, dict[str, Any]] = {}
        self.cms: dict[int, dict[str, Any]] = {}
        self.polled: list[int] = []
        self.quiz_items: set[int] = set()                 # quizzes with a grade item
        self.quiz_graded: set[tuple[int, int]] = set()    # (quiz, learner) with a grade
        self.regraded: set[int] = set()                   # learners with a grade new in this pass
        self.rejects: list[Reject] = []
        self.high_access = self.access or 0

    def has(self, function: str) -> bool:
        return self.c.can_call(function)

    # ------------------------------------------------------------------ facts
    def add(self, record: dict[str, Any], fact_time: int | None = None) -> list[dict[str, Any]]:
        try:
            events = self.c.mapper.map(record)
        except MappingError as exc:
            self.rejects.append(Reject("map", str(exc), record))
            return []
        kind = record["kind"]
        uid = (record.get("user") or {}).get("id")
        if kind == "course_completion":  # its time is the latest criterion's: sent once per learner
            for event in events:
                if uid not in self.completed:
                    self.completed.add(uid)
                    self.events.append(event)
            return events
        for event in events:
            at = fact_time or int(dt.datetime.fromisoformat(event["occurred_at"]).timestamp())
            if kind in PER_LEARNER:  # read by the learner's poll: settled when it ends
                self.answers.setdefault(uid, []).append((event["source_id"], at, event))
            else:
                self._course_wide(kind, event, at)
        return events

    def _course_wide(self, kind: str, event: dict[str, Any], at: int) -> None:
        stream = self.streams.get(kind) or {"t": None, "recent": {}}
        since, recent = stream["t"], stream["recent"]
        sid = event["source_id"]
        self.seen_by.setdefault(kind, {})[sid] = at
        self.high_by[kind] = max(self.high_by.get(kind, 0), at)
        if since is None or (at > since - self.overlap and sid not in recent):
            self.events.append(event)

    def _settle(self, uid: int) -> None:
        """Send what a learner's full poll found that is new, and move the learner's mark.

        New: facts after the mark, and facts within ``recheck`` below it whose id is not among
        those that window held at the previous poll (a write committed late with an earlier
        time). The cursor keeps those ids as CRC-32 numbers, so each learner costs a few numbers."""
        found = self.answers.pop(uid, [])
        old = self.marks.get(uid)
        if old is None:
            self.events.extend(event for _, _, event in found)
        else:
            mark, known = old[0], set(old[1])
            self.events.extend(event for sid, at, event in found
                               if at > mark or (at > mark - self.overlap and _crc(sid) not in known))
        if not found and old is None:
            return
        high = max([at for _, at, _ in found] + ([old[0]] if old else []))
        self.marks[uid] = (high, sorted({_crc(sid) for sid, at, _ in found if at > high - self.overlap}))

    def next_state(self) -> dict[str, Any]:
        streams: dict[str, Any] = {}
        for kind in sorted(set(self.streams) | set(self.seen_by)):
            old = self.streams.get(kind) or {"t": None, "recent": {}}
            high = max(old["t"] or 0, self.high_by.get(kind, 0))
            floor = high - self.overlap
            recent = {sid: t for sid, t in {**old["recent"], **self.seen_by.get(kind, {})}.items() if t > floor}
            streams[kind] = {"t": high or None, "recent": recent}
        return {"v": STATE_VERSION, "access": self.high_access or None, "round_at": self.now, "streams": streams,
                "learners": {str(uid): [t, crcs] for uid, (t, crcs) in sorted(self.marks.items()) if uid in self.learners},
                "completed": sorted(uid for uid in self.completed if uid in self.learners),
                "legacy_until": self.legacy_until}

    # ------------------------------------------------------------------ the course
    async def run(self) -> None:
        cid = self.course["id"]
        users, contents = await asyncio.gather(
            self.ws.call("core_enrol_get_enrolled_users", {"courseid": cid}),
            self.ws.call("core_course_get_contents", {"courseid": cid}),
        )
        roles = set(self.c.config.learner_roles)
        learners: dict[int, dict[str, Any]] = {}
        for user in users or []:
            if isinstance(user, dict) and isinstance(user.get("id"), int):
                if any(isinstance(r, dict) and r.get("shortname") in roles for r in user.get("roles") or []):
                    learners[user["id"]] = user
        self.learners = {uid: user_ref(u) for uid, u in learners.items()}
        cms: dict[int, dict[str, Any]] = {}
        for section in contents or []:
            for module in (section or {}).get("modules") or []:
                if isinstance(module, dict) and isinstance(module.get("id"), int):
                    cms[module["id"]] = {"id": module["id"], "name": module.get("name"),
                                         "modname": module.get("modname"), "instance": module.get("instance")}
        self.cms = cms
        by_mod: dict[str, list[dict[str, Any]]] = {}
        for cm in cms.values():
            by_mod.setdefault(cm["modname"] or "", []).append(cm)

        await asyncio.gather(self._grades(), self._submissions(by_mod.get("assign", [])),
                             self._attendance(by_mod.get("attendance", [])))
        scorms = await self._scorm_scoes(by_mod.get("scorm", []))
        quizzes = self.rnd.quizzes.get(cid, []) if self.has("mod_quiz_get_user_attempts") else []
        await self._quiz_pass_marks(quizzes)

        self.polled = polled = self._due_learners(learners)
        await asyncio.gather(*(self._learner(uid, quizzes, scorms) for uid in polled))

    def _due_learners(self, learners: dict[int, dict[str, Any]]) -> list[int]:
        """The learners to poll: those whose course access is new (minus the overlap), those with a
        new grade (a teacher graded an essay: the attempt waiting for it, and the completion the
        grade may set, "complete on pass"), and those whose periodic poll is due (every learner
        once per ``learner_poll_interval``)."""
        interval = self.c.config.learner_poll_interval.total_seconds()
        polled = []
        for uid, user in learners.items():
            access = user.get("lastcourseaccess") or 0
            came = isinstance(access, int) and access > 0
            if came:
                self.high_access = max(self.high_access, access)
            if (came and (self.access is None or access >= self.access - self.overlap)) or uid in self.regraded or (
                    self.last_round is not None and due(self.course["id"], uid, self.last_round, self.now, interval)):
                polled.append(uid)
        return polled

    # ------------------------------------------------------------------ course-wide
    async def _grades(self) -> None:
        if not self.has("gradereport_user_get_grade_items"):
            return
        answer = await self.ws.call("gradereport_user_get_grade_items", {"courseid": self.course["id"]})
        for usergrade in (answer or {}).get("usergrades") or []:
            user = self.learners.get((usergrade or {}).get("userid"))
            if user is None:
                continue
            for item in usergrade.get("gradeitems") or []:
                quiz = item.get("iteminstance") if isinstance(item, dict) and item.get("itemmodule") == "quiz" else None
                before = len(self.events)
                self.add({"kind": "grade", "course": self.cref, "user": user, "item": item})
                if len(self.events) > before:
                    self.regraded.add(user["id"])
                if quiz is not None:
                    self.quiz_items.add(quiz)
                    if item.get("graderaw") is not None:
                        self.quiz_graded.add((quiz, user["id"]))
        self.grades = answer

    async def _submissions(self, assigns: list[dict[str, Any]]) -> None:
        if not assigns or not self.has("mod_assign_get_submissions"):
            return
        by_instance = {cm["instance"]: cm for cm in assigns}
        answer = await self.ws.call("mod_assign_get_submissions",
                                    {"assignmentids": sorted(by_instance)})
        for assignment in (answer or {}).get("assignments") or []:
            cm = by_instance.get((assignment or {}).get("assignmentid"))
            if cm is None:
                continue
            for sub in assignment.get("submissions") or []:
                user = self.learners.get((sub or {}).get("userid")) if isinstance(sub, dict) else None
                if isinstance(sub, dict) and user is None and isinstance(sub.get("userid"), int):
                    continue  # not a learner (or a group submission without a user)
                self.add({"kind": "submission", "course": self.cref, "user": user, "cm": cm, "submission": sub})

    async def _attendance(self, instances: list[dict[str, Any]]) -> None:
        if not instances or not self.has("mod_attendance_get_sessions"):
            return
        answers = await asyncio.gather(*(self.ws.call("mod_attendance_get_sessions", {"attendanceid": cm["instance"]})
                                         for cm in instances))
        for cm, sessions in zip(instances, answers):
            for session in sessions or []:
                if not isinstance(session, dict):
                    continue
                log = session.get("attendance_log") or []
                names = {u.get("id"): u for u in session.get("users") or [] if isinstance(u, dict)}
                bare = {k: v for k, v in session.items() if k not in ("attendance_log", "users")}
                taken = session.get("lasttaken") or session.get("timemodified")
                for entry in log:
                    student = entry.get("studentid") if isinstance(entry, dict) else None
                    try:
                        student_id = int(student) if student is not None else None
                    except (TypeError, ValueError):
                        student_id = None
                    user = self.learners.get(student_id)
                    if user is None and student_id in names:
                        u = names[student_id]
                        user = {"id": student_id, "fullname": f"{u.get('firstname', '')} {u.get('lastname', '')}".strip()}
                    record = {"kind": "attendance", "course": self.cref, "user": user, "cm": cm, "session": bare,
                              "log": entry}
                    self.add(record, fact_time=int(taken) if isinstance(taken, int) and taken > 0 else None)

    async def _scorm_scoes(self, scorms: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        if not scorms or not all(self.has(f) for f in ("mod_scorm_get_scorm_scoes", "mod_scorm_get_scorm_attempt_count",
                                                       "mod_scorm_get_scorm_sco_tracks")):
            return []
        out = []
        for cm in scorms:
            scoes = self.c.scoes_cache.get(cm["instance"])
            if scoes is None:
                answer = await self.ws.call("mod_scorm_get_scorm_scoes", {"scormid": cm["instance"]})
                scoes = [{"id": s["id"], "title": s.get("title"), "identifier": s.get("identifier")}
                         for s in (answer or {}).get("scoes") or []
                         if isinstance(s, dict) and s.get("scormtype") == "sco" and isinstance(s.get("id"), int)]
                self.c.scoes_cache[cm["instance"]] = scoes
            out.append((cm, scoes))
        return out

    async def _quiz_pass_marks(self, quizzes: list[dict[str, Any]]) -> None:
        """One ``mod_quiz_get_user_best_grade`` per quiz (any learner with a grade answers ``gradetopass``)."""
        if not self.has("mod_quiz_get_user_best_grade"):
            return
        grades = self.grades or {}
        for quiz in quizzes:
            if quiz["id"] in self.c.gradepass_cache:
                continue
            graded_user = None
            for usergrade in grades.get("usergrades") or []:
                if usergrade.get("userid") not in self.learners:
                    continue
                for item in usergrade.get("gradeitems") or []:
                    if item.get("itemmodule") == "quiz" and item.get("iteminstance") == quiz["id"] \
                            and item.get("graderaw") is not None:
                        graded_user = usergrade["userid"]
                        break
                if graded_user:
                    break
            if graded_user is None:
                continue  # nobody graded yet: no finished attempt needs it
            try:
                answer = await self.ws.call("mod_quiz_get_user_best_grade", {"quizid": quiz["id"], "userid": graded_user})
            except MoodleWSError as exc:
                self.c.context.log.warning("quiz pass mark unknown", quiz=quiz["id"], error=str(exc))
                continue
            self.c.gradepass_cache[quiz["id"]] = (answer or {}).get("gradetopass")

    # ------------------------------------------------------------------ per learner
    async def _learner(self, uid: int, quizzes: list[dict[str, Any]],
                       scorms: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        """The per-learner functions, in two steps: completion first tells which quizzes to ask about."""
        user = self.learners[uid]
        cid = self.course["id"]
        calls: list[Any] = [self._call_or_skip("core_completion_get_activities_completion_status",
                                               {"courseid": cid, "userid": uid})]
        course_completion = self.has("core_completion_get_course_completion_status") and \
            self.course.get("enablecompletion", 1)
        if course_completion:
            calls.append(self._call_or_skip("core_completion_get_course_completion_status",
                                            {"courseid": cid, "userid": uid}))
        for cm, _scoes in scorms:
            calls.append(self._call_or_skip("mod_scorm_get_scorm_attempt_count",
                                            {"scormid": cm["instance"], "userid": uid,
                                             "ignoremissingcompletion": False}))
        answers = await asyncio.gather(*calls)
        activities = answers.pop(0)
        states = self._completions(user, activities) if activities is not None else {}
        if course_completion:
            status = answers.pop(0)
            if status is not None:
                self.add({"kind": "course_completion", "course": self.cref, "user": user,
                          "completionstatus": status.get("completionstatus")})
        later: list[Any] = [self._quiz_attempts(user, quiz) for quiz in quizzes
                            if self._quiz_touched(quiz, uid, states)]
        for (cm, scoes), answer in zip(scorms, answers):
            count = (answer or {}).get("attemptscount") or 0
            for sco in scoes:
                for number in range(1, int(count) + 1):
                    later.append(self._scorm_tracks(user, cm, sco, number))
        await asyncio.gather(*later)
        self._settle(uid)

    def _quiz_touched(self, quiz: dict[str, Any], uid: int, states: dict[int, int]) -> bool:
        """Could this learner have a finished attempt? Not if the quiz has a grade item, no grade of theirs,
        and its completion (tracked) is still 0: then the attempts call would answer nothing to send."""
        if quiz["id"] not in self.quiz_items or (quiz["id"], uid) in self.quiz_graded:
            return True
        state = states.get(quiz.get("coursemodule"))
        return state is None or state != 0

    async def _quiz_attempts(self, user: dict[str, Any], quiz: dict[str, Any]) -> None:
        answer = await self._call_or_skip("mod_quiz_get_user_attempts",
                                          {"quizid": quiz["id"], "userid": user["id"], "status": "all",
                                           "includepreviews": False})
        for attempt in (answer or {}).get("attempts") or []:
            times = [t for t in (attempt.get("timefinish"), attempt.get("timemodified")) if isinstance(t, int)] \
                if isinstance(attempt, dict) else []
            self.add({"kind": "quiz_attempt", "course": self.cref, "user": user, "quiz": quiz, "attempt": attempt,
                      "gradepass": self.c.gradepass_cache.get(quiz["id"])}, fact_time=max(times) if times else None)

    async def _scorm_tracks(self, user: dict[str, Any], cm: dict[str, Any], sco: dict[str, Any], number: int) -> None:
        answer = await self._call_or_skip("mod_scorm_get_scorm_sco_tracks",
                                          {"scoid": sco["id"], "userid": user["id"], "attempt": number})
        if answer is not None:
            self.add({"kind": "scorm_attempt", "course": self.cref, "user": user, "cm": cm, "sco": sco,
                      "data": answer.get("data")})

    def _completions(self, user: dict[str, Any], answer: dict[str, Any]) -> dict[int, int]:
        """Map the learner's activity completion; return each tracked activity's state (by cmid)."""
        statuses = (answer or {}).get("statuses") or []
        states: dict[int, int] = {}
        tracked = done = latest = 0
        rejected_before = len(self.rejects)
        for status in statuses:
            cm = self.cms.get(status.get("cmid")) if isinstance(status, dict) else None
            events = self.add({"kind": "activity_completion", "course": self.cref, "user": user, "status": status,
                               "cm": cm, **({"legacy_until": self.legacy_until} if self.legacy_until else {})})
            if isinstance(status, dict) and status.get("hascompletion", True) and status.get("tracking", 1):
                if isinstance(status.get("cmid"), int) and isinstance(status.get("state"), int):
                    states[status["cmid"]] = status["state"]
                tracked += 1
                if events:
                    done += 1
                    latest = max(latest, int(dt.datetime.fromisoformat(events[0]["occurred_at"]).timestamp()))
        # progress only from a complete answer: a rejected status would make the percentage wrong
        if len(self.rejects) == rejected_before and tracked and done:
            percent = (done * 200 + tracked) // (2 * tracked)  # half up, as the CPF rounds rates
            self.add({"kind": "progress", "course": self.cref, "user": user, "percent": percent, "completed": done,
                      "tracked": tracked, "at": latest})
        return states

    async def _call_or_skip(self, function: str, params: dict[str, Any]) -> Any:
        """A per-learner call; a record that vanished meanwhile (unenrolled user, deleted quiz) is skipped."""
        try:
            return await self.ws.call(function, params)
        except MoodleWSError as exc:
            if exc.vanished:
                self.c.context.log.warning("moodle record vanished, skipped", function=function,
                                           errorcode=exc.errorcode, **{k: v for k, v in params.items()
                                                                        if k in ("courseid", "userid", "quizid",
                                                                                 "scormid", "scoid")})
                return None
            raise

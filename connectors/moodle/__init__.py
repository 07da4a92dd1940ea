"""``moodle``: learning traces from Moodle, through web services and/or the log store.

Two complementary modes, each optional, in one connector:

* **web services** (``url`` + ``token``): per followed course, the learners with their last
  access, activity and course completion, grades, quiz attempts, SCORM tracks, assignment
  submissions and the attendance plugin's sessions (see :mod:`connectors.moodle.wssync`);
* **log store** (``logstore.dsn``): read-only SQL on ``logstore_standard_log``, turned into
  connection sessions (``lms.session``), BigBlueButton presence and per-activity traces (see
  :mod:`connectors.moodle.sessions`). This is where the FOAD connection proofs come from.

One pull *round* walks the followed courses (one page each), then the new log rows (one page
per ``logstore.page_size`` rows); the cursor says where each part stands, so a re-run fetches
only what changed and a failed page is retried from the last committed one.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import time
from typing import Any, Iterator

from hub.connector import Connector, Health, PullResult, PullSource, Reject
from hub.errors import ConnectorConfigError, ConnectorError
from hub.hookspecs import hookimpl

from . import mapping as m
from .config import LogstoreConfig, MoodleConfig
from .logstore import LOG_COLUMNS, LogstoreDB
from .mapping import EMITS, EVENT_TYPES, Mapper, MappingError
from .sessions import ACTIVITY, LOGIN, LOGOUT, VC_JOIN, VC_LEFT, Sessioniser
from .ws import MoodleWS
from .wssync import OPTIONAL_FUNCTIONS, REQUIRED_FUNCTIONS, SITE_COURSE_FORMAT, CourseSync, Round

#: 2: completion ids without a time, per-learner marks, completions read from the log with web services
CURSOR_VERSION = 2
USER_CACHE = 50_000


class Moodle(Connector, PullSource):
    """Moodle: completions, grades, quiz/SCORM attempts, attendance (web services) and connection sessions (log store)."""

    kind = "moodle"
    Config = MoodleConfig
    emits = EMITS

    #: the wall clock, used once the whole log has been read to close idle sessions (tests pin it)
    clock = staticmethod(time.time)

    def __init__(self, name: str, config: MoodleConfig, context: Any):
        super().__init__(name, config, context)
        self.config: MoodleConfig = config
        self.mapper = Mapper(action_from=config.action_from, timezone=context.timezone,
                             attendance_modality=config.attendance_modality,
                             attendance_excused=config.attendance_excused,
                             log_results=not config.ws_enabled, emit_views=config.logstore.emit_views,
                             user_id_namespace=config.user_id_namespace)
        self.ws: MoodleWS | None = None
        if config.ws_enabled:
            http = config.client(lambda: self.context.http, base_url=config.base_url, log=context.log)
            self.ws = MoodleWS(http, token=config.token.get_secret_value(),  # type: ignore[union-attr]
                               concurrency=config.concurrency, log=context.log)
        self.db: LogstoreDB | None = LogstoreDB(config.logstore) if config.logstore_enabled else None
        self._db_lock = asyncio.Lock()
        self.site: dict[str, Any] | None = None
        self.functions: set[str] | None = None
        self.round: Round | None = None
        self.scoes_cache: dict[int, list[dict[str, Any]]] = {}
        self.gradepass_cache: dict[int, Any] = {}
        self._users: collections.OrderedDict[int, dict[str, Any] | None] = collections.OrderedDict()
        self._courses: dict[int, dict[str, Any] | None] = {}
        self._prefetch: tuple[tuple[int, int], asyncio.Future] | None = None

    # ------------------------------------------------------------------ lifecycle and health
    async def close(self) -> None:
        self._drop_prefetch()
        if self.db is not None:
            async with self._db_lock:
                await asyncio.to_thread(self.db.close)

    async def check(self) -> Health:
        parts: list[str] = []
        details: dict[str, Any] = {}
        ok = True
        if self.ws is not None:
            try:
                site = await self.site_info()
            except ConnectorError as exc:
                return Health(False, f"web services: {exc}", {"error": type(exc).__name__})
            required, optional = self.missing_functions()
            details.update(site=site.get("sitename"), release=site.get("release"))
            if required:
                ok = False
                details["missing_required_functions"] = required
                parts.append("web services: the token may not call " + ", ".join(required)
                             + " (add them to the hub's external service)")
            else:
                parts.append(f"web services ok ({site.get('release')})")
            if optional:
                details["missing_functions"] = optional
                lost = sorted({OPTIONAL_FUNCTIONS[f] for f in optional})
                parts.append("not collected, the token may not call " + ", ".join(optional)
                             + ": " + "; ".join(lost))
        if self.db is not None:
            try:
                top = await self._db(self.db.ping)
                parts.append(f"log store ok ({self.db.dialect}, last log id {top})")
            except ConnectorError as exc:
                ok = False
                parts.append(f"log store: {exc}")
        return Health(ok, "; ".join(parts) or "ok", details)

    # ------------------------------------------------------------------ web-service helpers
    async def site_info(self) -> dict[str, Any]:
        assert self.ws is not None
        site = await self.ws.call("core_webservice_get_site_info")
        if not isinstance(site, dict):
            raise ConnectorConfigError("Moodle core_webservice_get_site_info: unexpected answer")
        self.site = site
        self.functions = {f.get("name") for f in site.get("functions") or [] if isinstance(f, dict)}
        return site

    def missing_functions(self) -> tuple[list[str], list[str]]:
        have = self.functions or set()
        return ([f for f in REQUIRED_FUNCTIONS if f not in have],
                [f for f in OPTIONAL_FUNCTIONS if f not in have])

    def can_call(self, function: str) -> bool:
        return self.functions is None or function in self.functions

    async def _list_courses(self, only_ids: list[int] | None = None) -> list[dict[str, Any]]:
        assert self.ws is not None
        wanted = self.config.courses
        courses: list[dict[str, Any]] = []
        if only_ids is not None:
            answer = await self.ws.call("core_course_get_courses", {"options": {"ids": only_ids}})
            courses = [c for c in answer or [] if isinstance(c, dict)]
        elif not wanted:
            answer = await self.ws.call("core_course_get_courses")
            courses = [c for c in answer or [] if isinstance(c, dict) and c.get("format") != SITE_COURSE_FORMAT
                       and c.get("visible", 1) and c.get("id") != self._site_course_id()]
        else:
            ids = [c for c in wanted if isinstance(c, int)]
            names = [c for c in wanted if isinstance(c, str)]
            if ids:
                answer = await self.ws.call("core_course_get_courses", {"options": {"ids": ids}})
                courses.extend(c for c in answer or [] if isinstance(c, dict))
            for name in names:
                answer = await self.ws.call("core_course_get_courses_by_field", {"field": "shortname", "value": name})
                found = [c for c in (answer or {}).get("courses") or [] if isinstance(c, dict)]
                if not found:
                    self.context.log.warning("followed course not found", shortname=name)
                courses.extend(found)
            missing = sorted(set(ids) - {c.get("id") for c in courses})
            if missing:
                self.context.log.warning("followed courses not found", ids=missing)
        unique = {c["id"]: c for c in courses if isinstance(c.get("id"), int)}
        return [unique[k] for k in sorted(unique)]

    def _site_course_id(self) -> int:
        return int((self.site or {}).get("siteid") or 1)

    async def _start_round(self, course_ids: list[int] | None = None) -> Round:
        """List the followed courses and fetch what accepts a list of courses, once for all of them."""
        assert self.ws is not None
        await self.site_info()  # also proves the token still works before any page is fetched
        rnd = Round()
        for course in await self._list_courses(course_ids):
            rnd.courses[course["id"]] = course
        ids = sorted(rnd.courses)
        if ids and self.can_call("mod_quiz_get_quizzes_by_courses") and self.can_call("mod_quiz_get_user_attempts"):
            answer = await self.ws.call("mod_quiz_get_quizzes_by_courses", {"courseids": ids})
            for quiz in (answer or {}).get("quizzes") or []:
                if isinstance(quiz, dict) and isinstance(quiz.get("id"), int):
                    rnd.quizzes.setdefault(quiz.get("course"), []).append(quiz)
        if ids and self.can_call("mod_bigbluebuttonbn_get_bigbluebuttonbns_by_courses"):
            answer = await self.ws.call("mod_bigbluebuttonbn_get_bigbluebuttonbns_by_courses", {"courseids": ids})
            for meeting in (answer or {}).get("bigbluebuttonbns") or []:
                if isinstance(meeting, dict):
                    rnd.bbb[meeting.get("course")] = rnd.bbb.get(meeting.get("course"), 0) + 1
            if rnd.bbb and self.db is None:
                self.context.log.warning(
                    "BigBlueButton activities found but no log store is configured: live presence per learner "
                    "is only in the log (configure logstore.dsn)", courses=sorted(rnd.bbb))
        self.round = rnd
        return rnd

    # ------------------------------------------------------------------ pull
    async def pull(self, cursor: Any) -> PullResult:
        cursor = copy.deepcopy(cursor) if isinstance(cursor, dict) else {}
        former = cursor.get("v")
        cursor["v"] = CURSOR_VERSION
        ws_c = cursor.setdefault("ws", {})
        log_c = cursor.setdefault("log", {})
        if former is not None and former < 2 and self.ws is not None and self.db is not None and log_c.get("last_id"):
            # the log did not emit completions next to web services before: the rows already written
            # hold facts web services sent under their former ids, so completions start after them
            log_c["completions_after"] = int(await self._db(self.db.ping) or 0)
        if self.ws is not None:
            ws_c.setdefault("courses", {})
            if ws_c.get("todo") is None:
                rnd = await self._start_round()
                ws_c["todo"] = sorted(rnd.courses)
            if ws_c["todo"]:
                cid = ws_c["todo"][0]
                rnd = self.round
                if rnd is None or cid not in rnd.courses:  # a restart in the middle of a round
                    rnd = await self._start_round(list(ws_c["todo"]))
                course = rnd.courses.get(cid)
                events: list[dict[str, Any]] = []
                rejects: list[Reject] = []
                if course is not None:
                    sync = CourseSync(self, course, rnd, ws_c["courses"].get(str(cid)))
                    await sync.run()
                    events, rejects = sync.events, sync.rejects
                    ws_c["courses"][str(cid)] = sync.next_state()
                    self.context.log.info("moodle course synced", course=cid, learners=len(sync.learners),
                                          polled=len(sync.polled), events=len(events), rejects=len(rejects))
                ws_c["todo"] = ws_c["todo"][1:]
                more = bool(ws_c["todo"]) or self.db is not None
                if not more:
                    ws_c["todo"] = None
                return PullResult(events, cursor, has_more=more, rejects=rejects)
        if self.db is not None:
            events, rejects, done = await self._log_page(log_c)
            if done and self.ws is not None:
                ws_c["todo"] = None
            return PullResult(events, cursor, has_more=not done, rejects=rejects)
        ws_c["todo"] = None
        return PullResult([], cursor, has_more=False)

    def map_record(self, record: Any) -> list[dict[str, Any]]:
        """Map one record kept by a ``map``-stage dead letter (a web-service record or a log row)."""
        return self.mapper.map(record)

    # ------------------------------------------------------------------ log store
    async def _db(self, fn: Any, *args: Any) -> Any:
        async with self._db_lock:
            return await asyncio.to_thread(fn, *args)

    async def _fetch(self, after_id: int, limit: int) -> list[tuple]:
        """A page of log rows; the next page is read ahead while the hub commits this one."""
        ahead = self._prefetch
        self._prefetch = None
        if ahead is not None and ahead[0] == (after_id, limit):
            rows = await ahead[1]
        else:
            if ahead is not None:
                ahead[1].cancel()
            rows = await self._db(self.db.fetch, after_id, limit)  # type: ignore[union-attr]
        if len(rows) == limit:
            task = asyncio.ensure_future(self._db(self.db.fetch, rows[-1][0], limit))  # type: ignore[union-attr]
            task.add_done_callback(_consume)
            self._prefetch = ((rows[-1][0], limit), task)
        return rows

    def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch[1].cancel()
            self._prefetch = None

    async def _log_page(self, log_c: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Reject], bool]:
        """One page of the log store: read the rows, feed the connection sessions with them, look
        up the learners and courses they name, and map the activity rows and the closed sessions."""
        assert self.db is not None
        cfg: LogstoreConfig = self.config.logstore
        last_id = int(log_c.get("last_id") or cfg.start_after_id)
        rows, done = await self._log_rows(last_id)
        sess = Sessioniser(cfg.inactivity_gap.total_seconds(), cfg.virtual_class_max.total_seconds(),
                           log_c.get("state"))
        pending, rejects, last_id = self._walk_log(rows, sess, last_id, int(log_c.get("completions_after") or 0))
        if done:
            sess.close_idle(self.clock())
        closed = sess.take()
        log_c["last_id"] = last_id
        log_c["state"] = sess.state()
        users, courses, quiz = await self._log_lookups(pending, closed)
        events: list[dict[str, Any]] = []
        for record in self._activity_records(pending, users, courses, quiz):
            self._map_into(record, events, rejects)
        for record in self._closed_records(closed, users, courses):
            self._map_into(record, events, rejects)
        self.context.log.info("moodle log page", rows=len(rows), last_id=last_id, events=len(events),
                              rejects=len(rejects), open_sessions=len(sess.open))
        return events, rejects, done

    async def _log_rows(self, after_id: int) -> tuple[list[tuple], bool]:
        """The rows after ``after_id`` and whether they reach the end of the log, whose newest
        seconds are left for the next pull (see ``tail_guard``)."""
        cfg = self.config.logstore
        rows = await self._fetch(after_id, cfg.page_size)
        done = len(rows) < cfg.page_size
        if done and rows and cfg.tail_guard.total_seconds() > 0:
            cutoff = self.clock() - cfg.tail_guard.total_seconds()
            keep = next((i for i, r in enumerate(rows) if isinstance(r[11], int) and r[11] > cutoff), len(rows))
            rows = rows[:keep]
        return rows, done

    def _walk_log(self, rows: list[tuple], sess: Sessioniser, last_id: int,
                  completions_after: int = 0) -> tuple[list[tuple], list[Reject], int]:
        """Feed ``sess`` with the rows that show a learner connected; return the rows that are
        activity traces to map (completions only after ``completions_after``), the unreadable
        rows, and the id of the last row."""
        cfg = self.config.logstore
        origins = set(cfg.origins)
        ignored = set(cfg.ignore_users)
        login_as = cfg.count_login_as
        emit_views = cfg.emit_views
        activity_names = m.ACTIVITY_EVENTS if self.mapper.log_results else (m.ACTIVITY_EVENTS - m.RESULT_EVENTS)
        not_presence = m.NOT_PRESENCE
        kinds = {m.LOGIN: LOGIN, m.LOGOUT: LOGOUT, m.BBB_JOINED: VC_JOIN, m.BBB_LEFT: VC_LEFT}
        is_view = m.is_view
        pending: list[tuple] = []
        rejects: list[Reject] = []
        clock = None
        for row in rows:
            (log_id, name, _component, _objectid, ctxlevel, ctxinst, userid, courseid, related, anonymous, _other,
             t, origin, realuser) = row
            last_id = log_id
            if not isinstance(t, int) or not isinstance(userid, int) or not isinstance(name, str):
                rejects.append(Reject("map", f"log row {log_id}: timecreated/userid/eventname: unreadable values "
                                             f"({t!r}, {userid!r}, {name!r})",
                                      {"kind": "log", "row": _row_dict(row)}))
                continue
            clock = t
            if name == m.BBB_ENDED and ctxlevel == 70:
                sess.end_meeting(ctxinst, t)
            if (userid > 0 and not anonymous and origin in origins and userid not in ignored
                    and (realuser is None or login_as) and name not in not_presence):
                sess.feed(log_id, userid, t, kinds.get(name, ACTIVITY), courseid,
                          ctxinst if ctxlevel == 70 else None)
            if name in m.COMPLETION_EVENTS and log_id <= completions_after:
                continue
            if name in activity_names or (emit_views and is_view(name)):
                learner = related or userid
                if learner in ignored or learner <= 0 or anonymous or (realuser is not None and not login_as):
                    continue  # someone else's visit "as" the learner is not the learner's trace
                pending.append(row)
        if clock is not None:
            sess.close_idle(clock)
        return pending, rejects, last_id

    async def _log_lookups(self, pending: list[tuple], closed: list[tuple[str, dict[str, Any]]]) -> tuple[
            dict[int, dict[str, Any]], dict[int, dict[str, Any]], dict[Any, Any]]:
        """The learners (e-mail, name) and courses (shortname, idnumber) that the activity rows and
        the closed sessions name, and the quiz attempts of the submissions (batched, cached)."""
        user_ids = {r[6] for r in pending} | {r[8] for r in pending if r[8]} | {o[1]["user"] for o in closed}
        course_ids = {r[7] for r in pending if r[7] and r[7] > 1} | {o[1]["course"] for o in closed
                                                                     if o[0] == "vc" and o[1].get("course")}
        course_ids |= {c for o in closed if o[0] == "session" for c in o[1]["courses"]}
        users = await self._lookup_users(user_ids)
        courses = await self._lookup_courses(course_ids)
        quiz = {}
        if self.mapper.log_results:
            attempt_ids = {r[3] for r in pending if r[1] == m.QUIZ_SUBMITTED and r[3]}
            if attempt_ids:
                quiz = await self._db(self.db.quiz_attempts, attempt_ids)  # type: ignore[union-attr]
        return users, courses, quiz

    def _activity_records(self, pending: list[tuple], users: dict[int, dict[str, Any]],
                          courses: dict[int, dict[str, Any]], quiz: dict[Any, Any]) -> Iterator[dict[str, Any]]:
        """The records to map of the activity rows of followed courses (or of no course)."""
        for row in pending:
            if not self._followed(courses.get(row[7])) and row[7] not in (None, 0, 1):
                continue
            record = {"kind": "log", "row": _row_dict(row), "user": users.get(row[6]),
                      "related": users.get(row[8]) if row[8] else None, "course": courses.get(row[7])}
            if row[1] == m.QUIZ_SUBMITTED and row[3] in quiz:
                record["extra"] = quiz[row[3]]
            yield record

    def _closed_records(self, closed: list[tuple[str, dict[str, Any]]], users: dict[int, dict[str, Any]],
                        courses: dict[int, dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The records to map of the closed connection sessions and virtual classes."""
        for kind, item in closed:
            if kind == "session":
                followed = [c for c in item["courses"] if self._followed(courses.get(c))]
                course = courses.get(followed[0]) if len(followed) == 1 else None
                yield {"kind": "session", "session": item, "user": users.get(item["user"]), "course": course}
                continue
            course = courses.get(item.get("course")) if item.get("course") else None
            if item.get("course") and not self._followed(course):
                continue
            yield {"kind": "virtual_class", "vc": item, "user": users.get(item["user"]), "course": course}

    def _map_into(self, record: dict[str, Any], events: list[dict[str, Any]], rejects: list[Reject]) -> None:
        try:
            events.extend(self.mapper.map(record))
        except MappingError as exc:
            rejects.append(Reject("map", str(exc), record))

    def _followed(self, course: dict[str, Any] | None) -> bool:
        wanted = self.config.courses
        if not wanted:
            return True
        if course is None:
            return False
        return course["id"] in wanted or course.get("shortname") in wanted

    async def _lookup_users(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        ids = {i for i in ids if isinstance(i, int) and i > 0}
        if not self.config.logstore.user_details:
            return {}
        missing = [i for i in ids if i not in self._users]
        if missing:
            found = await self._db(self.db.users, missing)  # type: ignore[union-attr]
            for uid in missing:
                self._users[uid] = found.get(uid)
            while len(self._users) > USER_CACHE:
                self._users.popitem(last=False)
        out = {}
        for uid in ids:
            if uid in self._users:
                self._users.move_to_end(uid)
                if self._users[uid] is not None:
                    out[uid] = self._users[uid]  # type: ignore[assignment]
        return out

    async def _lookup_courses(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        ids = {i for i in ids if isinstance(i, int) and i > 1}
        missing = [i for i in ids if i not in self._courses]
        if missing:
            found = await self._db(self.db.courses, missing)  # type: ignore[union-attr]
            for cid in missing:
                self._courses[cid] = found.get(cid) or {"id": cid, "shortname": None, "idnumber": ""}
        return {cid: self._courses[cid] for cid in ids if self._courses.get(cid)}  # type: ignore[misc]


def _consume(task: asyncio.Future) -> None:
    """A read-ahead nobody awaited (the next pull started elsewhere): its error is not lost, just unused."""
    if not task.cancelled():
        task.exception()


def _row_dict(row: tuple) -> dict[str, Any]:
    return dict(zip(LOG_COLUMNS, row))


@hookimpl
def register_connectors():
    return [Moodle]


@hookimpl
def register_event_types():
    return dict(EVENT_TYPES)


__all__ = ["EVENT_TYPES", "LogstoreConfig", "Moodle", "MoodleConfig"]

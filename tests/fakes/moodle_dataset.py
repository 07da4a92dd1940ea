"""A generated Moodle data set (other courses, learners and activities), served by the fake Moodle.

:func:`generate` builds a course with ``learners`` learners and ``activities`` course modules
(pages, files, URLs, quizzes, SCORM packages, assignments, attendance instances and, on request,
a BigBlueButton room), and what each learner did: finished, in progress or never came.
:class:`GeneratedMoodle` answers the web-service functions from it, with the response shapes
of the recordings of a real Moodle 4.4 (each answer starts from a recorded item used as a
template, so every key Moodle sends is there) and of the attendance plugin's documented
``mod_attendance_get_sessions`` structure.

Tests change the data in place (``course.completions[uid][0]["timecompleted"] = "hier"``) to
serve malformed records. :func:`log_rows` streams realistic ``logstore_standard_log`` rows for
benchmarks.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Iterator

from tests.fakes.moodle import WS_DIR, load_json, parse_fields, recorded_error

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PATTERN = ["page", "resource", "quiz", "url", "scorm", "page", "assign", "resource", "page", "attendance"]
FIRST = ["Amina", "Bastien", "Chloé", "Damien", "Élodie", "Farid", "Gaëlle", "Hugo", "Inès", "Julien", "Kenza",
         "Léo", "Manon", "Nathan", "Océane", "Pierre", "Quentin", "Rose", "Samir", "Théo", "Ursule", "Victor",
         "Wassim", "Xavier", "Yasmine", "Zacharie"]
LAST = ["Martin", "Bernard", "N'Diaye", "Petit", "Durand", "Lefèbvre", "Moreau", "Simon", "Laurent", "Michel",
        "García", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier"]


def _template(name: str, *path: Any) -> Any:
    value = load_json(WS_DIR / f"{name}.json")["response"]
    for key in path:
        value = value[key]
    return copy.deepcopy(value)


T_USER = _template("core_enrol_get_enrolled_users", 0)
T_COURSE = _template("core_course_get_courses", 0)
T_COURSE_BY_FIELD = _template("core_course_get_courses_by_field", "courses", 0)
T_MODULE = _template("core_course_get_contents", 1, "modules", 0)
T_SECTION = {k: v for k, v in _template("core_course_get_contents", 1).items() if k != "modules"}
T_STATUS = _template("core_completion_get_activities_completion_status--jerome", "statuses", 0)
T_CRITERION = _template("core_completion_get_course_completion_status--jerome", "completionstatus", "completions", 0)
T_GRADE_ITEM = _template("gradereport_user_get_grade_items", "usergrades", 1, "gradeitems", 0)
T_COURSE_ITEM = _template("gradereport_user_get_grade_items", "usergrades", 1, "gradeitems", 3)
T_USERGRADE = {k: v for k, v in _template("gradereport_user_get_grade_items", "usergrades", 1).items()
               if k != "gradeitems"}
T_QUIZ = _template("mod_quiz_get_quizzes_by_courses", "quizzes", 0)
T_ATTEMPT = _template("mod_quiz_get_user_attempts--jerome", "attempts", 0)
T_SCOES = _template("mod_scorm_get_scorm_scoes", "scoes")
T_TRACKS = _template("mod_scorm_get_scorm_sco_tracks--jerome-attempt1-failed", "data", "tracks")
T_SUBMISSION = _template("mod_assign_get_submissions", "assignments", 0, "submissions", 0)
PASS_ICON = ('<i class="icon fa fa-check text-success fa-fw inline"  title="Pass" role="img" aria-label="Pass"></i>'
             '{grade}')
FAIL_ICON = ('<i class="icon fa fa-times text-danger fa-fw inline"  title="Fail" role="img" aria-label="Fail"></i>'
             '{grade}')


def _ts(day: dt.datetime) -> int:
    return int(day.timestamp())


@dataclass
class Course:
    id: int
    shortname: str
    idnumber: str
    fullname: str
    start: int
    learners: list[dict[str, Any]] = field(default_factory=list)
    teachers: list[dict[str, Any]] = field(default_factory=list)
    cms: list[dict[str, Any]] = field(default_factory=list)            # id, modname, instance, name
    completions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    course_done: dict[int, int] = field(default_factory=dict)           # uid -> time completed
    quizzes: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)   # (quiz, uid)
    gradepass: dict[int, float] = field(default_factory=dict)           # quiz id -> pass mark
    scoes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # scorm id -> scoes
    scorm_attempts: dict[tuple[int, int], int] = field(default_factory=dict)  # (scorm, uid) -> count
    tracks: dict[tuple[int, int, int], list[dict[str, Any]]] = field(default_factory=dict)  # (sco, uid, attempt)
    submissions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # assign id -> submissions
    attendance: dict[int, list[dict[str, Any]]] = field(default_factory=dict)   # attendance id -> sessions
    grades: dict[int, dict[int, tuple[float, int]]] = field(default_factory=dict)  # uid -> item id -> (grade, when)
    grade_items: list[dict[str, Any]] = field(default_factory=list)
    bbb: list[dict[str, Any]] = field(default_factory=list)

    def cm(self, cmid: int) -> dict[str, Any]:
        return next(c for c in self.cms if c["id"] == cmid)

    def by_mod(self, modname: str) -> list[dict[str, Any]]:
        return [c for c in self.cms if c["modname"] == modname]

    @property
    def users(self) -> list[dict[str, Any]]:
        return self.learners + self.teachers


def generate(*, course_id: int = 12, shortname: str = "CACES-R489-2026-10", learners: int = 8, activities: int = 10,
             seed: int = 7, first_cm: int = 100, first_user: int = 200, start: dt.datetime | None = None,
             with_bbb: bool = True) -> Course:
    """A course whose learners finished (60 %), are in progress (25 %) or never came (15 %)."""
    rng = random.Random(seed)
    start = start or dt.datetime(2026, 10, 5, 8, 30, tzinfo=PARIS)
    course = Course(course_id, shortname, f"ACT-{course_id:04d}", f"CACES® R489 — chariots élévateurs ({shortname})",
                    _ts(start))
    # activities
    counters: dict[str, int] = {}
    kinds = [PATTERN[i % len(PATTERN)] for i in range(activities)]
    if with_bbb:
        kinds.append("bigbluebuttonbn")
    for i, kind in enumerate(kinds):
        counters[kind] = counters.get(kind, 0) + 1
        instance = course_id * 100 + counters[kind]
        name = {"page": "Fiche", "resource": "Support PDF", "url": "Vidéo", "quiz": "Test", "scorm": "Module",
                "assign": "Compte rendu", "attendance": "Émargement", "bigbluebuttonbn": "Classe virtuelle"}[kind]
        course.cms.append({"id": first_cm + i, "modname": kind, "instance": instance,
                           "name": f"{name} {counters[kind]} — {shortname}"})
    for cm in course.by_mod("quiz"):
        quiz = copy.deepcopy(T_QUIZ)
        quiz.update(id=cm["instance"], coursemodule=cm["id"], course=course_id, name=cm["name"], sumgrades=20,
                    grade=100, decimalpoints=2)
        course.quizzes.append(quiz)
        course.gradepass[cm["instance"]] = 70.0
    for cm in course.by_mod("scorm"):
        scoes = copy.deepcopy(T_SCOES)
        for j, sco in enumerate(scoes):
            sco.update(id=cm["instance"] * 10 + j + 1, scorm=cm["instance"])
        course.scoes[cm["instance"]] = scoes
    for cm in course.by_mod("bigbluebuttonbn"):
        course.bbb.append({"id": cm["instance"], "coursemodule": cm["id"], "course": course_id, "name": cm["name"],
                           "intro": "", "introformat": 1, "introfiles": [], "meetingid": f"{course_id}-{cm['instance']}",
                           "type": 0, "timemodified": course.start, "visible": True, "groupmode": 0, "groupingid": 0,
                           "lang": ""})
    # grade items: one per quiz, scorm, assign, plus the course total
    item_id = course_id * 1000
    for cm in course.cms:
        if cm["modname"] in ("quiz", "scorm", "assign"):
            item_id += 1
            grademax = {"quiz": 100, "scorm": 100, "assign": 20}[cm["modname"]]
            course.grade_items.append({"id": item_id, "cm": cm, "grademax": grademax,
                                       "gradepass": {"quiz": 70, "assign": 10}.get(cm["modname"])})
    # learners and a teacher
    for n in range(learners + 1):
        uid = first_user + n
        first, last = FIRST[(seed + n) % len(FIRST)], LAST[(seed * 3 + n) % len(LAST)]
        user = {"id": uid, "username": f"stagiaire{uid}", "firstname": first, "lastname": last,
                "fullname": f"{first} {last}", "email": f"stagiaire{uid}@example.org", "idnumber": f"STG-{uid:05d}",
                "role": "student", "lastaccess": 0, "lastcourseaccess": 0, "firstaccess": 0}
        if n == learners:
            user.update(role="editingteacher", idnumber=f"FORM-{uid}", username=f"formateur{uid}",
                        email=f"formateur{uid}@example.org")
            course.teachers.append(user)
        else:
            course.learners.append(user)
    grade_time = _ts(start + dt.timedelta(days=9, hours=2))
    teacher = course.teachers[0]["id"]
    for index, user in enumerate(course.learners):
        uid = user["id"]
        roll = rng.random() if index > 1 else (0.1 if index == 0 else 0.7)  # the first two: finished, in progress
        profile = "finished" if roll < 0.6 else ("progress" if roll < 0.85 else "never")
        if index == len(course.learners) - 1 and learners > 2:
            profile = "never"
        t = _ts(start + dt.timedelta(days=rng.randint(0, 2), minutes=rng.randint(0, 240)))
        statuses = []
        done_count = len(course.cms) if profile == "finished" else (len(course.cms) // 2 if profile == "progress" else 0)
        for k, cm in enumerate(course.cms):
            status = copy.deepcopy(T_STATUS)
            status.update(cmid=cm["id"], modname=cm["modname"], instance=cm["instance"], state=0, timecompleted=0)
            if cm["modname"] == "bigbluebuttonbn":
                status.update(hascompletion=False, tracking=0, isautomatic=False, details=[])
            elif k < done_count:
                t += rng.randint(60, 1800)
                state = (2 if profile == "finished" else 3) if cm["modname"] == "quiz" else 1
                status.update(state=state, timecompleted=t)
            statuses.append(status)
        course.completions[uid] = statuses
        if profile == "finished":
            course.course_done[uid] = t
        if profile != "never":
            user.update(firstaccess=course.start + 600, lastaccess=t + 30, lastcourseaccess=t + 30)
        # quizzes: finished learners pass (second try for some), in-progress ones fail once
        position = {cm["id"]: k for k, cm in enumerate(course.cms)}
        first_open_quiz = next((q["id"] for q in course.quizzes if position[q["coursemodule"]] >= done_count), None)
        for quiz in course.quizzes:
            attempts = []
            reached = position[quiz["coursemodule"]] < done_count
            tries = (2 if rng.random() < 0.3 else 1) if profile == "finished" else (1 if reached else 0)
            for a in range(tries):
                attempt = copy.deepcopy(T_ATTEMPT)
                finish = t - 3600 + a * 900
                marks = 18 if (profile == "finished" and a == tries - 1) else 9
                attempt.update(id=quiz["id"] * 1000 + uid * 10 + a, quiz=quiz["id"], userid=uid, attempt=a + 1,
                               uniqueid=quiz["id"] * 1000 + uid * 10 + a, timestart=finish - 420, timefinish=finish,
                               timemodified=finish, sumgrades=marks, gradednotificationsenttime=finish)
                attempts.append(attempt)
            if profile == "progress" and quiz["id"] == first_open_quiz:  # started, not submitted
                attempt = copy.deepcopy(T_ATTEMPT)
                attempt.update(id=quiz["id"] * 1000 + uid * 10 + 9, quiz=quiz["id"], userid=uid, attempt=len(attempts) + 1,
                               state="inprogress", timestart=t, timefinish=0, timemodified=t, sumgrades=None,
                               gradednotificationsenttime=None)
                attempts.append(attempt)
            course.attempts[(quiz["id"], uid)] = attempts
        for cm in course.by_mod("scorm"):
            reached = position[cm["id"]] <= done_count
            count = (2 if rng.random() < 0.25 else 1) if profile == "finished" else (1 if reached and done_count else 0)
            course.scorm_attempts[(cm["instance"], uid)] = count
            sco = next(s for s in course.scoes[cm["instance"]] if s["scormtype"] == "sco")
            for a in range(1, count + 1):
                final = profile == "finished" and a == count
                status = "passed" if final else ("failed" if profile == "finished" else "incomplete")
                score = 90 if final else (50 if status == "failed" else "")
                modified = t - 7200 + a * 600
                values = {"score_raw": score, "status": status, "total_time": "00:00:00",
                          "session_time": f"00:{10 + a:02d}:{(uid % 60):02d}", "timemodified": str(modified),
                          "cmi.core.lesson_status": status, "cmi.core.score.raw": str(score),
                          "cmi.core.session_time": f"00:{10 + a:02d}:{(uid % 60):02d}",
                          "x.start.time": str(modified - 660), "userid": uid, "scoid": str(sco["id"])}
                tracks = []
                for track in T_TRACKS:
                    if track["element"] in values:
                        tracks.append({"element": track["element"], "value": values[track["element"]]})
                    elif track["element"] not in ("cmi.core.exit", "cmi.core.lesson_location"):
                        tracks.append(dict(track))
                course.tracks[(sco["id"], uid, a)] = tracks
        for cm in course.by_mod("assign"):
            sub = copy.deepcopy(T_SUBMISSION)
            submitted = profile == "finished"
            sub.update(id=cm["instance"] * 1000 + uid, userid=uid, timecreated=t - 600, timemodified=t - 500,
                       status="submitted" if submitted else "new", gradingstatus="graded" if submitted else "notgraded")
            course.submissions.setdefault(cm["instance"], []).append(sub)
        # grades
        grades: dict[int, tuple[float, int]] = {}
        for item in course.grade_items:
            mod = item["cm"]["modname"]
            if profile == "never":
                continue
            if mod == "quiz":
                tries = course.attempts[(item["cm"]["instance"], uid)]
                finished = [a for a in tries if a["state"] == "finished"]
                if finished:
                    grades[item["id"]] = (max(a["sumgrades"] for a in finished) * 5.0, finished[-1]["timefinish"])
            elif mod == "scorm":
                if profile == "finished":
                    grades[item["id"]] = (90.0, t - 6000)
            elif mod == "assign" and profile == "finished":
                grades[item["id"]] = (float(8 + uid % 12), grade_time)
        course.grades[uid] = grades
    # attendance: per instance, an AM session, a PM session and a full day (Paris time), taken by the teacher
    for a, cm in enumerate(course.by_mod("attendance")):
        day = start.date() + dt.timedelta(days=1 + a)
        slots = [(9, 0, 3 * 3600 + 1800), (14, 0, 3 * 3600 + 1800), (9, 0, 8 * 3600)]
        sessions = []
        for s, (hour, minute, duration) in enumerate(slots):
            begin = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS) + dt.timedelta(days=s // 2)
            sess_id = cm["instance"] * 10 + s + 1
            statuses = [{"id": sess_id * 10 + k + 1, "attendanceid": cm["instance"], "acronym": acr,
                         "description": desc, "grade": grade, "visible": 1, "deleted": 0, "setnumber": 0}
                        for k, (acr, desc, grade) in enumerate([("P", "Present", 2.0), ("A", "Absent", 0.0),
                                                                 ("L", "Late", 1.0), ("E", "Excused", 1.0)])]
            log = []
            for index, user in enumerate(course.learners):
                if index == len(course.learners) - 1 and learners > 2:
                    pick = 1  # the learner who never came is absent
                else:
                    pick = [0, 0, 0, 0, 2, 3, 1][(user["id"] + s) % 7]
                log.append({"studentid": user["id"], "statusid": str(statuses[pick]["id"]),
                            "remarks": "Arrivée 9 h 20" if pick == 2 else "", "id": str(sess_id * 1000 + user["id"])})
            taken = _ts(begin) + duration
            sessions.append({
                "id": sess_id, "attendanceid": cm["instance"], "groupid": 0, "sessdate": _ts(begin),
                "duration": duration, "lasttaken": taken, "lasttakenby": teacher, "timemodified": taken,
                "description": "Pratique conduite chariot" if s != 1 else "Théorie R489", "descriptionformat": 1,
                "studentscanmark": 0, "absenteereport": 1, "autoassignstatus": 0, "preventsharedip": 0,
                "preventsharediptime": 0, "statusset": 0, "includeqrcode": 0, "courseid": course_id,
                "statuses": statuses, "attendance_log": log,
                "users": [{"id": u["id"], "firstname": u["firstname"], "lastname": u["lastname"]}
                          for u in course.learners],
            })
        course.attendance[cm["instance"]] = sessions
    return course


class GeneratedMoodle:
    """Web-service answers computed from generated courses (same shapes as the recordings)."""

    def __init__(self, courses: list[Course]):
        self.courses = {c.id: c for c in courses}
        site = load_json(WS_DIR / "core_webservice_get_site_info.json")["response"]
        self._site = site
        self.functions = [f["name"] for f in site["functions"]] + ["mod_attendance_get_sessions"]

    def site_info(self) -> dict[str, Any]:
        return copy.deepcopy(self._site)

    def answer(self, function: str, fields: list[tuple[str, str]]) -> tuple[bool, Any]:
        handler = getattr(self, f"ws_{function}", None)
        if handler is None:
            return False, None
        try:
            return True, handler(parse_fields(fields))
        except LookupError:
            return True, recorded_error("nonexistent_course")

    # ------------------------------------------------------------------ helpers
    def _course(self, courseid: Any) -> Course:
        return self.courses[int(courseid)]

    def _course_json(self, c: Course, template: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(template)
        out.update(id=c.id, shortname=c.shortname, idnumber=c.idnumber, fullname=c.fullname, displayname=c.fullname,
                   startdate=c.start, enddate=c.start + 30 * 86400, timecreated=c.start - 86400 * 10,
                   timemodified=c.start - 86400 * 10)
        return out

    def _user(self, c: Course, uid: int) -> dict[str, Any]:
        return next(u for u in c.users if u["id"] == uid)

    def _cm_for(self, c: Course, modname: str, instance: int) -> dict[str, Any]:
        return next(cm for cm in c.cms if cm["modname"] == modname and cm["instance"] == instance)

    # ------------------------------------------------------------------ courses and users
    def ws_core_course_get_courses(self, p: dict[str, Any]) -> Any:
        ids = [int(i) for i in (p.get("options") or {}).get("ids", [])] or sorted(self.courses)
        return [self._course_json(self.courses[i], T_COURSE) for i in ids if i in self.courses]

    def ws_core_course_get_courses_by_field(self, p: dict[str, Any]) -> Any:
        found = [c for c in self.courses.values() if p.get("field") == "shortname" and c.shortname == p.get("value")]
        return {"courses": [self._course_json(c, T_COURSE_BY_FIELD) for c in found], "warnings": []}

    def ws_core_enrol_get_enrolled_users(self, p: dict[str, Any]) -> Any:
        c = self._course(p["courseid"])
        out = []
        for u in c.users:
            user = copy.deepcopy(T_USER)
            user.update({k: u[k] for k in ("id", "username", "firstname", "lastname", "fullname", "email", "idnumber",
                                            "firstaccess", "lastaccess", "lastcourseaccess")})
            user["roles"] = [{"roleid": 5 if u["role"] == "student" else 3, "name": "", "shortname": u["role"],
                              "sortorder": 0}]
            user["enrolledcourses"] = [{"id": c.id, "fullname": c.fullname, "shortname": c.shortname}]
            out.append(user)
        return out

    def ws_core_course_get_contents(self, p: dict[str, Any]) -> Any:
        c = self._course(p["courseid"])
        section = copy.deepcopy(T_SECTION)
        section.update(id=c.id * 10, name="Parcours", section=1)
        modules = []
        for cm in c.cms:
            module = copy.deepcopy(T_MODULE)
            module.update(id=cm["id"], instance=cm["instance"], name=cm["name"], modname=cm["modname"],
                          url=f"http://127.0.0.1:8080/mod/{cm['modname']}/view.php?id={cm['id']}",
                          modplural=cm["modname"].capitalize() + "s")
            modules.append(module)
        section["modules"] = modules
        return [section]

    # ------------------------------------------------------------------ completion
    def ws_core_completion_get_activities_completion_status(self, p: dict[str, Any]) -> Any:
        c = self._course(p["courseid"])
        uid = int(p["userid"])
        if uid not in c.completions:
            return recorded_error("nonexistent_user_completion")
        return {"statuses": copy.deepcopy(c.completions[uid]), "warnings": []}

    def ws_core_completion_get_course_completion_status(self, p: dict[str, Any]) -> Any:
        c = self._course(p["courseid"])
        uid = int(p["userid"])
        if uid not in c.completions:
            return recorded_error("user_not_enrolled_course_completion")
        criteria = []
        for status in c.completions[uid]:
            if not status.get("hascompletion", True):
                continue
            criterion = copy.deepcopy(T_CRITERION)
            done = status["state"] > 0
            criterion.update(status="Yes" if done else "No", complete=done,
                             timecompleted=status["timecompleted"] if done else None)
            criteria.append(criterion)
        return {"completionstatus": {"completed": uid in c.course_done, "aggregation": 1, "completions": criteria},
                "warnings": []}

    # ------------------------------------------------------------------ grades
    def ws_gradereport_user_get_grade_items(self, p: dict[str, Any]) -> Any:
        c = self._course(p["courseid"])
        uids = [int(p["userid"])] if p.get("userid") not in (None, "0") else [u["id"] for u in c.learners]
        usergrades = []
        for uid in uids:
            user = self._user(c, uid)
            entry = copy.deepcopy(T_USERGRADE)
            entry.update(courseid=c.id, courseidnumber=c.idnumber, userid=uid, userfullname=user["fullname"],
                         useridnumber=user["idnumber"])
            items, total, latest = [], 0.0, None
            for gi in c.grade_items:
                item = copy.deepcopy(T_GRADE_ITEM)
                grade = c.grades.get(uid, {}).get(gi["id"])
                cm = gi["cm"]
                item.update(id=gi["id"], itemname=cm["name"], itemmodule=cm["modname"], iteminstance=cm["instance"],
                            cmid=cm["id"], grademax=gi["grademax"], rangeformatted=f"0&ndash;{gi['grademax']}")
                if grade is None:
                    item.update(graderaw=None, gradedategraded=None, gradedatesubmitted=None, gradeformatted="-",
                                percentageformatted="-")
                else:
                    value, when = grade
                    text = f"{value:.2f}"
                    if gi["gradepass"]:
                        text = (PASS_ICON if value >= gi["gradepass"] else FAIL_ICON).format(grade=text)
                    item.update(graderaw=value, gradedategraded=when, gradedatesubmitted=when if cm["modname"] == "quiz" else None,
                                gradeformatted=text, percentageformatted=f"{value * 100 / gi['grademax']:.2f} %")
                    total += value
                    latest = max(latest or 0, when)
                items.append(item)
            course_item = copy.deepcopy(T_COURSE_ITEM)
            course_item.update(id=c.id * 1000, iteminstance=c.id, grademax=sum(g["grademax"] for g in c.grade_items))
            if latest is None:
                course_item.update(graderaw=None, gradedategraded=None, gradeformatted="-")
            else:
                course_item.update(graderaw=total, gradedategraded=latest, gradeformatted=f"{total:.2f}")
            items.append(course_item)
            entry["gradeitems"] = items
            usergrades.append(entry)
        return {"usergrades": usergrades, "warnings": []}

    # ------------------------------------------------------------------ quizzes
    def ws_mod_quiz_get_quizzes_by_courses(self, p: dict[str, Any]) -> Any:
        ids = [int(i) for i in p.get("courseids", [])]
        return {"quizzes": [copy.deepcopy(q) for i in ids if i in self.courses for q in self.courses[i].quizzes],
                "warnings": []}

    def ws_mod_quiz_get_user_attempts(self, p: dict[str, Any]) -> Any:
        quiz, uid = int(p["quizid"]), int(p["userid"])
        for c in self.courses.values():
            if any(q["id"] == quiz for q in c.quizzes):
                attempts = c.attempts.get((quiz, uid), [])
                if p.get("status") == "finished":
                    attempts = [a for a in attempts if a["state"] == "finished"]
                return {"attempts": copy.deepcopy(attempts), "warnings": []}
        return recorded_error("nonexistent_quiz")

    def ws_mod_quiz_get_user_best_grade(self, p: dict[str, Any]) -> Any:
        quiz, uid = int(p["quizid"]), int(p["userid"])
        for c in self.courses.values():
            found = next((q for q in c.quizzes if q["id"] == quiz), None)
            if found is not None:
                finished = [a for a in c.attempts.get((quiz, uid), []) if a["state"] == "finished"]
                out: dict[str, Any] = {"hasgrade": bool(finished), "warnings": []}
                if finished:
                    out["grade"] = max(a["sumgrades"] for a in finished) * found["grade"] / found["sumgrades"]
                out["gradetopass"] = c.gradepass[quiz]
                return out
        return recorded_error("nonexistent_quiz")

    # ------------------------------------------------------------------ SCORM
    def ws_mod_scorm_get_scorm_scoes(self, p: dict[str, Any]) -> Any:
        scorm = int(p["scormid"])
        for c in self.courses.values():
            if scorm in c.scoes:
                return {"scoes": copy.deepcopy(c.scoes[scorm]), "warnings": []}
        return recorded_error("nonexistent_course")

    def ws_mod_scorm_get_scorm_attempt_count(self, p: dict[str, Any]) -> Any:
        scorm, uid = int(p["scormid"]), int(p["userid"])
        for c in self.courses.values():
            if scorm in c.scoes:
                return {"attemptscount": c.scorm_attempts.get((scorm, uid), 0), "warnings": []}
        return recorded_error("nonexistent_course")

    def ws_mod_scorm_get_scorm_sco_tracks(self, p: dict[str, Any]) -> Any:
        sco, uid, attempt = int(p["scoid"]), int(p["userid"]), int(p.get("attempt") or 1)
        for c in self.courses.values():
            tracks = c.tracks.get((sco, uid, attempt))
            if tracks is not None:
                return {"data": {"attempt": attempt, "tracks": copy.deepcopy(tracks)}, "warnings": []}
        return {"data": {"attempt": attempt, "tracks": []},
                "warnings": [{"item": "attempt", "itemid": attempt, "warningcode": "notattempted",
                              "message": "Not attempted"}]}

    # ------------------------------------------------------------------ assignments, attendance, BigBlueButton
    def ws_mod_assign_get_submissions(self, p: dict[str, Any]) -> Any:
        ids = [int(i) for i in p.get("assignmentids", [])]
        out = []
        for c in self.courses.values():
            for assign in ids:
                if assign in c.submissions:
                    out.append({"assignmentid": assign, "submissions": copy.deepcopy(c.submissions[assign])})
        return {"assignments": out, "warnings": []}

    def ws_mod_attendance_get_sessions(self, p: dict[str, Any]) -> Any:
        attendance = int(p["attendanceid"])
        for c in self.courses.values():
            if attendance in c.attendance:
                return copy.deepcopy(c.attendance[attendance])
        return {"exception": "invalid_parameter_exception", "errorcode": "invalidparameter",
                "message": "Invalid parameter value detected"}

    def ws_mod_bigbluebuttonbn_get_bigbluebuttonbns_by_courses(self, p: dict[str, Any]) -> Any:
        ids = [int(i) for i in p.get("courseids", [])]
        return {"bigbluebuttonbns": [copy.deepcopy(b) for i in ids if i in self.courses for b in self.courses[i].bbb],
                "warnings": []}


# --------------------------------------------------------------------------- log rows for benchmarks


def log_rows(n_rows: int, *, users: int = 500, courses: tuple[int, ...] = (12,), cms_per_course: int = 30,
             start_id: int = 1, start: dt.datetime | None = None, seed: int = 11) -> Iterator[tuple]:
    """Stream ``n_rows`` log rows (tuples in :data:`tests.fakes.moodle_db.LOG_INSERT_COLUMNS` order).

    Learners work in sessions: log-in, dashboard, course page, a few activities (views, file
    downloads, completions, quiz submissions, now and then a BigBlueButton class), then a log-out
    or nothing (an abandoned session). Time only moves forward, as on a live site.
    """
    rng = random.Random(seed)
    now = int((start or dt.datetime(2026, 9, 1, 7, 0, tzinfo=dt.timezone.utc)).timestamp())
    log_id = start_id
    made = 0
    first_user = 1000
    modules = ["page", "resource", "quiz", "url", "scorm", "assign", "bigbluebuttonbn"]

    def row(name: str, component: str, user: int, course: int, *, ctxlevel: int = 50, cm: int = 0,
            objecttable: str | None = None, objectid: int | None = None, related: int | None = None,
            other: Any = None, crud: str = "r") -> tuple:
        nonlocal log_id, made
        out = (log_id, name, component, "", "", objecttable, objectid, crud, 2, 1, ctxlevel, cm or course, user,
               course, related, 0, json.dumps(other) if other is not None else "null", now, "web", "10.0.0.1", None)
        log_id += 1
        made += 1
        return out

    while made < n_rows:
        user = first_user + rng.randrange(users)
        course = rng.choice(courses)
        base_cm = course * 100
        yield row("\\core\\event\\user_loggedin", "core", user, 0, ctxlevel=10, objecttable="user", objectid=user,
                  other={"username": f"u{user}"})
        now += rng.randint(1, 3)
        yield row("\\core\\event\\dashboard_viewed", "core", user, 0, ctxlevel=30)
        for _ in range(rng.randint(3, 14)):
            if made >= n_rows:
                break
            now += rng.randint(5, 600)
            cm = base_cm + rng.randrange(cms_per_course)
            module = modules[cm % len(modules)]
            if module == "bigbluebuttonbn" and rng.random() < 0.3:
                yield row("\\mod_bigbluebuttonbn\\event\\meeting_joined", "mod_bigbluebuttonbn", user, course,
                          ctxlevel=70, cm=cm, objecttable="bigbluebuttonbn", objectid=cm)
                now += rng.randint(1200, 5400)
                yield row("\\mod_bigbluebuttonbn\\event\\meeting_left", "mod_bigbluebuttonbn", user, course,
                          ctxlevel=70, cm=cm, objecttable="bigbluebuttonbn", objectid=cm)
                continue
            yield row(f"\\mod_{module}\\event\\course_module_viewed", f"mod_{module}", user, course, ctxlevel=70, cm=cm,
                      objecttable=module, objectid=cm)
            if rng.random() < 0.3:
                yield row("\\core\\event\\course_module_completion_updated", "core", user, course, ctxlevel=70, cm=cm,
                          objecttable="course_modules_completion", objectid=log_id, related=user,
                          other={"relateduserid": user, "overrideby": None, "completionstate": 1}, crud="u")
            if module == "quiz" and rng.random() < 0.5:
                now += rng.randint(60, 900)
                yield row("\\mod_quiz\\event\\attempt_submitted", "mod_quiz", user, course, ctxlevel=70, cm=cm,
                          objecttable="quiz_attempts", objectid=log_id, related=user, crud="u",
                          other={"submitterid": user, "quizid": cm})
        if rng.random() < 0.6 and made < n_rows:
            now += rng.randint(5, 120)
            yield row("\\core\\event\\user_loggedout", "core", user, 0, ctxlevel=10, objecttable="user", objectid=user)
        now += rng.randint(0, 90)

"""The log store on real PostgreSQL and MariaDB servers, with Moodle's own schema.

The recorded rows are those of tests/fixtures/moodle/db/rows; every expected value below
was read off mdl_logstore_standard_log.csv by hand (row ids in the comments), e.g. Zoé's first
session: log-in row 106 at 08:12:00, log-out row 121 at 08:12:18, 16 rows.
"""

from __future__ import annotations

from collections import Counter

import pytest

from hub.errors import AuthError, ConnectorConfigError, RetryableError
from tests.connectors.moodle.conftest import PinnedMoodle, connector, iso, sync, ts
from tests.fakes.moodle import TOKEN, FakeMoodle, RecordedMoodle, running
from tests.fakes.moodle_db import (
    LOG_TABLE,
    LOGSTORE_TABLES,
    add_log_rows,
    connect,
    dialect_of,
    insert_rows,
    mariadb_database,
    postgres_schema,
)

DIALECTS = ["postgresql", "mariadb"]
ZOE, JEROME, FRANCOISE, MAELLE, HELENE = 4, 5, 6, 7, 8


@pytest.fixture(params=DIALECTS)
def moodle_db(request):
    """The recorded Moodle database (shared by this module's tests: they only read it)."""
    return request.getfixturevalue("pg_moodle" if request.param == "postgresql" else "mariadb_moodle")


def fresh(dialect: str):
    factory = postgres_schema if dialect == "postgresql" else mariadb_database
    return factory(LOGSTORE_TABLES)


def sessions_of(run, user: int) -> list[tuple[str, str, int, str]]:
    return sorted((e["data"]["start"], e["data"]["end"], e["data"]["duration_seconds"], e["data"]["details"]["closed_by"])
                  for e in run.of("lms.session", learner=user))


async def test_connection_sessions_of_the_scenario(moodle_db, tmp_path):
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": moodle_db, "page_size": 50}) as moodle:
        run = await sync(moodle)
    assert not run.rejects
    # Zoé, 2026-03-02: log-in (row 106) 08:12:00 → log-out (row 121) 08:12:18
    zoe_first = run.by_id("session:4:106")
    assert zoe_first["data"]["start"] == iso("2026-03-02 08:12:00")
    assert zoe_first["data"]["end"] == iso("2026-03-02 08:12:18")
    assert zoe_first["data"]["duration_seconds"] == 18
    assert zoe_first["data"]["details"] | {"courses": None} == {
        "events": 16, "opened_by": "login", "closed_by": "logout", "first_log_id": 106, "last_log_id": 121,
        "courses": None}
    assert zoe_first["action"] == "SST-2026-03"
    assert zoe_first["learner"] == {"ref": "4", "email": "zoe.lhermite@example.org", "name": "Zoé L'Hermite",
                                    "ids": {"moodle_user": "4", "idnumber": "MAT-10482"}}
    assert sessions_of(run, ZOE) == [
        (iso("2026-03-02 08:12:00"), iso("2026-03-02 08:12:18"), 18, "logout"),
        (iso("2026-03-03 09:20:00"), iso("2026-03-03 09:20:11"), 11, "inactivity"),  # abandoned after the quiz review
        (iso("2026-03-05 14:10:00"), iso("2026-03-05 14:22:44"), 764, "logout"),     # a 12-minute pause inside
        (iso("2026-03-10 18:20:00"), iso("2026-03-10 18:20:13"), 13, "logout"),
    ]
    # Jérôme, 2026-03-02: no log-out, the session was abandoned after row 129 (08:41:42)
    assert sessions_of(run, JEROME) == [
        (iso("2026-03-02 08:41:30"), iso("2026-03-02 08:41:42"), 12, "inactivity"),
        (iso("2026-03-03 10:02:00"), iso("2026-03-03 10:06:20"), 260, "logout"),      # a 4-minute SCORM pause inside
        (iso("2026-03-05 13:30:00"), iso("2026-03-05 13:41:10"), 670, "logout"),
    ]
    # Françoise: the failed log-in of row 130 (13:05:10) opens nothing; the session starts at row 131
    assert sessions_of(run, FRANCOISE) == [
        (iso("2026-03-02 13:05:14"), iso("2026-03-02 13:05:30"), 16, "logout"),
        (iso("2026-03-05 15:02:30"), iso("2026-03-05 15:09:49"), 439, "inactivity"),  # quiz left in progress
    ]
    assert run.by_id("session:6:131")["data"]["details"]["first_log_id"] == 131
    assert not [e for e in run.events if e["source_id"] == "session:6:130"]
    assert sessions_of(run, HELENE) == [(iso("2026-03-09 07:45:00"), iso("2026-03-09 07:52:20"), 440, "logout")]
    assert not run.of("lms.session", learner=MAELLE), "Maëlle never logged in"


async def test_inactivity_gap_is_configurable(moodle_db, tmp_path):
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": moodle_db, "inactivity_gap": "5m"}) as moodle:
        run = await sync(moodle)
    zoe_0305 = [s for s in sessions_of(run, ZOE) if s[0].startswith("2026-03-05")]
    # rows 234 (14:10:01) and 235 (14:22:40): 12 min 39 s apart, more than 5 minutes
    assert zoe_0305 == [(iso("2026-03-05 14:10:00"), iso("2026-03-05 14:10:01"), 1, "inactivity"),
                        (iso("2026-03-05 14:22:40"), iso("2026-03-05 14:22:44"), 4, "logout")]
    # Jérôme's SCORM pause, rows 175 (10:02:07) → 176 (10:06:10): 4 min 3 s, less than 5 minutes
    assert (iso("2026-03-03 10:02:00"), iso("2026-03-03 10:06:20"), 260, "logout") in sessions_of(run, JEROME)


async def test_activity_events_and_results_from_the_log(moodle_db, tmp_path):
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": moodle_db, "ignore_users": [2]}) as moodle:
        run = await sync(moodle)
    assert not [e for e in run.events if e["learner"]["ref"] == "2"], "the admin is ignored"
    # rows 114, 138, 167: the PDF (cm 4) downloaded by Zoé, Françoise, Jérôme
    downloads = {e["source_id"]: (e["learner"]["ref"], e["data"]["resource"], e["occurred_at"])
                 for e in run.of("lms.resource_downloaded")}
    assert downloads == {"log:114": ("4", "cm:4", iso("2026-03-02 08:12:14")),
                         "log:138": ("6", "cm:4", iso("2026-03-02 13:05:28")),
                         "log:167": ("5", "cm:4", iso("2026-03-03 10:02:03"))}
    # enrolments, rows 64–72 (course 3) and 377, 379 (course 4), and row 2x of FA101's earlier setup
    zoe_enrolment = run.by_id("enrolment:2")
    assert zoe_enrolment["learner"]["ref"] == "4" and zoe_enrolment["occurred_at"] == iso("2026-02-23 09:00:07")
    assert zoe_enrolment["data"]["details"] == {"method": "manual", "enrolled_by": 2}
    # without web services, results come from the log, under the same source ids
    assert run.by_id("course_completed:3:5")["occurred_at"] == iso("2026-03-05 13:41:09")  # row 222
    assert run.by_id("course_completed:3:4")["occurred_at"] == iso("2026-03-05 14:22:44")  # row 242
    # the log keeps what web services cannot: Jérôme's quiz first failed (row 185), then passed (row 209)
    assert run.by_id("completion:7:5:fail")["data"]["state"] == "fail"
    assert run.by_id("completion:7:5:pass")["data"]["state"] == "pass"
    assert run.by_id("log:226")["type"] == "moodle.work_submitted"  # Jérôme's assignment, 13:41:09
    jerome_quiz = run.by_id("quiz_attempt:2")["data"]  # row 188, attempt row 2 of mdl_quiz_attempts
    assert jerome_quiz["attempt"] == 1 and jerome_quiz["started_at"] == iso("2026-03-03 10:06:12")
    assert jerome_quiz["finished_at"] == iso("2026-03-03 10:06:16")
    if dialect_of(moodle_db) == "postgresql":  # mdl_quiz (the quiz's scale) is in the PostgreSQL fixtures only
        assert (jerome_quiz["score"], jerome_quiz["max_score"], jerome_quiz["passed"]) == ("5", "10", False)
    else:
        assert "score" not in jerome_quiz and jerome_quiz["details"]["raw_sumgrades"] == "5"
    views = run.of("moodle.activity_viewed")
    assert run.by_id("log:148")["data"] == {"activity": "cm:6", "activity_type": "scorm", "verb": "launched"}
    assert len(views) == 31


async def test_same_facts_under_the_same_ids_as_web_services(pg_moodle, tmp_path):
    """Log-only and web-service modes agree on the facts both can see (the hub keeps one)."""
    async with running(FakeMoodle(RecordedMoodle())) as fake:
        async with connector(tmp_path, url=fake.url, token=TOKEN, courses=[3]) as moodle:
            ws = await sync(moodle)
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": pg_moodle}) as moodle:
        log = await sync(moodle)
    ws_ids = {e["source_id"]: e for e in ws.events}
    log_ids = {e["source_id"]: e for e in log.events}
    shared = set(ws_ids) & set(log_ids)
    assert {"course_completed:3:4", "course_completed:3:5", "quiz_attempt:1", "quiz_attempt:2", "quiz_attempt:3",
            "completion:3:4:complete", "completion:8:5:complete"} <= shared
    for sid in ("quiz_attempt:2", "quiz_attempt:3"):
        assert ws_ids[sid]["data"] == log_ids[sid]["data"], sid
    # completions seen by web services (current state) are all in the log too
    assert {s for s in ws_ids if s.startswith("completion:")} <= set(log_ids)


async def test_with_web_services_the_log_adds_only_what_they_cannot_see(pg_moodle, tmp_path):
    async with running(FakeMoodle(RecordedMoodle())) as fake:
        async with connector(tmp_path, PinnedMoodle, url=fake.url, token=TOKEN, courses=[3],
                             logstore={"dsn": pg_moodle, "ignore_users": [2]}) as moodle:
            run = await sync(moodle)
    assert len(run.pages) == 2  # the course, then the log
    ws_page, log_page = run.pages[0].events, run.pages[1].events
    # course 3 only (`courses`): its 5 enrolments; the sessions of Zoé (4), Jérôme (3), Françoise (2), Hélène (1);
    # the completions too (every learner's, as soon as they are logged), no scores (web services give them)
    assert Counter(e["type"] for e in log_page) == {"moodle.activity_viewed": 31, "lms.session": 10,
                                                     "enrolment.registered": 5, "lms.resource_downloaded": 3,
                                                     "lms.activity_completed": 16, "enrolment.completed": 2}
    # the same completions as web services, under the same ids, plus Jérôme's failed quiz (row 185) that
    # web services no longer show (he passed it since)
    ws_done = {e["source_id"] for e in ws_page if e["type"] in ("lms.activity_completed", "enrolment.completed")}
    log_done = {e["source_id"] for e in log_page if e["type"] in ("lms.activity_completed", "enrolment.completed")}
    assert log_done - ws_done == {"completion:7:5:fail"} and ws_done <= log_done


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_incremental_with_a_session_open_between_two_runs(dialect, tmp_path):
    """Rows up to 260 first (Françoise mid-session), the rest later: the same sessions as one pass."""
    with fresh(dialect) as dsn:
        with connect(dsn) as cur:
            cur.execute(f"SELECT * FROM {LOG_TABLE} WHERE id > 260 ORDER BY id")
            later = [list(r) for r in cur.fetchall()]
            columns = [d[0] for d in cur.description]
            cur.execute(f"DELETE FROM {LOG_TABLE} WHERE id > 260")
        async with connector(tmp_path, PinnedMoodle, logstore={"dsn": dsn, "page_size": 40}) as moodle:
            moodle.clock = lambda: ts("2026-03-05 15:05:00")  # the log has been read up to now
            first = await sync(moodle)
            open_state = first.cursor["log"]["state"]["open"]
            assert set(open_state) == {"6"}, "Françoise is still connected (last event 15:02:34 at row 260)"
            assert not first.of("lms.session", learner=FRANCOISE)[1:], "only her 2026-03-02 session is closed"
            again = await sync(moodle, first.cursor)
            assert again.events == []
            with connect(dsn) as cur:
                insert_rows(cur, dialect_of(dsn), LOG_TABLE, columns, later)
            moodle.clock = PinnedMoodle.clock
            rest = await sync(moodle, first.cursor)
    session = rest.by_id("session:6:252")
    assert (session["data"]["start"], session["data"]["end"]) == (iso("2026-03-05 15:02:30"), iso("2026-03-05 15:09:49"))
    assert not set(e["source_id"] for e in first.events) & set(e["source_id"] for e in rest.events)
    assert rest.cursor["log"]["last_id"] == 383 and rest.cursor["log"]["state"] == {"open": {}, "vc": {}}


def _second_data_set(dsn: str) -> None:
    """Another course (21), other learners (501–503), a BigBlueButton class, the mobile app, 'log in as'."""
    with connect(dsn) as cur:
        d = dialect_of(dsn)
        insert_rows(cur, d, "mdl_course", ["id", "category", "fullname", "shortname", "idnumber"],
                    [[21, 1, "CACES® R489 — novembre", "CACES-R489-2026-11", "ACT-0021"]])
        insert_rows(cur, d, "mdl_user", ["id", "username", "firstname", "lastname", "email", "idnumber"],
                    [[501, "amina.kone", "Amina", "Koné", "amina.kone@example.org", "STG-501"],
                     [502, "bastien.roy", "Bastien", "Roy", "bastien.roy@example.org", ""],
                     [503, "claire.formatrice", "Claire", "Vidal", "claire.vidal@example.org", "FORM-7"]])
    bbb, pdf, page = "\\mod_bigbluebuttonbn\\event\\", "\\mod_resource\\event\\", "\\mod_page\\event\\"

    def at(clock: str) -> int:
        return ts(f"2026-11-02 {clock}")

    rows = [
        dict(id=1001, eventname="\\core\\event\\user_loggedin", userid=501, contextlevel=10, timecreated=at("13:55:00")),
        dict(id=1002, eventname="\\core\\event\\course_viewed", userid=501, courseid=21, timecreated=at("13:55:10")),
        dict(id=1003, eventname=bbb + "meeting_joined", component="mod_bigbluebuttonbn", userid=501, courseid=21,
             contextlevel=70, contextinstanceid=2101, timecreated=at("13:58:00")),
        dict(id=1004, eventname=bbb + "meeting_left", component="mod_bigbluebuttonbn", userid=501, courseid=21,
             contextlevel=70, contextinstanceid=2101, timecreated=at("15:31:00")),
        dict(id=1005, eventname=pdf + "course_module_viewed", component="mod_resource", userid=501, courseid=21,
             contextlevel=70, contextinstanceid=2102, timecreated=at("15:31:30")),
        dict(id=1006, eventname="\\core\\event\\user_loggedout", userid=501, contextlevel=10, timecreated=at("15:32:00")),
        dict(id=1007, eventname="\\core\\event\\user_loggedin", userid=502, contextlevel=10, timecreated=at("14:00:00")),
        dict(id=1008, eventname=bbb + "meeting_joined", component="mod_bigbluebuttonbn", userid=502, courseid=21,
             contextlevel=70, contextinstanceid=2101, timecreated=at("14:01:00")),
        dict(id=1009, eventname=bbb + "meeting_ended", component="mod_bigbluebuttonbn", userid=503, courseid=21,
             contextlevel=70, contextinstanceid=2101, timecreated=at("15:40:00")),
        # Claire (503) "logs in as" Amina and opens a page: not Amina's presence
        dict(id=1010, eventname=page + "course_module_viewed", component="mod_page", userid=501, courseid=21,
             contextlevel=70, contextinstanceid=2103, realuserid=503, timecreated=at("16:30:00")),
        # Amina on the mobile app (origin ws), then a cron row (origin cli)
        dict(id=1011, eventname="\\core\\event\\course_viewed", userid=501, courseid=21, origin="ws",
             timecreated=at("18:00:00")),
        dict(id=1012, eventname=page + "course_module_viewed", component="mod_page", userid=501, courseid=21,
             contextlevel=70, contextinstanceid=2103, origin="ws", timecreated=at("18:04:00")),
        dict(id=1013, eventname="\\core\\event\\course_viewed", userid=501, courseid=21, origin="cli",
             timecreated=at("19:00:00")),
    ]
    add_log_rows(dsn, rows)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_second_data_set_live_class_presence(dialect, tmp_path):
    with fresh(dialect) as dsn:
        _second_data_set(dsn)
        async with connector(tmp_path, PinnedMoodle, courses=["CACES-R489-2026-11"], action_from="idnumber",
                             logstore={"dsn": dsn, "start_after_id": 1000}) as moodle:
            run = await sync(moodle)
    assert not run.rejects
    amina = run.by_id("vc:501:1003")
    assert amina["type"] == "lms.virtual_class_attended" and amina["action"] == "ACT-0021"
    assert amina["data"] | {"details": None} == {
        "meeting": "cm:2101", "joined_at": iso("2026-11-02 13:58:00"), "left_at": iso("2026-11-02 15:31:00"),
        "duration_seconds": 5580, "details": None}
    assert amina["learner"]["email"] == "amina.kone@example.org" and amina["learner"]["name"] == "Amina Koné"
    bastien = run.by_id("vc:502:1008")["data"]
    assert (bastien["left_at"], bastien["duration_seconds"], bastien["details"]["closed_by"]) == (
        iso("2026-11-02 15:40:00"), 5940, "meeting_ended")
    assert run.by_id("vc:502:1008")["learner"] == {"ref": "502", "email": "bastien.roy@example.org",
                                                    "name": "Bastien Roy", "ids": {"moodle_user": "502"}}
    # 93 minutes without a logged event, yet one session: Amina was in the class
    assert sessions_of(run, 501) == [
        (iso("2026-11-02 13:55:00"), iso("2026-11-02 15:32:00"), 5820, "logout"),
        (iso("2026-11-02 18:00:00"), iso("2026-11-02 18:04:00"), 240, "inactivity"),  # mobile app; not 16:30, not 19:00
    ]
    assert sessions_of(run, 502) == [(iso("2026-11-02 14:00:00"), iso("2026-11-02 15:40:00"), 6000, "inactivity")]
    assert run.by_id("log:1005")["type"] == "lms.resource_downloaded"
    assert not [e for e in run.events if e["source_id"] == "log:1010"], "a visit 'logged in as' is not Amina's"
    assert {e["action"] for e in run.events if e["type"] != "lms.session"} == {"ACT-0021"}


async def test_errors_are_classified(pg_moodle, tmp_path):
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": pg_moodle, "table_prefix": "moodle_"}) as moodle:
        health = await moodle.check()
        with pytest.raises(ConnectorConfigError, match="table_prefix"):
            await moodle.pull(None)
    assert not health.ok and "table_prefix" in health.message
    stranger = pg_moodle.replace("postgres@", "stranger:s3cret-pw@")
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": stranger}) as moodle:
        with pytest.raises(AuthError) as raised:
            await moodle.pull(None)
    assert "s3cret-pw" not in str(raised.value)
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": "postgresql://u:pw-0123@127.0.0.1:9/moodle",
                                                           "timeout": "3s"}) as moodle:
        with pytest.raises(RetryableError):
            await moodle.pull(None)


async def test_mariadb_auth_error(mariadb_moodle, tmp_path):
    stranger = mariadb_moodle.replace("root@", "stranger:s3cret-pw@")
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": stranger}) as moodle:
        health = await moodle.check()
        with pytest.raises(AuthError):
            await moodle.pull(None)
    assert not health.ok and "refused the credentials" in health.message and "s3cret-pw" not in health.message


async def test_the_session_is_read_only(moodle_db, tmp_path):
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": moodle_db}) as moodle:
        await moodle.check()
        with pytest.raises(Exception) as raised:
            moodle.db._query(f"DELETE FROM {LOG_TABLE} WHERE id = 1", (), "write")
    assert "read" in str(raised.value).lower() and "only" in str(raised.value).lower()
    async with connector(tmp_path, PinnedMoodle, logstore={"dsn": moodle_db}) as moodle:
        assert (await moodle.check()).message.endswith("last log id 383)")



async def test_the_newest_rows_wait_for_the_next_pull(pg_moodle, tmp_path):
    """At the live end of the log, rows of the last `tail_guard` seconds are left for later: a row
    committed late with a smaller id (concurrent requests) must not be skipped by `id > last`."""
    with fresh("postgresql") as dsn:
        _second_data_set(dsn)
        async with connector(tmp_path, PinnedMoodle, logstore={"dsn": dsn, "start_after_id": 1000}) as moodle:
            moodle.clock = lambda: ts("2026-11-02 15:31:35")  # 5 s after row 1005
            first = await sync(moodle)
            assert first.cursor["log"]["last_id"] == 1004
            assert not [e for e in first.events if e["source_id"] == "log:1005"]
            moodle.clock = PinnedMoodle.clock
            rest = await sync(moodle, first.cursor)
    assert rest.by_id("log:1005")["type"] == "lms.resource_downloaded"
    assert rest.cursor["log"]["last_id"] == 1013


def _override_row(log_id: int, learner: int, cmid: int, state: int, at: int, teacher: int = HELENE) -> dict:
    """``course_module_completion_updated`` as Moodle logs a teacher's override: userid is the teacher,
    relateduserid the learner (rows 111–257 of the recording have the same shape)."""
    import json

    return {"id": log_id, "eventname": "\\core\\event\\course_module_completion_updated", "component": "core",
            "action": "updated", "target": "course_module_completion", "objecttable": "course_modules_completion",
            "objectid": 900 + log_id, "crud": "u", "contextid": 20, "contextlevel": 70, "contextinstanceid": cmid,
            "userid": teacher, "courseid": 3, "relateduserid": learner,
            "other": json.dumps({"relateduserid": learner, "overrideby": teacher, "completionstate": state}),
            "timecreated": at}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_teacher_override_arrives_from_the_log_next_to_web_services(dialect, tmp_path):
    """Maëlle never opened the course, Françoise never came back: web services do not poll them on
    this round, the log has the teacher's overrides at once, under the learner (relateduserid)."""
    at = ts("2026-11-28 07:40:00")
    with fresh(dialect) as dsn:
        add_log_rows(dsn, [_override_row(1001, MAELLE, 3, 1, at), _override_row(1002, FRANCOISE, 7, 1, at + 5)])
        async with running(FakeMoodle(RecordedMoodle())) as fake:
            async with connector(tmp_path, PinnedMoodle, url=fake.url, token=TOKEN, courses=[3],
                                 logstore={"dsn": dsn, "ignore_users": [2]}) as moodle:
                run = await sync(moodle)
    maelle = run.by_id(f"completion:3:{MAELLE}:complete")
    assert maelle["learner"]["ref"] == str(MAELLE) and maelle["learner"]["name"] == "Maëlle Brûlé"
    assert maelle["data"] == {"activity": "cm:3", "state": "complete", "details": {"overridden_by": HELENE}}
    assert maelle["occurred_at"] == iso("2026-11-28 07:40:00") and maelle["action"] == "SST-2026-03"
    assert run.by_id(f"completion:7:{FRANCOISE}:complete")["learner"]["ref"] == str(FRANCOISE)
    assert not [e for e in run.events if e["type"] == "lms.activity_completed" and e["learner"]["ref"] == str(HELENE)]


def override_francoise(fake: FakeMoodle, at: int) -> None:
    """Hélène marks Françoise's quiz (cm 7) complete: Moodle writes the completion record at ``at``."""
    for key, value in fake.backend.answers.items():
        if key[0] == "core_completion_get_activities_completion_status" and ("userid", "6") in key[1]:
            next(s for s in value["statuses"] if s["cmid"] == 7).update(state=1, timecompleted=at, overrideby=HELENE)


async def test_an_override_has_one_id_from_web_services_and_from_the_log(pg_moodle, tmp_path):
    """Moodle writes the completion record, then logs the event: here one second later (…:1991 and
    …:1992 in the field). The fact is the same, so is its id."""
    written = ts("2026-03-10 19:05:31")
    async with running(FakeMoodle(RecordedMoodle())) as fake:
        override_francoise(fake, written)
        async with connector(tmp_path, url=fake.url, token=TOKEN, courses=[3]) as moodle:
            ws = await sync(moodle)
    with fresh("postgresql") as dsn:
        add_log_rows(dsn, [_override_row(1001, FRANCOISE, 7, 1, written + 1)])
        async with connector(tmp_path, PinnedMoodle, logstore={"dsn": dsn}) as moodle:
            log = await sync(moodle)
    [from_ws] = [e for e in ws.of("lms.activity_completed", learner=FRANCOISE) if e["data"]["activity"] == "cm:7"]
    [from_log] = [e for e in log.of("lms.activity_completed", learner=FRANCOISE) if e["data"]["activity"] == "cm:7"]
    assert from_ws["occurred_at"] != from_log["occurred_at"]
    assert from_ws["source_id"] == from_log["source_id"] == f"completion:7:{FRANCOISE}:complete"


#: the cursor the former version (ids ``completion:<cmid>:<user>:<time>``) left after a full sync of course 3
#: with the log read up to row 200: its marks, as that version wrote them
FORMER_CURSOR = {"v": 1, "ws": {"todo": None, "courses": {"3": {"access": 1773166803, "streams": {
    "activity_completion": {"t": 1772722953, "recent": {"completion:5:6:1772722953": 1772722953}},
    "course_completion": {"t": 1772720564, "recent": {"course_completed:3:4": 1772720564}},
    "progress": {"t": 1772722953, "recent": {"progress:3:6:50": 1772722953}},
    "quiz_attempt": {"t": 1772717726, "recent": {}}, "scorm_attempt": {"t": 1772722954, "recent": {}},
    "grade": {"t": 1773042730, "recent": {"grade:4:4:1773042730": 1773042730, "grade:4:5:1773042730": 1773042730,
                                          "grade:1:4:1773042730": 1773042730, "grade:1:5:1773042730": 1773042730}},
    "submission": {"t": 1772720564, "recent": {"submission:2:1772720564": 1772720564}}}}}},
    "log": {"last_id": 200, "state": {"open": {}, "vc": {}}}}


async def test_an_upgraded_cursor_sends_no_fact_again_under_a_new_id(pg_moodle, tmp_path):
    """Facts sent before the upgrade keep their former ids (the hub drops them as duplicates); the
    log, which did not emit completions next to web services, starts after the rows already written."""
    with fresh("postgresql") as dsn:
        async with running(FakeMoodle(RecordedMoodle())) as fake:
            async with connector(tmp_path, PinnedMoodle, url=fake.url, token=TOKEN, courses=[3],
                                 logstore={"dsn": dsn, "ignore_users": [2]}) as moodle:
                run = await sync(moodle, FORMER_CURSOR)
                # Zoé (within recheck of the last access) is polled: her completions under the ids sent before
                zoe = sorted(e["source_id"] for e in run.of("lms.activity_completed", learner=ZOE))
                assert zoe == ["completion:3:4:1772439127", "completion:4:4:1772439134", "completion:5:4:1772439136",
                               "completion:6:4:1772529603", "completion:7:4:1772529611", "completion:8:4:1772720564"]
                # rows 201–383 were written before the upgrade: their completions (rows 201, 209, 224…) are
                # those web services sent; the log does not send them again under the new ids
                assert not [e for e in run.pages[-1].events if e["type"] == "lms.activity_completed"]
                assert run.cursor["log"]["completions_after"] == 383
                # after the upgrade: the new ids, from both paths
                override_francoise(fake, ts("2026-11-28 07:41:00"))
                add_log_rows(dsn, [_override_row(1001, FRANCOISE, 7, 1, ts("2026-11-28 07:41:01"))])
                for key, value in fake.backend.answers.items():
                    if key[0] == "core_enrol_get_enrolled_users":
                        next(u for u in value if u["id"] == FRANCOISE)["lastcourseaccess"] = ts("2026-11-28 07:41:00")
                after = await sync(moodle, run.cursor)
    new = [e["source_id"] for e in after.events if e["type"] == "lms.activity_completed"]
    assert new.count(f"completion:7:{FRANCOISE}:complete") == 2, "once from each path; the hub keeps one"
    # Françoise's first poll since the upgrade sends her earlier completions once more, under the ids the
    # former version sent them with: duplicates the hub drops, never a second event
    assert set(new) - {f"completion:7:{FRANCOISE}:complete"} == {
        "completion:3:6:1772456720", "completion:4:6:1772456728", "completion:5:6:1772722953"}

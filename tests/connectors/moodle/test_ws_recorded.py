"""Web services against the fake Moodle replaying what a real Moodle 4.4 answered.

Expected values are read off the recordings in tests/fixtures/moodle/ws (and the
scenario of its README), not recomputed: e.g. Jérôme's first quiz attempt is attempt id 2,
``sumgrades`` 5 of a quiz graded 10 with a pass mark of 6.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.connectors.moodle.conftest import connector, iso, sync, ws_config
from tests.fakes.moodle import FakeMoodle

ZOE, JEROME, FRANCOISE, MAELLE, HELENE = 4, 5, 6, 7, 8


async def test_full_sync_collects_the_scenario(recorded_fake: FakeMoodle, tmp_path):
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        run = await sync(moodle)
    assert not run.rejects
    learners = {e["learner"]["ref"] for e in run.events}
    assert learners == {"4", "5", "6"}, "Maëlle never came (no fact), Hélène is a teacher (not a learner)"
    assert {e["action"] for e in run.events} == {"SST-2026-03"}

    # learner references carry what the hub needs to resolve a learner across sources
    zoe = run.by_id("completion:3:4:complete")
    assert zoe["learner"] == {"ref": "4", "email": "zoe.lhermite@example.org", "name": "Zoé L'Hermite",
                              "ids": {"moodle_user": "4", "idnumber": "MAT-10482"}}
    # Zoé viewed the page at 2026-03-02 08:12:07 UTC (row 112 of the log: completion state 1)
    assert zoe["occurred_at"] == iso("2026-03-02 08:12:07")
    assert zoe["data"] == {"activity": "cm:3", "state": "complete", "activity_type": "page",
                           "activity_name": "Livret d'accueil — consignes générales"}

    # activity completion: 6 for Zoé and Jérôme, 3 for Françoise (page, PDF, URL)
    completions = Counter(e["learner"]["ref"] for e in run.of("lms.activity_completed"))
    assert completions == {"4": 6, "5": 6, "6": 3}
    assert run.by_id("completion:7:5:pass")["data"]["state"] == "pass"  # Jérôme's quiz, now passed

    # course completion: Zoé 2026-03-05 14:22:44, Jérôme 13:41:09 (the scenario's times)
    done = {e["learner"]["ref"]: e for e in run.of("enrolment.completed")}
    assert set(done) == {"4", "5"}
    assert done["4"]["source_id"] == "course_completed:3:4"
    assert done["4"]["occurred_at"] == iso("2026-03-05 14:22:44") and done["4"]["data"]["date"] == "2026-03-05"
    assert done["5"]["occurred_at"] == iso("2026-03-05 13:41:09")

    # progress: Françoise completed 3 of the 6 tracked activities
    assert run.by_id("progress:3:6:50")["data"]["percent"] == "50"
    assert run.by_id("progress:3:4:100")["occurred_at"] == iso("2026-03-05 14:22:44")


async def test_quiz_attempts_scores_and_pass_mark(recorded_fake: FakeMoodle, tmp_path):
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        run = await sync(moodle)
    quiz = {e["source_id"]: e for e in run.events if e["source_id"].startswith("quiz_attempt:")}
    assert set(quiz) == {"quiz_attempt:1", "quiz_attempt:2", "quiz_attempt:3"}, \
        "Françoise's attempt 4 is still in progress: not an attempt yet"
    first = quiz["quiz_attempt:2"]
    assert first["learner"]["ref"] == "5"
    assert first["data"] | {"details": None} == {
        "activity": "cm:7", "activity_name": "Quiz final — sécurité incendie", "attempt": 1, "score": "5",
        "max_score": "10", "passed": False, "started_at": iso("2026-03-03 10:06:12"),
        "finished_at": iso("2026-03-03 10:06:16"), "details": None}
    assert quiz["quiz_attempt:3"]["data"]["attempt"] == 2 and quiz["quiz_attempt:3"]["data"]["passed"] is True
    assert quiz["quiz_attempt:1"]["data"]["score"] == "10" and quiz["quiz_attempt:1"]["learner"]["ref"] == "4"


async def test_scorm_tracks(recorded_fake: FakeMoodle, tmp_path):
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        run = await sync(moodle)
    scorm = {e["source_id"]: e["data"] for e in run.events if e["source_id"].startswith("scorm:")}
    # sco 2; learner; attempt; the attempt's timemodified track
    assert set(scorm) == {"scorm:2:4:1:1772529603", "scorm:2:5:1:1772532370", "scorm:2:5:2:1772717720",
                          "scorm:2:6:1:1772722954"}
    failed = scorm["scorm:2:5:1:1772532370"]
    assert failed["score"] == "40" and failed["max_score"] == "100" and failed["passed"] is False
    assert failed["details"]["session_time_seconds"] == 242  # cmi.core.session_time 00:04:02
    assert failed["details"]["lesson_status"] == "failed"
    assert failed["started_at"] == iso("2026-03-03 10:02:07")  # x.start.time 1772532127
    assert scorm["scorm:2:5:2:1772717720"]["passed"] is True and scorm["scorm:2:5:2:1772717720"]["score"] == "85"
    incomplete = scorm["scorm:2:6:1:1772722954"]
    assert "score" not in incomplete and "passed" not in incomplete and "finished_at" not in incomplete
    assert incomplete["details"]["lesson_status"] == "incomplete"


async def test_grades_and_submissions(recorded_fake: FakeMoodle, tmp_path):
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        run = await sync(moodle)
    # Hélène's quick grades at 2026-03-09 07:52:10: Zoé 17/20, Jérôme 12/20 (pass mark 10)
    zoe = run.by_id("grade:4:4:1773042730")
    assert zoe["occurred_at"] == iso("2026-03-09 07:52:10")
    assert zoe["data"]["assessment"] == "cm:8" and zoe["data"]["score"] == "17" and zoe["data"]["max_score"] == "20"
    assert zoe["data"]["passed"] is True
    assert run.by_id("grade:4:5:1773042730")["data"]["score"] == "12"
    total = run.by_id("grade:1:4:1773042730")["data"]
    assert total["assessment"] == "course:3" and total["score"] == "127" and total["max_score"] == "130"
    assert "passed" not in total  # no grade to pass on the course total
    assert "passed" not in run.by_id("grade:2:5:1772717720")["data"]  # SCORM item: no pass mark either
    assert len(run.of("assessment.graded")) == 8  # 4 items × Zoé and Jérôme; nothing graded for the others

    submissions = {e["source_id"]: e for e in run.of("moodle.work_submitted")}
    assert set(submissions) == {"submission:1:1772718069", "submission:2:1772720564"}  # 'new' ones are not work
    assert submissions["submission:1:1772718069"]["data"]["submitted_at"] == iso("2026-03-05 13:41:09")


async def test_calls_are_batched(recorded_fake: FakeMoodle, tmp_path):
    """Course-wide functions once; per-learner functions only for learners who came; none per activity."""
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        await sync(moodle)
    assert dict(recorded_fake.calls) == {
        "core_webservice_get_site_info": 1,
        "core_course_get_courses": 1,
        "mod_quiz_get_quizzes_by_courses": 1,
        "mod_bigbluebuttonbn_get_bigbluebuttonbns_by_courses": 1,
        "core_enrol_get_enrolled_users": 1,
        "core_course_get_contents": 1,
        "gradereport_user_get_grade_items": 1,
        "mod_assign_get_submissions": 1,
        "mod_scorm_get_scorm_scoes": 1,
        "mod_quiz_get_user_best_grade": 1,
        # per learner, for Zoé, Jérôme and Françoise; Maëlle never came
        "core_completion_get_activities_completion_status": 3,
        "core_completion_get_course_completion_status": 3,
        # Françoise has no quiz grade and her quiz completion is 0: no finished attempt to ask about
        "mod_quiz_get_user_attempts": 2,
        "mod_scorm_get_scorm_attempt_count": 3,
        "mod_scorm_get_scorm_sco_tracks": 4,  # Zoé 1 attempt, Jérôme 2, Françoise 1
    }
    assert recorded_fake.http_requests == 25


async def test_courses_by_shortname_and_action_from(recorded_fake: FakeMoodle, tmp_path):
    async with connector(tmp_path, **ws_config(recorded_fake, courses=["SST-2026-03"], action_from="id")) as moodle:
        run = await sync(moodle)
    assert recorded_fake.calls["core_course_get_courses_by_field"] == 1
    assert {e["action"] for e in run.events} == {"3"}
    assert len(run.events) == 37


async def test_rerun_fetches_only_what_changed(recorded_fake: FakeMoodle, tmp_path):
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        first = await sync(moodle)
        recorded_fake.reset_counts()
        again = await sync(moodle, first.cursor)
        assert again.events == []
        # only Zoé, whose course access (2026-03-10 18:20:03) is the newest seen, is polled again (recheck)
        assert recorded_fake.calls["core_completion_get_activities_completion_status"] == 1
        assert recorded_fake.per_user_calls() == 5  # completion ×2, quiz attempts, SCORM count and track

        # Françoise comes back: she completes the SCORM package
        backend = recorded_fake.backend
        for key, value in backend.answers.items():
            if key[0] == "core_enrol_get_enrolled_users":
                for user in value:
                    if user["id"] == FRANCOISE:
                        user["lastcourseaccess"] = user["lastaccess"] = 1773400000
            if key[0] == "core_completion_get_activities_completion_status" and ("userid", "6") in key[1]:
                scorm = next(s for s in value["statuses"] if s["cmid"] == 6)
                scorm.update(state=1, timecompleted=1773399990)
        recorded_fake.reset_counts()
        third = await sync(moodle, again.cursor)
        # polled: Françoise (new access) and Zoé (still within recheck of the mark the previous pass left)
        assert recorded_fake.calls["core_completion_get_activities_completion_status"] == 2
        recorded_fake.reset_counts()
        fourth = await sync(moodle, third.cursor)
    assert sorted(e["source_id"] for e in third.events) == ["completion:6:6:complete", "progress:3:6:67"]
    assert fourth.events == []
    assert recorded_fake.calls["core_completion_get_activities_completion_status"] == 1  # Françoise only now


async def test_cursor_is_small_json(recorded_fake: FakeMoodle, tmp_path):
    import json

    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        run = await sync(moodle)
    assert json.loads(json.dumps(run.cursor)) == run.cursor
    assert run.cursor["ws"]["todo"] is None
    course = run.cursor["ws"]["courses"]["3"]
    assert course["access"] == 1773166803  # Zoé's last access to the course
    # a mark per stream: its newest fact (e.g. Hélène's grading, 2026-03-09 07:52:10)
    assert course["streams"]["grade"]["t"] == 1773042730
    assert set(course["streams"]) == {"grade", "submission"}  # the course-wide ones
    # the per-learner ones: a mark per learner polled (Maëlle never came) and the ids (CRC-32) just below it
    assert set(course["learners"]) == {"4", "5", "6"}
    assert course["learners"]["5"][0] == 1772718069  # Jérôme's last fact: his assignment, course complete
    assert course["completed"] == [4, 5]
    # the grades of that second are kept: a late one of the same second would still be sent
    assert set(course["streams"]["grade"]["recent"]) == {"grade:4:4:1773042730", "grade:4:5:1773042730",
                                                         "grade:1:4:1773042730", "grade:1:5:1773042730"}
    assert len(json.dumps(run.cursor)) < 2000


@pytest.mark.parametrize("missing, not_collected", [
    ("gradereport_user_get_grade_items", "assessment.graded"),
    ("mod_quiz_get_user_attempts", "lms.quiz_attempted"),
])
async def test_functions_the_token_lacks_are_named_and_skipped(recorded_fake: FakeMoodle, tmp_path, missing,
                                                               not_collected):
    recorded_fake.remove_functions(missing)
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        health = await moodle.check()
        run = await sync(moodle)
    assert health.ok, "an optional function missing does not make the connector unhealthy"
    assert missing in health.message and missing in health.details["missing_functions"]
    assert recorded_fake.calls[missing] == 0
    if not_collected == "lms.quiz_attempted":
        assert not [e for e in run.events if e["source_id"].startswith("quiz_attempt:")]
    else:
        assert not run.of(not_collected)
    assert run.of("lms.activity_completed")


async def test_health_names_required_functions(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.remove_functions("core_enrol_get_enrolled_users", "mod_scorm_get_scorm_sco_tracks")
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        health = await moodle.check()
    assert not health.ok
    assert "core_enrol_get_enrolled_users" in health.message
    assert "mod_scorm_get_scorm_sco_tracks" in health.message and "SCORM tracks" in health.message
    assert health.details["missing_required_functions"] == ["core_enrol_get_enrolled_users"]

"""Web services on a second data set of our own: another course, learners and activities, the
attendance plugin and a BigBlueButton room, served by the same fake Moodle.

The data set is :func:`tests.fakes.moodle_dataset.generate` with its default seed; the values
asserted here were read off the generated records (printed once), e.g. attendance session
12011 is 2026-10-06 09:00–12:30 Paris time and Hugo (200) is marked L (late) in it.
"""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import pytest

from connectors.moodle.mapping import MappingError
from hub.testing import captured_logs
from tests.connectors.moodle.conftest import connector, iso, sync
from tests.fakes.moodle import TOKEN, FakeMoodle, running
from tests.fakes.moodle_dataset import Course, GeneratedMoodle, generate


def iso_ts(t: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


HUGO, INES, JULIEN, KENZA, LEO, MANON, TEACHER = 200, 201, 202, 203, 204, 205, 206


@contextlib.asynccontextmanager
async def served(*courses: Course) -> AsyncIterator[FakeMoodle]:
    async with running(FakeMoodle(GeneratedMoodle(list(courses)))) as fake:
        yield fake


def config(fake: FakeMoodle, **extra: Any) -> dict[str, Any]:
    return {"url": fake.url, "token": TOKEN, "timeout": "5s", **extra}


async def test_attendance_plugin_half_days(tmp_path):
    async with served(generate(learners=6, activities=10)) as fake:
        async with connector(tmp_path, **config(fake)) as moodle:
            run = await sync(moodle)
    assert not run.rejects
    # session 12011, 2026-10-06 09:00–12:30 Paris: one half-day, the morning
    late = run.by_id(f"attendance:12011:{HUGO}:120113:am")
    assert late["type"] == "attendance.signed" and late["occurred_at"] == iso("2026-10-06 07:00:00")
    assert late["data"]["date"] == "2026-10-06" and late["data"]["half_day"] == "am"
    assert late["data"]["signer"] == "trainer" and late["data"]["modality"] == "presentiel"
    assert late["data"]["details"]["status"] == "L" and late["data"]["details"]["remarks"] == "Arrivée 9 h 20"
    assert late["data"]["signed_at"] == iso("2026-10-06 10:30:00")  # lasttaken: 12:30 Paris
    excused = run.by_id(f"attendance:12011:{INES}:120114:am")
    assert excused["type"] == "attendance.absent" and excused["data"]["justified"] is True
    absent = run.by_id(f"attendance:12011:{JULIEN}:120112:am")
    assert absent["type"] == "attendance.absent" and absent["data"]["justified"] is False
    # session 12012 starts at 14:00: the afternoon
    assert run.by_id(f"attendance:12012:{JULIEN}:120121:pm")["data"]["half_day"] == "pm"
    # session 12013, 2026-10-07 09:00–17:00: a full day is two half-days
    full_day = [e for e in run.events if e["source_id"].startswith(f"attendance:12013:{KENZA}:")]
    assert sorted(e["data"]["half_day"] for e in full_day) == ["am", "pm"]
    # Manon never came to the LMS, but the attendance sheet knows her (absent): she has events
    manon = {e["type"] for e in run.events if e["learner"]["ref"] == str(MANON)}
    assert manon == {"attendance.absent"}
    assert not [e for e in run.events if e["learner"]["ref"] == str(TEACHER)]


async def test_results_of_the_second_data_set(tmp_path):
    async with served(generate(learners=6, activities=10)) as fake:
        async with connector(tmp_path, **config(fake, action_from="idnumber")) as moodle:
            run = await sync(moodle)
    assert {e["action"] for e in run.events} == {"ACT-0012"}
    assert run.by_id(f"completion:100:{HUGO}:1791271348")["data"]["activity_name"] == "Fiche 1 — CACES-R489-2026-10"
    done = {e["learner"]["ref"] for e in run.of("enrolment.completed")}
    assert done == {str(HUGO), str(JULIEN), str(KENZA), str(LEO)}  # Inès is in progress, Manon never came
    # quizzes are graded out of 100 from 20 marks, pass mark 70
    hugo_quiz = [e for e in run.of("lms.quiz_attempted", learner=HUGO) if e["source_id"].startswith("quiz_attempt:")]
    assert hugo_quiz[-1]["data"]["score"] == "90" and hugo_quiz[-1]["data"]["passed"] is True
    ines_quiz = [e for e in run.of("lms.quiz_attempted", learner=INES) if e["source_id"].startswith("quiz_attempt:")]
    assert [e["data"]["passed"] for e in ines_quiz] == [False], "Inès failed once; her attempt in progress is not sent"


async def test_a_malformed_record_is_dead_lettered_and_the_rest_ingested(tmp_path):
    course = generate(learners=6, activities=10)
    course.completions[HUGO][0]["timecompleted"] = "hier"  # cm 100
    attempt = course.attempts[(1201, KENZA)][0]
    attempt["timefinish"] = None
    async with served(course) as fake:
        async with connector(tmp_path, **config(fake)) as moodle:
            run = await sync(moodle)
            # the bad time shows in Hugo's activity and course completion answers, and Kenza's attempt
            by_kind = {r.payload["kind"]: r for r in run.rejects}
            assert sorted(by_kind) == ["activity_completion", "course_completion", "quiz_attempt"]
            completion = by_kind["activity_completion"]
            assert completion.stage == "map"
            assert "timecompleted" in completion.error and "'hier'" in completion.error
            assert f"user {HUGO}" in completion.error and "cmid 100" in completion.error
            assert completion.payload["status"]["timecompleted"] == "hier"  # the original record
            assert completion.payload["user"]["id"] == HUGO
            assert "timefinish" in by_kind["quiz_attempt"].error
            assert "completions[0].timecompleted" in by_kind["course_completion"].error
            # the rest of the page: Hugo's other completions, Kenza's other facts
            assert len([e for e in run.of("lms.activity_completed", learner=HUGO)]) == 9
            assert not run.of("lms.progress", learner=HUGO), "no progress computed from a partial answer"
            assert run.of("lms.activity_completed", learner=KENZA)
            # replay: the kept record still fails the same way; once corrected it maps to the same fact
            with pytest.raises(MappingError, match="timecompleted"):
                moodle.map_record(completion.payload)
            fixed = dict(completion.payload, status=dict(completion.payload["status"], timecompleted=1791271348))
            [event] = moodle.map_record(fixed)
    assert event["source_id"] == f"completion:100:{HUGO}:1791271348"


async def test_calls_grow_with_learners_not_with_activities(tmp_path):
    """Course-wide functions are called once whatever the size; per-learner ones once per learner."""
    counts = {}
    for learners, activities in ((4, 10), (8, 10), (8, 20)):
        async with served(generate(learners=learners, activities=activities, seed=3)) as fake:
            async with connector(tmp_path, **config(fake)) as moodle:
                run = await sync(moodle)
                polled = len({e["learner"]["ref"] for e in run.of("lms.activity_completed")})
        counts[(learners, activities)] = (dict(fake.calls), polled)
    for (calls, polled) in counts.values():
        for once in ("core_enrol_get_enrolled_users", "core_course_get_contents", "gradereport_user_get_grade_items",
                     "mod_assign_get_submissions", "mod_quiz_get_quizzes_by_courses"):
            assert calls[once] == 1, once
        assert calls["core_completion_get_activities_completion_status"] == polled
    small, _ = counts[(8, 10)]
    large, _ = counts[(8, 20)]
    # twice the activities: one more call per attendance instance and SCORM package, nothing per page or file
    assert large["core_course_get_contents"] == small["core_course_get_contents"] == 1
    assert large["mod_attendance_get_sessions"] == 2 and small["mod_attendance_get_sessions"] == 1


async def test_a_round_resumes_mid_way_after_a_restart(tmp_path):
    first = generate(learners=3, activities=10)
    second = generate(course_id=13, shortname="CACES-R489-2026-11", learners=3, activities=10, first_cm=300,
                      first_user=400, seed=5)
    async with served(first, second) as fake:
        async with connector(tmp_path, **config(fake)) as moodle:
            page = await moodle.pull(None)
        assert page.has_more and page.cursor["ws"]["todo"] == [13]
        assert {e["action"] for e in page.events} == {"CACES-R489-2026-10"}
        fake.reset_counts()
        async with connector(tmp_path, **config(fake)) as restarted:  # the cursor is the only state
            rest = await sync(restarted, page.cursor)
    assert {e["action"] for e in rest.events} == {"CACES-R489-2026-11"}
    assert fake.calls["core_course_get_courses"] == 1  # the round's courses, by id, after the restart
    assert rest.cursor["ws"]["todo"] is None


async def test_bigbluebutton_without_log_store_is_reported(tmp_path):
    async with served(generate(learners=2, activities=4)) as fake:
        async with connector(tmp_path, **config(fake)) as moodle:
            await sync(moodle)
            logs = "\n".join(captured_logs(moodle.context))
    assert "BigBlueButton activities found but no log store" in logs


async def test_an_attempt_waiting_for_its_grade_is_sent_once_graded(tmp_path):
    """Léo's quiz attempt needs manual grading: no grade, quiz not complete. Not asked about until a
    teacher grades it; then his attempts are fetched although he did not come back to the course."""
    course = generate(learners=6, activities=10)
    quiz_item = next(gi for gi in course.grade_items if gi["cm"]["modname"] == "quiz")
    graded = course.grades[LEO].pop(quiz_item["id"])
    next(s for s in course.completions[LEO] if s["cmid"] == 102).update(state=0, timecompleted=0)
    attempt = course.attempts[(1201, LEO)][-1]
    attempt["sumgrades"] = None
    async with served(course) as fake:
        async with connector(tmp_path, **config(fake)) as moodle:
            first = await sync(moodle)
            assert not [e for e in first.of("lms.quiz_attempted", learner=LEO) if "quiz_attempt" in e["source_id"]]
            asked = [p for _, f, p in fake.log if f == "mod_quiz_get_user_attempts" and ("userid", str(LEO)) in p]
            assert asked == [], "no attempts call for a quiz Léo has no grade nor completion in"
            # the teacher grades the essay: 17/20 marks, the quiz grade appears in the grade report
            graded_at = graded[1] + 86400 * 30
            attempt.update(sumgrades=17, timemodified=graded_at)
            course.grades[LEO][quiz_item["id"]] = (85.0, graded_at)
            fake.reset_counts()
            second = await sync(moodle, first.cursor)
    # graded after it was finished: the attempt's id carries the grading time (a correction is a new fact)
    [sent] = [e for e in second.events if e["source_id"] == f"quiz_attempt:{attempt['id']}:{graded_at}"]
    assert sent["data"]["score"] == "85" and sent["data"]["passed"] is True
    assert sent["data"]["finished_at"] == iso_ts(attempt["timefinish"])
    asked = [p for _, f, p in fake.log if f == "mod_quiz_get_user_attempts" and ("userid", str(LEO)) in p]
    assert len(asked) == 1
    polled = [p for _, f, p in fake.log if f == "core_completion_get_activities_completion_status"]
    assert ("userid", str(LEO)) not in {kv for p in polled for kv in p}, "Léo is not polled again"

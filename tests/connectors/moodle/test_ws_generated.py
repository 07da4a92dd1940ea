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
    assert run.by_id(f"completion:100:{HUGO}:complete")["data"]["activity_name"] == "Fiche 1 — CACES-R489-2026-10"
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
    assert event["source_id"] == f"completion:100:{HUGO}:complete"


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
    teacher grades it; then he is polled although he did not come back to the course: the attempt,
    and the completion the grade set (the quiz completes on a pass grade)."""
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
            next(s for s in course.completions[LEO] if s["cmid"] == 102).update(state=2, timecompleted=graded_at)
            fake.reset_counts()
            second = await sync(moodle, first.cursor)
    # graded after it was finished: the attempt's id carries the grading time (a correction is a new fact)
    [sent] = [e for e in second.events if e["source_id"] == f"quiz_attempt:{attempt['id']}:{graded_at}"]
    assert sent["data"]["score"] == "85" and sent["data"]["passed"] is True
    assert sent["data"]["finished_at"] == iso_ts(attempt["timefinish"])
    asked = [p for _, f, p in fake.log if f == "mod_quiz_get_user_attempts" and ("userid", str(LEO)) in p]
    assert len(asked) == 1
    passed = second.by_id(f"completion:102:{LEO}:pass")
    assert passed["occurred_at"] == iso_ts(graded_at)
    polled = [dict(p)["userid"] for _, f, p in fake.log if f == "core_completion_get_activities_completion_status"]
    # Léo, whose grade is new, and Julien, whose access is the newest seen (recheck); nobody else
    assert sorted(polled) == [str(JULIEN), str(LEO)]


DAY = 86400


def clocked(start: float) -> type:
    """The connector with a hand-moved wall clock (``moodle.now``): it decides which learners are due."""
    from connectors.moodle import Moodle

    class Clocked(Moodle):
        now = start

        def clock(self) -> float:  # type: ignore[override]
            return self.now

    return Clocked


def completion_of(run, learner: int, cmid: int) -> list[dict[str, Any]]:
    return [e for e in run.of("lms.activity_completed", learner=learner) if e["data"]["activity"] == f"cm:{cmid}"]


async def test_a_teacher_override_arrives_for_a_learner_who_never_comes_back(tmp_path):
    """Inès stopped coming (last access 2026-10-04), Manon never opened the course. A teacher marks
    an activity complete for each; meanwhile Julien comes back and the course's completions move on
    past the overrides. Both overrides must reach the hub, within ``learner_poll_interval``."""
    course = generate(learners=6, activities=10)
    julien_last = next(s for s in course.completions[JULIEN] if s["cmid"] == 109)
    julien_last.update(state=0, timecompleted=0)
    start = 1_800_000_000.0
    async with served(course) as fake:
        async with connector(tmp_path, clocked(start), **config(fake)) as moodle:
            first = await sync(moodle)
            assert not completion_of(first, INES, 105) and not completion_of(first, MANON, 100)
            override = 1791400000
            next(s for s in course.completions[INES] if s["cmid"] == 105).update(
                state=1, timecompleted=override, overrideby=TEACHER)
            next(s for s in course.completions[MANON] if s["cmid"] == 100).update(
                state=1, timecompleted=override + 60, overrideby=TEACHER)
            # five hours later Julien comes back and completes the attendance activity
            julien_last.update(state=1, timecompleted=override + 5 * 3600)
            next(u for u in course.learners if u["id"] == JULIEN).update(
                lastaccess=override + 5 * 3600 + 30, lastcourseaccess=override + 5 * 3600 + 30)
            moodle.now = start + 3600
            second = await sync(moodle, first.cursor)
            assert completion_of(second, JULIEN, 109)
            moodle.now = start + DAY + 3600  # a whole poll interval later: every enrolled learner was due
            fake.reset_counts()
            third = await sync(moodle, second.cursor)
            later = await sync(moodle, third.cursor)
    found = completion_of(second, INES, 105) + completion_of(third, INES, 105)
    assert len(found) == 1, "the override of a learner who did not come back"
    assert found[0]["data"]["state"] == "complete" and found[0]["data"]["details"]["overridden_by"] == TEACHER
    manon = completion_of(second, MANON, 100) + completion_of(third, MANON, 100)
    assert len(manon) == 1, "the override of a learner who never opened the course"
    polled = {dict(p)["userid"] for _, f, p in fake.log if f == "core_completion_get_activities_completion_status"}
    assert polled >= {str(INES), str(MANON)}
    assert later.events == [], "polled again, nothing new: nothing sent twice"


async def test_every_learner_is_polled_once_per_interval_spread_over_the_rounds(tmp_path):
    course = generate(learners=24, activities=4, with_bbb=False)
    start = 1_800_000_000.0
    async with served(course) as fake:
        async with connector(tmp_path, clocked(start), **config(fake, learner_poll_interval="6h")) as moodle:
            run = await sync(moodle)
            came = {u["id"] for u in course.learners if u["lastcourseaccess"]}
            per_round = []
            for hour in range(1, 7):
                fake.reset_counts()
                moodle.now = start + hour * 3600
                run = await sync(moodle, run.cursor)
                per_round.append({int(dict(p)["userid"]) for _, f, p in fake.log
                                  if f == "core_completion_get_activities_completion_status"})
            fake.reset_counts()
            moodle.now = start + 2 * DAY  # the hub was stopped for longer than the interval
            await sync(moodle, run.cursor)
            after_pause = {int(dict(p)["userid"]) for _, f, p in fake.log
                           if f == "core_completion_get_activities_completion_status"}
    assert after_pause == {u["id"] for u in course.learners}, "a pause longer than the interval: everyone once"
    latest = max(u["lastcourseaccess"] for u in course.learners)
    recheck = {u["id"] for u in course.learners if u["lastcourseaccess"] >= latest - 600}
    rotated = [polled - recheck for polled in per_round]
    assert set().union(*rotated) | recheck == {u["id"] for u in course.learners}, "everyone within 6 hours"
    assert all(len(r) <= 24 // 6 + 3 for r in rotated), f"spread over the rounds: {[len(r) for r in rotated]}"
    assert sum(len(r) for r in rotated) <= 24, "each learner once per interval"
    assert came != {u["id"] for u in course.learners}, "the data set has learners who never came"

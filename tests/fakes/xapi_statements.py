"""xAPI statements for the xapi connector's tests, taken from the vendors' documentation.

* cmi5: the sample statements of the cmi5 specification (AICC/CMI-5_Spec_Current,
  ``samples/scenarios``; Apache 2.0), scenario 10 "Completed and Passed Move On with Mastery
  Score", scenario 11 (failed first), scenario 13 (progress extension), scenario 02 (abandoned).
  The initialized statement follows the scenario's context template.
* xAPI 1.0.3 specification (adlnet/xAPI-Spec, xAPI-Data.md): "Typical simple completion with
  verb attempted" and the voiding example.
* Moodle logstore_xapi: BigBlueButton ``meeting_joined`` / ``meeting_left`` use
  ``http://activitystrea.ms/schema/1.0/join`` / ``leave`` with the site and course in
  ``contextActivities.grouping``.
* Ralph's virtual-classroom and video profiles (``http://activitystrea.ms/join``,
  ``https://w3id.org/xapi/video/verbs/played``, the ``progress``/``played-segments`` extensions).

:func:`cmi5_session` builds a whole cmi5 session for one learner (launched, initialized,
progressed, passed, completed, terminated) plus an ``attended`` virtual class, for volume.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

ACTOR = {"objectType": "Agent", "name": "Learner's Name", "account": {"homePage": "http://example.org/", "name": "Learner"}}
AU = {
    "objectType": "Activity",
    "id": "http://example.org/cmi5/au-lms-id/4756b42214cb0cb4825b3c9b5c15053d6a6cf7f5",
    "definition": {
        "name": {"en-US": "Introduction to Geology"},
        "description": {"en-US": "This course will introduce you into the basics of geology. This includes subjects such as "
                                 "plate tectonics, geological materials and the history of the Earth."},
    },
}
GROUPING_AU = {
    "objectType": "Activity",
    "id": "http://course-repository.example.edu/identifiers/courses/02baafcf/aus/4c07",
    "definition": {"name": {"en-US": "Introduction to Geology"}},
}
CMI5 = {"objectType": "Activity", "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}
MOVEON = {"objectType": "Activity", "id": "https://w3id.org/xapi/cmi5/context/categories/moveon"}
SESSION = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
REGISTRATION = "a0a37fbe-04f1-46a3-9135-29aa41d4f1ee"


def _verb(iri: str, word: str, lang: str = "en-US") -> dict[str, Any]:
    return {"id": iri, "display": {lang: word}}


def _context(session: str, registration: str = REGISTRATION, *, moveon: bool = False, **extensions: Any) -> dict[str, Any]:
    category = [CMI5, MOVEON] if moveon else [CMI5]
    return {"registration": registration,
            "contextActivities": {"grouping": [copy.deepcopy(GROUPING_AU)], "category": copy.deepcopy(category)},
            "extensions": {SESSION: session, **extensions}}


# ----------------------------------------------------------------------------- cmi5 scenario 10
CMI5_LAUNCHED = {
    "id": "0a305868-4258-430b-b189-887fba6b1fe3", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/launched", "launched"), "object": AU,
    "context": _context("680cef64-bc48-4b57-af6b-be4217e69aff", **{
        "https://w3id.org/xapi/cmi5/context/extensions/launchmode": "Normal",
        "https://w3id.org/xapi/cmi5/context/extensions/moveon": "CompletedAndPassed",
        "https://w3id.org/xapi/cmi5/context/extensions/masteryscore": 0.86}),
    "timestamp": "2016-06-09T18:53:06.235Z",
}
CMI5_INITIALIZED = {
    "id": "4bdc13c9-4785-4bc3-ab59-a4f4e3a0c4a2", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/initialized", "initialized"), "object": AU,
    "context": _context("680cef64-bc48-4b57-af6b-be4217e69aff"),
    "timestamp": "2016-06-09T18:53:09.263Z",
}
CMI5_COMPLETED = {
    "id": "b24bd0e0-965e-4e18-8e61-cdc2d1bb2ab5", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/completed", "completed", "und"), "object": AU,
    "result": {"completion": True, "duration": "PT14.47S"},
    "context": _context("680cef64-bc48-4b57-af6b-be4217e69aff", moveon=True),
    "timestamp": "2016-06-09T18:53:23.726Z",
}
CMI5_PASSED = {
    "id": "1c356160-0150-45bb-b27c-d340dd5fc582", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/passed", "passed", "und"), "object": AU,
    "result": {"score": {"scaled": 0.88, "raw": 88, "min": 0, "max": 100}, "success": True, "duration": "PT24.57S"},
    "context": _context("680cef64-bc48-4b57-af6b-be4217e69aff", moveon=True,
                        **{"https://w3id.org/xapi/cmi5/context/extensions/masteryscore": 0.86}),
    "timestamp": "2016-06-09T18:53:33.828Z",
}
CMI5_SATISFIED = {
    "id": "b3e19e03-ab33-40d5-b0c6-4b41be372a4e", "actor": ACTOR,
    "verb": _verb("https://w3id.org/xapi/adl/verbs/satisfied", "satisfied"),
    "object": {"objectType": "Activity",
               "id": "http://example.org/cmi5/lms-id/57c4917cbe43d6c230b85640e8abacdcb90e3db2/5d1be4c3-f2e6-4dbf-ad61-0c9774ffec2b",
               "definition": {"name": {"en-US": "Introduction to Geology"}, "type": "https://w3id.org/xapi/cmi5/activitytype/course"}},
    "context": {"registration": REGISTRATION,
                "contextActivities": {"grouping": [{"objectType": "Activity",
                                                    "id": "http://course-repository.example.edu/identifiers/courses/02baafcf",
                                                    "definition": {"type": "https://w3id.org/xapi/cmi5/activitytype/course"}}],
                                      "category": [CMI5]},
                "extensions": {SESSION: "680cef64-bc48-4b57-af6b-be4217e69aff"}},
    "timestamp": "2016-06-09T18:53:34.600Z",
}
CMI5_TERMINATED = {
    "id": "427655b0-bed1-4d6f-8763-e5e233d085e4", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/terminated", "terminated", "en"), "object": AU,
    "result": {"duration": "PT27.85S"},
    "context": _context("680cef64-bc48-4b57-af6b-be4217e69aff"),
    "timestamp": "2016-06-09T18:53:37.113Z",
}
# scenario 11: a failed attempt before the pass
CMI5_FAILED = {
    "id": "45bc4094-8574-4af3-b944-6ee65e294a7c", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/failed", "failed", "und"), "object": AU,
    "result": {"score": {"scaled": 0.82, "raw": 82, "min": 0, "max": 100}, "success": False, "duration": "PT12.54S"},
    "context": _context("54eb9f12-71d4-472d-a359-8c1184b5edbc", "d1beacde-b5fa-4d90-a6e5-da523d93e83d", moveon=True),
    "timestamp": "2016-06-09T19:00:44.335Z",
}
# scenario 13: the progress extension
CMI5_PROGRESSED = {
    "id": "1f6b1ce3-7e96-41dd-918e-eb9208035056", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/progressed", "progressed", "und"), "object": AU,
    "result": {"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 50}},
    "context": _context("2d5437c4-7ca2-4c05-a5b9-22e9127e180a", "ff76a00e-5b3f-4bfc-ba3d-6f4365f96753"),
    "timestamp": "2016-06-09T19:40:06.385Z",
}
# scenario 02: the LMS abandons a session that was never terminated
CMI5_ABANDONED = {
    "id": "1bb493ea-0dd8-48ab-ba37-37e248621716", "actor": ACTOR,
    "verb": _verb("https://w3id.org/xapi/adl/verbs/abandoned", "abandoned"), "object": AU,
    "result": {"duration": "PT11.26S"},
    "context": _context("3798c990-c602-4334-9c04-7f6196e5f869", "e4a3c8c6-e048-4b9b-ba23-e9872aa335fb"),
    "timestamp": "2016-06-09T15:21:11.895Z",
}

# ----------------------------------------------------------------------------- xAPI specification
SPEC_ATTEMPTED = {  # "Typical simple completion with verb 'attempted'" (the spec's example has no id)
    "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119",
    "actor": {"objectType": "Agent", "name": "Example Learner", "mbox": "mailto:example.learner@adlnet.gov"},
    "verb": _verb("http://adlnet.gov/expapi/verbs/attempted", "attempted"),
    "object": {"id": "http://example.adlnet.gov/xapi/example/simpleCBT",
               "definition": {"name": {"en-US": "simple CBT course"}, "description": {"en-US": "A fictitious example CBT course."}}},
    "result": {"score": {"scaled": 0.95}, "success": True, "completion": True},
    "timestamp": "2016-06-10T08:00:00Z",
}
SPEC_VOIDING = {
    "id": "5a2b1c39-77a2-4b1c-9a41-3f1a1e1a2b3c",
    "actor": {"objectType": "Agent", "name": "Example Admin", "mbox": "mailto:admin@example.adlnet.gov"},
    "verb": _verb("http://adlnet.gov/expapi/verbs/voided", "voided"),
    "object": {"objectType": "StatementRef", "id": "e05aa883-acaf-40ad-bf54-02c8ce485fb0"},
    "timestamp": "2016-06-10T08:05:00Z",
}
SPEC_EXPERIENCED = {  # a "cmi5 allowed" statement (scenario 12): a verb with no event type
    "id": "0e7d7a6c-7ad1-4b6e-8bd0-55e2a6d1b0f4", "actor": ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/experienced", "experienced"), "object": AU,
    "context": _context("680cef64-bc48-4b57-af6b-be4217e69aff"),
    "timestamp": "2016-06-09T18:53:15.000Z",
}

# ----------------------------------------------------------------------------- Moodle logstore_xapi (BigBlueButton)
MOODLE = "https://moodle.example.fr"
MOODLE_ACTOR = {"objectType": "Agent", "name": "Camille Dubois", "account": {"homePage": MOODLE, "name": "17"}}
BBB_MEETING = {"objectType": "Activity", "id": f"{MOODLE}/mod/bigbluebuttonbn/view.php?id=42",
               "definition": {"type": "http://id.tincanapi.com/activitytype/meeting",
                              "name": {"fr": "Classe virtuelle — module 2"}}}
MOODLE_GROUPING = [{"objectType": "Activity", "id": MOODLE, "definition": {"type": "http://id.tincanapi.com/activitytype/lms"}},
                   {"objectType": "Activity", "id": f"{MOODLE}/course/view.php?id=12",
                    "definition": {"type": "http://id.tincanapi.com/activitytype/lms/course"}}]


def bbb(verb: str, statement_id: str, timestamp: str) -> dict[str, Any]:
    iri = f"http://activitystrea.ms/schema/1.0/{verb}"
    return {"id": statement_id, "actor": MOODLE_ACTOR, "verb": _verb(iri, verb + "ed" if verb == "join" else "left", "fr"),
            "object": BBB_MEETING, "timestamp": timestamp,
            "context": {"platform": "Moodle", "language": "fr",
                        "contextActivities": {"grouping": copy.deepcopy(MOODLE_GROUPING)}}}


BBB_JOINED = bbb("join", "c1a1e2f0-1111-4c1e-9d2a-000000000001", "2026-10-05T14:00:00+02:00")
BBB_LEFT = bbb("leave", "c1a1e2f0-1111-4c1e-9d2a-000000000002", "2026-10-05T15:30:15+02:00")

# ----------------------------------------------------------------------------- video profile, downloads
VIDEO = {"objectType": "Activity", "id": "https://video.example.fr/v/geologie-1",
         "definition": {"type": "https://w3id.org/xapi/video/activity-type/video", "name": {"fr": "Les plaques tectoniques"}}}
VIDEO_TERMINATED = {
    "id": "9d0f3c2e-2222-4a4b-8c8d-000000000003", "actor": MOODLE_ACTOR,
    "verb": _verb("http://adlnet.gov/expapi/verbs/terminated", "terminated"), "object": VIDEO,
    "result": {"extensions": {"https://w3id.org/xapi/video/extensions/time": 300,
                              "https://w3id.org/xapi/video/extensions/progress": 0.5,
                              "https://w3id.org/xapi/video/extensions/played-segments": "0[.]120[,]150[.]300"}},
    "context": {"contextActivities": {"category": [{"id": "https://w3id.org/xapi/video"}]},
                "extensions": {"https://w3id.org/xapi/video/extensions/session-id": "e7b3a1f0-aaaa-4bbb-8ccc-000000000001",
                               "https://w3id.org/xapi/video/extensions/length": 600}},
    "timestamp": "2026-10-05T16:00:00+02:00",
}
DOWNLOADED = {
    "id": "9d0f3c2e-2222-4a4b-8c8d-000000000004", "actor": MOODLE_ACTOR,
    "verb": _verb("http://id.tincanapi.com/verb/downloaded", "downloaded"),
    "object": {"objectType": "Activity", "id": f"{MOODLE}/mod/resource/view.php?id=7",
               "definition": {"type": "http://activitystrea.ms/file", "name": {"fr": "Support de cours.pdf"}}},
    "context": {"contextActivities": {"grouping": copy.deepcopy(MOODLE_GROUPING)}},
    "timestamp": "2026-10-05T16:05:00+02:00",
}

CMI5_SAMPLES = [CMI5_LAUNCHED, CMI5_INITIALIZED, CMI5_COMPLETED, CMI5_PASSED, CMI5_SATISFIED, CMI5_TERMINATED]
ALL_SAMPLES = [*CMI5_SAMPLES, CMI5_FAILED, CMI5_PROGRESSED, CMI5_ABANDONED, SPEC_ATTEMPTED, SPEC_VOIDING,
               SPEC_EXPERIENCED, BBB_JOINED, BBB_LEFT, VIDEO_TERMINATED, DOWNLOADED]


# ----------------------------------------------------------------------------- volume
def _id(*parts: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "parcours-test/" + "/".join(map(str, parts))))


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def cmi5_session(learner: int, start: dt.datetime, *, course: str = "geologie", score: float = 0.9,
                 minutes: int = 45, tag: str = "s1") -> list[dict[str, Any]]:
    """One learner's cmi5 session on one AU, plus a virtual class they attended: 7 statements.

    launched, initialized, progressed (50), passed (score), completed, terminated (duration
    ``minutes``), attended (a 90-minute virtual class with duration). Ids are deterministic.
    """
    actor = {"objectType": "Agent", "name": f"Apprenant {learner:03d}",
             "account": {"homePage": MOODLE, "name": f"u{learner:03d}"}}
    session = _id(tag, learner, "session")
    registration = _id(course, learner, "registration")
    au = {"objectType": "Activity", "id": f"https://formation.example.fr/cmi5/{course}/au-1",
          "definition": {"name": {"fr-FR": "Géologie — module 1", "en-US": "Geology — unit 1"}}}
    context = {"registration": registration,
               "contextActivities": {"grouping": [{"objectType": "Activity", "id": f"https://formation.example.fr/cmi5/{course}"}],
                                     "category": [CMI5]},
               "extensions": {SESSION: session}}

    def st(n: int, verb: str, word: str, at: dt.datetime, **extra: Any) -> dict[str, Any]:
        return {"id": _id(tag, learner, n), "actor": actor, "verb": _verb(verb, word), "object": au,
                "context": copy.deepcopy(context), "timestamp": _ts(at), **extra}

    adl = "http://adlnet.gov/expapi/verbs/"
    end = start + dt.timedelta(minutes=minutes)
    raw = round(score * 100)
    statements = [
        st(1, adl + "launched", "launched", start),
        st(2, adl + "initialized", "initialized", start + dt.timedelta(seconds=2)),
        st(3, adl + "progressed", "progressed", start + dt.timedelta(minutes=minutes // 2),
           result={"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 50}}),
        st(4, adl + "passed", "passed", end - dt.timedelta(minutes=2),
           result={"score": {"scaled": score, "raw": raw, "min": 0, "max": 100}, "success": True,
                   "duration": f"PT{minutes - 2}M"}),
        st(5, adl + "completed", "completed", end - dt.timedelta(minutes=1),
           result={"completion": True, "duration": f"PT{minutes - 1}M"}),
        st(6, adl + "terminated", "terminated", end, result={"duration": f"PT{minutes}M"}),
    ]
    klass = start + dt.timedelta(days=1)
    statements.append({
        "id": _id(tag, learner, 7), "actor": actor, "verb": _verb(adl + "attended", "attended"),
        "object": {"objectType": "Activity", "id": f"https://formation.example.fr/classes/{course}-1",
                   "definition": {"type": "http://id.tincanapi.com/activitytype/meeting", "name": {"fr": "Classe virtuelle 1"}}},
        "result": {"duration": "PT1H30M15.5S"},
        "context": {"registration": registration,
                    "contextActivities": {"grouping": [{"objectType": "Activity", "id": f"https://formation.example.fr/cmi5/{course}"}]}},
        "timestamp": _ts(klass + dt.timedelta(hours=1, minutes=30, seconds=15.5)),
    })
    return statements


# ----------------------------------------------------------------------------- closings without duration
def moodle_visit(verb: str, statement_id: str, timestamp: str, actor: dict[str, Any] = MOODLE_ACTOR) -> dict[str, Any]:
    """A Moodle log-in or log-out (no ``result.duration``: paired with its opening)."""
    return {"id": statement_id, "actor": copy.deepcopy(actor), "verb": {"id": f"https://w3id.org/xapi/adl/verbs/{verb}"},
            "object": {"objectType": "Activity", "id": MOODLE, "definition": {"type": "http://id.tincanapi.com/activitytype/lms"}},
            "timestamp": timestamp}


def overlap_scenario(day: str = "2026-10-05") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The two syncs of issue 10's pairing report (UTC times): join 08:00 / leave 09:00 and log-in
    08:15 / log-out 09:00; then join 13:00 / leave 14:00 and log-in 13:00 / log-out 13:20.
    Expected: classes of 3,600 s and sessions of 2,700 s then 1,200 s."""
    def sid(n: int) -> str:
        return f"e1a1e2f0-2222-4c1e-9d2a-{n:012d}"

    first = [bbb("join", sid(1), f"{day}T08:00:00Z"), moodle_visit("logged-in", sid(2), f"{day}T08:15:00Z"),
             bbb("leave", sid(3), f"{day}T09:00:00Z"), moodle_visit("logged-out", sid(4), f"{day}T09:00:00Z")]
    second = [bbb("join", sid(5), f"{day}T13:00:00Z"), moodle_visit("logged-in", sid(6), f"{day}T13:00:00Z"),
              moodle_visit("logged-out", sid(7), f"{day}T13:20:00Z"), bbb("leave", sid(8), f"{day}T14:00:00Z")]
    return first, second

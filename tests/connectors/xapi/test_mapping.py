"""Statement -> event mapping, on statements from the xAPI and cmi5 specifications."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from connectors.xapi.mapping import (
    EMITS, MappingOptions, Pairing, StatementError, StatementMapper, in_time_order, statement_uuid,
)
from hub.events import EventTypeRegistry
from tests.fakes import xapi_statements as S

UTC = dt.timezone.utc
REGISTRY = EventTypeRegistry()


def mapper(**options) -> StatementMapper:
    return StatementMapper(MappingOptions(**options))


def events_of(statement, pairing=None, **options):
    mapped = mapper(**options).map(copy.deepcopy(statement), pairing)
    if mapped.events:
        REGISTRY.validate_batch(copy.deepcopy(mapped.events))  # every event is a valid event input
        assert all(e["type"] in EMITS for e in mapped.events)
    return mapped


def one(statement, **options) -> dict:
    (event,) = events_of(statement, **options).events
    return event


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# ----------------------------------------------------------------------------- cmi5
def test_cmi5_completed():
    event = one(S.CMI5_COMPLETED)
    assert event["type"] == "lms.activity_completed"
    assert event["source_id"] == "b24bd0e0-965e-4e18-8e61-cdc2d1bb2ab5"
    assert at(event["occurred_at"]) == at("2016-06-09T18:53:23.726+00:00")
    assert event["learner"] == {"ref": "Learner", "site": "http://example.org/", "name": "Learner's Name", "ids": {"xapi_account": "Learner"}}
    assert event["action"] == "http://course-repository.example.edu/identifiers/courses/02baafcf/aus/4c07"
    data = event["data"]
    assert data["activity"] == S.AU["id"] and data["activity_name"] == "Introduction to Geology" and data["state"] == "complete"
    assert data["details"]["duration_seconds"] == 14
    assert data["details"]["session_id"] == "680cef64-bc48-4b57-af6b-be4217e69aff"
    assert data["details"]["registration"] == S.REGISTRATION


def test_cmi5_passed_gives_completion_and_grade():
    completion, grade = events_of(S.CMI5_PASSED).events
    assert completion["type"] == "lms.activity_completed" and completion["data"]["state"] == "pass"
    assert completion["data"]["details"]["score"] == {"scaled": 0.88, "raw": 88, "min": 0, "max": 100}
    assert grade["type"] == "assessment.graded"
    assert grade["source_id"] == "1c356160-0150-45bb-b27c-d340dd5fc582#score"
    assert (grade["data"]["score"], grade["data"]["max_score"], grade["data"]["passed"]) == (88, 100, True)
    assert grade["data"]["assessment"] == S.AU["id"]


def test_cmi5_failed():
    completion, grade = events_of(S.CMI5_FAILED).events
    assert completion["data"]["state"] == "fail"
    assert (grade["data"]["score"], grade["data"]["passed"]) == (82, False)


def test_cmi5_satisfied_is_a_completion_of_the_course():
    event = one(S.CMI5_SATISFIED)
    assert event["data"]["state"] == "complete"
    assert event["data"]["activity_type"] == "https://w3id.org/xapi/cmi5/activitytype/course"


def test_cmi5_progressed():
    event = one(S.CMI5_PROGRESSED)
    assert event["type"] == "lms.progress" and event["data"]["percent"] == 50
    assert event["data"]["details"]["activity"] == S.AU["id"]


def test_cmi5_session_terminated_with_duration():
    pairing = Pairing(None, dt.timedelta(hours=12))
    for statement in (S.CMI5_LAUNCHED, S.CMI5_INITIALIZED):
        mapped = events_of(statement, pairing)
        assert mapped.events == [] and mapped.skipped == "opening"
    assert pairing.open  # waiting for the end
    event = one(S.CMI5_TERMINATED)
    assert event["type"] == "lms.session"
    data = event["data"]
    assert at(data["end"]) == at("2016-06-09T18:53:37.113+00:00")
    assert at(data["end"]) - at(data["start"]) == dt.timedelta(seconds=27.85)
    assert data["duration_seconds"] == 28
    assert events_of(S.CMI5_TERMINATED, pairing).events  # with pairing state: the openings are consumed
    assert pairing.dump() == {}


def test_cmi5_abandoned_is_a_session_end():
    event = one(S.CMI5_ABANDONED)
    assert event["type"] == "lms.session" and event["data"]["duration_seconds"] == 11


def test_cmi5_session_volume_helper_languages_and_actions():
    statements = S.cmi5_session(7, dt.datetime(2026, 10, 5, 9, 0, tzinfo=UTC))
    options = {"actions": {"https://formation.example.fr/cmi5/geologie": "ACT-2026-GEO-01"},
               "id_namespaces": {S.MOODLE: "moodle_user"}}
    pairing = Pairing(None, dt.timedelta(hours=12))
    events = [e for s in statements for e in events_of(s, pairing, **options).events]
    assert [e["type"] for e in events] == ["lms.progress", "lms.activity_completed", "assessment.graded",
                                         "lms.activity_completed", "lms.session", "lms.virtual_class_attended"]
    assert {e["action"] for e in events} == {"ACT-2026-GEO-01"}
    assert events[0]["learner"] == {"ref": "u007", "site": S.MOODLE, "name": "Apprenant 007", "ids": {"xapi_account": "u007", "moodle_user": "u007"}}
    assert events[1]["data"]["activity_name"] == "Géologie — module 1"  # fr-FR preferred over en-US
    assert events[4]["data"]["duration_seconds"] == 45 * 60
    assert events[5]["data"]["duration_seconds"] == 5416  # PT1H30M15.5S


# ----------------------------------------------------------------------------- xAPI spec, Moodle, video
def test_spec_attempted_with_score_is_a_quiz_attempt():
    event = one(S.SPEC_ATTEMPTED)
    assert event["type"] == "lms.quiz_attempted"
    assert event["learner"] == {"ref": "example.learner@adlnet.gov", "email": "example.learner@adlnet.gov", "name": "Example Learner"}
    assert (event["data"]["score"], event["data"]["max_score"], event["data"]["passed"]) == (95, 100, True)
    assert "action" not in event


def test_voiding_statement_is_skipped_and_names_its_target():
    mapped = events_of(S.SPEC_VOIDING)
    assert mapped.events == [] and mapped.skipped == "voided"
    assert mapped.note == "voids statement e05aa883-acaf-40ad-bf54-02c8ce485fb0"


def test_unmapped_verb_is_skipped():
    mapped = events_of(S.SPEC_EXPERIENCED)
    assert (mapped.events, mapped.skipped, mapped.verb) == ([], "unmapped_verb", "http://adlnet.gov/expapi/verbs/experienced")


def test_bbb_join_leave_pair():
    pairing = Pairing(None, dt.timedelta(hours=12))
    assert events_of(S.BBB_JOINED, pairing, id_namespaces={S.MOODLE: "moodle_user"}).skipped == "opening"
    event = events_of(S.BBB_LEFT, pairing, id_namespaces={S.MOODLE: "moodle_user"}).events[0]
    assert event["type"] == "lms.virtual_class_attended"
    assert event["source_id"] == S.BBB_LEFT["id"]
    assert event["action"] == f"{S.MOODLE}/course/view.php?id=12"  # the last grouping activity: the course
    assert event["learner"]["ids"] == {"xapi_account": "17", "moodle_user": "17"}
    data = event["data"]
    assert data["meeting"] == S.BBB_MEETING["id"] and data["meeting_name"] == "Classe virtuelle — module 2"
    assert at(data["joined_at"]) == at("2026-10-05T14:00:00+02:00") and at(data["left_at"]) == at("2026-10-05T15:30:15+02:00")
    assert data["duration_seconds"] == 5415


def test_leave_without_join_or_duration_is_counted_not_invented():
    assert events_of(S.BBB_LEFT, Pairing(None, dt.timedelta(hours=12))).skipped == "unpaired_close"
    assert events_of(S.BBB_LEFT, None).skipped == "unpaired_close"


def test_leave_with_duration_needs_no_join():
    statement = copy.deepcopy(S.BBB_LEFT)
    statement["result"] = {"duration": "PT50M"}
    assert one(statement)["data"]["duration_seconds"] == 3000


def test_pairing_in_time_order_and_reconnections():
    joins = [S.bbb("join", f"c1a1e2f0-1111-4c1e-9d2a-00000000010{i}", f"2026-10-05T14:{m}:00+02:00")
             for i, m in ((1, "00"), (2, "20"))]
    leave = S.bbb("leave", "c1a1e2f0-1111-4c1e-9d2a-000000000109", "2026-10-05T15:00:00+02:00")
    page = [leave, joins[1], joins[0]]  # reversed, as Ralph's file backend serves an ascending page
    pairing = Pairing(None, dt.timedelta(hours=12))
    m = mapper()
    events = [e for _, s in in_time_order(page) for e in m.map(s, pairing).events]
    (event,) = events
    assert event["data"]["duration_seconds"] == 3600  # from the first join: a reconnection does not cut the class
    assert pairing.dump() == {}


def test_pairing_state_survives_json_and_expires():
    pairing = Pairing(None, dt.timedelta(hours=2))
    mapper().map(S.BBB_JOINED, pairing)
    state = pairing.dump()
    assert list(state) == [f"class|17|{S.BBB_MEETING['id']}||{S.MOODLE}"]
    restored = Pairing(state, dt.timedelta(hours=2))
    assert mapper().map(S.BBB_LEFT, restored).events[0]["data"]["duration_seconds"] == 5415
    late = Pairing(state, dt.timedelta(hours=2))
    late_join = S.bbb("join", "c1a1e2f0-1111-4c1e-9d2a-000000000201", "2026-10-05T18:00:00+02:00")
    other = copy.deepcopy(late_join)
    other["object"]["id"] += "-other"
    mapper().map(other, late)
    assert list(late.dump()) == [f"class|17|{other['object']['id']}||{S.MOODLE}"]  # the 14:00 join is older than 2 h: dropped


def test_logged_in_out_session_without_duration():
    def moodle(verb: str, sid: str, when: str) -> dict:
        return {"id": sid, "actor": S.MOODLE_ACTOR, "verb": {"id": f"https://w3id.org/xapi/adl/verbs/{verb}"},
                "object": {"id": S.MOODLE, "definition": {"type": "http://id.tincanapi.com/activitytype/lms"}},
                "timestamp": when}
    pairing = Pairing(None, dt.timedelta(hours=12))
    assert events_of(moodle("logged-in", "d0000000-0000-4000-8000-000000000001", "2026-10-05T09:00:00+02:00"), pairing).skipped == "opening"
    event = one_with(moodle("logged-out", "d0000000-0000-4000-8000-000000000002", "2026-10-05T11:15:00+02:00"), pairing)
    assert event["type"] == "lms.session" and event["data"]["duration_seconds"] == 8100


def one_with(statement, pairing):
    (event,) = events_of(statement, pairing).events
    return event


def test_video_terminated_is_a_viewing():
    event = one(S.VIDEO_TERMINATED)
    assert event["type"] == "lms.media_played"
    assert (event["data"]["played_seconds"], event["data"]["progress_percent"]) == (270, 50)
    assert event["data"]["media_name"] == "Les plaques tectoniques"
    initialized = copy.deepcopy(S.VIDEO_TERMINATED)
    initialized["verb"]["id"] = "http://adlnet.gov/expapi/verbs/initialized"
    assert events_of(initialized).skipped == "opening"  # not an LMS session
    completed = copy.deepcopy(S.VIDEO_TERMINATED)
    completed["verb"]["id"] = "http://adlnet.gov/expapi/verbs/completed"
    del completed["result"]
    assert one(completed)["data"]["progress_percent"] == 100
    played = copy.deepcopy(S.VIDEO_TERMINATED)
    played["verb"]["id"] = "https://w3id.org/xapi/video/verbs/played"
    assert one(played)["type"] == "lms.media_played"


def test_downloaded_registered_attended_scored():
    assert one(S.DOWNLOADED)["data"] == {"resource": f"{S.MOODLE}/mod/resource/view.php?id=7",
                                         "resource_name": "Support de cours.pdf",
                                         "details": {"verb": "http://id.tincanapi.com/verb/downloaded"}}
    registered = copy.deepcopy(S.CMI5_LAUNCHED)
    registered["verb"]["id"] = "http://adlnet.gov/expapi/verbs/registered"
    event = one(registered)
    assert event["type"] == "enrolment.registered"
    assert (event["data"]["program"], event["data"]["enrolment"]) == (S.AU["id"], S.REGISTRATION)
    attended = copy.deepcopy(S.CMI5_COMPLETED)
    attended["verb"]["id"] = "http://adlnet.gov/expapi/verbs/attended"
    event = one(attended)
    assert event["type"] == "lms.virtual_class_attended" and event["data"]["duration_seconds"] == 14
    del attended["result"]
    assert events_of(attended).skipped == "no_duration"
    scored = copy.deepcopy(S.CMI5_PASSED)
    scored["verb"]["id"] = "http://adlnet.gov/expapi/verbs/scored"
    event = one(scored)
    assert event["type"] == "assessment.graded" and event["source_id"] == S.CMI5_PASSED["id"]
    del scored["result"]["score"]
    assert events_of(scored).skipped == "no_score"


def test_progress_from_scaled_score_and_video_progress():
    statement = copy.deepcopy(S.CMI5_PROGRESSED)
    statement["result"] = {"score": {"scaled": 0.375}}
    assert one(statement)["data"]["percent"] == 37.5
    statement["result"] = {"extensions": {"https://w3id.org/xapi/video/extensions/progress": 0.25}}
    assert one(statement)["data"]["percent"] == 25
    statement["result"] = {}
    assert events_of(statement).skipped == "no_progress"


def test_object_that_is_not_an_activity():
    statement = copy.deepcopy(S.CMI5_COMPLETED)
    statement["object"] = {"objectType": "Agent", "mbox": "mailto:someone@example.org"}
    assert events_of(statement).skipped == "not_an_activity"


# ----------------------------------------------------------------------------- learner and action
def test_learner_from_and_groups():
    with pytest.raises(StatementError, match=r"^actor: none of the identifiers of learner_from \(mbox\)"):
        mapper(learner_from=("mbox",)).map(S.CMI5_COMPLETED)
    group = copy.deepcopy(S.CMI5_COMPLETED)
    group["actor"] = {"objectType": "Group", "member": [S.ACTOR]}
    with pytest.raises(StatementError, match="^actor: an anonymous Group"):
        mapper().map(group)
    group["actor"]["account"] = {"homePage": "http://example.org/", "name": "team-3"}
    assert one(group)["learner"]["ref"] == "team-3"
    sha = copy.deepcopy(S.CMI5_COMPLETED)
    sha["actor"] = {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}
    assert one(sha)["learner"] == {"ref": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9",
                                   "ids": {"xapi_mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}}


@pytest.mark.parametrize("rules, expected", [
    (("grouping",), f"{S.MOODLE}/course/view.php?id=12"),
    (("grouping:http://id.tincanapi.com/activitytype/lms",), S.MOODLE),
    (("parent", "object"), f"{S.MOODLE}/mod/resource/view.php?id=7"),
    (("registration",), None),
    (("extension:https://parcours.example.fr/xapi/action", "grouping"), "ACT-EXT-9"),
])
def test_action_from(rules, expected):
    statement = copy.deepcopy(S.DOWNLOADED)
    if "extension" in rules[0]:
        statement["context"]["extensions"] = {"https://parcours.example.fr/xapi/action": "ACT-EXT-9"}
    assert one(statement, action_from=rules).get("action") == expected


def test_action_map_and_length():
    event = one(S.CMI5_COMPLETED, action_from=("registration",), actions={S.REGISTRATION: "ACT-2026-03"})
    assert event["action"] == "ACT-2026-03"
    long = copy.deepcopy(S.DOWNLOADED)
    long["context"]["contextActivities"]["grouping"][1]["id"] = "https://moodle.example.fr/" + "x" * 300
    with pytest.raises(StatementError, match=r"^context.contextActivities.grouping: .* longer than 200 characters"):
        mapper().map(long)


# ----------------------------------------------------------------------------- malformed statements
def _broken(path: str, value):
    statement = copy.deepcopy(S.CMI5_PASSED)
    target = statement
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return statement


@pytest.mark.parametrize("path, value, message", [
    ("id", "not-a-uuid", "^id: 'not-a-uuid' is not a UUID"),
    ("id", KeyError, "^id: missing"),
    ("verb.id", KeyError, "^verb.id: missing"),
    ("actor", KeyError, "^actor: missing"),
    ("actor", {"name": "no identifier"}, r"^actor: no identifier"),
    ("actor.account", {"homePage": "http://example.org/"}, "^actor.account.name: missing"),
    ("actor", {"mbox": "learner@example.org"}, "^actor.mbox: 'learner@example.org' is not a mailto: IRI"),
    ("object", KeyError, "^object: missing"),
    ("object.id", KeyError, "^object.id: missing"),
    ("timestamp", "yesterday", "^timestamp: 'yesterday' is not an ISO 8601 date-time"),
    ("result.duration", "soon", "^result.duration: 'soon' is not an ISO 8601 duration"),
    ("result.score.scaled", 7, r"^result.score.scaled: 7 is outside -1..1"),
    ("result.score.raw", "88", "^result.score.raw: expected a number"),
    ("result.score.raw", 188, r"^result.score.raw: 188 is outside result.score.min..max"),
    ("context.registration", "reg-1", "^context.registration: 'reg-1' is not a UUID"),
    ("context.contextActivities", [], "^context.contextActivities: expected an object"),
])
def test_malformed_statements_name_the_field(path, value, message):
    with pytest.raises(StatementError, match=message):
        mapper().map(_broken(path, value))


def test_progress_out_of_range_is_malformed():
    statement = copy.deepcopy(S.CMI5_PROGRESSED)
    statement["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/progress"] = 150
    with pytest.raises(StatementError, match=r"progress\]: 150 is outside 0..100"):
        mapper().map(statement)


def test_pushed_statement_without_id_or_timestamp():
    statement = copy.deepcopy(S.SPEC_ATTEMPTED)
    del statement["id"], statement["timestamp"]
    received = dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    mapped = mapper().map(statement, require_id=False, received_at=received)
    assert mapped.statement_id == statement_uuid(statement) == mapper().map(statement, require_id=False,
                                                                            received_at=received).statement_id
    assert mapped.events[0]["source_id"] == mapped.statement_id
    assert at(mapped.events[0]["occurred_at"]) == received
    with pytest.raises(StatementError, match="^timestamp: missing"):
        mapper().map({**statement, "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119"})

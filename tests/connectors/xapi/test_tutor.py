"""A learner's exchange with a tutor (xAPI 'asked', 'commented', 'responded' with context.instructor)
is the assistance a distance module must prove (D6313-3-1): an lms.tutor_interaction."""

from __future__ import annotations

import copy
import datetime as dt
import json

from hub.journeys.proofs import check
from tests.connectors.xapi.test_hub import events, lrs, lrs_config, secrets  # noqa: F401  (the fake LRS fixture)
from tests.connectors.xapi.test_mapping import events_of, one
from tests.fakes import xapi_statements as S

TUTOR = {"objectType": "Agent", "name": "Sophie Lambert", "mbox": "mailto:sophie.lambert@of-demo.example.fr"}
FORUM = {"objectType": "Activity", "id": f"{S.MOODLE}/mod/forum/discuss.php?d=31",
         "definition": {"type": "http://id.tincanapi.com/activitytype/discussion", "name": {"fr": "Question sur le module 2"}}}
ASKED = {
    "id": "5e1d7c1a-3333-4f0e-9a11-000000000001", "actor": S.MOODLE_ACTOR,
    "verb": {"id": "http://adlnet.gov/expapi/verbs/asked", "display": {"fr": "a demandé"}}, "object": FORUM,
    "result": {"response": "Je ne comprends pas l'exercice 3, pouvez-vous m'aider ?"},
    "context": {"instructor": TUTOR, "contextActivities": {"grouping": copy.deepcopy(S.MOODLE_GROUPING)}},
    "timestamp": "2026-10-06T15:10:00+02:00",
}


def test_a_question_to_the_tutor_is_a_tutor_interaction():
    event = one(ASKED)
    assert event["type"] == "lms.tutor_interaction" and event["source_id"] == ASKED["id"]
    assert event["learner"]["ref"] == "17"
    data = event["data"]
    assert data["kind"] == "message" and data["tutor"] == "Sophie Lambert"
    assert data["summary"] == "Question sur le module 2"
    assert "exercice 3" not in json.dumps(event)  # what the learner wrote stays in the LMS
    assert data["details"]["activity"] == FORUM["id"] and data["details"]["verb"].endswith("/asked")


def test_commented_and_responded_too_and_a_tutor_known_by_account_only():
    for verb in ("commented", "responded"):
        statement = copy.deepcopy(ASKED)
        statement["verb"]["id"] = f"http://adlnet.gov/expapi/verbs/{verb}"
        statement["context"]["instructor"] = {"objectType": "Agent", "account": {"homePage": S.MOODLE, "name": "4"}}
        assert one(statement)["data"]["tutor"] == "4"


def test_a_post_without_an_instructor_is_not_a_tutor_interaction():
    statement = copy.deepcopy(ASKED)
    del statement["context"]["instructor"]
    assert events_of(statement).skipped == "no_instructor"  # a forum post between learners, say


async def test_pulled_tutor_questions_prove_the_assistance_of_a_distance_module(make_hub, workdir, lrs):  # noqa: F811
    course = f"{S.MOODLE}/course/view.php?id=12"
    lrs.add([ASKED])
    secrets(workdir, lrs)
    action = {"title": "Géologie à distance", "modality": "foad_asynchrone", "start": "2026-10-05",
              "end": "2026-10-16", "planned_hours": "10"}
    hub = await make_hub(lrs_config(lrs).replace("ACT-2026-GEO-01}", f"ACT-2026-GEO-01, \"{course}\": GEO-FOAD}}")
                         + "actions:\n  GEO-FOAD: " + json.dumps(action) + "\n")
    assert (await hub.pull("lrs")).appended == 1
    (stored,) = await events(hub, "lrs")
    assert stored["type"] == "lms.tutor_interaction" and stored["action"] == "GEO-FOAD"
    (report,) = await hub.journey_reports(action="GEO-FOAD")
    assert [t["tutor"] for t in report.tutor_interactions] == ["Sophie Lambert"]
    (module,) = report.foad_modules
    assert module.evidence["assistance"] == [stored["id"]]
    (found,) = check([report], hub.plugins.proof_rules(), today=dt.date(2026, 10, 20))
    codes = [g.code for _, g in found.gaps if g.code.startswith("foad")]
    assert "foad_no_tutor_interaction" not in codes and "foad_no_connection_trace" in codes

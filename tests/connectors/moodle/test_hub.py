"""The Moodle connector inside a hub (SQLite store): expired token, resume, dead letters."""

from __future__ import annotations

import json

import pytest

from connectors.moodle import Moodle
from tests.connectors.moodle.conftest import NOW
from tests.fakes.moodle import TOKEN, FakeMoodle, RecordedMoodle, running
from tests.fakes.moodle_dataset import GeneratedMoodle, generate


@pytest.fixture(autouse=True)
def _still_clock(monkeypatch):
    """Time stands still: the learners polled are those who came back, none falls due meanwhile."""
    monkeypatch.setattr(Moodle, "clock", staticmethod(lambda: NOW))


def hub_config(url: str, courses: str = "[3]") -> str:
    return f"""
connectors:
  moodle:
    kind: moodle
    url: {url}
    token: "${{file:secrets/moodle-token}}"
    courses: {courses}
    retries: 0
    timeout: 5s
"""


async def test_expired_token_then_fixed_resumes_from_the_cursor(make_hub, workdir):
    (workdir / "secrets" / "moodle-token").write_text(TOKEN)
    async with running(FakeMoodle(RecordedMoodle())) as fake:
        hub = await make_hub(hub_config(fake.url))
        first = await hub.pull("moodle")
        assert first.ok and first.appended == 37
        cursor = (await hub.store.call(hub.store.source_state, "moodle")).cursor

        fake.expired = True  # the token expired on the Moodle side
        failed = await hub.pull("moodle")
        assert not failed.ok and failed.error.startswith("AuthError")
        assert "Moodle refused the web-service token" in failed.error
        health = (await hub.check_connectors())["moodle"]
        assert not health["ok"] and "token" in health["message"]
        assert TOKEN not in json.dumps(health)
        assert (await hub.store.call(hub.store.source_state, "moodle")).cursor == cursor, "nothing committed"

        # meanwhile Françoise came back and finished the SCORM package
        for key, value in fake.backend.answers.items():
            if key[0] == "core_enrol_get_enrolled_users":
                next(u for u in value if u["id"] == 6)["lastcourseaccess"] = 1773400000
            if key[0] == "core_completion_get_activities_completion_status" and ("userid", "6") in key[1]:
                next(s for s in value["statuses"] if s["cmid"] == 6).update(state=1, timecompleted=1773399990)
        fake.expired = False  # a new token is in place
        fake.reset_counts()
        resumed = await hub.pull("moodle")
        assert resumed.ok and resumed.appended == 2 and resumed.duplicates == 0  # completion + progress 67 %
        assert fake.calls["core_completion_get_activities_completion_status"] == 2  # Françoise, Zoé (recheck)
        assert (await hub.check_connectors())["moodle"]["ok"]


async def test_expiry_in_the_middle_of_a_round_keeps_the_committed_pages(make_hub, workdir):
    (workdir / "secrets" / "moodle-token").write_text(TOKEN)
    first = generate(learners=3, activities=10)
    second = generate(course_id=13, shortname="CACES-R489-2026-11", learners=3, activities=10, first_cm=300,
                      first_user=400, seed=5)
    fake = FakeMoodle(GeneratedMoodle([first, second]))
    original = fake.handle
    fired: list[bool] = []

    async def expire_after_first_course(request):
        form = await request.post()
        if not fired and form.get("wsfunction") == "core_enrol_get_enrolled_users" and form.get("courseid") == "13":
            fired.append(True)
            fake.expired = True  # the token expires once course 12 is done
        return await original(request)

    fake.handle = expire_after_first_course  # type: ignore[method-assign]
    async with running(fake):
        hub = await make_hub(hub_config(fake.url, courses="[]"))
        failed = await hub.pull("moodle")
        assert not failed.ok and failed.error.startswith("AuthError") and failed.pages == 1
        state = await hub.store.call(hub.store.source_state, "moodle")
        assert state.cursor["ws"]["todo"] == [13], "course 12 is committed with its cursor"
        fake.expired = False
        resumed = await hub.pull("moodle")
    assert resumed.ok and resumed.pages == 1 and resumed.duplicates == 0
    assert (await hub.store.call(hub.store.source_state, "moodle")).cursor["ws"]["todo"] is None


async def test_malformed_record_is_dead_lettered_with_its_payload(make_hub, workdir):
    (workdir / "secrets" / "moodle-token").write_text(TOKEN)
    course = generate(learners=4, activities=10)
    course.completions[200][1]["timecompleted"] = "2026-10-05"
    async with running(FakeMoodle(GeneratedMoodle([course]))) as fake:
        hub = await make_hub(hub_config(fake.url, courses="[CACES-R489-2026-10]"))
        summary = await hub.pull("moodle")
    assert summary.ok and summary.rejected == 2 and summary.appended > 50
    rejects = await hub.store.call(hub.store.take_rejects, source="moodle")
    stages = {r.stage for _, r in rejects}
    assert stages == {"map"}
    errors = sorted(r.error for _, r in rejects)
    assert "timecompleted: expected a Unix time, got '2026-10-05'" in errors[0]
    payload = json.loads(rejects[0][1].payload)
    assert payload["kind"] in ("activity_completion", "course_completion") and payload["user"]["id"] == 200
    replayed, replay_errors = await hub.dead_letters.replay_rejects(source="moodle")
    assert replayed == 0 and len(replay_errors) == 2 and "timecompleted" in replay_errors[0]



async def test_one_override_read_by_web_services_and_the_log_is_one_event(make_hub, workdir):
    from tests.connectors.moodle.conftest import ts
    from tests.connectors.moodle.test_logstore import _override_row, override_francoise
    from tests.fakes.moodle_db import LOGSTORE_TABLES, add_log_rows, postgres_schema

    (workdir / "secrets" / "moodle-token").write_text(TOKEN)
    written = ts("2026-03-10 19:05:31")
    with postgres_schema(LOGSTORE_TABLES) as dsn:
        add_log_rows(dsn, [_override_row(1001, 6, 7, 1, written + 1, teacher=8)])
        (workdir / "secrets" / "moodle-db").write_text(dsn)
        async with running(FakeMoodle(RecordedMoodle())) as fake:
            override_francoise(fake, written)
            hub = await make_hub(hub_config(fake.url) + """
    logstore:
      dsn: "${file:secrets/moodle-db}"
      ignore_users: [2]
""")
            summary = await hub.pull("moodle")
        events = await hub.store.call(lambda: list(hub.store.iter_events(types=["lms.activity_completed"])))
    assert summary.ok and summary.pages == 2
    ids = [e["source_id"] for e in events]
    assert ids.count("completion:7:6:complete") == 1
    assert len(ids) == len(set(ids)), "every completion once, though both paths read them"
    # the log read the 15 completions web services sent (and Jérôme's failed quiz they no longer show),
    # the 2 course completions and the override: the hub kept the first of each
    assert summary.duplicates == 18


@pytest.mark.parametrize("namespaces, learners", [(("moodle_user", "moodle_user"), 3),
                                                  (("moodle_user", "moodle_user_campus2"), 6)])
async def test_two_moodle_sites_keep_their_user_ids_apart_with_a_namespace_each(make_hub, workdir, namespaces, learners):
    """User 6 of one site and user 6 of another are two people. Linking learners on the Moodle user
    id (match_on) merges them when both sites share the default namespace; one namespace per site
    (user_id_namespace) keeps them apart."""
    (workdir / "secrets" / "moodle-token").write_text(TOKEN)
    async with running(FakeMoodle(RecordedMoodle())) as first, running(FakeMoodle(RecordedMoodle())) as second:
        sites = "".join(f"""
  {name}:
    kind: moodle
    url: {fake.url}
    token: "${{file:secrets/moodle-token}}"
    courses: [3]
    retries: 0
    timeout: 5s
    user_id_namespace: {namespace}
""" for name, fake, namespace in zip(("campus1", "campus2"), (first, second), namespaces))
        match_on = f"  learners: {{match_on: [{', '.join(sorted(set(namespaces)))}]}}\n"  # the same e-mails: not on them
        hub = await make_hub(f"connectors:{sites}", hub_extra=match_on)
        assert (await hub.pull("campus1")).ok and (await hub.pull("campus2")).ok
        ids = await hub.store.call(hub.store.event_learner_ids)
        assert len(ids) == learners  # the 3 learners with events at each site: merged, or apart

"""The xapi connector inside a real hub: pulls through the ingest, dead letters, credentials, pushes."""

from __future__ import annotations

import base64
import copy

import aiohttp
import orjson
import pytest

from hub.runtime.server import build_app
from tests.fakes import xapi_statements as S
from tests.fakes.xapi_lrs import FakeLrs

PUSH_USER, PUSH_PASSWORD, PUSH_TOKEN = "moodle-logstore", "push-secret-0123", "push-token-0123456789"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def events(hub, source: str | None = None) -> list[dict]:
    rows = await hub.store.call(lambda: list(hub.store.iter_events()))
    return [r for r in rows if source is None or r["source"] == source]


def malformed() -> dict:
    statement = copy.deepcopy(S.CMI5_COMPLETED)
    statement["id"] = "6f2b8c1e-0c55-4a8e-9a57-3c1d8f7e0b11"
    statement["result"]["duration"] = "soon"
    return statement


@pytest.fixture
async def lrs():
    fake = FakeLrs(max_limit=4)
    async with fake.running():
        yield fake


def lrs_config(lrs: FakeLrs, **extra: str) -> str:
    lines = "".join(f"\n    {k}: {v}" for k, v in extra.items())
    return f"""
connectors:
  lrs:
    kind: xapi
    endpoint: "{lrs.url}"
    username: "${{file:secrets/lrs-user}}"
    password: "${{file:secrets/lrs-password}}"
    page_limit: 4
    retries: 0
    actions: {{"http://course-repository.example.edu/identifiers/courses/02baafcf/aus/4c07": ACT-2026-GEO-01}}{lines}
"""


def secrets(workdir, lrs: FakeLrs, password: str | None = None) -> None:
    (workdir / "secrets" / "lrs-user").write_text(lrs.username)
    (workdir / "secrets" / "lrs-password").write_text(password or lrs.password)


async def test_pull_through_the_ingest_dead_letters_a_malformed_statement(make_hub, workdir, lrs):
    bad = malformed()
    lrs.add([*S.ALL_SAMPLES[:8], bad, *S.ALL_SAMPLES[8:]])
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs))
    summary = await hub.pull("lrs")
    assert summary.ok and (summary.pages, summary.appended, summary.rejected) == (5, 13, 1)
    stored = await events(hub, "lrs")
    by_type = {}
    for row in stored:
        by_type[row["type"]] = by_type.get(row["type"], 0) + 1
    assert by_type == {"lms.activity_completed": 4, "assessment.graded": 2, "lms.session": 2, "lms.progress": 1,
                       "lms.quiz_attempted": 1, "lms.virtual_class_attended": 1, "lms.media_played": 1,
                       "lms.resource_downloaded": 1}
    passed = next(r for r in stored if r["source_id"] == S.CMI5_PASSED["id"] + "#score")
    assert passed["action"] == "ACT-2026-GEO-01" and passed["learner"]["ref"] == "Learner"
    assert (passed["data"]["score"], passed["data"]["max_score"], passed["data"]["passed"]) in ((88, 100, True), ("88", "100", True))
    (dead,) = await hub.store.call(hub.store.dead_letters, source="lrs")
    assert dead.stage == "map"
    assert dead.error.startswith(f"statement {bad['id']}: result.duration: 'soon' is not an ISO 8601 duration")
    payload = dead.payload if isinstance(dead.payload, dict) else orjson.loads(dead.payload)
    assert payload["id"] == bad["id"] and payload["result"]["duration"] == "soon"
    again = await hub.pull("lrs")
    assert (again.appended, again.duplicates, again.rejected) == (0, 0, 0)  # resumed after the last statement
    replayed, errors = await hub.dead_letters.replay_rejects(source="lrs")
    assert replayed == 0 and "result.duration" in errors[0]  # still malformed: it stays a dead letter


async def test_revoked_credentials_make_the_source_unhealthy_then_it_resumes(make_hub, workdir, lrs):
    lrs.add(S.CMI5_SAMPLES)
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs))
    first = await hub.pull("lrs")
    assert first.ok and first.appended == 5
    lrs.password = "rotated-on-the-lrs-side"  # the LRS admin rotated the client secret
    lrs.add([S.CMI5_FAILED, S.CMI5_PROGRESSED])
    failed = await hub.pull("lrs")
    assert not failed.ok and failed.appended == 0
    assert failed.error.startswith("AuthError: the LRS refused the credentials (HTTP 401 on GET /xAPI/statements)")
    assert hub.health["lrs"]["ok"] is False and "check `username` and `password`" in hub.health["lrs"]["message"]
    checks = await hub.check_connectors()
    assert checks["lrs"]["ok"] is False and "refused the credentials" in checks["lrs"]["message"]
    state = await hub.store.call(hub.store.source_state, "lrs")
    assert not state.healthy and state.cursor["since"]
    secrets(workdir, lrs, password="rotated-on-the-lrs-side")  # the operator updates the secret file…
    fixed = await make_hub(lrs_config(lrs))  # …and restarts the hub (same store)
    resumed = await fixed.pull("lrs")
    assert resumed.ok and (resumed.appended, resumed.duplicates) == (3, 0)  # only what came after the cursor
    assert (await fixed.check_connectors())["lrs"]["ok"] is True
    assert len(await events(fixed, "lrs")) == 8


# ----------------------------------------------------------------------------- push
PUSH_CONFIG = """
connectors:
  pushed:
    kind: xapi
    push_username: "${file:secrets/push-user}"
    push_password: "${file:secrets/push-password}"
    action_from: [registration]
  tokened:
    kind: xapi
    push_token: "${file:secrets/push-token}"
  strict:
    kind: xapi
    push_username: "${file:secrets/push-user}"
    push_password: "${file:secrets/push-password}"
    push_batches: all_or_nothing
"""


@pytest.fixture
async def served(make_hub, workdir, aiohttp_server_factory):
    (workdir / "secrets" / "push-user").write_text(PUSH_USER)
    (workdir / "secrets" / "push-password").write_text(PUSH_PASSWORD)
    (workdir / "secrets" / "push-token").write_text(PUSH_TOKEN)
    hub = await make_hub(PUSH_CONFIG)
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield hub, client


async def test_push_with_basic_auth_answers_statement_ids(served):
    hub, client = served
    body = [*S.CMI5_SAMPLES, S.BBB_JOINED, S.BBB_LEFT]
    headers = {**basic(PUSH_USER, PUSH_PASSWORD), "X-Experience-API-Version": "1.0.0"}
    async with client.post("/webhooks/pushed", json=body, headers=headers) as answer:
        assert answer.status == 200
        assert await answer.json() == [s["id"] for s in body]  # like an LRS's POST /statements
    stored = await events(hub, "pushed")
    assert sorted(r["source_id"] for r in stored) == sorted([
        S.CMI5_COMPLETED["id"], S.CMI5_PASSED["id"], S.CMI5_PASSED["id"] + "#score", S.CMI5_SATISFIED["id"],
        S.CMI5_TERMINATED["id"], S.BBB_LEFT["id"]])  # join and leave in one request are paired
    assert {r["action"] for r in stored if r["learner"]["ref"] == "Learner"} == {S.REGISTRATION}
    assert all(r["evidence"] and r["evidence"][0]["media_type"] == "application/json" for r in stored)
    async with client.post("/webhooks/pushed", json=body, headers=headers) as answer:  # replayed as is
        assert answer.status == 200
    assert len(await events(hub, "pushed")) == 6  # nothing new: the statement ids de-duplicate


@pytest.mark.parametrize("name, headers", [
    ("pushed", basic(PUSH_USER, PUSH_PASSWORD + "x")),
    ("pushed", basic(PUSH_USER + "x", PUSH_PASSWORD)),
    ("pushed", {}),
    ("pushed", {"Authorization": "Basic not-base64!"}),
    ("pushed", {"Authorization": f"Bearer {PUSH_PASSWORD}"}),
    ("tokened", {"Authorization": f"Bearer {PUSH_TOKEN}x"}),
    ("tokened", basic(PUSH_USER, PUSH_TOKEN)),
])
async def test_push_with_wrong_credentials_is_refused_and_stores_nothing(served, name, headers):
    hub, client = served
    async with client.post(f"/webhooks/{name}", json=S.CMI5_SAMPLES, headers=headers) as answer:
        assert answer.status == 401
        assert await answer.json() == {"error": "invalid or missing credentials"}
    assert await events(hub) == []


async def test_push_with_a_bearer_token(served):
    hub, client = served
    async with client.post("/webhooks/tokened", json=S.SPEC_ATTEMPTED, headers={"Authorization": f"Bearer {PUSH_TOKEN}"}) as answer:
        assert answer.status == 200 and await answer.json() == [S.SPEC_ATTEMPTED["id"]]
    (row,) = await events(hub, "tokened")
    assert row["type"] == "lms.quiz_attempted"


@pytest.mark.parametrize("body, message", [
    (b"{not json", "the body is not JSON"),
    (b'"a string"', "expected a statement or an array of statements"),
    (orjson.dumps([S.CMI5_COMPLETED, S.CMI5_PASSED, malformed()]),
     "statement 2: result.duration: 'soon' is not an ISO 8601 duration (e.g. PT1H30M15.5S); nothing was stored"),
    (orjson.dumps([S.CMI5_COMPLETED, {**S.CMI5_PASSED, "actor": {"name": "nobody"}}]),
     "statement 1: actor: no identifier (mbox, mbox_sha1sum, openid or account); nothing was stored"),
])
async def test_malformed_push_is_refused_with_400_and_stores_nothing(served, body, message):
    hub, client = served
    headers = {**basic(PUSH_USER, PUSH_PASSWORD), "Content-Type": "application/json"}
    async with client.post("/webhooks/strict", data=body, headers=headers) as answer:
        assert answer.status == 400
        assert (await answer.json())["error"] == message
    assert await events(hub) == []


async def test_a_malformed_statement_in_a_pushed_batch_is_dead_lettered_and_the_others_stored(served):
    hub, client = served
    bad, nameless = malformed(), {**S.CMI5_PASSED, "actor": {"name": "nobody"}}
    del nameless["id"]
    body = [S.CMI5_COMPLETED, bad, S.BBB_JOINED, nameless, S.BBB_LEFT]
    async with client.post("/webhooks/pushed", json=body, headers=basic(PUSH_USER, PUSH_PASSWORD)) as answer:
        assert answer.status == 200  # a forwarder drops a batch answered 4xx: the valid statements must arrive
        result = await answer.json()
    assert result["stored"] == [0, 2, 4]
    (first, second) = result["dead_lettered"]
    assert (first["index"], first["id"]) == (1, bad["id"]) and "result.duration: 'soon'" in first["error"]
    assert second["index"] == 3 and "actor: no identifier" in second["error"]
    assert result["ids"] == [S.CMI5_COMPLETED["id"], bad["id"], S.BBB_JOINED["id"], second["id"], S.BBB_LEFT["id"]]
    assert sorted(r["source_id"] for r in await events(hub, "pushed")) == sorted([S.CMI5_COMPLETED["id"], S.BBB_LEFT["id"]])
    letters = {d.payload["id"]: d for d in await hub.store.call(hub.store.dead_letters, source="pushed")}
    assert set(letters) == {bad["id"], second["id"]}
    assert letters[bad["id"]].stage == "map" and letters[bad["id"]].payload == bad  # the raw statement, for replay
    assert letters[second["id"]].payload == {**nameless, "id": second["id"]}  # given its id, as the answer said

    summary = await hub.dead_letters.replay(source="pushed", actor="test")
    assert summary["replayed"] == 0 and len(summary["errors"]) == 2  # still malformed: kept, with the reason
    assert len(await events(hub, "pushed")) == 2


async def test_a_pushed_statement_dead_lettered_by_the_mapping_is_replayed_once_the_mapping_is_fixed(
        make_hub, workdir, aiohttp_server_factory):
    (workdir / "secrets" / "push-user").write_text(PUSH_USER)
    (workdir / "secrets" / "push-password").write_text(PUSH_PASSWORD)
    config = """
connectors:
  pushed:
    kind: xapi
    push_username: "${file:secrets/push-user}"
    push_password: "${file:secrets/push-password}"
    learner_from: [%s]
"""
    hub = await make_hub(config % "mbox")
    server = await aiohttp_server_factory(build_app(hub))
    by_mail = {**S.CMI5_COMPLETED, "actor": {"mbox": "mailto:camille@example.fr"}}
    body = [by_mail, S.DOWNLOADED]  # the download's actor is a Moodle account only
    async with aiohttp.ClientSession() as client:
        async with client.post(f"http://127.0.0.1:{server.port}/webhooks/pushed", json=body,
                               headers=basic(PUSH_USER, PUSH_PASSWORD)) as answer:
            assert answer.status == 200 and (await answer.json())["stored"] == [0]
    (letter,) = await hub.store.call(hub.store.dead_letters, source="pushed")
    assert "none of the identifiers of learner_from (mbox)" in letter.error
    await hub.stop()
    hub = await make_hub(config % "mbox, account")  # the admin fixes the configuration and restarts
    summary = await hub.dead_letters.replay(source="pushed", actor="test")
    assert summary["replayed"] == 1 and summary["errors"] == []
    assert sorted(r["source_id"] for r in await events(hub, "pushed")) == sorted([by_mail["id"], S.DOWNLOADED["id"]])


async def test_push_refusals_for_version_attachments_and_disabled_push(served, make_hub, workdir, lrs):
    hub, client = served
    headers = basic(PUSH_USER, PUSH_PASSWORD)
    async with client.post("/webhooks/pushed", json=S.CMI5_SAMPLES,
                           headers={**headers, "X-Experience-API-Version": "0.95"}) as answer:
        assert answer.status == 400 and "X-Experience-API-Version" in (await answer.json())["error"]
    async with client.post("/webhooks/pushed", data=b"--b\r\n", headers={
            **headers, "Content-Type": "multipart/mixed; boundary=b"}) as answer:
        assert answer.status == 400 and "multipart/mixed" in (await answer.json())["error"]
    assert await events(hub) == []


async def test_push_to_a_pull_only_connector_is_forbidden(make_hub, workdir, lrs, aiohttp_server_factory):
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs))
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession() as client:
        async with client.post(f"http://127.0.0.1:{server.port}/webhooks/lrs", json=S.CMI5_SAMPLES,
                               headers=basic(lrs.username, lrs.password)) as answer:
            assert answer.status == 403
            assert "push is not enabled" in (await answer.json())["error"]

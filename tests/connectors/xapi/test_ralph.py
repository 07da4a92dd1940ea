"""The xapi connector against a real LRS: Ralph 5.1 (FS backend), started by the test suite.

The first run installs Ralph in .venv-peers/ralph (see tests/fakes/xapi_ralph.py); later runs
reuse it. Without access to the package registry the tests are skipped, unless CI is set.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt

import aiohttp

from hub.runtime.server import build_app
from tests.fakes import xapi_statements as S
from tests.fakes.xapi_ralph import RalphServer

UTC = dt.timezone.utc
BASE = dt.datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
COURSE = "https://formation.example.fr/cmi5/geologie"
PUSH_USER, PUSH_PASSWORD = "ralph-forwarder", "forward-secret-0123"


def auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
            "X-Experience-API-Version": "1.0.3"}


async def post(ralph: RalphServer, statements: list[dict], batch: int = 100) -> None:
    async with aiohttp.ClientSession() as client:
        for start in range(0, len(statements), batch):
            chunk = statements[start:start + batch]
            async with client.post(ralph.endpoint + "statements", json=chunk,
                                   headers=auth(ralph.username, ralph.password)) as answer:
                assert answer.status == 200, await answer.text()
                assert await answer.json() == [s["id"] for s in chunk]


def malformed() -> dict:
    statement = copy.deepcopy(S.CMI5_COMPLETED)
    statement["id"] = "6f2b8c1e-0c55-4a8e-9a57-3c1d8f7e0b11"
    statement["result"]["duration"] = "soon"  # Ralph stores it; the connector dead-letters it
    return statement


def pull_config(ralph: RalphServer, extra: str = "") -> str:
    """A connector `ralph` pulling from ``ralph`` on `timestamp` (credentials in the secrets folder)."""
    return f"""
connectors:
  ralph:
    kind: xapi
    endpoint: "{ralph.endpoint}"
    username: "${{file:secrets/ralph-user}}"
    password: "${{file:secrets/ralph-password}}"
    cursor_field: timestamp
{extra}"""


def config(ralph: RalphServer) -> str:
    return pull_config(ralph, f"""\
    page_limit: 100
    actions: {{"{COURSE}": ACT-2026-GEO-01}}
    id_namespaces: {{"{S.MOODLE}": moodle_user}}
""")


async def by_type(hub, source: str) -> dict[str, list[dict]]:
    rows = await hub.store.call(lambda: list(hub.store.iter_events()))
    out: dict[str, list[dict]] = {}
    for row in rows:
        if row["source"] == source:
            out.setdefault(row["type"], []).append(row)
    return out


async def test_pull_cmi5_sessions_from_ralph_through_the_hub(ralph, make_hub, workdir):
    statements = [s for i in range(40) for s in S.cmi5_session(i, BASE + dt.timedelta(minutes=i))]
    extras = [S.SPEC_VOIDING, S.SPEC_EXPERIENCED, malformed(), S.BBB_JOINED, S.BBB_LEFT]
    await post(ralph, statements + extras)  # 285 statements
    (workdir / "secrets" / "ralph-user").write_text(ralph.username)
    (workdir / "secrets" / "ralph-password").write_text(ralph.password)
    hub = await make_hub(config(ralph))

    summary = await hub.pull("ralph")
    assert summary.ok, summary.error
    assert summary.pages == 6  # Ralph caps pages at 50 statements: five full pages and one of 35
    assert (summary.appended, summary.duplicates, summary.rejected) == (40 * 6 + 1, 0, 1)
    events = await by_type(hub, "ralph")
    assert {t: len(rows) for t, rows in events.items()} == {
        "lms.progress": 40, "lms.activity_completed": 80, "assessment.graded": 40, "lms.session": 40,
        "lms.virtual_class_attended": 41}
    session = next(r for r in events["lms.session"] if r["learner"]["ref"] == "u007")
    assert session["action"] == "ACT-2026-GEO-01"
    assert session["learner"] == {"ref": "u007", "site": S.MOODLE, "name": "Apprenant 007", "ids": {"xapi_account": "u007", "moodle_user": "u007"}}
    start, end = (dt.datetime.fromisoformat(session["data"][k]) for k in ("start", "end"))
    assert end == BASE + dt.timedelta(minutes=7 + 45) and end - start == dt.timedelta(minutes=45)
    assert session["data"]["duration_seconds"] == 2700
    grade = next(r for r in events["assessment.graded"] if r["learner"]["ref"] == "u007")
    assert (float(grade["data"]["score"]), float(grade["data"]["max_score"]), grade["data"]["passed"]) == (90, 100, True)
    attended = [r for r in events["lms.virtual_class_attended"] if r["learner"]["ref"] == "u007"]
    assert [r["data"]["duration_seconds"] for r in attended] == [5416]
    bbb = next(r for r in events["lms.virtual_class_attended"] if r["learner"]["ref"] == "17")
    assert bbb["data"]["duration_seconds"] == 5415 and bbb["source_id"] == S.BBB_LEFT["id"]
    assert sorted(r["data"]["state"] for r in events["lms.activity_completed"])[::40] == ["complete", "pass"]
    (dead,) = await hub.store.call(hub.store.dead_letters, source="ralph")
    assert dead.stage == "map" and "result.duration: 'soon'" in dead.error

    # The 1 h overlap reads the 40 virtual classes again: duplicates only; the newest one, at the
    # cursor's exact time, is recognised by its id and not even handed to the hub.
    again = await hub.pull("ralph")
    assert again.ok and (again.appended, again.duplicates, again.rejected) == (0, 39, 0)

    later = [s for i in range(10) for s in S.cmi5_session(i, BASE + dt.timedelta(days=2, minutes=i), tag="s2")]
    # posted now, but it happened 35 to 55 minutes before the newest statement already read (the
    # virtual class of learner 39, day 2 at 11:09:15): within the 1 h overlap, so it is not lost
    late = S.cmi5_session(99, BASE + dt.timedelta(days=1, hours=1, minutes=15), minutes=20, tag="late")[:6]
    await post(ralph, later + late)
    third = await hub.pull("ralph")
    assert third.ok and third.appended == 10 * 6 + 5 and third.rejected == 0
    assert len((await by_type(hub, "ralph"))["lms.session"]) == 40 + 10 + 1
    health = (await hub.check_connectors())["ralph"]
    assert health["ok"] is True
    details = health["details"]
    assert details["rejected"] == 1 and details["skipped"]["voided"] == 1
    assert details["unmapped_verbs"] == {"http://adlnet.gov/expapi/verbs/experienced": 1}


async def test_wrong_password_against_ralph_is_an_auth_error(ralph, make_hub, workdir):
    (workdir / "secrets" / "ralph-user").write_text(ralph.username)
    (workdir / "secrets" / "ralph-password").write_text("not-the-password")
    hub = await make_hub(config(ralph))
    summary = await hub.pull("ralph")
    assert not summary.ok and summary.error.startswith("AuthError: the LRS refused the credentials (HTTP 401")
    assert hub.health["ralph"]["ok"] is False


def push_connectors(workdir, *names: str) -> str:
    """Push-only xapi connectors ``names`` sharing the push credentials (written to the secrets)."""
    (workdir / "secrets" / "push-user").write_text(PUSH_USER)
    (workdir / "secrets" / "push-password").write_text(PUSH_PASSWORD)
    return "\nconnectors:\n" + "".join(
        f'  {name}:\n    kind: xapi\n    push_username: "${{file:secrets/push-user}}"\n'
        f'    push_password: "${{file:secrets/push-password}}"\n' for name in names)


async def test_ralph_forwards_statements_to_the_hub_webhook(ralph_app_dir, tmp_path, make_hub, workdir,
                                                            aiohttp_server_factory):
    hub = await make_hub(push_connectors(workdir, "forwarded", "refused"))
    server = await aiohttp_server_factory(build_app(hub))
    hooks = f"http://127.0.0.1:{server.port}/webhooks"
    forwardings = [  # Ralph forwards in this order: the refused one is answered before the good one arrives
        {"url": f"{hooks}/refused", "is_active": True, "basic_username": PUSH_USER,
         "basic_password": "wrong-password", "max_retries": 0, "timeout": 5},
        {"url": f"{hooks}/forwarded", "is_active": True, "basic_username": PUSH_USER,
         "basic_password": PUSH_PASSWORD, "max_retries": 0, "timeout": 5},
    ]
    ralph = RalphServer(tmp_path / "forwarding-ralph", ralph_app_dir, forwardings=forwardings)
    await asyncio.to_thread(ralph.start)
    try:
        await post(ralph, S.cmi5_session(1, BASE))
        events: dict[str, list[dict]] = {}

        async def arrived() -> bool:
            events.update(await by_type(hub, "forwarded"))
            return sum(map(len, events.values())) >= 6

        deadline = asyncio.get_running_loop().time() + 20
        while not await arrived() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(ralph.stop)
    assert {t: len(rows) for t, rows in events.items()} == {
        "lms.progress": 1, "lms.activity_completed": 2, "assessment.graded": 1, "lms.session": 1,
        "lms.virtual_class_attended": 1}
    session = events["lms.session"][0]
    assert session["data"]["duration_seconds"] == 2700 and session["evidence"]  # the forwarded body is kept
    assert await by_type(hub, "refused") == {}  # wrong credentials: 401, nothing stored


async def test_ralph_forwards_a_batch_with_one_malformed_statement_and_the_valid_ones_arrive(
        ralph_app_dir, tmp_path, make_hub, workdir, aiohttp_server_factory):
    """Ralph sends a forwarded batch once and drops it on a 4xx: the hub keeps the valid statements
    and dead-letters the one it cannot read (Ralph itself accepts a duration of 'soon')."""
    hub = await make_hub(push_connectors(workdir, "forwarded"))
    server = await aiohttp_server_factory(build_app(hub))
    forwardings = [{"url": f"http://127.0.0.1:{server.port}/webhooks/forwarded", "is_active": True,
                    "basic_username": PUSH_USER, "basic_password": PUSH_PASSWORD, "max_retries": 0, "timeout": 5}]
    ralph = RalphServer(tmp_path / "forwarding-ralph", ralph_app_dir, forwardings=forwardings)
    await asyncio.to_thread(ralph.start)
    bad = malformed()
    try:
        await post(ralph, [*S.cmi5_session(1, BASE)[:3], bad, *S.cmi5_session(1, BASE)[3:]])
        deadline = asyncio.get_running_loop().time() + 20
        letters: list = []
        while asyncio.get_running_loop().time() < deadline:
            letters = await hub.store.call(hub.store.dead_letters, source="forwarded")
            if letters:
                break
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(ralph.stop)
    events = await by_type(hub, "forwarded")
    assert {t: len(rows) for t, rows in events.items()} == {
        "lms.progress": 1, "lms.activity_completed": 2, "assessment.graded": 1, "lms.session": 1,
        "lms.virtual_class_attended": 1}
    (letter,) = letters
    assert letter.stage == "map" and letter.payload["id"] == bad["id"] and "result.duration: 'soon'" in letter.error

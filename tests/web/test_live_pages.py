"""Pages that follow the ledger (hub.web.routes_live): the learner's journey, an enrolment seen by
a manager or by its funder, and the trainer's today page listen to ``GET /app/live`` and fetch
themselves again when events of what they show are appended; a topic outside the account's reach
answers 404, and a stream tells nothing about events outside its topic."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import orjson
import pytest

from tests.web.conftest import ACTION, THEO

ATTENDANCE = {"type": "attendance.signed", "occurred_at": "2026-10-07T12:35:00+02:00", "action": ACTION,
              "data": {"date": "2026-10-07", "half_day": "am", "signer": "learner"}}


async def theo(site) -> str:
    return await site.hub.store.call(site.hub.store.learner_by_key, f"email:{THEO}")


async def other_learner(site) -> str:
    theo_id = await theo(site)
    reports = await site.hub.journey_reports(action=ACTION)
    return next(r.learner_id for r in reports if r.learner_id != theo_id)


async def next_message(stream, timeout: float) -> tuple[bytes, object]:
    """The next event of the stream (its name and data), comments skipped."""
    lines: list[bytes] = []
    async with asyncio.timeout(timeout):
        while not lines or lines[-1] != b"\n":
            line = await stream.content.readline()
            if not line.startswith(b":") and (lines or line != b"\n"):
                lines.append(line)
    return lines[0].removeprefix(b"event: ").strip(), orjson.loads(lines[1].removeprefix(b"data: "))


async def opened(person, path: str):
    stream = await person.http.get(path, headers={"Accept": "text/event-stream"})
    assert stream.status == 200, (path, stream.status)
    assert await stream.content.readline() == b"retry: 1000\n"
    await stream.content.readline()
    await asyncio.sleep(1.3)  # the watcher has read the ledger's end
    return stream


async def sign(site, learner_email: str, source_id: str) -> None:
    await site.hub.append([{**ATTENDANCE, "source_id": source_id, "learner": {"ref": source_id, "email": learner_email}}],
                          source="back-office")


async def test_the_learner_is_told_of_their_own_events_only(site, people):
    learner = people()
    await learner.sign_in("learner")
    page = await learner.get("/app/learner/journey")
    assert 'sse-connect="/app/live"' in page.body and 'hx-trigger="sse:changed"' in page.body
    assert 'hx-select="#live-region"' in page.body and 'hx-get="/app/learner/journey"' in page.body
    stream = await opened(learner, "/app/live")
    async with stream:
        theo_id = await theo(site)
        reports = await site.hub.journey_reports(action=ACTION)
        someone_else = next(r for r in reports if r.learner_id != theo_id)
        await sign(site, someone_else.learner_email, "live-other")
        with pytest.raises(TimeoutError):  # another learner's signature: nothing for Théo's page
            await next_message(stream, 2.5)
        await sign(site, THEO, "live-theo")
        assert await next_message(stream, 10) == (b"changed", [ACTION])


async def test_a_learner_cannot_follow_someone_else(site, people):
    learner = people()
    await learner.sign_in("learner")
    other = await other_learner(site)
    response = await learner.get(f"/app/live?learner={other}&action={ACTION}", headers={"Accept": "text/event-stream"})
    assert response.status == 404


async def test_the_funder_follows_an_enrolment_it_funds_and_no_other(site, people):
    funder = people()
    await funder.sign_in("funder")
    funded, not_funded = None, None
    for report in await site.hub.journey_reports(action=ACTION):
        if "opco-atlas" in report.funders and report.learner_email != THEO:
            funded = funded or report
        elif "opco-atlas" not in report.funders:
            not_funded = not_funded or report
    assert funded is not None and not_funded is not None
    for path in ("/app/live", f"/app/live?action={ACTION}",
                 f"/app/live?learner={quote(not_funded.learner_id)}&action={ACTION}",
                 f"/app/live?learner=01NOSUCHLEARNER&action={ACTION}"):
        assert (await funder.get(path, headers={"Accept": "text/event-stream"})).status == 404, path
    page = await funder.get(f"/app/funder/enrolments/{quote(funded.learner_id)}/{ACTION}")
    topic = f"/app/live?learner={quote(funded.learner_id)}&amp;action={ACTION}"
    assert f'sse-connect="{topic}"' in page.body
    stream = await opened(funder, topic.replace("&amp;", "&"))
    async with stream:
        await sign(site, not_funded.learner_email, "live-not-funded")
        with pytest.raises(TimeoutError):
            await next_message(stream, 2.5)
        await sign(site, funded.learner_email, "live-funded")
        assert await next_message(stream, 10) == (b"changed", [ACTION])


async def test_staff_follow_the_actions_of_their_scope(site, people):
    manager = people()
    await manager.sign_in("manager")
    for path in ("/app/live?action=ACT-2026-PYTHON-02", "/app/live?action=ACT-UNKNOWN",
                 "/app/live?learner=01ANYONE"):  # outside the scope, unknown, a learner without its action
        assert (await manager.get(path, headers={"Accept": "text/event-stream"})).status == 404, path
    learner_id = await theo(site)
    page = await manager.get(f"/app/manager/enrolments/{learner_id}/{ACTION}")
    assert f'sse-connect="/app/live?learner={learner_id}&amp;action={ACTION}"' in page.body
    stream = await opened(manager, f"/app/live?action={ACTION}&kind=attendance")
    async with stream:
        await site.hub.append([{"type": "lms.session", "occurred_at": "2026-10-07T14:00:00+02:00", "action": ACTION,
                                "source_id": "live-session", "learner": {"ref": "x", "email": THEO},
                                "data": {"start": "2026-10-07T14:00:00+02:00", "end": "2026-10-07T14:10:00+02:00",
                                         "duration_seconds": 600}}], source="back-office")
        with pytest.raises(TimeoutError):  # kind=attendance: an LMS session is not attendance
            await next_message(stream, 2.5)
        await sign(site, THEO, "live-attendance")
        assert await next_message(stream, 10) == (b"changed", [ACTION])

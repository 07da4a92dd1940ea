"""The trainer's "today" page on the demo data: who signed each half-day, from the journeys; the
account's scope; live updates over server-sent events when attendance arrives."""

from __future__ import annotations

import asyncio
import html
import re

import orjson

from hub.web.accounts import Accounts
from hub.web.roles import Scopes
from tests.web.conftest import ACTION, PASSWORD


def half_day(body: str, key: str) -> str:
    found = re.search(rf'<div class="half-day" data-half-day="{key}">(.*?)</div>', body, re.S)
    assert found, f"no half-day {key} in the page"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"</?(strong|p)[^>]*>", " ", found[1])))


def cell(body: str, learner_name: str, index: int) -> str:
    row = re.search(rf"<tr data-learner=\"[^\"]+\"><th scope=\"row\">{re.escape(learner_name)}.*?</tr>", body, re.S)
    assert row, f"no row for {learner_name}"
    return re.findall(r'data-status="([a-z_]+)"', row[0])[index]


async def test_the_day_says_who_signed_and_whose_co_signature_is_missing(site, people):
    trainer = people()
    await trainer.sign_in("trainer")
    page = await trainer.get("/app/trainer/today?date=2026-10-07")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    morning = half_day(page.body, "2026-10-07/am")
    assert "Signé, co-signature du formateur manquante (1) : Théo Garnier" in morning
    signed = re.search(r"Ont signé \((\d+)\) : (.*?) Signé,", morning)
    assert signed and int(signed[1]) == 11 and "Théo Garnier" not in signed[2] and "Camille Dubois" in signed[2]
    assert "N'ont pas signé (0)" in morning
    assert "Semaine du 05/10/2026 au 11/10/2026" in page.body
    assert "pas d'émargement attendu" in half_day(page.body, "2026-10-07/pm")  # FOAD: nobody signs it
    # the week, half-day by half-day: Théo's Wednesday morning (the 5th column: mon am, mon pm, tue am, tue pm, wed am)
    assert cell(page.body, "Théo Garnier", 4) == "signed_without_trainer"
    assert 'sse-connect="/app/live?kind=attendance"' in page.body and 'hx-trigger="sse:changed"' in page.body
    # every co-signature still to give, whatever the week: Théo's 7 October morning among them
    pending = re.findall(r'<li data-half-day="([0-9-]+/[ap]m)"><strong>[^<]*</strong> \((\d+)\) : ([^<]*)</li>', page.body)
    assert ("2026-10-07/am", "1", "Théo Garnier") in pending
    assert [key for key, _n, _names in pending] == sorted((key for key, _n, _names in pending), reverse=True)
    later = await trainer.get("/app/trainer/today?date=2026-10-28")  # another week: the same list
    assert ("2026-10-07/am", "1", "Théo Garnier") in re.findall(
        r'<li data-half-day="([0-9-]+/[ap]m)"><strong>[^<]*</strong> \((\d+)\) : ([^<]*)</li>', later.body)


async def test_the_page_speaks_english_when_asked(site, people):
    trainer = people()
    await trainer.sign_in("trainer")
    page = await trainer.get("/app/trainer/today?date=2026-10-07", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.body and "Today's attendance" in html.unescape(page.body)
    chosen = await trainer.post("/app/language", {"lang": "fr", "next": "/app/trainer/today"}, token_from="/app/")
    assert chosen.status == 303 and chosen.headers["Location"] == "/app/trainer/today"
    page = await trainer.get("/app/trainer/today?date=2026-10-07", headers={"Accept-Language": "en"})
    assert '<html lang="fr">' in page.body and "Émargements du jour" in page.body  # the choice wins


async def test_an_action_outside_the_scope_is_neither_listed_nor_opened(site, people):
    await Accounts(site.hub.store, site.hub.append).add(
        "other@demo.example", "trainer", Scopes(actions=("ACT-2027-OTHER",)), password=PASSWORD, name="Other")
    other = people()
    site.emails["other"] = "other@demo.example"
    account = await site.hub.store.call(site.hub.store.account_by_email, "other@demo.example")
    site.secrets["other"] = account["totp_secret"]
    await other.sign_in("other")
    page = await other.get("/app/trainer/today?date=2026-10-07")
    assert page.status == 200 and ACTION not in page.body and "Théo" not in page.body
    assert "Aucune action de formation dans votre périmètre" in page.body
    assert (await other.get(f"/app/trainer/today?date=2026-10-07&action={ACTION}")).status == 404
    assert (await other.get("/app/trainer/today?action=ACT-UNKNOWN")).status == 404


async def test_a_funder_never_reaches_the_page_whatever_the_address(site, people):
    funder = people()
    await funder.sign_in("funder")
    for path in ("/app/trainer/today", f"/app/trainer/today?action={ACTION}&date=2026-10-07",
                 f"/app/trainer/today/weeks?action={ACTION}"):
        response = await funder.get(path)
        assert response.status == 403 and "Théo" not in response.body, path


async def test_new_attendance_is_pushed_to_the_open_page(site, people):
    site.hub  # the co-signature a back office posts once the paper sheet is found (README)
    trainer = people()
    await trainer.sign_in("trainer")
    async with trainer.http.get("/app/live?kind=attendance", headers={"Accept": "text/event-stream"}) as stream:
        assert stream.status == 200 and stream.headers["Content-Type"] == "text/event-stream"
        assert stream.headers["Cache-Control"] == "no-store"
        assert await stream.content.readline() == b"retry: 1000\n"
        await stream.content.readline()
        await asyncio.sleep(0.2)  # the watcher has read the ledger's end
        await site.hub.append([{
            "type": "attendance.signed", "occurred_at": "2026-10-07T12:35:00+02:00", "source_id": "cosign-theo",
            "learner": {"ref": "apprenant-04", "email": "theo.garnier@example.fr"}, "action": ACTION,
            "data": {"date": "2026-10-07", "half_day": "am", "signer": "learner", "trainer_cosigned": True}}],
            source="back-office")
        lines = []
        async with asyncio.timeout(10):
            while not lines or lines[-1] != b"\n":
                line = await stream.content.readline()
                if line.startswith(b":"):
                    continue
                lines.append(line)
        assert lines[0] == b"event: changed\n" and orjson.loads(lines[1][len(b"data: "):]) == [ACTION]
    weeks = await trainer.get("/app/trainer/today/weeks?date=2026-10-07", headers={"HX-Request": "true"})
    assert "co-signature du formateur manquante" not in half_day(weeks.body, "2026-10-07/am")
    assert "Ont signé (12)" in half_day(weeks.body, "2026-10-07/am")
    assert 'data-half-day="2026-10-07/am"><strong>' not in weeks.body  # nothing left to co-sign that morning
    assert not weeks.body.lstrip().startswith("<!doctype")  # the fragment alone, for htmx to swap in

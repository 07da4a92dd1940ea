"""The insights page on the demo data: the tables of ``parcours insights`` for the manager's scope,
in French and English, each downloadable as CSV; a manager never sees another action's figures
(404, as for an action that does not exist); a date that cannot be read is named."""

from __future__ import annotations

import csv
import io
import re

from hub.insights import compute_insights
from hub.insights.scope import Scope
from hub.insights.tables import csv_text
from tests.web.conftest import ACTION, Person
from tests.web.test_funder_scope import sign_in_as, text
from tests.web.test_manager import OTHER, two_actions  # noqa: F401  (the fixture)


def cells(page: str, table: str) -> list[dict[str, str]]:
    body = re.search(rf'<table data-table="{table}">(.*?)</table>', page, re.S)
    assert body, f"no table {table}"
    return [{m[0]: text(m[1]).strip() for m in re.findall(r'<t[dh][^>]*data-col="([^"]+)"[^>]*>(.*?)</t[dh]>', row, re.S)}
            for row in re.findall(r"<tr>(.*?)</tr>", body[1].split("<tbody>", 1)[1], re.S)]


async def test_the_manager_reads_what_the_demo_teaches(site, people):
    manager = people()
    await manager.sign_in("manager")
    page = await manager.get("/app/manager/insights")
    assert page.status == 200
    assert "Ce que les parcours enseignent" in page.body and 'id="insights-count"' in page.body
    modules = {r["module"]: r for r in cells(page.body, "modules")}
    assert modules["mod-state"]["abandoned_here"] == "1" and modules["mod-state"]["completion_pct"] == "91,7"
    assert [r["activity"] for r in cells(page.body, "stops")] == ["quiz-mod-react"]
    hours = {r["modality"]: r for r in cells(page.body, "hours")}
    assert hours["total"]["realised_pct"] == "86,9"
    english = await manager.get("/app/manager/insights", headers={"Accept-Language": "en"})
    assert "What the journeys teach" in english.body and "Completion and dropout by module" in english.body
    assert {r["module"]: r for r in cells(english.body, "modules")}["mod-state"]["completion_pct"] == "91.7"

    link = re.search(r'href="(/app/manager/insights/funnel_channels\.csv[^"]*)"', page.body)
    download = await manager.get(link[1])
    assert download.status == 200 and download.headers["Content-Type"].startswith("text/csv")
    expected = await site.hub.store.call(compute_insights, site.hub.store, site.hub.config, Scope((ACTION,)))
    assert download.body == csv_text(expected.table("funnel_channels"))
    rows = list(csv.DictReader(io.StringIO(download.body)))
    assert [(r["channel"], r["registered"], r["contacts"]) for r in rows] == [("site web", "12", "")]  # a scope: no contacts


async def test_filters_keep_the_scope_and_name_what_is_wrong(site, people):
    manager = people()
    await manager.sign_in("manager")
    later = await manager.get(f"/app/manager/insights?action={ACTION}&from=2026-12-01")
    assert later.status == 200 and "0 inscriptions" in text(later.body)  # the demo registered before October
    assert f'/app/manager/insights/modules.csv?action={ACTION}&amp;from=2026-12-01' in later.body
    bad = await manager.get("/app/manager/insights?from=2026-02-30")
    assert bad.status == 400 and "2026-02-30" in text(bad.body) and 'id="insights-error"' in bad.body
    backwards = await manager.get("/app/manager/insights?from=2026-10-02&to=2026-10-01")
    assert backwards.status == 400 and "se termine avant de commencer" in text(backwards.body)
    assert (await manager.get("/app/manager/insights/nope.csv")).status == 404
    assert (await manager.get("/app/manager/insights/modules.csv?to=demain")).status == 400


async def test_a_manager_never_reads_another_actions_insights(two_actions):  # noqa: F811
    site, secret = two_actions
    other = await sign_in_as(site, "other@demo.example", secret)
    try:
        own = await other.get("/app/manager/insights")
        assert own.status == 200 and "0 inscriptions" in text(own.body)
        assert "mod-state" not in own.body and "quiz-mod-react" not in own.body
        for path in (f"/app/manager/insights?action={ACTION}", f"/app/manager/insights/modules.csv?action={ACTION}",
                     "/app/manager/insights?action=ACT-2026-NOPE-99", "/app/manager/insights/stops.csv?action=*"):
            assert (await other.get(path)).status == 404, path
        csv_body = (await other.get("/app/manager/insights/stops.csv")).body
        assert csv_body.splitlines()[1:] == []  # the header only
        admin = Person(site)
        try:
            await admin.sign_in("admin")
            every = await admin.get("/app/manager/insights")
            assert every.status == 200 and "mod-state" in every.body and OTHER in every.body
            channels = cells(every.body, "funnel_channels")
            assert channels[0]["contacts"] == "12"  # every action: the contacts count
        finally:
            await admin.close()
    finally:
        await other.close()


async def test_the_charts_stand_beside_their_tables_in_the_pages_language(site, people):
    import xml.etree.ElementTree as ET

    manager = people()
    await manager.sign_in("manager")
    page = (await manager.get("/app/manager/insights")).body
    section = re.search(r'<section id="insights-modules".*?</section>', page, re.S)[0]
    svg = re.search(r"<svg.*?</svg>", section, re.S)[0]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and "style" not in svg
    assert root.find(f"{ns}title").text == "Achèvement et abandon par module — Développeur·se web — React et API"
    desc = root.find(f"{ns}desc").text
    assert "État et hooks: achèvement 91,7 %, abandon 8,3 %" in desc  # the figures the table prints, in words
    assert '<table data-table="modules">' in section  # and the table stays
    for table in ("stops", "activity_time", "hours", "funnel_actions", "funnel_channels"):
        assert re.search(rf'<section id="insights-{table}".*?<svg.*?</section>', page, re.S), table
    english = (await manager.get("/app/manager/insights", headers={"Accept-Language": "en"})).body
    assert "Completion and dropout by module — " in english and "completion 91.7 %" in english


async def test_a_new_event_is_in_the_next_page(site, people, monkeypatch):
    from hub.web import routes_insights

    manager = people()
    await manager.sign_in("manager")
    passes = []
    real = routes_insights.hub_insights
    monkeypatch.setattr(routes_insights, "hub_insights", lambda *a, **k: passes.append(1) or real(*a, **k))
    first = await manager.get("/app/manager/insights")
    await manager.get("/app/manager/insights/modules.csv")  # the page's figures: no second pass
    assert len(passes) == 1
    assert [r["certified"] for r in cells(first.body, "funnel_actions")] == ["0"]
    events = await site.hub.store.call(lambda: list(site.hub.store.iter_events(types=["enrolment.completed"])))
    done = events[0]
    await site.hub.append([{"type": "certification.awarded", "occurred_at": "2026-10-30T10:00:00+01:00",
                            "source_id": "cert-new", "learner": done["learner"], "action": ACTION,
                            "data": {"certification": "Développeur web"}}], source="test")
    again = await manager.get("/app/manager/insights")
    assert len(passes) == 2
    assert [r["certified"] for r in cells(again.body, "funnel_actions")] == ["1"]

"""The charts of the staff's pages on the demo data (hub.web.charted over hub.charts): the
trainer's week (signed, no co-signature, not signed per half-day), the manager's realised against
planned hours per action, and an action's attendance week by week. Each is an accessible SVG whose
description says the figures, printed too in a table; none carries a style attribute (CSP)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from hub.journeys.drift import weekly_attendance
from hub.web.i18n import number
from tests.web.conftest import ACTION
from tests.web.test_funder_scope import text

SVG = "{http://www.w3.org/2000/svg}"


def charts(body: str) -> dict[str, ET.Element]:
    """The page's SVG charts by id (their title's id without ``-title``)."""
    found = {}
    for svg in re.findall(r"<svg .*?</svg>", body, re.S):
        root = ET.fromstring(svg)
        assert root.get("role") == "img" and "style" not in svg
        found[root.find(f"{SVG}title").get("id").removesuffix("-title")] = root
    return found


def figures(body: str, table_class: str = "chart-figures") -> dict[str, list[str]]:
    table = body.split(f'class="{table_class}"', 1)[1].split("</table>", 1)[0]
    return {m[1]: [text(c).strip() for c in re.findall(r"<td>(.*?)</td>", m[2], re.S)]
            for m in re.finditer(r'<tr data-[a-z-]+="([^"]+)">(.*?)</tr>', table, re.S)}


async def test_the_trainers_week_chart_counts_each_half_day(site, people):
    trainer = people()
    await trainer.sign_in("trainer")
    page = await trainer.get("/app/trainer/today?date=2026-10-07")
    assert page.status == 200 and 'style="' not in page.body
    (chart,) = charts(page.body).values()
    assert chart.find(f"{SVG}title").text.startswith("Émargements de la semaine")
    desc = chart.find(f"{SVG}desc").text
    reports = await site.hub.journey_reports(action=ACTION, today=dt.date(2026, 10, 7))
    counted = figures(page.body)
    # only the mornings expect a signature (the afternoons are FOAD asynchrone)
    assert sorted(counted) == [f"2026-10-{d:02d}/am" for d in range(5, 10)]
    for key, (signed, partial, unsigned) in counted.items():
        statuses = [next(r.status for r in report.half_days if r.half_day.key == key) for report in reports]
        assert int(signed) == sum(s in ("signed", "remote") for s in statuses)
        assert int(partial) == statuses.count("signed_without_trainer")
        assert int(unsigned) == sum(s in ("missing", "upcoming", "absent", "absent_justified") for s in statuses)
    assert counted["2026-10-07/am"][1] == "1"  # Théo's morning lacks the co-signature
    assert (f"mer. 07/10 matin: Ont signé {counted['2026-10-07/am'][0]}, N'ont pas signé {counted['2026-10-07/am'][2]}, "
            "Sans co-signature 1") in desc, desc


async def test_the_managers_hours_chart_and_the_actions_attendance_week_by_week(site, people):
    manager = people()
    await manager.sign_in("manager")
    listing = await manager.get("/app/manager/actions")
    reports = await site.hub.journey_reports(action=ACTION)
    realised = sum((r.realised_hours for r in reports), Decimal(0))
    planned = sum((r.planned_hours for r in reports), Decimal(0))
    (hours,) = charts(listing.body).values()
    title = site.hub.config.model.actions[ACTION].title
    as_chart = realised.quantize(Decimal("0.1"))
    assert hours.find(f"{SVG}desc").text == (f"{title}: Réalisées {number(as_chart, 'fr')} h, "
                                             f"Prévues {number(planned.quantize(Decimal('0.1')), 'fr')} h")
    page = await manager.get(f"/app/manager/actions/{ACTION}")
    assert page.status == 200 and 'style="' not in page.body
    attendance = charts(page.body)["attendance-chart"]
    weeks = weekly_attendance(reports, dt.datetime.now(dt.timezone.utc), site.hub.config.timezone)
    # the demo's two weeks, 5 and 12 October 2026, each rate as hours credited over hours held
    assert [w.monday for w in weeks] == [dt.date(2026, 10, 5), dt.date(2026, 10, 12)]
    rows = figures(page.body)
    for w in weeks:
        assert rows[w.monday.isoformat()] == [f"{number(w.rate, 'fr')} %",
                                              f"{number(w.credited, 'fr')} h / {number(w.due, 'fr')} h"]
        assert f"{w.monday.strftime('%d/%m')} {number(w.rate, 'fr')} %" in attendance.find(f"{SVG}desc").text
    # each week: the hours the mornings held credit over their scheduled hours, every learner together
    # (Lucas left on 12 October: his mornings after that are not due)
    for w in weeks:
        held = [h for r in reports for h in r.half_days if w.monday <= h.half_day.date < w.monday + dt.timedelta(days=7)
                and h.half_day.modality == "presentiel" and h.status != "after_exit"]
        assert w.due == sum((h.half_day.hours for h in held), Decimal(0)) > 0
        assert w.credited == sum((h.hours for h in held), Decimal(0))
        assert w.rate == (w.credited / w.due * 100).quantize(Decimal("0.1"))

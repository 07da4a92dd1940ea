"""What keeps the pages fast on a large organisation (bench/web_pages.py measures it): the long
lists come a page at a time (every enrolment on exactly one page, following the "next page" link),
and each page reads the journeys projection a bounded number of times, whatever the number of
enrolments (no read per enrolment, no second read of the same action)."""

from __future__ import annotations

import html
import re

import pytest

from hub.web import routes_funder, routes_manager
from tests.web.conftest import ACTION
from tests.web.test_funder_scope import enrolments_by_funder

NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


async def walk(person, path: str, row: re.Pattern) -> list[list]:
    """The rows of every page of a list, page by page, following its "next page" links."""
    pages = []
    while path:
        page = await person.get(path)
        assert page.status == 200, page.body[:300]
        pages.append(row.findall(page.body))
        found = NEXT.search(page.body)
        path = html.unescape(found[1]) if found else None
        assert len(pages) < 50, "the pages never end"
    return pages


async def test_an_actions_enrolments_come_a_page_at_a_time_each_once(site, people, monkeypatch):
    monkeypatch.setattr(routes_manager, "ENROLMENTS_PAGE", 2)
    everyone = {r.learner_id for r in await site.hub.journey_reports(action=ACTION)}
    assert len(everyone) > 4  # several pages
    manager = people()
    await manager.sign_in("manager")
    pages = await walk(manager, f"/app/manager/actions/{ACTION}", re.compile(r'<tr data-learner="([^"]+)"'))
    assert all(1 <= len(rows) <= 2 for rows in pages) and len(pages) == -(-len(everyone) // 2)
    listed = [learner for rows in pages for learner in rows]
    assert sorted(listed) == sorted(everyone)  # each exactly once
    first = await manager.get(f"/app/manager/actions/{ACTION}")
    assert "Page suivante" in first.body and "Première page" not in first.body


async def test_a_funders_enrolments_come_a_page_at_a_time_each_once(site, people, monkeypatch):
    monkeypatch.setattr(routes_funder, "ENROLMENTS_PAGE", 2)
    funded = {(learner, action) for learner, action, _ in (await enrolments_by_funder(site.hub))["opco-atlas"]}
    assert len(funded) > 2
    funder = people()
    await funder.sign_in("funder")
    pages = await walk(funder, "/app/funder/enrolments", re.compile(r'data-learner="([^"]+)" data-action="([^"]+)"'))
    assert all(1 <= len(rows) <= 2 for rows in pages) and len(pages) == -(-len(funded) // 2)
    listed = [tuple(row) for rows in pages for row in rows]
    assert sorted(listed) == sorted(funded)


@pytest.mark.parametrize("path, job, reads", [
    # the week: the stored attendance, that of the journeys without one computed (one chunk here);
    # the risk list's stored rows (hub.risk.listing), computed from the journeys when the job has not run
    (f"/app/trainer/today?action={ACTION}&date=2026-10-07", False,
     {"journey_attendance": 1, "load_journeys": 1, "refresh_journey_flags": 1}),
    # a page of enrolments; the risk list reads its stored rows (hub.risk.listing), no journey state...
    (f"/app/manager/actions/{ACTION}", True, {"journeys_page": 1}),
    # ...unless the daemon's job has not stored them yet: then it reads the journeys without one, 100 at a time
    (f"/app/manager/actions/{ACTION}", False, {"journeys_page": 1, "refresh_journey_flags": 1}),
    ("/app/funder/enrolments", False, {"journeys_page": 2}),  # the demo's journeys fit in one chunk, then the end
])
async def test_each_page_reads_the_projection_a_bounded_number_of_times(site, people, monkeypatch, path, job, reads):
    store = site.hub.store
    counted = {"journeys": 0, "journeys_page": 0, "load_journeys": 0, "refresh_journey_flags": 0,
               "journey_attendance": 0}

    def counting(name):
        method = getattr(store, name)

        def call(*args, **kwargs):
            counted[name] += 1
            return method(*args, **kwargs)
        return call

    for name in counted:
        monkeypatch.setattr(store, name, counting(name))
    role = {"trainer": "trainer", "manager": "manager", "funder": "funder"}[path.split("/")[2]]
    person = people()
    await person.sign_in(role)
    await site.hub.project()  # the sign-in's events projected: the page itself reads the journeys only
    if job:
        await site.hub.project_and_figure()  # the daemon's journeys job
    for name in counted:
        counted[name] = 0
    page = await person.get(path)
    assert page.status == 200
    assert {k: v for k, v in counted.items() if v} == reads
    if role == "trainer":  # the attendance stored, the page and its live refresh read it alone
        for again, expected in ((path, {"journey_attendance": 1}),
                                (path.replace("/today?", "/today/weeks?"), {"journey_attendance": 1})):
            counted.update(dict.fromkeys(counted, 0))
            assert (await person.get(again)).status == 200
            assert {k: v for k, v in counted.items() if v} == expected, again

"""The insights computed from a hand-made history whose figures are known (hub.insights)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest

from hub.insights import compute_insights
from hub.insights.export import write_tables
from hub.insights.scope import Scope
from tests.insights.history import ACTION, CONFIG, OTHER, ev, events

TODAY = dt.date(2026, 11, 30)


@pytest.fixture
async def hub(make_hub):
    hub = await make_hub(CONFIG)
    result = await hub.append(events(), source="test")
    assert result.appended == len(events())
    await hub.project()
    return hub


async def insights(hub, scope: Scope = Scope()):
    return await hub.store.call(compute_insights, hub.store, hub.config, scope, TODAY)


def rows(found, name: str, **match) -> list[dict]:
    return [r for r in found.table(name).rows if all(r[k] == v for k, v in match.items())]


async def test_completion_and_dropout_by_module(hub):
    found = await insights(hub)
    assert found.enrolments == 4
    modules = rows(found, "modules", action=ACTION)
    assert [r["module"] for r in modules] == ["m1", "m2", "m3"]  # by the mean time of their completions
    m1, m2, m3 = modules
    assert m1["engaged"] == 3  # l3 registered and never started
    assert (m1["completed"], m2["completed"], m3["completed"]) == (3, 2, 1)  # l4's failed attempt is no completion
    assert m2["completion_pct"] == Decimal("66.7")
    assert (m1["abandoned_here"], m2["abandoned_here"], m3["abandoned_here"]) == (0, 1, 1)  # l2 at m2, l4 at m3
    assert m3["dropout_pct"] == Decimal("33.3")


async def test_where_learners_stop_is_their_last_activity_before_leaving(hub):
    stops = {r["activity"]: r for r in rows(await insights(hub), "stops", action=ACTION)}
    assert set(stops) == {"q2", "m2"}  # l4's download after leaving is not where l4 stopped
    assert stops["q2"]["kind"] == "lms.quiz_attempted" and stops["q2"]["stopped_after"] == 1
    assert stops["m2"]["share_pct"] == Decimal("50.0") and stops["m2"]["abandoned"] == 2


async def test_time_spent_against_the_lms_estimate(hub):
    lines = {r["activity"]: r for r in rows(await insights(hub), "activity_time", action=ACTION)}
    # l1 reached m2 after 2 h connected since m1: 120 min for an estimate of 60
    assert lines["m2"]["spent_minutes_mean"] == Decimal("120.0")
    assert lines["m2"]["measured"] == 1 and lines["m2"]["facts"] == 2  # l4 has no session: not measured
    assert lines["m2"]["estimated_minutes_mean"] == Decimal("60.0") and lines["m2"]["spent_over_estimated"] == Decimal("2.00")
    assert lines["m1"]["spent_minutes_mean"] == Decimal("60.0")  # l1's session of the first day
    assert lines["q2"]["spent_minutes_mean"] == Decimal("20.0") and lines["q2"]["estimated_minutes_mean"] is None
    assert lines["m3"]["spent_minutes_mean"] == Decimal("0.0")  # no session between m2 and m3


async def test_realised_hours_are_the_journeys_own(hub):
    found = await insights(hub)
    reports = await hub.journey_reports(action=ACTION, today=TODAY)
    hours = {r["modality"]: r for r in rows(found, "hours", action=ACTION)}
    assert hours["presentiel"]["planned_hours"] == Decimal("60.00")  # 4 enrolments × 5 mornings × 3 h
    assert hours["presentiel"]["realised_hours"] == sum(r.realised["presentiel"].value for r in reports)
    assert hours["total"]["realised_hours"] == sum(r.realised_hours for r in reports)
    assert hours["total"]["planned_hours"] == sum(r.planned_hours for r in reports)
    assert hours["presentiel"]["realised_pct"] == Decimal("30.0")  # 6 signed mornings of 3 h out of 60 h


async def test_funnel_per_action_and_per_channel(hub):
    found = await insights(hub)
    action = rows(found, "funnel_actions", action=ACTION)[0]
    assert (action["viewed"], action["registered"], action["started"], action["completed"], action["certified"]) == \
        (5, 4, 3, 1, 1)
    assert action["registered_per_view_pct"] == Decimal("80.0") and action["started_pct"] == Decimal("75.0")
    other = rows(found, "funnel_actions", action=OTHER)[0]
    assert other["viewed"] == 1 and other["registered"] == 0 and other["registered_per_view_pct"] == Decimal("0.0")
    channels = {r["channel"]: r for r in found.table("funnel_channels").rows}
    assert channels["site web"]["contacts"] == 2 and channels["site web"]["registered"] == 2
    assert channels["site web"]["started"] == 1
    assert channels["salon"]["certified"] == 1 and channels["salon"]["certified_pct"] == Decimal("100.0")
    assert channels["(unknown)"]["registered"] == 1 and channels["(unknown)"]["contacts"] == 0


async def test_a_corrected_view_counts_once(hub):
    correction = ev("view-0-fixed", "prospect.program_viewed", "2026-09-01T10:00:00+02:00", program="data", consent=True)
    correction["supersedes"] = (await hub.store.call(hub.store.iter_events, types=["prospect.program_viewed"])).__next__()["id"]
    await hub.append([correction], source="test")
    await hub.project()
    assert rows(await insights(hub), "funnel_actions", action=ACTION)[0]["viewed"] == 5


async def test_a_scope_of_actions_and_a_period(hub):
    scoped = await insights(hub, Scope(actions=(OTHER,)))
    assert scoped.enrolments == 0 and not scoped.table("modules").rows
    assert [r["action"] for r in scoped.table("funnel_actions").rows] == [OTHER]
    assert scoped.table("funnel_channels").rows == []  # contacts name no action: not counted for a scope

    mine = await insights(hub, Scope(actions=(ACTION,)))
    assert mine.enrolments == 4
    assert all(r["contacts"] is None for r in mine.table("funnel_channels").rows)

    later = await insights(hub, Scope(start=dt.date(2026, 9, 16)))  # every registration was on 15 September
    assert later.enrolments == 0
    assert rows(later, "funnel_actions", action=ACTION)[0]["viewed"] == 0
    assert later.table("funnel_channels").rows == []  # the contacts were created before the period
    with pytest.raises(ValueError, match="ends"):
        Scope(start=dt.date(2026, 10, 2), end=dt.date(2026, 10, 1))


async def test_one_csv_file_per_table(hub, tmp_path):
    found = await insights(hub)
    paths = write_tables(found, tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(f"{t.name}.csv" for t in found.tables)
    with open(tmp_path / "out" / "modules.csv", encoding="utf-8", newline="") as fh:
        read = list(csv.DictReader(fh))
    assert list(read[0]) == found.table("modules").column_names
    assert [r["module"] for r in read] == ["m1", "m2", "m3"] and read[1]["completion_pct"] == "66.7"
    assert read[0]["abandoned_here"] == "0"
    assert not list((tmp_path / "out").glob("*.part"))


async def test_each_chart_draws_its_tables_figures(hub, tmp_path):
    import xml.etree.ElementTree as ET

    from hub.insights.charts import charts
    from hub.insights.export import write_charts

    found = await insights(hub)
    drawn = {c.name: c for c in charts(found)}
    assert set(drawn) == {f"modules-{ACTION}", f"stops-{ACTION}", f"activity_time-{ACTION}", "hours",
                          "funnel_actions", "funnel_channels"}
    ns = "{http://www.w3.org/2000/svg}"
    modules = ET.fromstring(drawn[f"modules-{ACTION}"].svg).find(f"{ns}desc").text
    assert modules == ("Module 1: completion 100 %, dropout 0 %; Module 2: completion 66.7 %, dropout 33.3 %; "
                       "m3: completion 33.3 %, dropout 33.3 %")
    funnel = ET.fromstring(drawn["funnel_channels"].svg).find(f"{ns}desc").text
    assert "(unknown): contacts 0, registered 1" in funnel
    timing = ET.fromstring(drawn[f"activity_time-{ACTION}"].svg).find(f"{ns}desc").text
    assert "Quiz 2" not in timing and "Module 2: time spent (mean) 120 min, estimate (mean) 60 min" in timing
    paths = write_charts(found, tmp_path / "charts")
    assert sorted(p.name for p in paths) == sorted(f"{name}.svg" for name in drawn)
    assert all(ET.parse(p).getroot().tag == f"{ns}svg" for p in paths)


async def test_pages_of_any_size_give_the_same_tables(hub, monkeypatch):
    import hub.insights as insights_module
    from hub.insights import hub_insights

    whole = await insights(hub)
    scoped = await insights(hub, Scope(actions=(OTHER, ACTION)))
    monkeypatch.setattr(insights_module, "CHUNK", 1)  # a page per journey: every page boundary crossed
    assert [t.as_dict() for t in (await insights(hub)).tables] == [t.as_dict() for t in whole.tables]
    assert [t.as_dict() for t in (await insights(hub, Scope(actions=(OTHER, ACTION)))).tables] == \
        [t.as_dict() for t in scoped.tables]
    seen = []
    threaded = await hub_insights(hub, Scope(), TODAY, progress=seen.append)  # pages computed off the store thread
    assert [t.as_dict() for t in threaded.tables] == [t.as_dict() for t in whole.tables]
    assert seen == [1, 1, 1, 1]  # four journeys, one page each


def test_chart_figures_are_written_plainly():
    from hub.insights.charts import plain

    assert [plain(v) for v in (100.0, 91.666, 0.0, 1234567.0, 729.58)] == ["100", "91.7", "0", "1234567", "729.6"]


def test_connection_time_is_swept_interval_by_interval():
    from hub.insights.activity_time import _overlap

    sessions = [(0.0, 100.0), (50.0, 400.0), (150.0, 160.0), (500.0, 600.0)]
    first_part, first = _overlap(sessions, 0, None, 120.0)
    assert first_part == 100 + 70 and first == 0
    second_part, first = _overlap(sessions, first, 120.0, 550.0)
    assert second_part == 280 + 10 + 50 and first == 1  # the first session ended by 120: skipped from now on
    third_part, first = _overlap(sessions, first, 550.0, 1000.0)
    assert third_part == 50 and first == 3

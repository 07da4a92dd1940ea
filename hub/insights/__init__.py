"""What the journeys teach: figures for a quality review (Qualiopi indicator 32, continuous
improvement) computed from the journeys projection and the ledger's prospect events.

One pass over the projected journeys (a page of :data:`CHUNK` states at a time, read by
:class:`Pages`, computed with hub.journeys.stream.compute_states, then dropped) feeds small
tallies, one per figure, whose memory grows with the catalogue (actions, modules, activities,
channels), not with the number of enrolments; the funnel's views and contacts are read with the ledger's type index. Each table is
documented in docs/insights.md (definition, source events, how to read it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from hub.insights.activity_time import ActivityTime
from hub.insights.funnel import FunnelScan, FunnelTally, scan
from hub.insights.hours import HoursTally
from hub.insights.modules import ModuleTally
from hub.insights.scope import Scope, entry_day
from hub.insights.tables import Table
from hub.journeys.stream import compute_states

CHUNK = 100  # journeys computed at a time (hub.journeys.stream: about 20 MB for ten-week actions)


@dataclass
class Insights:
    scope: Scope
    today: dt.date
    enrolments: int
    tables: list[Table] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope.describe(), "today": self.today.isoformat(), "enrolments": self.enrolments,
                "notes": self.notes, "tables": [t.as_dict() for t in self.tables]}


TABLE_NAMES = ("modules", "stops", "activity_time", "hours", "funnel_actions", "funnel_channels")


class Pages:
    """The projected journeys of a scope, a page of :data:`CHUNK` at a time: :meth:`read` (store
    thread) returns the next page, an empty list at the end."""

    def __init__(self, store, scope: Scope):
        self.store, self.scope = store, scope
        self.after: tuple[str, str] | None = None
        self.pending = list(scope.actions) if scope.actions is not None else None
        self.keys: list[tuple[str, str]] = []

    def read(self) -> list[dict[str, Any]]:
        if self.pending is None:  # every action: the journeys in key order
            states = self.store.journeys_page(self.after, CHUNK)
            if states:
                self.after = (states[-1]["learner_id"], states[-1]["action"])
            return states
        while not self.keys and self.pending:  # the scope's actions, one after the other
            action = self.pending.pop(0)
            self.keys = [(learner, action) for learner in self.store.journey_learners(action)]
        part, self.keys = self.keys[:CHUNK], self.keys[CHUNK:]
        found = self.store.load_journeys(part) if part else {}
        return [found[k] for k in part if k in found]


class InsightsPass:
    """The tallies of one pass: :meth:`feed` a page of projected journey states (any thread: it
    computes, it reads nothing from the store), then :meth:`finish`."""

    def __init__(self, config, scope: Scope, today: dt.date | None, prospects: FunnelScan):
        self.config, self.scope, self.tz = config, scope, config.timezone
        self.today = today or dt.datetime.now(self.tz).date()
        self.prospects = prospects
        self.modules, self.timing = ModuleTally(self.tz), ActivityTime(self.tz)
        self.hours, self.funnel = HoursTally(), FunnelTally(prospects)
        self.counted = 0

    def feed(self, states: list[dict[str, Any]]) -> None:
        reports = compute_states(states, self.config, self.today)
        for state, report in zip(states, reports):
            if not self.scope.holds_day(entry_day(state, report, self.tz)):
                continue
            self.counted += 1
            self.modules.add(state, report)
            self.timing.add(state, report)
            self.hours.add(report)
            self.funnel.add(report)

    def finish(self) -> Insights:
        actions = self.config.model.actions
        titles = {name: a.title for name, a in actions.items()}
        modalities = {name: a.modality for name, a in actions.items()}
        in_scope = [a for a in actions if self.scope.holds_action(a)]
        tables = [self.modules.modules_table(titles), self.modules.stops_table(titles), self.timing.table(titles),
                  self.hours.table(titles, modalities), self.funnel.actions_table(titles, in_scope),
                  self.funnel.channels_table()]
        notes = {"views_without_action": self.prospects.views_without_action,
                 "activity_estimates": "lms (estimated_minutes of lms.activity_completed); "
                                       "the actions' configuration holds no per-activity estimate"}
        return Insights(self.scope, self.today, self.counted, tables, notes)


def compute_insights(store, config, scope: Scope, today: dt.date | None = None,
                     progress: Callable[[int], None] | None = None) -> Insights:
    """Every table of the insights for ``scope``, in one call on the store thread (the journeys
    brought up to date first by the caller). ``progress(n)`` is told the journeys of each page."""
    run = InsightsPass(config, scope, today, scan(store, scope, config.timezone))
    pages = Pages(store, scope)
    while states := pages.read():
        run.feed(states)
        if progress is not None:
            progress(len(states))
    return run.finish()


async def hub_insights(hub, scope: Scope, today: dt.date | None = None,
                       progress: Callable[[int], None] | None = None) -> Insights:
    """:func:`compute_insights` for a running hub: the journeys brought up to date, then each page
    read on the store thread and computed in a worker thread, so that ingest requests get the
    store between pages (the daemon's web page, the command line)."""
    await hub.project()
    run = InsightsPass(hub.config, scope, today,
                       await hub.store.call(scan, hub.store, scope, hub.config.timezone))
    pages = Pages(hub.store, scope)
    while states := await hub.store.call(pages.read):
        await asyncio.to_thread(run.feed, states)
        if progress is not None:
            progress(len(states))
    return run.finish()


__all__ = ["CHUNK", "Insights", "InsightsPass", "Pages", "Scope", "TABLE_NAMES", "compute_insights", "hub_insights"]

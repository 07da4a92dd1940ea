"""What the journeys teach: figures for a quality review (Qualiopi indicator 32, continuous
improvement) computed from the journeys projection and the ledger's prospect events.

One pass over the projected journeys (a page of :data:`CHUNK` states at a time, computed with
hub.journeys.stream.compute_states, then dropped) feeds small tallies, one per figure, whose
memory grows with the catalogue (actions, modules, activities, channels), not with the number of
enrolments; the funnel's views and contacts are read with the ledger's type index. Each table is
documented in docs/insights.md (definition, source events, how to read it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from hub.insights.activity_time import ActivityTime
from hub.insights.funnel import FunnelTally, scan
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


def _states(store, scope: Scope) -> Iterator[list[dict[str, Any]]]:
    """The projected journeys of the scope, a page at a time."""
    if scope.actions is None:
        after = None
        while states := store.journeys_page(after, CHUNK):
            after = (states[-1]["learner_id"], states[-1]["action"])
            yield states
        return
    for action in scope.actions:
        keys = [(learner, action) for learner in store.journey_learners(action)]
        for start in range(0, len(keys), CHUNK):
            part = keys[start:start + CHUNK]
            found = store.load_journeys(part)
            yield [found[k] for k in part if k in found]


def compute_insights(store, config, scope: Scope, today: dt.date | None = None,
                     progress: Callable[[int], None] | None = None) -> Insights:
    """Every table of the insights for ``scope`` (store thread; the journeys brought up to date first
    by the caller). ``progress(n)`` is told the journeys of each page read."""
    tz = config.timezone
    today = today or dt.datetime.now(tz).date()
    actions = config.model.actions
    titles = {name: a.title for name, a in actions.items()}
    modalities = {name: a.modality for name, a in actions.items()}
    prospects = scan(store, scope, tz)
    modules, timing, hours, funnel = ModuleTally(tz), ActivityTime(tz), HoursTally(), FunnelTally(prospects)
    counted = 0
    for states in _states(store, scope):
        reports = compute_states(states, config, today)
        for state, report in zip(states, reports):
            if not scope.holds_day(entry_day(state, report, tz)):
                continue
            counted += 1
            modules.add(state, report)
            timing.add(state, report)
            hours.add(report)
            funnel.add(report)
        if progress is not None:
            progress(len(states))
        del states, reports
    tables = [modules.modules_table(titles), modules.stops_table(titles), timing.table(titles),
              hours.table(titles, modalities), funnel.actions_table(titles, [a for a in actions if scope.holds_action(a)]), funnel.channels_table()]
    notes = {"views_without_action": prospects.views_without_action,
             "activity_estimates": "lms (estimated_minutes of lms.activity_completed); "
                                   "the actions' configuration holds no per-activity estimate"}
    return Insights(scope, today, counted, tables, notes)


__all__ = ["CHUNK", "Insights", "Scope", "TABLE_NAMES", "compute_insights"]

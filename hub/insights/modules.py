"""Completion and dropout by module, and the activities after which learners stop.

A *module* is what the LMS reports the completion of (``lms.activity_completed``, state
``complete`` or ``pass``; ``fail`` is not a completion): the hub's actions declare no modules of
their own, and the LMS's activities are how the content is cut (the demo's « JavaScript
moderne », « Composants React »…). The modules of an action are ordered as its learners meet
them: by the mean time of their completions.

* completion of a module: the engaged enrolments of the action (started, ended, or with an LMS
  activity) that completed it, per hundred engaged enrolments;
* dropout at a module: the abandoned enrolments (``enrolment.abandoned``) whose first module not
  completed, in the action's order, is this one, per hundred engaged enrolments; an abandoned
  enrolment that completed every module counts on the line « after the last module »;
* where learners stop: for each abandoned enrolment, its last LMS activity (a completion, a
  quiz attempt, a download, a media view) dated on or before the abandonment, counted per activity.

Memory: per action, one counter per module and activity, and one per distinct set of modules
completed by abandoned enrolments — never one entry per enrolment.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from hub.insights.facts import activity_facts, live, superseded_of
from hub.insights.scope import local_day
from hub.insights.tables import Column, Table, rate

COMPLETE = ("complete", "pass")
AFTER_LAST = "(after the last module)"
NO_ACTIVITY = "(no LMS activity)"


def engaged(report) -> bool:
    """Started, ended, or with a live LMS activity: the enrolments a module's rates are out of."""
    return (any(step in report.timeline for step in ("started", "completed", "abandoned"))
            or bool(report.foad_activities))


@dataclass
class _Module:
    name: str | None = None
    completed: int = 0
    at_sum: float = 0.0


@dataclass
class _Action:
    engaged: int = 0
    abandoned: int = 0
    modules: dict[str, _Module] = field(default_factory=dict)
    left_with: Counter = field(default_factory=Counter)  # frozenset of modules completed -> abandoned enrolments
    stops: Counter = field(default_factory=Counter)  # (activity, kind) -> abandoned enrolments
    names: dict[str, str] = field(default_factory=dict)
    stopped_without_activity: int = 0


class ModuleTally:
    def __init__(self, tz):
        self.tz = tz
        self.actions: dict[str, _Action] = defaultdict(_Action)

    def add(self, state: dict[str, Any], report) -> None:
        if not engaged(report):
            return
        tally = self.actions[report.action_id]
        tally.engaged += 1
        superseded = superseded_of(state)
        done: dict[str, dict[str, Any]] = {}
        for fact in live(state, "activities", superseded):
            if fact.get("state", "complete") in COMPLETE and fact["activity"] not in done:
                done[fact["activity"]] = fact
        for activity, fact in done.items():
            module = tally.modules.setdefault(activity, _Module())
            module.name = module.name or fact.get("activity_name")
            module.completed += 1
            module.at_sum += _epoch(fact["at"])
        if report.status != "abandoned":
            return
        tally.abandoned += 1
        tally.left_with[frozenset(done)] += 1
        last = None
        for kind, activity, name, fact in activity_facts(state, superseded):
            if report.exit_date is not None and local_day(fact["at"], self.tz) > report.exit_date:
                continue
            if last is None or fact["at"] > last[3]["at"]:
                last = (kind, activity, name, fact)
        if last is None:
            tally.stopped_without_activity += 1
            return
        kind, activity, name, _ = last
        tally.stops[(activity, kind)] += 1
        if name:
            tally.names.setdefault(activity, name)

    def order(self, action: str) -> list[str]:
        modules = self.actions[action].modules
        return sorted(modules, key=lambda m: (modules[m].at_sum / modules[m].completed, m))

    def modules_table(self, titles: dict[str, str]) -> Table:
        table = Table("modules", "Completion and dropout by module", MODULE_COLUMNS)
        for action in sorted(self.actions):
            tally = self.actions[action]
            order = self.order(action)
            here: Counter = Counter()
            for completed, count in tally.left_with.items():
                here[next((m for m in order if m not in completed), AFTER_LAST)] += count
            for position, module in enumerate(order, start=1):
                m = tally.modules[module]
                table.rows.append({"action": action, "action_title": titles.get(action, action), "order": position,
                                   "module": module, "module_name": m.name, "engaged": tally.engaged,
                                   "completed": m.completed, "completion_pct": rate(m.completed, tally.engaged),
                                   "abandoned_here": here[module], "dropout_pct": rate(here[module], tally.engaged)})
            if here[AFTER_LAST] or (tally.abandoned and not order):
                count = here[AFTER_LAST]
                table.rows.append({"action": action, "action_title": titles.get(action, action), "order": len(order) + 1,
                                   "module": AFTER_LAST, "module_name": None, "engaged": tally.engaged,
                                   "completed": None, "completion_pct": None, "abandoned_here": count,
                                   "dropout_pct": rate(count, tally.engaged)})
        return table

    def stops_table(self, titles: dict[str, str]) -> Table:
        table = Table("stops", "Last activity before abandonment", STOP_COLUMNS)
        for action in sorted(self.actions):
            tally = self.actions[action]
            ranked = sorted(tally.stops.items(), key=lambda item: (-item[1], item[0]))
            for (activity, kind), count in ranked:
                table.rows.append({"action": action, "action_title": titles.get(action, action), "activity": activity,
                                   "activity_name": tally.names.get(activity), "kind": kind, "abandoned": tally.abandoned,
                                   "stopped_after": count, "share_pct": rate(count, tally.abandoned)})
            if tally.stopped_without_activity:
                count = tally.stopped_without_activity
                table.rows.append({"action": action, "action_title": titles.get(action, action),
                                   "activity": NO_ACTIVITY, "activity_name": None, "kind": None,
                                   "abandoned": tally.abandoned, "stopped_after": count,
                                   "share_pct": rate(count, tally.abandoned)})
        return table


def _epoch(at: str) -> float:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


MODULE_COLUMNS = [
    Column("action", "The training action's id"),
    Column("action_title", "Its title (configuration)"),
    Column("order", "The module's rank in the action, by the mean time of its completions"),
    Column("module", "The LMS activity id (lms.activity_completed data.activity)"),
    Column("module_name", "Its name as the LMS gives it"),
    Column("engaged", "Enrolments of the action started, ended or with an LMS activity"),
    Column("completed", "Engaged enrolments that completed the module (state complete or pass)"),
    Column("completion_pct", "completed per hundred engaged"),
    Column("abandoned_here", "Abandoned enrolments whose first module not completed is this one"),
    Column("dropout_pct", "abandoned_here per hundred engaged"),
]
STOP_COLUMNS = [
    Column("action", "The training action's id"),
    Column("action_title", "Its title (configuration)"),
    Column("activity", "The last LMS activity before the abandonment (activity, quiz, resource or media id)"),
    Column("activity_name", "Its name as the LMS gives it"),
    Column("kind", "The event type of that last fact"),
    Column("abandoned", "Abandoned enrolments of the action"),
    Column("stopped_after", "Abandoned enrolments whose last activity it was"),
    Column("share_pct", "stopped_after per hundred abandoned"),
]

"""Time spent against time estimated, per activity.

The estimate is the LMS's: ``estimated_minutes`` of ``lms.activity_completed`` (Moodle's
expected completion time, a SCORM package's typical learning time…); the hub's action
configuration holds no per-activity estimate. Quizzes and media carry none, so their line has no
estimate and no ratio.

The time spent, per kind of activity:

* a completed activity: the learner's connection time (``lms.session``, the part of each session
  inside the interval) between the previous completion of the same enrolment (the action's
  first day for the first one) and this completion — an attribution: the LMS reports no time per
  activity, the time connected since the last completion is what the learner spent to reach this one;
* a quiz attempt: from ``started_at`` to ``finished_at`` as the LMS reports them;
* a media view: ``played_seconds``.

Downloads have no duration and are not listed. Each line gives the mean time spent over the facts
where it could be measured, the mean estimate over those that carry one, and the ratio of the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub.insights.facts import live, superseded_of
from hub.insights.tables import Column, Table, minutes

TWO = Decimal("0.01")


def _instant(at: str) -> dt.datetime:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00"))


@dataclass
class _Line:
    kind: str
    name: str | None = None
    facts: int = 0
    measured: int = 0
    spent_seconds: float = 0.0
    estimated: int = 0
    estimated_minutes: int = 0


class ActivityTime:
    def __init__(self, tz):
        self.tz = tz
        self.lines: dict[tuple[str, str], _Line] = {}

    def _line(self, action: str, activity: str, kind: str, name: str | None) -> _Line:
        line = self.lines.get((action, activity))
        if line is None:
            line = self.lines[(action, activity)] = _Line(kind)
        line.name = line.name or name
        line.facts += 1
        return line

    def add(self, state: dict[str, Any], report) -> None:
        superseded = superseded_of(state)
        action = report.action_id
        sessions = sorted((_instant(s["start"]).timestamp(), _instant(s["end"]).timestamp())
                          for s in live(state, "sessions", superseded))
        begin = (dt.datetime.combine(report.action.start, dt.time(0), tzinfo=self.tz).timestamp()
                 if report.action is not None else None)
        first = 0  # the sessions before it ended before the current interval: never looked at again
        for fact in sorted(live(state, "activities", superseded), key=lambda f: f["at"]):
            line = self._line(action, fact["activity"], "lms.activity_completed", fact.get("activity_name"))
            until = _instant(fact["at"]).timestamp()
            since = begin if begin is not None and begin < until else None
            if sessions:  # no connection at all in the LMS: nothing to measure
                seconds, first = _overlap(sessions, first, since, until)
                line.measured += 1
                line.spent_seconds += seconds
            if fact.get("estimated_minutes") is not None:
                line.estimated += 1
                line.estimated_minutes += int(fact["estimated_minutes"])
            begin = until
        for fact in live(state, "quizzes", superseded):
            line = self._line(action, fact["activity"], "lms.quiz_attempted", fact.get("activity_name"))
            if fact.get("started_at") and fact.get("finished_at"):
                seconds = (_instant(fact["finished_at"]) - _instant(fact["started_at"])).total_seconds()
                if seconds >= 0:
                    line.measured += 1
                    line.spent_seconds += seconds
        for fact in live(state, "traces", superseded):
            if not fact.get("media"):
                continue
            line = self._line(action, fact["media"], "lms.media_played", fact.get("media_name"))
            if fact.get("played_seconds") is not None:
                line.measured += 1
                line.spent_seconds += int(fact["played_seconds"])

    def table(self, titles: dict[str, str]) -> Table:
        table = Table("activity_time", "Time spent vs estimated per activity", COLUMNS)
        for (action, activity) in sorted(self.lines):
            line = self.lines[(action, activity)]
            spent = minutes(line.spent_seconds / line.measured) if line.measured else None
            estimate = (Decimal(line.estimated_minutes) / line.estimated).quantize(Decimal("0.1"), ROUND_HALF_UP) \
                if line.estimated else None
            ratio = (spent / estimate).quantize(TWO, ROUND_HALF_UP) if spent is not None and estimate else None
            table.rows.append({"action": action, "action_title": titles.get(action, action), "activity": activity,
                               "activity_name": line.name, "kind": line.kind, "facts": line.facts,
                               "measured": line.measured, "spent_minutes_mean": spent,
                               "estimated_minutes_mean": estimate, "estimate_source": "lms" if line.estimated else None,
                               "spent_over_estimated": ratio})
        return table


def _overlap(sessions: list[tuple[float, float]], first: int, since: float | None,
             until: float) -> tuple[float, int]:
    """Seconds of ``sessions`` (``(start, end)`` instants, sorted by start) inside (``since``,
    ``until``], looked at from index ``first``; and the index the next, later interval starts from
    (the leading sessions that end by ``since`` cannot reach it). One sweep over an enrolment's
    completions visits each session once per interval it overlaps, not once per completion."""
    while since is not None and first < len(sessions) and sessions[first][1] <= since:
        first += 1
    total = 0.0
    for index in range(first, len(sessions)):
        start, end = sessions[index]
        if start >= until:
            break
        low = start if since is None else max(start, since)
        high = min(end, until)
        if high > low:
            total += high - low
    return total, first


COLUMNS = [
    Column("action", "The training action's id"),
    Column("action_title", "Its title (configuration)"),
    Column("activity", "The LMS activity, quiz or media id"),
    Column("activity_name", "Its name as the LMS gives it"),
    Column("kind", "The event type the line counts (lms.activity_completed, lms.quiz_attempted, lms.media_played)"),
    Column("facts", "Completions, attempts or views counted"),
    Column("measured", "Of those, how many had a time spent that could be measured"),
    Column("spent_minutes_mean", "Mean time spent, in minutes (rule: docs/insights.md)"),
    Column("estimated_minutes_mean", "Mean estimate, in minutes, over the completions that carry one"),
    Column("estimate_source", "Where the estimate comes from: lms (estimated_minutes of the LMS), empty: none"),
    Column("spent_over_estimated", "spent_minutes_mean / estimated_minutes_mean (1.00: as estimated)"),
]

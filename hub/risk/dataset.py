"""Learning examples from finished enrolments, and their split by time.

A finished enrolment (completed or abandoned) is looked at as it stood at a few points of its
action's schedule (:data:`POINTS`: a fifth, two fifths, three fifths of the way), while it was
still in progress: an enrolment already abandoned at a point gives no example there (its exit
would give the answer away). The label is whether it ended abandoned. The features come from
:func:`hub.risk.features.snapshot`, which sees only what occurred by then.

The split is by time, as the model will be used: the held-out cohorts are the actions that
start last; the model learns only from actions that had ended before the first of them started.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from hub.journeys.compute import status_of
from hub.risk import rules
from hub.risk.features import Snapshot, as_of_instant, snapshot

POINTS = (0.2, 0.4, 0.6)
FINISHED = ("completed", "abandoned")


@dataclass
class Example:
    snap: Snapshot  # without its report (kept small)
    label: int  # 1: abandoned
    start: dt.date  # the action's first day: its cohort
    end: dt.date
    rules_score: float
    rules_fired: list[tuple[str, str]]


def is_finished(state: dict[str, Any], config) -> bool:
    return state["action"] in config.model.actions and status_of(state) in FINISHED


def examples_of(states: Iterable[dict[str, Any]], config, points: tuple[float, ...] = POINTS) -> list[Example]:
    """The examples of the finished enrolments among ``states``."""
    out = []
    alerts_cfg, tz = config.hub.alerts, config.timezone
    for state in states:
        if not is_finished(state, config):
            continue
        action = config.model.actions[state["action"]]
        status = status_of(state)
        span = (action.end - action.start).days
        for point in points:
            day = action.start + dt.timedelta(days=max(1, round(span * point)))
            snap = snapshot(state, config, as_of_instant(day, tz))
            if snap.status in FINISHED:
                continue  # already out (or done) by then: nothing left to predict
            fired = rules.fired(snap, alerts_cfg, tz)
            snap.report = None
            out.append(Example(snap, int(status == "abandoned"), action.start, action.end,
                               len(fired) / len(rules.RULES), fired))
    return out


def split_by_time(examples: list[Example], test_share: float = 0.3) -> tuple[list[Example], list[Example], dt.date | None]:
    """(train, test, cutoff): test holds the cohorts starting on or after ``cutoff`` (about
    ``test_share`` of the examples); train the cohorts that ended before it."""
    if not examples:
        return [], [], None
    per_start = Counter(e.start for e in examples)
    wanted = (1 - test_share) * len(examples)
    seen, cutoff = 0, max(per_start)
    for start in sorted(per_start):
        if seen >= wanted:
            cutoff = start
            break
        seen += per_start[start]
    test = [e for e in examples if e.start >= cutoff]
    train = [e for e in examples if e.end < cutoff]
    return train, test, cutoff

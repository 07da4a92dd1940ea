"""The rules baseline: the dropout alerts' own rules (:mod:`hub.journeys.alerts`) as a score.

An enrolment's rules score is the share of the alert rules (unsigned half-day, inactive,
attendance below the threshold) that fire on its journey as of the snapshot; its reasons are
the alerts' messages. It needs no history: the hub scores with it until a model trained on the
organisation's finished enrolments does better on later cohorts (:mod:`hub.risk.evaluate`).
"""

from __future__ import annotations

from hub.journeys.alerts import ACTIVE, AlertsConfig, evaluate
from hub.risk.features import Snapshot

RULES = ("unsigned_half_day", "inactive", "attendance_below")


def fired(snap: Snapshot, cfg: AlertsConfig, tz) -> list[tuple[str, str]]:
    """(rule, message) of each alert rule that fires on the snapshot's journey, once per rule."""
    report = snap.report
    if report is None or report.status not in ACTIVE:
        return []
    seen: dict[str, str] = {}
    for alert in evaluate(report, cfg, snap.as_of, tz):
        seen.setdefault(alert.rule, alert.message)
    return [(rule, seen[rule]) for rule in RULES if rule in seen]


def score(snap: Snapshot, cfg: AlertsConfig, tz) -> float:
    """The share of the alert rules that fire (0, 1/3, 2/3 or 1)."""
    return len(fired(snap, cfg, tz)) / len(RULES)

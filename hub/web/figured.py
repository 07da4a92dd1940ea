"""Stored per-enrolment figures (table ``journey_figures``): the manager's list of actions sums
them, and the trainer's today page shows their attendance.

Each enrolment's figures — completion, realised and planned hours, attendance rate to date, proof
gaps, open alerts, documents issued and refused — are the ones hub.web.managed computes for the
action's page (the same code), stored beside the journey with their ``basis``: the date they are
"to date" of and a digest of the configuration (the actions, rules and exports they depend on).
Its attendance — name, enrolment status, each scheduled half-day's status — is the one the today
page shows (hub.web.today.attendance_of, from the same computed journey), stored in the same row
for the same basis. Writing a journey deletes its row (the stores' ``save_journeys``); a basis
other than today's makes it stale. Each page reads the part it shows (a small row per enrolment,
no journey state) and computes only the missing or stale rows, a chunk at a time; the daemon's
journeys job refreshes them after each projection, so that the first request of the day does not
pay for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub.web.managed import enrolments_of
from hub.web.today import attendance_of

CHUNK = 100  # journeys read, computed and their figures written per store call


def basis_of(config, today: dt.date) -> str:
    """What the figures are computed for: the day and the configuration (a change of either
    computes them again)."""
    digest = hashlib.sha256(config.model.model_dump_json().encode()).hexdigest()[:16]
    return f"{today.isoformat()} {digest}"


def figures_of(enrolment) -> dict[str, Any]:
    """The stored figures of one hub.web.managed.ManagedEnrolment (decimals as strings: exact)."""
    report = enrolment.report
    rate = report.attendance_rate.value
    return {"completion": enrolment.completion, "realised": str(report.realised_hours),
            "planned": str(report.planned_hours), "rate": None if rate is None else str(rate),
            "gaps": len(enrolment.gaps), "open_alerts": len(enrolment.open_alerts),
            "issued": len(enrolment.documents), "refused": len(enrolment.refused)}


@dataclass
class ActionFigures:
    """One action of the manager's list: the sums of its enrolments' stored figures, as
    hub.web.managed.ManagedAction sums its computed enrolments."""

    action_id: str
    title: str
    enrolments: list[dict[str, Any]] = field(default_factory=list)

    def count(self, completion: str) -> int:
        return sum(1 for e in self.enrolments if e["completion"] == completion)

    @property
    def realised_hours(self) -> Decimal:
        return sum((Decimal(e["realised"]) for e in self.enrolments), Decimal(0))

    @property
    def planned_hours(self) -> Decimal:
        return sum((Decimal(e["planned"]) for e in self.enrolments), Decimal(0))

    @property
    def attendance_rate(self) -> Decimal | None:
        """The mean of the enrolments' attendance rates; None when no enrolment has one yet."""
        rates = [Decimal(e["rate"]) for e in self.enrolments if e["rate"] is not None]
        return (sum(rates, Decimal(0)) / len(rates)).quantize(Decimal("0.1"), ROUND_HALF_UP) if rates else None

    @property
    def gaps(self) -> int:
        return sum(e["gaps"] for e in self.enrolments)

    @property
    def open_alerts(self) -> int:
        return sum(e["open_alerts"] for e in self.enrolments)

    @property
    def issued(self) -> int:
        return sum(e["issued"] for e in self.enrolments)

    @property
    def refused(self) -> int:
        return sum(e["refused"] for e in self.enrolments)


def _refresh_chunk(hub, action: str, learners: list[str], today: dt.date, basis: str) -> dict[str, tuple[dict, dict]]:
    """On the store's thread: read these journeys, compute their figures and their attendance
    (hub.web.today) and store both (no projection runs in between on this store); returns learner
    id -> (figures, attendance)."""
    store = hub.store
    states = store.load_journeys([(learner, action) for learner in learners])
    found = {e.report.learner_id: (figures_of(e), attendance_of(e.report))
             for e in enrolments_of(hub, list(states.values()), today)}
    store.save_journey_figures(action, {learner: (basis, *both) for learner, both in found.items()})
    return found


async def _completed(hub, action: str, rows: list[dict[str, Any]], part: str, today: dt.date,
                     basis: str) -> dict[str, dict[str, Any]]:
    """Learner id -> the stored ``part`` (figures or attendance) of ``rows`` (one action's, as the
    store read them), those missing or stale computed and stored, a chunk at a time."""
    found = {r["learner_id"]: r[part] for r in rows if r[part] is not None and r["basis"] == basis}
    stale = [r["learner_id"] for r in rows if r["learner_id"] not in found]
    index = 0 if part == "figures" else 1
    for start in range(0, len(stale), CHUNK):
        computed = await hub.store.call(_refresh_chunk, hub, action, stale[start:start + CHUNK], today, basis)
        found.update({learner: both[index] for learner, both in computed.items()})
    return found


async def action_figures(hub, action: str, today: dt.date, basis: str | None = None) -> list[dict[str, Any]]:
    """The figures of every enrolment of ``action`` as of ``today``: the stored ones, the missing
    or stale ones computed and stored (the projection is assumed caught up)."""
    basis = basis or basis_of(hub.config, today)
    rows = await hub.store.call(hub.store.journey_figures, action)
    found = await _completed(hub, action, rows, "figures", today, basis)
    return [found[r["learner_id"]] for r in rows if r["learner_id"] in found]


async def actions_attendance(hub, actions: list[str], today: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Action -> the attendance (hub.web.today.attendance_of) of each of its enrolments as of
    ``today``: one store read for all ``actions``, the missing or stale ones computed and stored
    (the projection is assumed caught up). Every action of ``actions`` is a key."""
    basis = basis_of(hub.config, today)
    rows = await hub.store.call(hub.store.journey_attendance, actions)
    out: dict[str, list[dict[str, Any]]] = {}
    for action in actions:
        mine = [r for r in rows if r["action"] == action]
        found = await _completed(hub, action, mine, "attendance", today, basis)
        out[action] = [found[r["learner_id"]] for r in mine if r["learner_id"] in found]
    return out


async def managed_actions(hub, principal, today: dt.date) -> list[ActionFigures]:
    """Every configured training action of the principal's scope, in the configuration's order,
    with its enrolments' figures (stored, or computed and stored when missing or stale)."""
    await hub.project()
    basis = basis_of(hub.config, today)
    actions = hub.config.model.actions
    return [ActionFigures(a, actions[a].title, await action_figures(hub, a, today, basis))
            for a in principal.actions_in(list(actions))]


async def refresh_figures(hub, today: dt.date) -> int:
    """Compute and store the figures of every configured action's enrolments that are missing or
    stale (the daemon's journeys job, after projecting); returns how many actions were read."""
    basis = basis_of(hub.config, today)
    actions = list(hub.config.model.actions)
    for action in actions:
        await action_figures(hub, action, today, basis)
    return len(actions)

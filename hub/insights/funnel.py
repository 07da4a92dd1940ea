"""Conversion along the sales funnel: program viewed → registered → started → completed → certified.

Sources: ``prospect.program_viewed`` (anonymous, recorded only with the visitor's consent —
RGPD, CNIL guidelines on audience measurement: a view names no one, so it is counted per
training action, never per person or channel), ``prospect.contact_created`` (its ``origin`` is
the *channel*: the CRM's source of the contact, HubSpot's ``hs_analytics_source``, « site web »…),
and each enrolment's journey: registered (``enrolment.registered`` or any later step), started
(``enrolment.started`` or ``enrolment.completed``), completed (``enrolment.completed``) and
certified (a live ``certification.awarded``).

An enrolment's channel is the origin of its learner's contact (the last one, a correction
replacing what it supersedes); ``(unknown)`` when the learner has no contact event or it states
no origin. Contacts are counted per channel only when the insights cover every action: a contact
names no action until the person registers.

The views and the contacts are read with the ledger's type index (one streamed query per type);
the channels are kept per learner (one short string each), the rest as counters.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from hub.insights.scope import Scope, local_day
from hub.insights.tables import Column, Table, rate

UNKNOWN = "(unknown)"
STAGES = ("registered", "started", "completed", "certified")
SCAN_BATCH = 5000


def reached(report) -> dict[str, bool]:
    timeline = report.timeline
    return {"registered": bool(timeline),
            "started": "started" in timeline or "completed" in timeline,
            "completed": "completed" in timeline,
            "certified": bool(report.certifications)}


@dataclass
class FunnelScan:
    """What the ledger's prospect events say: views per action, channel per learner, contacts per channel."""

    views: Counter
    views_without_action: int
    channels: dict[str, str]
    contacts: Counter | None


def scan(store, scope: Scope, tz) -> FunnelScan:
    """Read the views and the contacts (store thread)."""
    aliases = store.learner_alias_map()
    views: Counter = Counter()
    without_action = 0
    for event in store.iter_events(types=["prospect.program_viewed"], batch=SCAN_BATCH):
        if event.get("supersedes") or not scope.holds_day(local_day(event["occurred_at"], tz)):
            continue  # a correction replaces the view it supersedes: counted once
        if event.get("action"):
            if scope.holds_action(event["action"]):
                views[event["action"]] += 1
        elif scope.actions is None:
            without_action += 1
    channels: dict[str, str] = {}
    days: dict[str, Any] = {}
    for event in store.iter_events(types=["prospect.contact_created"], batch=SCAN_BATCH):
        learner = event.get("learner_id")
        if not learner:
            continue
        learner = aliases.get(learner, learner)
        channels[learner] = (event.get("data") or {}).get("origin") or UNKNOWN
        days[learner] = local_day(event["occurred_at"], tz)
    contacts = None
    if scope.actions is None:
        contacts = Counter(channels[learner] for learner, day in days.items() if scope.holds_day(day))
    return FunnelScan(views, without_action, channels, contacts)


class FunnelTally:
    def __init__(self, prospects: FunnelScan):
        self.prospects = prospects
        self.by_action: dict[str, Counter] = defaultdict(Counter)
        self.by_channel: dict[str, Counter] = defaultdict(Counter)

    def add(self, report) -> None:
        stages = reached(report)
        channel = self.prospects.channels.get(report.learner_id, UNKNOWN)
        for stage in STAGES:
            if stages[stage]:
                self.by_action[report.action_id][stage] += 1
                self.by_channel[channel][stage] += 1

    def actions_table(self, titles: dict[str, str], actions: list[str]) -> Table:
        """One line per action of ``actions`` (the configured ones of the scope) and per other action
        the ledger names."""
        table = Table("funnel_actions", "Sales funnel per training action", ACTION_COLUMNS)
        for action in sorted(set(actions) | set(self.by_action) | set(self.prospects.views)):
            c = self.by_action[action]
            viewed = self.prospects.views.get(action, 0)
            table.rows.append({"action": action, "action_title": titles.get(action, action), "viewed": viewed,
                               **{s: c[s] for s in STAGES},
                               "registered_per_view_pct": rate(c["registered"], viewed), **_rates(c)})
        return table

    def channels_table(self) -> Table:
        table = Table("funnel_channels", "Sales funnel per channel", CHANNEL_COLUMNS)
        contacts = self.prospects.contacts
        for channel in sorted(set(self.by_channel) | set(contacts or ())):
            c = self.by_channel[channel]
            known = contacts.get(channel, 0) if contacts is not None else None
            table.rows.append({"channel": channel, "contacts": known, **{s: c[s] for s in STAGES},
                               "registered_per_contact_pct": rate(c["registered"], known) if known else None,
                               **_rates(c)})
        return table


def _rates(c: Counter) -> dict[str, Any]:
    return {"started_pct": rate(c["started"], c["registered"]), "completed_pct": rate(c["completed"], c["started"]),
            "certified_pct": rate(c["certified"], c["registered"])}


_STAGE_COLUMNS = [
    Column("registered", "Enrolments registered (enrolment.registered or a later step)"),
    Column("started", "Of those, started (enrolment.started or enrolment.completed)"),
    Column("completed", "Completed (enrolment.completed)"),
    Column("certified", "Certified (a live certification.awarded)"),
]
_RATE_COLUMNS = [
    Column("started_pct", "started per hundred registered"),
    Column("completed_pct", "completed per hundred started"),
    Column("certified_pct", "certified per hundred registered"),
]
ACTION_COLUMNS = [
    Column("action", "The training action's id"),
    Column("action_title", "Its title (configuration)"),
    Column("viewed", "Program page views with consent (prospect.program_viewed) naming the action"),
    *_STAGE_COLUMNS,
    Column("registered_per_view_pct", "registered per hundred views"),
    *_RATE_COLUMNS,
]
CHANNEL_COLUMNS = [
    Column("channel", "The origin of the learner's contact (prospect.contact_created data.origin)"),
    Column("contacts", "Contacts created with that origin (only when every action is covered)"),
    *_STAGE_COLUMNS,
    Column("registered_per_contact_pct", "registered per hundred contacts"),
    *_RATE_COLUMNS,
]

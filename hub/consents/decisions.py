"""What is in force for one person and one purpose.

The latest decision (by the time it occurred) of ``consent.given`` / ``consent.withdrawn`` for a
person and a purpose is kept by the store (the ``consents`` table, filled at ingest in the same
transaction as the events). In force means:

* the organisation carries the purpose out (``allowed``), and
* the person gave consent to the purpose's *current* version, or has not decided (nor consented
  to an older version only) and the purpose's ``default`` is ``given``.

A withdrawal, of any version, stops it. A consent given to an older version of the text counts
as no decision: the default applies until the person answers the new text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from hub.consents.settings import Purpose

CONSENT_TYPES = {"consent.given": "given", "consent.withdrawn": "withdrawn"}
#: what a person's situation for a purpose is: their decision, or why the default applies
Status = Literal["given", "withdrawn", "outdated", "undecided", "not_allowed"]


@dataclass(frozen=True)
class Decision:
    learner_id: str
    purpose: str
    state: Literal["given", "withdrawn"]
    version: str
    scope: str | None
    occurred_us: int
    event_id: str
    channel: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Decision":
        """From a ``consents`` table row."""
        return cls(row["learner_id"], row["purpose"], row["state"], row["version"], row["scope"],
                   int(row["occurred_us"]), row["event_id"], row["channel"])

    @classmethod
    def from_event(cls, learner_id: str, type_: str, data: str | Mapping[str, Any], occurred_us: int,
                   event_id: str) -> "Decision":
        """From a consent event (``data`` as stored JSON or decoded)."""
        values = json.loads(data) if isinstance(data, str) else data
        return cls(learner_id, values["purpose"], CONSENT_TYPES[type_], values["version"], values.get("scope"),
                   occurred_us, event_id, values.get("channel"))

    def supersedes(self, other: "Decision | None") -> bool:
        """Whether this decision replaces ``other`` (it occurred at the same time or later)."""
        return other is None or self.occurred_us >= other.occurred_us


def status(purpose: Purpose, decision: Decision | None) -> Status:
    if not purpose.allowed:
        return "not_allowed"
    if decision is None:
        return "undecided"
    if decision.state == "withdrawn":
        return "withdrawn"
    return "given" if decision.version == purpose.version else "outdated"


def in_force(purpose: Purpose, decision: Decision | None) -> bool:
    """Whether the processing of ``purpose`` may go on for the person of ``decision``."""
    found = status(purpose, decision)
    if found in ("given", "withdrawn", "not_allowed"):
        return found == "given"
    return purpose.default == "given"

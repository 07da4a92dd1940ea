"""Recording a consent change, reading a person's choices, and the withdrawals the retention job honours.

A change is a ``consent.given`` or ``consent.withdrawn`` event from the hub itself about the
learner (its hub id), with the purpose, the version of the text, the scope (the employer, for a
purpose that names one), the channel (web, cli, connector) and who recorded it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from hub.consents.decisions import Decision, Status, in_force, status
from hub.consents.settings import ConsentsConfig, Purpose
from hub.errors import HubError
from hub.ulid import new_ulid

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Choice:
    """One purpose as it stands for one person."""

    purpose: str
    settings: Purpose
    decision: Decision | None
    status: Status
    in_force: bool

    @property
    def decided_at(self) -> dt.datetime | None:
        return at(self.decision) if self.decision else None


def at(decision: Decision) -> dt.datetime:
    """When ``decision`` occurred (UTC)."""
    return dt.datetime.fromtimestamp(decision.occurred_us / 1_000_000, UTC)


def purpose_of(config: ConsentsConfig, purpose: str) -> Purpose:
    found = config.purposes.get(purpose)
    if found is None:
        raise HubError(f"unknown consent purpose {purpose!r} "
                       f"(hub.consents.purposes: {', '.join(sorted(config.purposes)) or 'none'})")
    return found


async def choices_of(store: Any, config: ConsentsConfig, learner_id: str) -> list[Choice]:
    """Every configured purpose with this person's latest decision and what is in force."""
    decisions = {d.purpose: d for d in await store.call(store.consent_decisions, learner_id)}
    return [Choice(name, purpose, decisions.get(name), status(purpose, decisions.get(name)),
                   in_force(purpose, decisions.get(name)))
            for name, purpose in config.purposes.items()]


async def record_consent(append: Callable[..., Awaitable[Any]], config: ConsentsConfig, learner_id: str,
                         purpose: str, *, give: bool, channel: str, version: str | None = None,
                         scope: str | None = None, by: str | None = None, name: str | None = None) -> str:
    """Append the consent change; its event id. Raises HubError for an unknown purpose, or for a
    consent given to a purpose the organisation does not allow (a withdrawal is always recorded)."""
    settings = purpose_of(config, purpose)
    if give and not settings.allowed:
        raise HubError(f"consent purpose {purpose!r} is not allowed by the organisation (hub.consents: allowed: false)")
    data: dict[str, Any] = {"purpose": purpose, "version": version or settings.version, "channel": channel}
    if scope:
        data["scope"] = scope
    if by:
        data["by"] = by
    item = {
        "type": "consent.given" if give else "consent.withdrawn",
        "occurred_at": dt.datetime.now(UTC).isoformat(),
        "source_id": new_ulid(),
        "learner": {"ref": learner_id, **({"name": name} if name else {})},
        "data": data,
    }
    return (await append([item], source="hub")).ids[0]


@dataclass(frozen=True)
class Withdrawal:
    learner_id: str
    withdrawn_at: dt.datetime
    version: str
    event_id: str


async def withdrawn_consents(store: Any, purpose: str) -> list[Withdrawal]:
    """Every person whose latest decision for ``purpose`` is a withdrawal, with when it occurred
    (oldest first): what the retention job erases early, the person having objected."""
    return [Withdrawal(d.learner_id, at(d), d.version, d.event_id)
            for d in await store.call(store.withdrawn_consents, purpose)]

"""Merges of learners, recomputed from the ledger.

An event's link to a learner is sealed with it (leaf format 2, ``learner_id``), but journeys count
the events of a learner *and of the learners merged into it* (``learner_aliases``). Every merge
an admin makes is recorded in the ledger as an ``admin.action`` event: ``learners resolve`` (its
details name the conflict's learners and ``merged into <id>``) and ``learners mapping`` (its target
lists ``merged <id> into <id>``). ``verify`` replays them in ledger order and compares the result
with the store's merges: a merge no event records, or a recorded merge the store lacks or points
elsewhere, is reported.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

MERGED_INTO = re.compile(r"^merged into (\S+)$")
MAPPING_MERGE = re.compile(r"merged (\S+) into ([^\s;]+)")


def _merges(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The (merged learner, learner merged into) pairs an ``admin.action`` event records."""
    data = event.get("data") or {}
    if data.get("command") == "learners resolve":
        details = data.get("details") or {}
        found = MERGED_INTO.match(str(details.get("resolution") or ""))
        if not found:
            return []
        return [(str(other), found[1]) for other in details.get("learners") or [] if other != found[1]]
    if data.get("command") == "learners mapping":
        return MAPPING_MERGE.findall(str(data.get("target") or ""))
    return []


def recorded_aliases(events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The merges the hub's ``admin.action`` events record, replayed as the store applies them."""
    aliases: dict[str, str] = {}
    for event in events:
        if event.get("type") != "admin.action" or event.get("source") != "hub":
            continue
        for other, target in _merges(event):
            for alias, into in aliases.items():
                if into == other:
                    aliases[alias] = target
            aliases[other] = target
    return aliases


def check_merges(store) -> str | None:
    """The first merge of learners in the store that the ledger does not record as such (store thread)."""
    expected = recorded_aliases(store.iter_events(types=["admin.action"]))
    stored = store.learner_alias_map()
    for alias in sorted(set(expected) | set(stored)):
        into, recorded = stored.get(alias), expected.get(alias)
        if into == recorded:
            continue
        if recorded is None:
            return f"learner {alias} is merged into {into}, but no admin.action event in the ledger records that merge"
        if into is None:
            return f"the ledger records merging learner {alias} into {recorded}, but the store does not merge them"
        return f"learner {alias} is merged into {into}, but the ledger records it merged into {recorded}"
    return None

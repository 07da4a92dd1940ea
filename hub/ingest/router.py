"""Routes from YAML: which sinks each new event is queued for.

A route matches an event when its source is in ``from`` (a connector name, ``api`` for events
posted to /api/events by other sources, ``*`` or a glob), its type matches one of
``when.types`` (``hub`` names the hub's own events, such as ``admin.action``), its training action one of ``when.actions`` (if given) and, if
``when.funders`` is given, one of the funders recorded for the learner's enrolment in that
action (from ``funding.approved`` events) and, if ``when.consent`` is given, each of these
consent purposes is in force for the event's learner (hub.consents.decisions: their latest
decision, the purpose's version and default); an event about no learner then never matches.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Callable, Iterable

from hub.config import Route
from hub.consents.decisions import in_force
from hub.consents.settings import ConsentsConfig
from hub.store.base import EventRow


@dataclass(frozen=True)
class _Compiled:
    name: str
    sources: tuple[str, ...]
    types: tuple[str, ...]
    actions: tuple[str, ...] | None
    funders: frozenset[str] | None
    consent: tuple[str, ...] | None
    sinks: tuple[str, ...]


def _match(patterns: Iterable[str], value: str) -> bool:
    return any(p == value or fnmatch.fnmatchcase(value, p) for p in patterns)


class Router:
    def __init__(self, routes: list[Route], connectors: Iterable[str], enabled_sinks: Iterable[str] | None = None,
                 consents: ConsentsConfig | None = None):
        self.connectors = set(connectors)
        self.consents = consents or ConsentsConfig()
        sinks_ok = set(enabled_sinks) if enabled_sinks is not None else None
        self.routes = [
            _Compiled(
                r.name,
                tuple(r.from_),
                tuple(r.when.types),
                tuple(r.when.actions) if r.when.actions is not None else None,
                frozenset(r.when.funders) if r.when.funders is not None else None,
                tuple(r.when.consent) if r.when.consent else None,
                tuple(s for s in r.to if sinks_ok is None or s in sinks_ok),
            )
            for r in routes
            if r.enabled
        ]
        self._cache: dict[tuple[str, str, str | None], list[tuple[str, str, frozenset[str] | None,
                                                            tuple[str, ...] | None]]] = {}

    def _candidates(self, source: str, type_: str, action: str | None):
        key = (source, type_, action)
        found = self._cache.get(key)
        if found is None:
            origin = source if source in self.connectors or source == "hub" else "api"
            found = []
            for r in self.routes:
                if not (_match(r.sources, origin) or "*" in r.sources):
                    continue
                if not _match(r.types, type_):
                    continue
                if r.actions is not None and (action is None or not _match(r.actions, action)):
                    continue
                found.extend((sink, r.name, r.funders, r.consent) for sink in r.sinks)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = found
        return found

    def route(self, rows: list[EventRow], funders_of: Callable[[Iterable[tuple[str, str]]], dict],
              consents_of: Callable[[Iterable[str]], dict] | None = None) -> list[list[tuple[str, str]]]:
        """For each row, the (sink, route) pairs to queue; each sink at most once per event."""
        candidates = [self._candidates(r.source, r.type, r.action) for r in rows]
        funders: dict = {}
        if any(f is not None for cands in candidates for _, _, f, _ in cands):
            pairs = {(r.learner_key, r.action) for r in rows if r.learner_key and r.action}
            funders = funders_of(pairs) if pairs else {}
        decisions: dict = {}
        if consents_of is not None and any(c is not None for cands in candidates for _, _, _, c in cands):
            people = {r.learner_id for r, cands in zip(rows, candidates)
                      if r.learner_id and any(c is not None for _, _, _, c in cands)}
            decisions = consents_of(people) if people else {}
        out: list[list[tuple[str, str]]] = []
        for row, cands in zip(rows, candidates):
            targets: list[tuple[str, str]] = []
            seen: set[str] = set()
            for sink, route, needs, consent in cands:
                if sink in seen:
                    continue
                if needs is not None and not (needs & funders.get((row.learner_key, row.action), set())):
                    continue
                if consent is not None and not self._consented(row, consent, decisions):
                    continue
                seen.add(sink)
                targets.append((sink, route))
            out.append(targets)
        return out

    def _consented(self, row: EventRow, purposes: tuple[str, ...], decisions: dict) -> bool:
        if not row.learner_id:
            return False
        return all(in_force(self.consents.purposes[p], decisions.get((row.learner_id, p))) for p in purposes)

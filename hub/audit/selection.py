"""Which learners an audit pack holds: a random sample of an action's learners (reproducible from its
seed), learners named one by one, or those a funder financed with training in a period.

A sample is ``random.Random(seed).sample`` over the action's learner ids sorted, so the same seed over
the same enrolments gives the same learners, on any machine. An unknown action, a learner not enrolled
in the action and a selection that finds nobody are errors (:class:`SelectionError`), raised before
anything is written.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from hub.errors import HubError
from hub.formats import Period
from hub.journeys.stream import compute_states
from hub.learners import reference_key

PAGE = 100  # journey states read at a time (as hub.journeys.stream computes them)


class SelectionError(HubError):
    """The selection names nothing to pack (or something unknown)."""


@dataclass(frozen=True)
class Selection:
    """What the auditor asked for: exactly one of ``sample``, ``learners``, ``funder`` with ``period``."""

    action: str
    sample: int | None = None
    seed: int | None = None
    learners: tuple[str, ...] = ()
    funder: str | None = None
    period: str | None = None

    def __post_init__(self) -> None:
        modes = [self.sample is not None, bool(self.learners), self.funder is not None or self.period is not None]
        if sum(modes) != 1:
            raise SelectionError("choose one selection: a sample (--sample N), learners (--learners L1,L2) "
                                 "or a funder and a period (--funder F --period P)")
        if self.sample is not None and self.sample < 1:
            raise SelectionError(f"empty sample: --sample must be at least 1 (got {self.sample})")
        if (self.funder is None) != (self.period is None):
            raise SelectionError("--funder and --period go together")
        if self.period is not None:
            try:
                Period.parse(self.period)
            except ValueError as exc:
                raise SelectionError(str(exc)) from None
        if self.seed is not None and self.sample is None:
            raise SelectionError("--seed goes with --sample")

    def with_seed(self) -> "Selection":
        """The same selection, with a seed chosen now for a sample that has none."""
        if self.sample is None or self.seed is not None:
            return self
        return Selection(self.action, self.sample, secrets.randbelow(2**31))

    def as_dict(self) -> dict[str, Any]:
        if self.sample is not None:
            return {"mode": "sample", "action": self.action, "size": self.sample, "seed": self.seed,
                    "method": "random.Random(seed).sample(sorted learner ids of the action, size)"}
        if self.learners:
            return {"mode": "learners", "action": self.action, "learners": list(self.learners)}
        return {"mode": "funder", "action": self.action, "funder": self.funder, "period": self.period}


def _states(store, read: Callable[..., Any], action: str) -> Iterator[dict[str, Any]]:
    """The projected journey states of ``action``, a page at a time."""
    after = None
    while states := read(store.journeys_page, after, PAGE):
        after = (states[-1]["learner_id"], states[-1]["action"])
        yield from (s for s in states if s["action"] == action)


def select_learners(store, read: Callable[..., Any], config, selection: Selection) -> list[str]:
    """The learner ids (canonical, sorted for a sample) the selection names, in pack order."""
    action = selection.action
    if selection.learners:
        return [_enrolled(store, read, config, action, name) for name in dict.fromkeys(selection.learners)]
    if selection.sample is not None:
        population = sorted(read(store.journey_learners, action))  # sorted here: the draw must not depend on a collation
        _not_empty(population, config, action, "")
        size = min(selection.sample, len(population))
        return sorted(random.Random(selection.seed).sample(population, size))
    period = Period.parse(selection.period)
    found = []
    page: list[dict[str, Any]] = []
    known = False
    for state in _states(store, read, action):
        known = True
        if selection.funder in (state.get("funders") or {}):
            page.append(state)
        if len(page) >= PAGE:
            found += _funded(page, config, selection.funder, period)
            page = []
    found += _funded(page, config, selection.funder, period)
    if not known:
        _not_empty([], config, action, "")
    _not_empty(found, config, action, f" funded by {selection.funder} with training in {selection.period}")
    return sorted(found)


def _funded(states: list[dict[str, Any]], config, funder: str, period: Period) -> list[str]:
    """The learners of ``states`` whose live funding decisions name ``funder`` and who trained in ``period``
    (the action's dates, up to the learner's exit), as funder exports select them."""
    out = []
    for report in compute_states(states, config):
        action = report.action
        if funder in report.funders and (action is None or period.overlaps(action.start, report.exit_date or action.end)):
            out.append(report.learner_id)
    return out


def _not_empty(found: list[str], config, action: str, criteria: str) -> None:
    if found:
        return
    if not criteria and action not in config.model.actions:
        known = ", ".join(sorted(config.model.actions)) or "none configured"
        raise SelectionError(f"unknown training action {action!r} (known: {known})")
    raise SelectionError(f"empty sample: no learner of action {action}{criteria}")


def _enrolled(store, read: Callable[..., Any], config, action: str, name: str) -> str:
    """The canonical id of learner ``name`` (a hub id or a key such as ``email:…``), enrolled in ``action``."""
    key = reference_key(name)
    learner_id = read(store.learner_by_key, key) if key is not None else name
    if learner_id is None:
        raise SelectionError(f"unknown learner {name!r}")
    learner_id = read(store.canonical_learner, learner_id)
    if not read(store.load_journeys, [(learner_id, action)]):
        unknown = "" if action in config.model.actions else \
            f" (the configuration knows no such action: {', '.join(sorted(config.model.actions)) or 'none'})"
        raise SelectionError(f"learner {name!r} is not enrolled in action {action!r}{unknown}")
    return learner_id

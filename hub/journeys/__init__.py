"""Journeys: enrolments projected from the ledger, and the figures computed from them."""

from __future__ import annotations

import functools
from typing import Any, Callable

from hub.journeys.projection import ActionWide, project

BATCH = 20_000
LEARNERS_PER_BATCH = 200


def catch_up(store, *, batch: int = BATCH, max_batches: int | None = None) -> int:
    """Apply the events appended since the last run (store thread); returns how many were read.

    ``max_batches`` bounds one call, so that the daemon can give the store thread back to
    ingest requests between chunks."""
    canonical = functools.cache(store.canonical_learner)  # one look-up per learner and call

    total = 0
    rounds = 0
    while max_batches is None or rounds < max_batches:
        rounds += 1
        after = store.projection_cursor()
        events = list(store.iter_events(after_seq=after, batch=batch, limit=batch, unreadable=True))
        if not events:
            return total
        last = events[-1]["seq"]
        states, last = project(events, store.load_journeys, canonical, ActionWide.of(store, last))
        store.save_journeys(states, last)
        total += len(events)
    return total


def rebuild(store, progress: Callable[[int], None] | None = None) -> int:
    """Forget every journey and project the whole ledger again (store thread).

    Learner by learner rather than in ledger order, so that each journey is built in memory and
    written once; the projection cursor moves only at the end (a crash leaves it at zero, and
    the states' own ``seq`` makes the next catch-up skip what they already hold).
    ``progress(n)`` is told the events of each batch projected."""
    store.reset_journeys()
    end = store.max_seq()
    canonical = functools.cache(store.canonical_learner)  # one look-up per learner and call

    total = 0
    learners = store.event_learner_ids()
    for start in range(0, len(learners), LEARNERS_PER_BATCH):
        events = store.events_of_learners(learners[start : start + LEARNERS_PER_BATCH], until_seq=end)
        states, _ = project(events, store.load_journeys, canonical, ActionWide.of(store, end))
        store.save_journeys(states, 0, name="journeys-rebuild")
        total += len(events)
        if progress is not None:
            progress(len(events))
    store.save_journeys({}, end)
    return total


def reproject_learner(store, learner_id: str) -> None:
    """Re-project one learner's journeys (after a merge of learners), up to the projection cursor."""
    reproject_learners(store, [learner_id])


def reproject_learners(store, learner_ids: list[str]) -> None:
    """Re-project the journeys of ``learner_ids`` (each with the learners merged into it) at once, up to
    the projection cursor: after a merge, or after their events were erased (hub.privacy)."""
    canonical = functools.cache(store.canonical_learner)
    people = list(dict.fromkeys(canonical(l) for l in learner_ids))
    ids = [i for person in people for i in (person, *store.learner_aliases(person))]
    if not ids:
        return
    store.reset_journeys(ids)
    cursor = store.projection_cursor()
    events = store.events_of_learners(ids, until_seq=cursor)
    if events:
        states, _ = project(events, lambda keys: {}, canonical, ActionWide.of(store, cursor))
        store.save_journeys(states, store.projection_cursor())


__all__ = ["catch_up", "rebuild", "reproject_learner", "reproject_learners", "Any"]

"""Finding the person a right is exercised for: a hub learner id or a key (``email:…``,
``src:<connector>:<ref>``, ``id:<namespace>:<value>``), followed through merges."""

from __future__ import annotations

from hub.errors import HubError
from hub.learners import reference_key


class UnknownLearner(HubError):
    """No learner by that id or key."""


async def find_learner(store, reference: str) -> str:
    """The canonical hub id of the learner ``reference`` names; :class:`UnknownLearner` when none."""
    reference = reference.strip()
    key = reference_key(reference) if reference else None
    learner_id = await store.call(store.learner_by_key, key) if key is not None else reference
    if learner_id:
        learner_id = await store.call(store.canonical_learner, learner_id)
        if await store.call(store.learner, learner_id) is not None:
            return learner_id
    raise UnknownLearner(f"unknown learner {reference!r}: give a hub learner id or a key such as "
                         "email:…, src:<connector>:<ref> (see `parcours learners show`)")

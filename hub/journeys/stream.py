"""The journeys of an export, computed chunk by chunk while a format reads them.

A computed journey holds every fact of the enrolment with its explanation (about 0.2 MB for a
ten-week action with LMS traces), so an organisation's year does not fit in memory as a list.
:class:`JourneyStream` reads the projected states a page at a time, computes the reports of the
page and hands them over; what the format keeps is up to the format. Iterating twice recomputes;
:meth:`JourneyStream.fetch` computes given journeys again, in a given order (a format that sorts
its lines keeps small keys, then fetches the reports in that order).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable, Iterator

from hub.gcpause import no_gc
from hub.journeys.compute import JourneyReport, compute

Key = tuple[str, str]  # (learner_id, action)
CHUNK = 100  # journeys computed at a time: about 20 MB for ten-week actions with LMS traces


def compute_states(states: list[dict[str, Any]], config, today: dt.date | None = None) -> list[JourneyReport]:
    """The reports of projected journey ``states`` (``config``: the hub's LoadedConfig)."""
    actions, tz = config.model.actions, config.timezone
    with no_gc():
        return [compute(s, actions.get(s["action"]), config.rules_for(s["action"]), tz, today=today) for s in states]


class JourneyStream:
    """The reports of the journeys ``keep(state)`` accepts and then ``select(report)`` accepts.

    ``keep`` sees the projected state (cheap: it filters before computing); ``select`` the report.
    """

    def __init__(self, store, config, *, today: dt.date | None = None,
                 keep: Callable[[dict[str, Any]], bool] | None = None,
                 select: Callable[[JourneyReport], bool] | None = None, chunk: int | None = None):
        self.store, self.config, self.today, self.chunk = store, config, today, chunk or CHUNK
        self.keep = keep or (lambda state: True)
        self.select = select or (lambda report: True)
        self.progress: Callable[[int], None] | None = None  # told the journeys of each page read

    def __iter__(self) -> Iterator[JourneyReport]:
        after: Key | None = None
        while states := self.store.journeys_page(after, self.chunk):
            after = (states[-1]["learner_id"], states[-1]["action"])
            reports = compute_states([s for s in states if self.keep(s)], self.config, self.today)
            if self.progress is not None:
                self.progress(len(states))
            del states
            yield from (r for r in reports if self.select(r))

    def fetch(self, keys: Iterable[Key]) -> Iterator[JourneyReport]:
        """The reports of ``keys`` (``(learner_id, action_id)``), in that order; unknown keys are skipped."""
        keys = list(keys)
        for start in range(0, len(keys), self.chunk):
            part = keys[start:start + self.chunk]
            states = self.store.load_journeys(part)
            reports = compute_states([states[k] for k in part if k in states], self.config, self.today)
            del states
            yield from reports

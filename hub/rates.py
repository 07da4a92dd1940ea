"""Per-sink rate limits (``delivery.rate_limit: 20/s``): parsing and pacing.

A sink coming back after an outage has a backlog; the dispatcher drains it no faster than the
sink's rate limit, so the sink is not flooded. Pacing is by events: a batch of ``n`` events
pushes the next allowed start ``n / rate`` seconds later, and a batch holds at most one
second's worth of events (at least one).
"""

from __future__ import annotations

import time
from typing import Annotated

from pydantic import AfterValidator, Field

RATE_PATTERN = r"^[0-9]+(\.[0-9]+)?/(s|min|h)$"
_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def rate_per_second(text: str) -> float:
    """``"20/s"``, ``"600/min"`` or ``"5000/h"`` as events per second (> 0)."""
    count, unit = text.split("/")
    rate = float(count) / _UNITS[unit]
    if rate <= 0:
        raise ValueError(f"rate limit {text!r}: give a positive number of events, e.g. 20/s")
    return rate


def _checked(text: str) -> str:
    rate_per_second(text)
    return text


RateLimit = Annotated[str, Field(pattern=RATE_PATTERN), AfterValidator(_checked)]


class Pacer:
    """When a sink may be sent its next batch, at ``rate`` events per second."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate = rate
        self.clock = clock
        self.next_at = 0.0

    def batch_limit(self, batch_size: int) -> int:
        """Events in the next batch: ``batch_size``, at most one second's worth, at least one."""
        return max(1, min(batch_size, int(self.rate)))

    def wait(self) -> float:
        """Seconds to wait before the next batch may start."""
        return max(0.0, self.next_at - self.clock())

    def sent(self, count: int) -> None:
        """``count`` events were handed to the sink now."""
        self.next_at = max(self.next_at, self.clock()) + count / self.rate

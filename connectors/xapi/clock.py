"""What the statements' own times say about the pull's cursor.

The cursor follows ``stored`` (the xAPI specification) or, for Ralph, ``timestamp``. With
``timestamp``, a statement that reaches the LRS later than ``overlap`` after it happened falls
behind the cursor and is never read; one stamped later than the LRS stored it moves the cursor
ahead of the statements in between. Neither can be seen once missed, but the statements that are
read show the delays the source has: :class:`CursorClock` notes them, and the statements returned
although older than the window asked (the LRS's ``since`` does not filter on ``cursor_field``),
and words the warnings for the sync summary, the log and the connector's health.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from connectors.xapi.iso8601 import UTC, parse_timestamp

#: a timestamp this much after ``stored`` is not clock skew
AHEAD_TOLERANCE = dt.timedelta(minutes=5)


@dataclass
class _Finding:
    count: int = 0
    worst: dt.timedelta = dt.timedelta(0)
    example: str = ""

    def add(self, gap: dt.timedelta, statement_id: str) -> None:
        self.count += 1
        if gap > self.worst or not self.example:
            self.worst, self.example = gap, statement_id


def _when(statement: dict[str, Any], name: str) -> dt.datetime | None:
    value = statement.get(name)
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value).astimezone(UTC)
    except ValueError:
        return None


def _span(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours}h{rest // 60:02d}"
    return f"{days}d {text}" if days else text


class CursorClock:
    """Findings of one page (see the module documentation)."""

    def __init__(self, cursor_field: str, overlap: dt.timedelta):
        self.cursor_field, self.overlap = cursor_field, overlap
        self.late, self.ahead, self.older = _Finding(), _Finding(), _Finding()
        self.filters_on: str | None = None  # what the LRS's `since` seems to filter on, when not cursor_field

    def read(self, statement: Any) -> None:
        """A statement newly read: how long it took to reach the LRS, or how far ahead it is stamped."""
        if self.cursor_field != "timestamp" or not isinstance(statement, dict):
            return
        timestamp, stored = _when(statement, "timestamp"), _when(statement, "stored")
        if timestamp is None or stored is None:
            return
        sid = str(statement.get("id"))
        if stored - timestamp > self.overlap:
            self.late.add(stored - timestamp, sid)
        elif timestamp - stored > AHEAD_TOLERANCE:
            self.ahead.add(timestamp - stored, sid)

    def returned_older(self, statement: dict[str, Any], lower: dt.datetime, value: dt.datetime) -> None:
        """The LRS returned a statement whose ``cursor_field`` is older than the window asked with
        ``since`` (``lower``); when its other time is in the window, that is what ``since`` filters on."""
        self.older.add(lower - value, str(statement.get("id")))
        other = "stored" if self.cursor_field == "timestamp" else "timestamp"
        when = _when(statement, other)
        if when is not None and when >= lower:
            self.filters_on = other

    def warnings(self) -> dict[str, str]:
        """kind -> what the admin should know and do, for each finding of the page."""
        out: dict[str, str] = {}
        if self.late.count:
            out["late_statements"] = (
                f"{self.late.count} statement(s) reached the LRS more than `overlap` ({_span(self.overlap)}) after "
                f"their timestamp (up to {_span(self.late.worst)}, e.g. {self.late.example}): with cursor_field "
                "timestamp, statements that late fall behind the cursor and are never read; raise `overlap` above "
                "the longest delay, or use cursor_field stored if the LRS filters `since` on stored")
        if self.ahead.count:
            out["statements_ahead"] = (
                f"{self.ahead.count} statement(s) are stamped later than the LRS stored them (up to "
                f"{_span(self.ahead.worst)}, e.g. {self.ahead.example}): with cursor_field timestamp they move "
                "the cursor ahead, and statements stamped in between are never read; fix the sender's clock")
        if self.older.count:
            advice = (f"it filters on {self.filters_on}: set cursor_field: {self.filters_on}" if self.filters_on
                      else "check cursor_field")
            out["older_than_cursor"] = (
                f"the LRS returned {self.older.count} statement(s) older than the cursor asked with `since` "
                f"(e.g. {self.older.example}, {_span(self.older.worst)} before): its `since` does not filter "
                f"on {self.cursor_field}; {advice} (they are read, not dropped)")
        return out

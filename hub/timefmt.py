"""Timestamp formats of the ledger: UTC, microseconds, ISO 8601 with a ``Z``; time zone names."""

from __future__ import annotations

import datetime as dt
import zoneinfo

UTC = dt.timezone.utc


def format_utc(value: dt.datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_NAIVE_EPOCH = dt.datetime(1970, 1, 1)


def format_us(micros: int) -> str:
    """ISO 8601 UTC text of a time stored as microseconds since the epoch (what :func:`format_utc`
    writes, computed on a naive UTC time: every event read from the ledger goes through here)."""
    return (_NAIVE_EPOCH + dt.timedelta(microseconds=micros)).isoformat(timespec="microseconds") + "Z"



def check_timezone(value: str) -> str:
    """``value`` when it names an IANA time zone, else a ValueError that says so."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
    return value

"""Human durations in config: ``30s``, ``5m``, ``1h30m``, ``7d`` (or a number of seconds)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30s, 5m, 1h30m or 7d")
    text = value.strip().replace(" ", "")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {value!r}: use e.g. 30s, 5m, 1h30m, 7d")
    return dt.timedelta(seconds=total)


def format_duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{value.total_seconds():g}s"


_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
SCHEMA_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


def iso_to_human(value: str) -> str:
    """``P3D`` -> ``3d`` (pydantic renders timedelta defaults in ISO 8601 in JSON Schemas)."""
    match = _ISO.match(value)
    if not match:
        return value
    days, hours, minutes, seconds = (float(g) if g else 0 for g in match.groups())
    return format_duration(dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds))


Duration = Annotated[
    dt.timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": SCHEMA_PATTERN}, {"type": "number", "minimum": 0}],
                    "examples": ["30s", "5m", "7d"]}),
]

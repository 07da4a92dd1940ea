"""ISO 8601 durations and timestamps as xAPI uses them.

xAPI 1.0.3 formats ``result.duration`` "according to ISO 8601 with a precision of 0.01 seconds"
(``PT1H30M15.5S``, ``P1DT2H``, ``PT0.42S``); cmi5 AUs and LMSs always send it on ``terminated``
and ``abandoned``. Timestamps are ISO 8601 date-times, normally with an offset or ``Z``.

The duration parser is kept rather than ``isodate``: isodate is slower here and accepts forms
xAPI forbids (``PT``, ``P1DT``, ``PT1.5H30M``, ``-PT5S``); the tests use it as an oracle
(bench/libs_bench.py has the figures).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

UTC = dt.timezone.utc

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"^P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?$"
)
_UNIT_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
_ORDER = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")


def parse_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration (``PT1H30M15.5S``, ``P1DT2H``, ``P2W``) as a timedelta.

    A decimal fraction (``.`` or ``,``) is allowed on the smallest unit only, as ISO 8601 says.
    Years and months have no fixed length, so only zero values are accepted for them
    (``P0Y0M0DT1H`` is fine, ``P1M`` is refused). Raises ``ValueError`` with the reason.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 duration string, got {type(text).__name__}")
    value = text.strip()
    match = _DURATION.match(value)
    if match is None or value in ("P", "PT") or value.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. PT1H30M15.5S)")
    parts = {name: part for name, part in match.groupdict().items() if part is not None}
    if not parts:
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. PT1H30M15.5S)")
    present = [name for name in _ORDER if name in parts]
    for name in present[:-1]:
        if not parts[name].isdigit():
            raise ValueError(f"{text!r}: only the smallest unit of a duration may have a fraction")
    total = Decimal(0)
    for name in present:
        try:
            number = Decimal(parts[name].replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            raise ValueError(f"{text!r} is not an ISO 8601 duration") from None
        if name in ("years", "months"):
            if number != 0:
                raise ValueError(f"{text!r}: years and months have no fixed length; give days, hours, minutes, seconds")
            continue
        total += number * _UNIT_SECONDS[name]
    if total > Decimal(10 * 365 * 86400):
        raise ValueError(f"{text!r}: longer than ten years")
    micros = int((total * 1_000_000).to_integral_value())
    return dt.timedelta(microseconds=micros)


def duration_seconds(delta: dt.timedelta) -> int:
    """Whole seconds of a duration, rounded to the nearest (half up)."""
    return int((Decimal(delta.total_seconds()) + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR"))


def format_duration(delta: dt.timedelta) -> str:
    """A compact ISO 8601 duration for a timedelta (``PT1H30M15.5S``), for tests and docs."""
    micros = delta // dt.timedelta(microseconds=1)
    if micros < 0:
        raise ValueError("negative durations have no ISO 8601 form")
    seconds, micros = divmod(micros, 1_000_000)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or micros or not (days or hours or minutes):
        frac = f"{micros:06d}".rstrip("0")
        clock += f"{seconds}.{frac}S" if frac else f"{seconds}S"
    return out + ("T" + clock if clock else "")


def parse_timestamp(text: str, default_tz: dt.tzinfo = UTC) -> dt.datetime:
    """An ISO 8601 date-time (``2016-06-09T18:53:06.235Z``); a value without offset gets ``default_tz``.

    Raises ``ValueError`` for a date alone, anything that is not a date-time, or one outside the
    years 1-9999 once converted to UTC.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 date-time string, got {type(text).__name__}")
    value = text.strip()
    if "T" not in value.upper():
        raise ValueError(f"{text!r} is not an ISO 8601 date-time (a time is required)")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    try:
        parsed.astimezone(UTC)  # the ledger keeps UTC: years 1-9999 there
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years 1-9999 once converted to UTC") from None
    return parsed


def format_timestamp(value: dt.datetime) -> str:
    """UTC, microseconds, ``Z``: the form sent as ``since`` and kept in cursors."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

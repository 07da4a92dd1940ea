"""Monotonic ULIDs: 48-bit millisecond time + 80-bit randomness, Crockford base32.

Ids made in the same millisecond by one process increase strictly (the random part is
incremented), so sorting event ids sorts events by ingest order.

Hand-written on purpose: ``new_ulids`` (a batch, as ingest asks) is ~40 times faster than
``python-ulid``, and the faster ``ulid-transform`` is not monotonic (bench/libs_bench.py).
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # two characters: 10 bits
_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _encode(value: int) -> str:
    chars = []
    for _ in range(13):
        chars.append(_PAIRS[value & 1023])
        value >>= 10
    return "".join(reversed(chars))


def new_ulid() -> str:
    """Return a new ULID, strictly greater than the previous one made by this process."""
    global _last_ms, _last_rand
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms
            _last_rand += 1
            if _last_rand >= 1 << 80:  # 2^80 ids in one millisecond: move to the next one
                now += 1
                _last_rand = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            _last_rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
        _last_ms = now
        return _encode((now << 80) | _last_rand)


def new_ulids(count: int) -> list[str]:
    """Return ``count`` increasing ULIDs (one lock acquisition, for batches)."""
    global _last_ms, _last_rand
    with _lock:
        now = max(time.time_ns() // 1_000_000, _last_ms)
        if now == _last_ms:
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1
        if rand + count >= 1 << 80:
            now += 1
            rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms, _last_rand = now, rand + count - 1
    value = (now << 80) | rand
    end = value + count
    out: list[str] = []
    while value < end:
        low = value & 1023
        n = min(1024 - low, end - value)
        prefix = _encode(value)[:24]  # depends only on the bits above the low 10
        out.extend([prefix + _PAIRS[i] for i in range(low, low + n)])
        value += n
    return out


def ulid_time_ms(ulid: str) -> int:
    """The millisecond timestamp encoded in ``ulid``."""
    value = 0
    for ch in ulid[:10]:
        value = (value << 5) | _ALPHABET.index(ch)
    return value

"""Who holds a lease or a claim: this process's owner string, and whether an owner is gone.

Outbox claims, the scheduler's leadership lease and scheduled-export claims are all held by an
owner ``"host:pid"``. A claim whose owner is a dead process of this host is taken over at once;
one held by another host waits for its lease to expire.
"""

from __future__ import annotations

import os
import socket


def process_owner() -> str:
    """This process's owner string, ``"host:pid"``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` ("host:pid") is a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine: its lease will expire
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

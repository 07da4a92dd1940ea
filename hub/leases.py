"""Who holds a lease or a claim: this process's owner string, and whether an owner is gone.

Outbox claims, the scheduler's leadership lease and scheduled-export claims are all held by an
owner ``"host:pid:nonce"``. The nonce is drawn once per process: a restarted container often has
the same host name and the same PID (1), and must not take its dead predecessor's claims for its
own. A claim whose owner is a dead process of this host is taken over at once; one held by
another host waits for its lease to expire.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket


@functools.cache
def _nonce() -> str:
    return secrets.token_hex(4)


def process_owner() -> str:
    """This process's owner string, ``"host:pid:nonce"``."""
    return f"{socket.gethostname()}:{os.getpid()}:{_nonce()}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` is a process of this host that no longer runs (an earlier process with
    this very PID included). Owners written before the nonce (``"host:pid"``) are understood."""
    host, _, rest = owner.partition(":")
    pid, _, nonce = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine: its lease will expire
    if int(pid) == os.getpid():
        return bool(nonce) and nonce != _nonce()  # this PID, but another process before us
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

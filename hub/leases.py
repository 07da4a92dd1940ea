"""Who holds a lease or a claim: this process's owner string, and whether an owner is gone.

Outbox claims, the scheduler's leadership lease and scheduled-export claims are all held by an
owner ``"host:pid:nonce"``. The nonce is drawn once per process: a restarted container often has
the same host name and the same PID (1), and must not take its dead predecessor's claims for its
own. A claim whose owner is a dead process of this host is taken over at once; one held by
another host waits for its lease to expire.

:func:`held_lease` holds a named lease for the time of one piece of work (a connector's pull:
``pull:<name>``), renewed in the background, so that the work runs on one daemon at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import socket
import time
from typing import Any, AsyncIterator


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


@contextlib.asynccontextmanager
async def held_lease(store: Any, name: str, *, ttl: float, log: Any = None) -> AsyncIterator[str | None]:
    """Take lease ``name`` in ``store`` (a ``JobStore``) for the time of the ``async with`` block.

    Yields None when this process holds it: it is renewed every ``ttl / 3`` seconds and released
    at the end. Yields the holder's owner string when another live process holds it: nothing is
    held, the caller skips its work. A holder that is a dead process of this host is replaced."""
    owner = process_owner()
    holder = await store.call(store.lease_holder, name, now=time.time())
    if holder and holder != owner and owner_is_dead(holder):
        await store.call(store.release_lease, name, holder)
    if not await store.call(store.acquire_lease, name, owner, ttl=ttl, now=time.time()):
        yield await store.call(store.lease_holder, name, now=time.time()) or "another process"
        return

    async def renew() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                kept = await store.call(store.acquire_lease, name, owner, ttl=ttl, now=time.time())
            except Exception as exc:  # the store is down: the next renewal tries again
                kept = None
                if log is not None:
                    log.warning("lease not renewed", lease=name, error=f"{type(exc).__name__}: {exc}")
            if kept is False and log is not None:
                log.warning("lease lost: it expired and another process took it", lease=name)

    renewing = asyncio.ensure_future(renew())
    try:
        yield None
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        try:
            await asyncio.shield(store.call(store.release_lease, name, owner))
        except Exception as exc:  # the store is down: the lease expires by itself
            if log is not None:
                log.warning("lease not released", lease=name, error=f"{type(exc).__name__}: {exc}")

"""The admin audit trail: every action an administrator takes is an ``admin.action`` event."""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any, Awaitable, Callable

from hub.store.base import IngestResult
from hub.ulid import new_ulid

#: ``Hub.append``: validate, commit and wake the sinks
Append = Callable[..., Awaitable[IngestResult]]


async def record_admin_action(append: Append, actor: str | None, command: str, target: str,
                              details: dict[str, Any] | None = None) -> str:
    """Append an ``admin.action`` event (who did what, when) through ``append``; its id."""
    item = {
        "type": "admin.action",
        "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "source_id": new_ulid(),
        "data": {"actor": actor or whoami(), "command": command, "target": target,
                 **({"details": details} if details else {})},
    }
    return (await append([item], source="hub")).ids[0]


def whoami() -> str:
    """The operating-system user running the command (the default actor)."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"

"""``POST /api/audit-packs`` (admin): build an audit pack on the daemon (see hub.audit).

The pack is written under ``<data_dir>/audit-packs/`` and the answer (201) gives its path, size and
what it holds, rather than streaming the zip in the response: every answer of the admin API is
JSON, said in full once the work is done, and a pack is only worth something complete. An error
found while packing (a missing blob, a full disk, a ledger that does not match its seal) is then a
JSON error with nothing kept, which a streamed response, its 200 already sent, could not say; a
request cut by ``hub.http.request_timeout`` stops the builder and removes its temporary file. The
admin fetches the file from the server's disk, as the funder exports under the data dir.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson
from aiohttp import web

from hub.audit.build import AuditPackError, build_audit_pack
from hub.audit.proofs import LedgerAltered
from hub.audit.selection import Selection, SelectionError
from hub.documents.fr import slug
from hub.documents.services import services_of

if TYPE_CHECKING:
    from hub.runtime.app import Hub

FIELDS = {"action": str, "sample": int, "seed": int, "learners": list, "funder": str, "period": str}
MAX_TEXT = 200
MAX_LEARNERS = 1000
MAX_SAMPLE = 1_000_000
USAGE = ('body must be a JSON object: {"action": …, "sample": N[, "seed": S]} or {"action": …, "learners": [ids]} '
         'or {"action": …, "funder": …, "period": …}')


def _json(data: Any, status: int) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _selection(body: Any) -> Selection:
    """The selection a request body asks for; SelectionError (a 400) when it is not one."""
    if not isinstance(body, dict) or set(body) - set(FIELDS) or not isinstance(body.get("action"), str):
        raise SelectionError(USAGE)
    for name, kind in FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise SelectionError(f"{name} must be {'an integer' if kind is int else 'a list' if kind is list else 'a string'}")
        if kind is str and not (1 <= len(value) <= MAX_TEXT and "\x00" not in value):
            raise SelectionError(f"{name} must have 1 to {MAX_TEXT} characters, without NUL")
    learners = body.get("learners") or []
    if len(learners) > MAX_LEARNERS or not all(isinstance(n, str) and 1 <= len(n) <= MAX_TEXT and "\x00" not in n
                                               for n in learners):
        raise SelectionError(f"learners must be a list of at most {MAX_LEARNERS} learner ids or keys (strings)")
    if body.get("learners") is not None and not learners:
        raise SelectionError("learners names no learner")
    for name, top in (("sample", MAX_SAMPLE), ("seed", 2**63 - 1)):
        if body.get(name) is not None and not 0 <= body[name] <= top:
            raise SelectionError(f"{name} must be from 0 to {top}")
    return Selection(body["action"], body.get("sample"), body.get("seed"), tuple(learners), body.get("funder"),
                     body.get("period"))


def add_routes(app: web.Application,
               guard: Callable[[Callable[[web.Request, "Hub"], Awaitable[web.Response]]], Any]) -> None:
    """Register ``POST /api/audit-packs`` behind ``guard`` (the admin authentication)."""

    @guard
    async def post_audit_pack(request: web.Request, hub: "Hub") -> web.Response:
        try:
            selection = _selection(orjson.loads(await request.read() or b"null"))
        except orjson.JSONDecodeError:
            return _json({"error": USAGE}, 400)
        except SelectionError as exc:
            return _json({"error": str(exc)}, 400)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = hub.config.data_dir / "audit-packs" / f"audit-pack-{slug(selection.action)}-{stamp}-{secrets.token_hex(3)}.zip"
        try:
            result = await build_audit_pack(services_of(hub), hub.head_file(), selection, out)
        except SelectionError as exc:
            return _json({"error": str(exc)}, 400)
        except LedgerAltered as exc:
            return _json({"error": f"no audit pack was made: {exc}"}, 409)
        except AuditPackError as exc:
            return _json({"error": str(exc)}, 503)
        return _json(result.as_dict(), 201)

    app.add_routes([web.post("/api/audit-packs", post_audit_pack)])

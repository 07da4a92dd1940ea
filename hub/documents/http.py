"""Public HTTP surface of documents: the verification page and the public keys.

* ``GET /verify/{id}`` — what the ledger says of document ``id``: an HTML page in French that a
  person reads on a phone after scanning the QR code, or JSON (``Accept: application/json`` or
  ``?format=json``). With ``?p=<payload>`` (as in the QR code) the payload is verified too: a
  forged or altered QR code reads « Document altéré ». Shows only what the document prints.
  404 for an unknown document; ``Cache-Control: no-store`` (a revocation shows at once).
* ``GET /.well-known/parcours-keys.json`` — the public keys (JWKS-like), for offline verifiers.

A badge award's id (``badge.awarded``) at ``/verify/{id}`` gets the badge's page instead
(:func:`hub.badges.http.badge_page`).

``add_routes(app, hub)`` registers both on an aiohttp application.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from hub.badges.http import badge_page
from hub.documents import DOCUMENT_TYPES
from hub.documents.fr import date_fr
from hub.documents.keys import KeyRing
from hub.documents.services import services_of
from hub.documents.settings import keys_dir
from hub.documents.verify_page import verification_page
from hub.documents.verify import SUPERSEDED_REASONS_FR, Verdict, display_fields, load_record, verify_payload
from hub.store.base import UnreadableEvent

if TYPE_CHECKING:
    from hub.config import LoadedConfig
    from hub.runtime.app import Hub

SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'"}


def _wants_json(request: web.Request) -> bool:
    if request.query.get("format") == "json":
        return True
    if request.query.get("format") == "html":
        return False
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _html(verdict: Verdict, organisation: str | None) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in display_fields(verdict.fields or {}))
    notes = []
    if verdict.status == "superseded":
        notes.append("Un document plus récent remplace celui-ci" + (f" (n° {e(verdict.superseded_by)})" if verdict.superseded_by else "")
                     + (f", émis pour motif de {e(SUPERSEDED_REASONS_FR[verdict.superseded_reason])}"
                        if verdict.superseded_reason in SUPERSEDED_REASONS_FR else "") + ".")
    if verdict.status == "altered":
        notes.append("Les informations ci-dessous sont celles du document émis : comparez-les avec le document présenté.")
    if verdict.status in ("valid", "superseded", "revoked") and verdict.issued_at:
        notes.append(f"Émis le {e(date_fr(verdict.issued_at))}, signé avec la clé {e(verdict.key_id or '')}.")
    title = DOCUMENT_TYPES.get(verdict.doc_type or "", "Document")
    who = f"Vérification fournie par {e(organisation)}." if organisation else ""
    return verification_page(
        title=e(title), heading=f'<h1 style="font-size:1.2rem">{e(title)}</h1>', status=verdict.status,
        message=verdict.message_fr,
        body="".join(f"<p>{n}</p>" for n in notes) + (f"<table>{rows}</table>" if rows else "")
        + f"\n<p><small>Document n° {e(verdict.document or '—')}. {who}</small></p>")


def _organisation_name(config: "LoadedConfig") -> str | None:
    org = config.hub.organisation
    return org.name if org is not None else None


def add_routes(app: web.Application, hub: "Hub") -> None:
    """Register ``GET /verify/{id}`` and ``GET /.well-known/parcours-keys.json`` on ``app``.

    Like the server's other routes, the handlers read the hub when a request comes, not here."""

    async def verify(request: web.Request) -> web.Response:
        services = services_of(hub)
        doc_id = request.match_info["id"].upper()
        badge = await badge_page(request, hub, doc_id, _wants_json(request))  # a badge award's id: its own page
        if badge is not None:
            return badge
        keys = KeyRing(keys_dir(services.config)).lookup()
        # without ?p= (a typed-in URL), the payload recorded in the ledger is verified
        verdict = await verify_payload(doc_id, request.query.get("p"), keys=keys,
                                       load=lambda d: load_record(services, d))
        if verdict.status == "altered":  # show what was issued, for comparison
            try:
                record = await load_record(services, doc_id)
            except UnreadableEvent:
                record = None
            verdict.fields = record.details.get("fields") if record else None
        status = 404 if verdict.status == "unknown_document" else 200
        if _wants_json(request):
            return web.Response(body=orjson.dumps(verdict.as_dict()), status=status, content_type="application/json",
                                headers=SECURITY_HEADERS)
        return web.Response(text=_html(verdict, _organisation_name(services.config)), status=status,
                            content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS)

    async def keys_document(request: web.Request) -> web.Response:
        config = services_of(hub).config
        document = KeyRing(keys_dir(config)).document(issuer=_organisation_name(config))
        return web.Response(body=orjson.dumps(document), content_type="application/json",
                            headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})

    app.router.add_get("/verify/{id}", verify)
    app.router.add_get("/.well-known/parcours-keys.json", keys_document)

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
from hub.documents.verify import SUPERSEDED_REASONS_FR, Verdict, display_fields, load_record, verify_payload
from hub.store.base import UnreadableEvent

if TYPE_CHECKING:
    from hub.config import LoadedConfig
    from hub.runtime.app import Hub

COLOURS = {"valid": ("#e6f4ea", "#1e7b34", "✔"), "superseded": ("#fff4e0", "#9a5b00", "⚠"),
           "revoked": ("#fdecea", "#b3261e", "✖"), "altered": ("#fdecea", "#b3261e", "✖"),
           "unknown_key": ("#fff4e0", "#9a5b00", "?"), "unknown_document": ("#f1f3f4", "#3c4043", "?")}
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
    bg, fg, mark = COLOURS[verdict.status]
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
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Vérification — {e(title)}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#fafafa;color:#202124}}
main{{max-width:40rem;margin:0 auto;padding:1rem}}
.status{{background:{bg};color:{fg};border:2px solid {fg};border-radius:.6rem;padding:1rem;font-size:1.25rem;font-weight:600}}
.status span{{font-size:1.6rem;margin-right:.4rem}}
table{{width:100%;border-collapse:collapse;margin-top:1rem;background:#fff}}
th,td{{text-align:left;vertical-align:top;padding:.55rem .5rem;border-bottom:1px solid #e0e0e0;overflow-wrap:anywhere}}
th{{width:40%;font-weight:500;color:#5f6368}}
p{{line-height:1.45}} small{{color:#5f6368}}
</style></head>
<body><main>
<h1 style="font-size:1.2rem">{e(title)}</h1>
<div class="status" role="status"><span aria-hidden="true">{mark}</span>{e(verdict.message_fr)}</div>
{"".join(f"<p>{n}</p>" for n in notes)}
{f"<table>{rows}</table>" if rows else ""}
<p><small>Document n° {e(verdict.document or "—")}. {who}</small></p>
</main></body></html>
"""


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

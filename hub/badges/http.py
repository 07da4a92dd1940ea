"""Public HTTP surface of badges: what any Open Badges 3.0 verifier needs, without an account.

* ``GET /badges/issuer`` — the issuer's Profile (JSON-LD);
* ``GET /badges/keys/{kid}`` — one public key as a JWK (RFC 7517: RSA of RFC 7518, or OKP/Ed25519
  of RFC 8037): the ``kid`` URL of every credential's JOSE header dereferences here;
* ``GET /badges/status/revocation`` — the revocation BitstringStatusListCredential (JSON; signed
  as a VC-JWT with ``?format=jwt`` or ``Accept: application/vc+jwt``);
* ``GET /badges/achievements/{badge}`` — a badge's Achievement as configured;
* ``GET /verify/{id}`` — for a badge award id, :func:`badge_page` answers (the route is the
  documents'); ``?credential=<VC-JWT>`` checks a presented credential too.

Answers are ``Cache-Control: no-store`` where a revocation must show at once (status list, verify).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from hub.badges import credential as C
from hub.badges.issue import issuer_of
from hub.badges.keys import signer, verifying_keys
from hub.badges.records import revoked_indices
from hub.badges.status import list_credential
from hub.badges.verify import BadgeVerdict, verify_badge
from hub.documents.fr import date_fr
from hub.documents.verify_page import verification_page
from hub.documents.keys import KeyRingError
from hub.documents.services import services_of
from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.runtime.app import Hub

PUBLIC = {"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"}
NO_STORE = {**PUBLIC, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'"}
JSON_LD = "application/ld+json"


def _json(body, *, status: int = 200, headers=None, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=content_type,
                        headers=headers or {**PUBLIC, "Cache-Control": "public, max-age=300"})


def _not_found(what: str) -> web.Response:
    return _json({"error": what}, status=404, headers=NO_STORE)


def page_html(v: BadgeVerdict, organisation: str | None) -> str:
    """The verification page of a badge, in French."""
    e = html.escape
    rows = [("Badge", v.name), ("Description", v.description), ("Titulaire", v.recipient), ("Action", v.action),
            ("Obtenu le", date_fr(v.awarded_at) if v.awarded_at else None), ("Numéro", v.badge)]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(val)}</td></tr>" for k, val in rows if val)
    who = f"Vérification fournie par {e(organisation)}." if organisation else ""
    return verification_page(
        title="badge", heading="<h1>Badge numérique (Open Badges 3.0)</h1>", status=v.status, message=v.message_fr,
        body=(f"<table>{table}</table>" if table else "") + f"\n<p><small>{who}</small></p>")


async def badge_page(request: web.Request, hub: "Hub", award_id: str, wants_json: bool) -> web.Response | None:
    """The answer of ``GET /verify/{id}`` when ``award_id`` is a badge award; None when it is not one
    (the documents' verification answers)."""
    services = services_of(hub)
    token = request.query.get("credential")
    verdict = await verify_badge(services, award_id, token, verifying_keys(services.config))
    if verdict.status == "unknown":
        return None
    org = services.config.hub.organisation
    if wants_json:
        return _json(verdict.as_dict(), headers=NO_STORE)
    return web.Response(text=page_html(verdict, org.name if org else None), content_type="text/html",
                        charset="utf-8", headers=NO_STORE)


def add_routes(app: web.Application, hub: "Hub") -> None:
    """Register the badges' public routes on ``app`` (the handlers read the hub when a request comes)."""

    def issuer():
        try:
            return issuer_of(hub.config)
        except ConfigError:
            return None

    async def issuer_profile(request: web.Request) -> web.Response:
        found = issuer()
        if found is None:
            return _not_found("no issuer: hub.organisation is not configured")
        return _json({"@context": [C.VC_CONTEXT, C.OB_CONTEXT], **found.profile()}, content_type=JSON_LD)

    async def key(request: web.Request) -> web.Response:
        public = verifying_keys(hub.config).get(request.match_info["kid"])
        if public is None:
            return _not_found("no such key")
        jwk = {k: v for k, v in public.jwk().items() if k in ("kty", "crv", "x", "n", "e", "kid", "alg", "use")}
        return _json(jwk, content_type="application/jwk+json")

    async def status_list(request: web.Request) -> web.Response:
        found = issuer()
        if found is None:
            return _not_found("no issuer: hub.organisation is not configured")
        store = hub.store
        revoked = await store.call(revoked_indices, store)
        size = await store.call(store.max_seq) + 1
        body = list_credential(found, revoked, size, dt.datetime.now(dt.timezone.utc))
        accept = request.headers.get("Accept", "")
        if request.query.get("format") == "jwt" or C.MEDIA_TYPE in accept:
            try:
                kid, private, alg = signer(hub.config)
            except KeyRingError:
                return _not_found("no signing key")
            return web.Response(text=C.sign(body, found.key_url(kid), private, alg), content_type=C.MEDIA_TYPE,
                                headers=NO_STORE)
        return _json(body, headers=NO_STORE, content_type=JSON_LD)

    async def achievement(request: web.Request) -> web.Response:
        found = issuer()
        badge = hub.config.hub.badges.get(request.match_info["badge"])
        if found is None or badge is None:
            return _not_found("no such badge")
        data = {"badge": badge.id, "name": badge.name, "description": badge.description, "criteria": badge.criteria,
                "image": badge.image}
        return _json({"@context": [C.VC_CONTEXT, C.OB_CONTEXT], **C.achievement(found, data)}, content_type=JSON_LD)

    app.router.add_get("/badges/issuer", issuer_profile)
    app.router.add_get("/badges/keys/{kid}", key)
    app.router.add_get("/badges/status/revocation", status_list)
    app.router.add_get("/badges/achievements/{badge}", achievement)

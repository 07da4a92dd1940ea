"""A fake Yousign API v3: a real local aiohttp server answering the documented endpoints.

* ``GET /v3/signature_requests?limit=`` (``{"meta": {"next_cursor"}, "data": [...]}``),
  ``GET /v3/signature_requests/{id}``, ``GET /v3/signature_requests/{id}/signers/{signer_id}``;
* ``GET /v3/signature_requests/{id}/documents/download`` (``version=current|completed``: a PDF,
  or a zip of PDFs when the request has several documents), ``…/audit_trails/download``
  (``merge=true``: one PDF) and ``…/signers/{signer_id}/audit_trails/download`` (a PDF);
* Bearer authentication with one API key (401 otherwise), ``script``/``fail_with`` like the
  Stripe fake. ``requests`` records every ``(path, query)``.

The objects follow the Yousign API reference (Signature Request, Signer with ``info``); the
webhook payloads follow "Handling Webhooks" (``event_id``, ``event_name``, ``event_time`` as a
string, ``subscription_id``, ``subscription_description``, ``sandbox``, ``data``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
import uuid
import zipfile
from typing import Any, AsyncIterator

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "ys_test_key_0123456789abcdefPARCOURS"

ACTION = "ACT-2026-REACT-01"


def tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF showing ``text`` (offsets computed, so pdf readers accept it)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def signer(signer_id: str, first: str, last: str, email: str, *, status: str = "signed",
           mode: str = "otp_email") -> dict[str, Any]:
    return {
        "id": signer_id,
        "info": {"first_name": first, "last_name": last, "email": email, "phone_number": None, "locale": "fr"},
        "status": status,
        "fields": [],
        "signature_level": "electronic_signature",
        "signature_authentication_mode": mode,
        "signature_link": None,
        "signature_link_expiration_date": None,
        "signature_image_preview": None,
        "redirect_urls": {"success": None, "error": None, "decline": None},
        "custom_text": {"request_subject": None, "request_body": None, "reminder_subject": None,
                        "reminder_body": None},
        "delivery_mode": "email",
        "identification_attestation_id": None,
    }


LEARNER_1 = signer("9f3e4a1b-2c3d-4e5f-8a9b-0c1d2e3f4a51", "Camille", "Dubois", "Camille.Dubois@example.fr")
LEARNER_2 = signer("9f3e4a1b-2c3d-4e5f-8a9b-0c1d2e3f4a52", "Léa", "Bernard", "lea.bernard@example.fr", status="notified")
TRAINER = signer("9f3e4a1b-2c3d-4e5f-8a9b-0c1d2e3f4a53", "Marc", "Petit", "marc.petit@of-exemple.fr")
EMPLOYER = signer("9f3e4a1b-2c3d-4e5f-8a9b-0c1d2e3f4a54", "Jean", "Martin", "jean.martin@example.com")
DIRECTOR = signer("9f3e4a1b-2c3d-4e5f-8a9b-0c1d2e3f4a55", "Sophie", "Leroy", "direction@of-exemple.fr")
STAFF = ["marc.petit@of-exemple.fr", "direction@of-exemple.fr"]


def signature_request(request_id: str, name: str, external_id: str | None, signers: list[dict], *,
                      status: str = "ongoing", documents: int = 1) -> dict[str, Any]:
    return {
        "id": request_id,
        "status": status,
        "name": name,
        "delivery_mode": "email",
        "created_at": "2026-10-01T08:12:31+00:00",
        "ordered_signers": False,
        "reminder_settings": None,
        "timezone": "Europe/Paris",
        "email_custom_note": None,
        "expiration_date": "2026-12-31T22:59:00+00:00",
        "source": "public_api",
        "signers": [{"id": s["id"], "status": s["status"]} for s in signers],
        "approvers": [],
        "labels": [],
        "documents": [{"id": str(uuid.UUID(int=i + 1)), "nature": "signable_document"} for i in range(documents)],
        "sender": {"id": "0b5c8f1e-7a6d-4c3b-9e2f-1a0b9c8d7e6f", "email": "direction@of-exemple.fr"},
        "external_id": external_id,
        "branding_id": None,
        "custom_experience_id": None,
        "signers_allowed_to_decline": False,
        "workspace_id": "3a9c7e5b-1d2f-4a6b-8c0e-2f4a6b8c0e1d",
        "audit_trail_locale": "fr",
        "email_notification": {"sender": {"type": "organization", "custom_name": None}},
        "bulk_send_batch_id": None,
    }


ATTENDANCE = signature_request("2f1d6c1e-5b3a-4f9e-9d2c-7a8b6c5d4e01", "Émargement 5 oct. 2026 matin",
                               f"emargement:{ACTION}:2026-10-05:am", [LEARNER_1, LEARNER_2, TRAINER])
TERMS = signature_request("2f1d6c1e-5b3a-4f9e-9d2c-7a8b6c5d4e02", "CGV 2026", f"cgv:{ACTION}:apprenant-01",
                          [LEARNER_1], status="done")
AGREEMENT = signature_request("2f1d6c1e-5b3a-4f9e-9d2c-7a8b6c5d4e03", "Convention de formation ENR-2026-0042",
                              f"convention:{ACTION}:apprenant-01", [EMPLOYER, LEARNER_1, DIRECTOR], status="done",
                              documents=2)
UNTAGGED = signature_request("2f1d6c1e-5b3a-4f9e-9d2c-7a8b6c5d4e04", "Contrat de prestation formateur", None,
                             [TRAINER], status="done")
SIGNERS = {s["id"]: s for s in (LEARNER_1, LEARNER_2, TRAINER, EMPLOYER, DIRECTOR)}


def webhook(event_name: str, request: dict[str, Any], signer_obj: dict[str, Any] | None = None, *,
            event_time: int | None = None, sandbox: bool = False, event_id: str | None = None) -> dict[str, Any]:
    """A webhook payload as Yousign posts it."""
    data: dict[str, Any] = {"signature_request": {k: request[k] for k in (
        "id", "status", "name", "delivery_mode", "created_at", "ordered_signers", "timezone", "expiration_date",
        "source", "signers", "documents", "external_id")}}
    if signer_obj is not None:
        data["signer"] = copy.deepcopy(signer_obj)
    when = int(time.time()) - 20 if event_time is None else event_time
    seed = f"{event_name}:{request['id']}:{signer_obj['id'] if signer_obj else ''}:{when}"
    return {
        "event_id": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, seed)),
        "event_name": event_name,
        "event_time": str(when),
        "subscription_id": "6c3f5a2e-8b1d-4e7f-a9c0-5d2e1f0a3b4c",
        "subscription_description": "Parcours Hub",
        "sandbox": sandbox,
        "data": data,
    }


class YousignPeer:
    """The fake API. ``url`` is its base URL (``…/v3``) once started."""

    def __init__(self, *, api_key: str = API_KEY, fail_with: int | None = None):
        self.api_key = api_key
        self.fail_with = fail_with
        self.requests_by_id = {r["id"]: copy.deepcopy(r) for r in (ATTENDANCE, TERMS, AGREEMENT, UNTAGGED)}
        self.signers = copy.deepcopy(SIGNERS)
        self.script: list[tuple[int, str | None]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/v3/signature_requests", self.list_requests)
        app.router.add_get("/v3/signature_requests/{id}", self.get_request)
        app.router.add_get("/v3/signature_requests/{id}/signers/{signer}", self.get_signer)
        app.router.add_get("/v3/signature_requests/{id}/documents/download", self.documents)
        app.router.add_get("/v3/signature_requests/{id}/audit_trails/download", self.audit_trails)
        app.router.add_get("/v3/signature_requests/{id}/signers/{signer}/audit_trails/download", self.signer_trail)
        return app

    @staticmethod
    def _error(status: int, detail: str, headers=None) -> web.Response:
        return web.Response(status=status, content_type="application/json", headers=headers or {},
                            body=orjson.dumps({"type": "about:blank", "detail": detail}))

    @web.middleware
    async def _gate(self, request: web.Request, handler):
        self.requests.append((request.path, dict(request.query)))
        if self.fail_with is not None:
            headers = {"Retry-After": "120"} if self.fail_with == 429 else {}
            return self._error(self.fail_with, "configured failure", headers)
        if self.script:
            status, retry_after = self.script.pop(0)
            return self._error(status, "scripted failure", {"Retry-After": retry_after} if retry_after else {})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Unauthorized")
        return await handler(request)

    def _request(self, request: web.Request) -> dict[str, Any]:
        found = self.requests_by_id.get(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound(text='{"detail": "Signature Request not found"}', content_type="application/json")
        return found

    async def list_requests(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "100"))
        return web.json_response({"meta": {"next_cursor": None}, "data": list(self.requests_by_id.values())[:limit]})

    async def get_request(self, request: web.Request) -> web.Response:
        return web.json_response(self._request(request))

    async def get_signer(self, request: web.Request) -> web.Response:
        found = self._request(request)
        signer_id = request.match_info["signer"]
        if signer_id not in {s["id"] for s in found["signers"]}:
            raise web.HTTPNotFound(text='{"detail": "Signer not found"}', content_type="application/json")
        return web.json_response(self.signers[signer_id])

    async def documents(self, request: web.Request) -> web.Response:
        found = self._request(request)
        version = request.query.get("version", "current")
        if version == "completed" and found["status"] != "done":
            return self._error(400, "completed version is only available when the Signature Request is done")
        pdfs = [tiny_pdf(f"{found['name']} - document {i + 1} ({version})") for i in range(len(found["documents"]))]
        if len(pdfs) == 1 and request.query.get("archive") != "true":
            return web.Response(body=pdfs[0], content_type="application/pdf")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for i, pdf in enumerate(pdfs, start=1):
                archive.writestr(f"document-{i}.pdf", pdf)
        return web.Response(body=buffer.getvalue(), content_type="application/zip")

    async def audit_trails(self, request: web.Request) -> web.Response:
        found = self._request(request)
        if found["status"] != "done":
            return self._error(400, "audit trails are only available when the Signature Request is done")
        return web.Response(body=tiny_pdf(f"Audit trails of {found['id']}"), content_type="application/pdf")

    async def signer_trail(self, request: web.Request) -> web.Response:
        found = self._request(request)
        signer_id = request.match_info["signer"]
        if self.signers.get(signer_id, {}).get("status") != "signed" or signer_id not in {
                s["id"] for s in found["signers"]}:
            return self._error(400, "the Signer has not signed")
        return web.Response(body=tiny_pdf(f"Audit trail of signer {signer_id}"), content_type="application/pdf")


@contextlib.asynccontextmanager
async def running(peer: YousignPeer) -> AsyncIterator[YousignPeer]:
    server = TestServer(peer.app())
    await server.start_server()
    peer.url = str(server.make_url("/v3"))
    try:
        yield peer
    finally:
        await server.close()

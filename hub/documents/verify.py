"""Verifying a document: a PDF, a photo or scan of its QR code, or a payload.

What is checked, in order (the first failure decides):

1. the payload is found: the PDF's embedded ``parcours-document.json`` and/or its QR code (page
   rendered and decoded in-process, see :mod:`hub.documents.scan`); when both are read they must agree;
2. the key id is known (the hub's key ring, or a published keys document) — else ``unknown_key``;
3. the Ed25519 signature over the document id and header — else ``altered``;
4. with the ledger (online): the document exists (else ``unknown_document``), and its recorded
   payload and fields are these (else ``altered``);
5. the fields (embedded, or recorded in the ledger) hash to the signed digest, and the PDF's text
   shows them — else ``altered``;
6. with the ledger: the file's SHA-256 is the recorded one (else ``altered``); a
   ``document.revoked`` makes it ``revoked`` (with the date); a re-issue makes it ``superseded``;
7. a PDF's PAdES signature, when it has one, is intact and covers the whole file — else ``altered``.

Otherwise ``valid``. Only the fields the document prints are shown (:func:`display_fields`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

from hub.documents import DOCUMENT_TYPES
from hub.documents import payload as P
from hub.documents.fr import date_fr, hours_fr, percent_fr, score_fr
from hub.documents.keys import PublicKey, parse_keys_document
from hub.documents.pades import check as pades_check
from hub.documents.payload import ATTACHMENT
from hub.documents.scan import decode_qr_image, decode_qr_pdf
from hub.documents.templates import TYPES, distance_rule
from hub.journeys.actions import MODALITY_LABELS, NATURE_LABELS
from hub.store.base import UnreadableEvent

if TYPE_CHECKING:
    from hub.documents.services import DocumentServices

STATUSES = ("valid", "superseded", "revoked", "altered", "unknown_key", "unknown_document")
MESSAGES_FR = {
    "valid": "Document authentique",
    "superseded": "Document authentique mais remplacé par un document plus récent",
    "revoked": "Document révoqué",
    "altered": "Document altéré : il ne correspond pas au document émis",
    "unknown_key": "Clé de signature inconnue : l'authenticité ne peut pas être établie",
    "unknown_document": "Document inconnu",
}

#: why a document was replaced, as the public page says it (never the free text of the request)
SUPERSEDED_REASONS_FR = {"rectification": "rectification des données de l'apprenant"}


# --------------------------------------------------------------------------- the ledger's view


@dataclass
class DocumentRecord:
    """A document as the ledger knows it."""

    event: dict[str, Any]
    learner_id: str | None
    revoked: dict[str, Any] | None = None  # {"at", "reason", "event"}
    superseded_by: dict[str, Any] | None = None  # {"document", "at", "reason": "rectification" or None}

    @property
    def id(self) -> str:
        return self.event["id"]

    @property
    def doc_type(self) -> str:
        return self.event["data"]["document_type"]

    @property
    def sha256(self) -> str:
        return self.event["data"]["sha256"]

    @property
    def details(self) -> dict[str, Any]:
        return self.event["data"].get("details") or {}

    @property
    def issued_at(self) -> str:
        return self.event["occurred_at"]


async def load_record(services: "DocumentServices", doc_id: str) -> DocumentRecord | None:
    """The ``document.issued`` event ``doc_id`` with its revocation and supersession, or None."""
    if not P.is_ulid(doc_id):
        return None
    store = services.store
    event = await store.call(store.get_event, doc_id)
    if event is None or event["type"] != "document.issued":
        return None
    learner_id = None
    if event.get("learner_id"):
        learner_id = await store.call(store.canonical_learner, event["learner_id"])
    record = DocumentRecord(event, learner_id)
    facts: list[dict[str, Any]] = []
    superseded: set[str] = set()
    if learner_id and event.get("action"):
        for state in await services.journeys(action=event["action"], learner_id=learner_id):
            facts.extend(state.get("documents", []))
            superseded.update(state.get("superseded", []))
    else:  # not attached to an enrolment: read the ledger's document events
        rows = await store.call(lambda: list(store.iter_events(types=["document.issued", "document.revoked"])))
        for row in rows:
            facts.append({"event": row["id"], "at": row["occurred_at"], "type": row["type"], **row["data"]})
            if row.get("supersedes"):
                superseded.add(row["supersedes"])
    for fact in facts:
        if fact["event"] in superseded:
            continue
        if fact.get("type") == "document.revoked" and fact.get("document") == doc_id and record.revoked is None:
            record.revoked = {"at": fact["at"], "reason": fact.get("reason"), "event": fact["event"]}
    if doc_id in superseded:
        later = [f for f in facts if f.get("type") == "document.issued" and f.get("document_type") == record.doc_type
                 and f["event"] > doc_id and f["event"] not in superseded]
        newer = later[-1] if later else None
        why = ((newer.get("details") or {}).get("reissued_for") or {}) if newer else {}
        record.superseded_by = {"document": newer["document"], "at": newer["at"],
                                "reason": "rectification" if why.get("rectification") else None} if newer else {"document": None}
    return record


# --------------------------------------------------------------------------- reading a file


@dataclass
class Found:
    """What a file carries: the verification URL / payload, and the embedded fields."""

    doc_id: str | None = None
    payload: str | None = None
    fields: dict[str, Any] | None = None
    embedded: bool = False
    qr: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_embedded(pdf: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The embedded ``parcours-document.json`` (or None) and a problem, if any."""
    try:
        from pypdf import (
            PdfReader,  # heavy: loaded on use (see the package's docstring)
        )

        reader = PdfReader(io.BytesIO(pdf))
        attachments = reader.attachments
        if ATTACHMENT not in attachments:
            return None, None
        data = json.loads(attachments[ATTACHMENT][0])
    except Exception as exc:  # a damaged file: pypdf raises many kinds
        return None, f"embedded data unreadable: {type(exc).__name__}: {exc}"
    if not isinstance(data, dict):
        return None, "embedded data is not an object"
    return data, None


def pdf_text(pdf: bytes) -> str | None:
    try:
        from pypdf import (
            PdfReader,  # heavy: loaded on use (see the package's docstring)
        )

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    except Exception:
        return None


def read_file(data: bytes, *, use_qr: bool = True) -> Found:
    found = Found()
    is_pdf = data[:5] == b"%PDF-"
    if is_pdf:
        embedded, problem = read_embedded(data)
        if problem:
            found.problems.append(problem)
        if embedded:
            found.embedded = True
            found.fields = embedded.get("fields") if isinstance(embedded.get("fields"), dict) else None
            url = embedded.get("url") or ""
            try:
                found.doc_id, found.payload = P.parse_url(url)
            except P.PayloadError:
                found.problems.append("embedded verification URL malformed")
            if embedded.get("payload") and embedded.get("payload") != found.payload:
                found.problems.append("embedded payload and embedded URL disagree")
            if embedded.get("id") and found.doc_id and embedded["id"] != found.doc_id:
                found.problems.append("embedded document id and URL disagree")
        if use_qr:
            found.qr = decode_qr_pdf(data)
    else:
        found.qr = decode_qr_image(data)
    ours = []
    for text in found.qr:
        try:
            ours.append(P.parse_url(text))
        except P.PayloadError:
            continue
    if ours:
        qr_id, qr_payload = ours[0]
        if found.payload is None:
            found.doc_id, found.payload = qr_id, qr_payload
        elif (qr_id, qr_payload) != (found.doc_id, found.payload):
            found.problems.append("the QR code and the embedded data disagree")
    return found


# --------------------------------------------------------------------------- the verdict


@dataclass
class Verdict:
    status: str
    reason: str
    document: str | None = None
    doc_type: str | None = None
    key_id: str | None = None
    fields: dict[str, Any] | None = None
    issued_at: str | None = None
    revoked_at: str | None = None
    revoked_reason: str | None = None
    superseded_by: str | None = None
    superseded_reason: str | None = None  # "rectification": re-issued after a correction of the learner's data
    sha256: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    pades: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "valid"

    @property
    def message_fr(self) -> str:
        text = MESSAGES_FR[self.status]
        if self.status == "revoked" and self.revoked_at:
            text += f" le {date_fr(self.revoked_at)}"
            if self.revoked_reason:
                text += f" (motif : {self.revoked_reason})"
        if self.status == "superseded" and self.superseded_by:
            text = f"Document authentique mais remplacé par le document n° {self.superseded_by}"
            if self.superseded_reason in SUPERSEDED_REASONS_FR:
                text += f" (motif : {SUPERSEDED_REASONS_FR[self.superseded_reason]})"
        return text

    def check(self, name: str, ok: bool | None, detail: str = "") -> None:
        self.checks.append({"check": name, "ok": ok, **({"detail": detail} if detail else {})})

    def as_dict(self, *, with_fields: bool = True) -> dict[str, Any]:
        out = {
            "status": self.status, "message": self.message_fr, "reason": self.reason, "document": self.document,
            "type": self.doc_type, "key_id": self.key_id, "issued_at": self.issued_at,
            "revoked_at": self.revoked_at, "revoked_reason": self.revoked_reason, "superseded_by": self.superseded_by,
            "superseded_reason": self.superseded_reason, "sha256": self.sha256, "checks": self.checks,
        }
        if self.pades is not None:
            out["pades"] = self.pades
        if with_fields and self.fields is not None:
            out["fields"] = self.fields
            out["shown"] = [{"label": label, "value": value} for label, value in display_fields(self.fields)]
        return {k: v for k, v in out.items() if v is not None}


def _compact(text: str) -> str:
    return "".join(text.split()).replace("\u00a0", "")


def printed_values(fields: dict[str, Any]) -> dict[str, str]:
    """The values every template prints (see templates.REQUIRED), as printed: checked against the PDF's text."""
    out = {"learner": fields.get("learner"), "action": (fields.get("action") or {}).get("title"),
           "start": date_fr(fields["start"]) if fields.get("start") else None,
           "end": date_fr(fields["end"]) if fields.get("end") else None,
           "hours": hours_fr(fields["hours"]) if fields.get("hours") is not None else None}
    return {k: v for k, v in out.items() if v}


def display_fields(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) in French of what the document states: all that a verification shows."""
    org = fields.get("organisation", {})
    sign = fields.get("signatory", {})
    rows: list[tuple[str, str | None]] = [
        ("Document", DOCUMENT_TYPES.get(fields.get("type", ""), fields.get("type"))),
        ("Numéro", fields.get("id")),
        ("Émis le", date_fr(fields["issued_on"]) if fields.get("issued_on") else None),
        ("Organisme", org.get("name")), ("SIRET", org.get("siret")), ("Déclaration d'activité", org.get("nda")),
        ("Signataire", ", ".join(x for x in (sign.get("name"), sign.get("title")) if x) or None),
        ("Bénéficiaire", fields.get("learner")), ("Entreprise", fields.get("employer")),
        ("Action", (fields.get("action") or {}).get("title")),
        ("Nature", NATURE_LABELS.get(fields.get("nature", ""), fields.get("nature"))),
        ("Du", date_fr(fields["start"]) if fields.get("start") else None),
        ("Au", date_fr(fields["end"]) if fields.get("end") else None),
        ("Durée prévue", hours_fr(fields["planned_hours"]) if fields.get("planned_hours") else None),
        ("Durée réalisée" if fields.get("type") != "attestation_fin_formation" else "Durée suivie",
         hours_fr(fields["hours"]) if fields.get("hours") is not None else None),
        ("Taux d'assiduité", percent_fr(fields["attendance_rate"]) if fields.get("attendance_rate") is not None else None),
        ("Décompte à distance", distance_rule(fields["distance"], TYPES["certificat_realisation"]["distance_rules"])
         if isinstance(fields.get("distance"), dict) else None),
    ]
    for modality, value in (fields.get("by_modality") or {}).items():
        rows.append((f"dont {MODALITY_LABELS.get(modality, modality)}", hours_fr(value)))
    hd = fields.get("half_days") or {}
    if hd:
        rows.append(("Demi-journées émargées", f"{hd.get('signed', '0')} sur {hd.get('scheduled', '0')}"))
    for i, objective in enumerate(fields.get("objectives") or [], start=1):
        rows.append((f"Objectif {i}", objective))
    for r in fields.get("results") or []:
        detail = ", ".join(x for x in (score_fr(r.get("score"), r.get("max_score")),
                                       {"acquis": "acquis", "non_acquis": "non acquis"}.get(r.get("outcome", ""), "")) if x)
        rows.append((r["name"], detail or "—"))
    if fields.get("certification"):
        rows.append(("Certification visée", fields["certification"]))
    for c in fields.get("certifications") or []:
        rows.append(("Certification obtenue", " — ".join(x for x in (c.get("name"), c.get("code"), c.get("result")) if x)))
    return [(label, value) for label, value in rows if value]


RecordLoader = Callable[[str], Awaitable["DocumentRecord | None"]]


async def verify_bytes(data: bytes, *, keys: Mapping[str, PublicKey], load: RecordLoader | None = None,
                       filename: str = "", use_qr: bool = True, check_text: bool = True,
                       trust_roots: list[bytes] | None = None) -> Verdict:
    """Verify a file (PDF or image of a QR code); ``filename`` is kept for callers, the content decides."""
    found = await asyncio.to_thread(read_file, data, use_qr=use_qr)
    is_pdf = data[:5] == b"%PDF-"
    verdict = await verify_payload(found.doc_id, found.payload, keys=keys, load=load, fields=found.fields,
                                   problems=found.problems, file_sha256=hashlib.sha256(data).hexdigest() if is_pdf else None,
                                   text=(await asyncio.to_thread(pdf_text, data)) if (is_pdf and check_text) else None,
                                   qr_read=bool(found.qr) if use_qr else None, embedded=found.embedded if is_pdf else None)
    if is_pdf:
        pades = await asyncio.to_thread(pades_check, data, trust_roots)
        if pades.present:
            verdict.pades = pades.as_dict()
            verdict.check("pades_signature", pades.intact and pades.covers_whole_file,
                          f"signed by {pades.signer}" + ("" if pades.covers_whole_file else "; does not cover the whole file"))
            if verdict.status in ("valid", "superseded", "revoked") and not (pades.intact and pades.covers_whole_file):
                verdict.status, verdict.reason = "altered", "the PAdES signature is broken or does not cover the whole file"
    return verdict


class _Failed(Exception):
    """The first check that fails decides the verdict."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


async def verify_payload(doc_id: str | None, payload_text: str | None, *, keys: Mapping[str, PublicKey],
                         load: RecordLoader | None = None, fields: dict[str, Any] | None = None,
                         problems: list[str] | None = None, file_sha256: str | None = None,
                         text: str | None = None, qr_read: bool | None = None,
                         embedded: bool | None = None) -> Verdict:
    """Verify a payload for a document id (from a URL), with whatever else is known."""
    v = Verdict("valid", "signature, fields" + (" and ledger" if load else "") + " check out", document=doc_id)
    if embedded is not None:
        v.check("embedded_data", embedded or None, "parcours-document.json attached" if embedded else "no embedded data")
    if qr_read is not None:
        v.check("qr_code", qr_read or None, "decoded from the rendered page" if qr_read else "not decoded (no QR code found)")
    try:
        _check_consistency(v, problems or [])
        payload_text = await _payload_text(doc_id, payload_text, load)
        payload = _check_signature(v, doc_id, payload_text, keys)
        record = await load(doc_id) if load is not None else None
        fields = _check_against_ledger(v, record, payload_text, fields, consulted=load is not None)
        if fields is not None:
            _check_fields(v, doc_id, payload, fields, text)
        if record is not None:
            _check_record(v, record, file_sha256)
        elif load is None:
            v.check("ledger", None, "not consulted (offline): revocation not checked")
    except _Failed as failed:
        v.status, v.reason = failed.status, failed.reason
    except UnreadableEvent as exc:  # the ledger holds the document's event, but not readably
        v.status, v.reason = "altered", f"the ledger's record of this document cannot be read ({exc.event['unreadable']})"
    return v


def _check_consistency(v: Verdict, problems: list[str]) -> None:
    """What the file carries must agree with itself (embedded data, URL, QR code)."""
    for problem in problems:
        v.check("consistency", False, problem)
    if problems:
        raise _Failed("altered", problems[0])


async def _payload_text(doc_id: str | None, payload_text: str | None, load: RecordLoader | None) -> str:
    """The payload to verify: the one presented, else (a bare URL) the one the ledger recorded."""
    if payload_text is None and doc_id and load is not None:
        record = await load(doc_id)
        if record is None:
            raise _Failed("unknown_document", "no such document in the ledger")
        payload_text = record.details.get("payload")
    if payload_text is None:
        raise _Failed("unknown_document", "no Parcours payload found (neither embedded data nor a QR code)")
    return payload_text


def _check_signature(v: Verdict, doc_id: str | None, payload_text: str, keys: Mapping[str, PublicKey]) -> P.Payload:
    """The payload parses, names a known key, and its Ed25519 signature covers ``doc_id``."""
    try:
        payload = P.parse(payload_text)
    except P.PayloadError as exc:
        v.check("payload", False, str(exc))
        raise _Failed("altered", f"payload unreadable: {exc}") from None
    v.key_id, v.doc_type = payload.kid, payload.doc_type
    if doc_id is None:
        raise _Failed("unknown_document", "the payload alone does not name its document (scan the whole URL)")
    key = keys.get(payload.kid)
    if key is None:
        v.check("key", False, f"key {payload.kid} is not among the published keys")
        raise _Failed("unknown_key", f"key {payload.kid} is unknown")
    v.check("key", True, f"{payload.kid} ({key.status})")
    if not P.check_signature(payload, doc_id, key):
        v.check("signature", False, "Ed25519 signature does not match")
        raise _Failed("altered", "the signature does not match the document id and payload")
    v.check("signature", True, "Ed25519")
    return payload


def _check_against_ledger(v: Verdict, record: DocumentRecord | None, payload_text: str,
                          fields: dict[str, Any] | None, *, consulted: bool) -> dict[str, Any] | None:
    """The payload and fields are those recorded at issuance; returns the fields to check (the
    presented ones, else the recorded ones)."""
    if consulted and record is None:
        v.check("ledger", False, "no document.issued with this id")
        raise _Failed("unknown_document", "the signature is valid but this hub's ledger has no such document")
    if record is None:
        return fields
    v.issued_at, v.sha256 = record.issued_at, record.sha256
    if record.details.get("payload") not in (None, payload_text):
        v.check("ledger_payload", False, "differs from the payload recorded at issuance")
        raise _Failed("altered", "the payload differs from the one recorded at issuance")
    if fields is None:
        return record.details.get("fields")
    if record.details.get("fields") not in (None, fields):
        v.check("ledger_fields", False, "embedded fields differ from the recorded ones")
        raise _Failed("altered", "the embedded fields differ from the recorded ones")
    return fields


def _check_fields(v: Verdict, doc_id: str, payload: P.Payload, fields: dict[str, Any], text: str | None) -> None:
    """The fields hash to the signed digest, name this document, and (given the PDF's text) are printed."""
    if P.fields_digest(fields) != payload.digest:
        v.check("fields_digest", False, "the fields do not hash to the signed digest")
        raise _Failed("altered", "the document's fields were changed after signing")
    if fields.get("id") != doc_id or fields.get("type") != payload.doc_type:
        raise _Failed("altered", "the fields name another document")
    v.check("fields_digest", True, "SHA-256 of the canonical fields")
    v.fields = fields
    if text is None:
        return
    compact = _compact(text)
    missing = [name for name, value in printed_values(fields).items() if _compact(value) not in compact]
    if missing:
        v.check("printed_text", False, f"not found as signed: {', '.join(missing)}")
        raise _Failed("altered", f"the printed text does not match the signed fields ({', '.join(missing)})")
    v.check("printed_text", True, "learner, action, dates and hours printed as signed")


def _check_record(v: Verdict, record: DocumentRecord, file_sha256: str | None) -> None:
    """The file is the issued PDF, and what the ledger says since: revoked, superseded."""
    if file_sha256 is not None:
        if file_sha256 != record.sha256:
            v.check("file_sha256", False, "the file is not the issued PDF")
            raise _Failed("altered", "the PDF's SHA-256 differs from the one recorded at issuance")
        v.check("file_sha256", True, "the issued PDF, byte for byte")
    v.check("ledger", True, "document.issued found")
    if record.revoked:
        v.revoked_at, v.revoked_reason = record.revoked["at"], record.revoked.get("reason")
        raise _Failed("revoked", f"revoked on {record.revoked['at'][:10]}")
    if record.superseded_by:
        v.superseded_by = record.superseded_by.get("document")
        v.superseded_reason = record.superseded_by.get("reason")
        raise _Failed("superseded", "re-issued: a newer document replaces this one")


def keys_from_file(path: str | os.PathLike) -> dict[str, PublicKey]:
    return parse_keys_document(json.loads(Path(path).read_text(encoding="utf-8")))

"""Verification: valid, altered (PDF, embedded data, printed text, QR payload), revoked with its date,
superseded, unknown key, unknown document; online (ledger) and offline (published keys)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from hub.documents import payload as P
from hub.documents.issue import issue_documents, revoke_document
from hub.documents.keys import KeyRing, parse_keys_document
from hub.documents.services import services_of
from hub.documents.settings import keys_dir
from hub.documents.verify import load_record, verify_bytes, verify_payload
from hub.errors import HubError
from hub.ulid import new_ulid
from tests.documents.conftest import TODAY, learner_id, render_png


async def issue_one(hub, name="Camille Dubois", doc_type="certificat_realisation"):
    who = await learner_id(hub, name)
    run = await issue_documents(services_of(hub), learner_id=who, doc_type=doc_type, today=TODAY, force=True)
    (doc,) = run.issued
    return doc, hub.blobs.get(doc.sha256)


def online(hub):
    return {"keys": KeyRing(keys_dir(hub.config)).lookup(), "load": lambda d: load_record(services_of(hub), d)}


def offline(hub):
    return {"keys": parse_keys_document(json.loads(json.dumps(KeyRing(keys_dir(hub.config)).document())))}


async def test_an_issued_pdf_is_valid_online_and_offline(demo_hub):
    doc, pdf = await issue_one(demo_hub)
    verdict = await verify_bytes(pdf, **online(demo_hub))
    assert verdict.status == "valid", verdict.as_dict()
    checks = {c["check"]: c["ok"] for c in verdict.checks}
    assert checks == {"embedded_data": True, "qr_code": True, "key": True, "signature": True, "fields_digest": True,
                      "printed_text": True, "file_sha256": True, "ledger": True}
    assert verdict.fields["learner"] == "Camille Dubois" and verdict.sha256 == doc.sha256
    shown = dict(verdict.as_dict()["shown"][i].values() for i in range(len(verdict.as_dict()["shown"])))
    assert shown["Bénéficiaire"] == "Camille Dubois" and shown["SIRET"] == "73282932000074"
    assert "camille.dubois@example.fr" not in json.dumps(verdict.as_dict())  # only what the document shows
    verdict = await verify_bytes(pdf, **offline(demo_hub))
    assert verdict.status == "valid" and {"check": "ledger", "ok": None,
                                          "detail": "not consulted (offline): revocation not checked"} in verdict.checks
    # without the embedded data (e.g. stripped by a mail gateway), the QR code alone suffices
    verdict = await verify_bytes(pdf, **online(demo_hub), use_qr=True)
    assert verdict.ok


async def test_a_photo_of_the_qr_code_verifies_against_the_ledger(demo_hub, tmp_path):
    doc, pdf = await issue_one(demo_hub)
    png = render_png(pdf, tmp_path).read_bytes()
    verdict = await verify_bytes(png, **online(demo_hub), filename="scan.png")
    assert verdict.status == "valid" and verdict.fields["learner"] == "Camille Dubois"
    assert verdict.document == doc.id


async def test_tampered_pdfs_are_altered(demo_hub, monkeypatch):
    doc, pdf = await issue_one(demo_hub)
    # 1. bytes added to the file: the content still reads the same, but it is not the issued PDF
    verdict = await verify_bytes(pdf + b"\n% edited\n", **online(demo_hub), use_qr=False)
    assert verdict.status == "altered" and "SHA-256" in verdict.reason
    # 2. the embedded hours changed (same length, the PDF stays well-formed)
    hours = re.search(rb'"hours": "([0-9.]+)"', pdf).group(1)
    forged_hours = bytes(ord("9") if c != ord(".") else c for c in hours)
    forged = pdf.replace(b'"hours": "' + hours + b'"', b'"hours": "' + forged_hours + b'"')
    assert forged != pdf
    for kwargs in (online(demo_hub), offline(demo_hub)):
        verdict = await verify_bytes(forged, **kwargs, use_qr=False)
        assert verdict.status == "altered", verdict.as_dict()
    # 3. re-rendered with other printed hours, keeping the genuine embedded data and QR code
    from hub.documents import render as render_mod
    from hub.documents.templates import load_templates

    record = await load_record(services_of(demo_hub), doc.id)
    fields = record.details["fields"]
    genuine = render_mod.embedded_json(doc.id, doc.url, record.details["payload"], fields)
    monkeypatch.setattr(render_mod, "embedded_json", lambda *a: genuine)
    printed = render_mod.render("certificat_realisation", dict(fields, hours="70"), load_templates()["certificat_realisation"],
                                url=doc.url, page_url=doc.url.split("?")[0], payload=record.details["payload"])
    verdict = await verify_bytes(printed, **offline(demo_hub), use_qr=False)
    assert verdict.status == "altered" and "printed text" in verdict.reason and "hours" in verdict.reason


async def test_tampered_payloads_are_altered(demo_hub):
    doc, pdf = await issue_one(demo_hub)
    doc_id, text = P.parse_url(doc.url)
    header, signature = text.split(".")[1:]
    tampered = [f"PH1.{header}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}",
                f"PH1.{header[:-8]}{'Q' if header[-8] != 'Q' else 'R'}{header[-7:]}.{signature}",
                "PH1.bm90IGEgcGF5bG9hZA.c2ln"]
    for bad in tampered:
        verdict = await verify_payload(doc_id, bad, **online(demo_hub))
        assert verdict.status == "altered", (bad, verdict.as_dict())
    # a genuine payload presented for another document id
    verdict = await verify_payload(new_ulid(), text, **online(demo_hub))
    assert verdict.status == "altered"
    # the embedded payload replaced by another document's genuine one: QR and embedded data disagree
    other, _ = await issue_one(demo_hub, "Chloé N'Diaye")
    _, other_text = P.parse_url(other.url)
    swapped = pdf.replace(text.encode(), other_text.encode())
    verdict = await verify_bytes(swapped, **online(demo_hub))
    assert verdict.status == "altered" and "disagree" in verdict.reason


async def test_revoked_document_says_revoked_with_its_date(demo_hub):
    doc, pdf = await issue_one(demo_hub)
    result = await revoke_document(services_of(demo_hub), doc.id, "heures corrigées", actor="claire")
    assert not result["already"]
    assert (await revoke_document(services_of(demo_hub), doc.id, "again"))["already"]
    verdict = await verify_bytes(pdf, **online(demo_hub), use_qr=False)
    today = dt.datetime.now(dt.timezone.utc).date()
    assert verdict.status == "revoked" and verdict.revoked_at[:10] == today.isoformat()
    assert verdict.revoked_reason == "heures corrigées"
    from hub.documents.fr import date_fr

    assert verdict.message_fr == f"Document révoqué le {date_fr(today)} (motif : heures corrigées)"
    (event,) = await demo_hub.store.call(lambda: list(demo_hub.store.iter_events(types=["document.revoked"])))
    assert event["data"]["document"] == doc.id and event["data"]["details"]["by"] == "claire"
    assert event["learner_id"] == doc.learner_id and event["action"] == doc.action
    with pytest.raises(HubError, match="no issued document"):
        await revoke_document(services_of(demo_hub), new_ulid(), "x")


async def test_superseded_unknown_key_and_unknown_document(demo_hub, tmp_path):
    doc, pdf = await issue_one(demo_hub)
    newer, _ = await issue_one(demo_hub)
    verdict = await verify_bytes(pdf, **online(demo_hub), use_qr=False)
    assert verdict.status == "superseded" and verdict.superseded_by == newer.id
    assert (await verify_bytes(demo_hub.blobs.get(newer.sha256), **online(demo_hub), use_qr=False)).status == "valid"
    # a key nobody published
    verdict = await verify_bytes(pdf, keys={}, use_qr=False)
    assert verdict.status == "unknown_key" and verdict.key_id == doc.key_id
    stranger = KeyRing(tmp_path / "stranger")
    stranger.generate()
    kid, private = stranger.signer()
    forged_id = new_ulid()
    forged = P.sign(forged_id, "certificat_realisation", {"id": forged_id}, kid, private)
    assert (await verify_payload(forged_id, forged, **online(demo_hub))).status == "unknown_key"
    # a genuine signature over a document this ledger never issued
    kid, private = KeyRing(keys_dir(demo_hub.config)).signer()
    ghost = P.sign(forged_id, "certificat_realisation", {"id": forged_id}, kid, private)
    assert (await verify_payload(forged_id, ghost, **online(demo_hub))).status == "unknown_document"
    # a PDF that is not one of ours
    import io

    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    other = canvas.Canvas(buf)
    other.drawString(100, 700, "Attestation d'un autre organisme")
    other.save()
    assert (await verify_bytes(buf.getvalue(), **online(demo_hub), use_qr=False)).status == "unknown_document"


async def test_rotation_keeps_old_documents_valid(demo_hub):
    doc, pdf = await issue_one(demo_hub)
    ring = KeyRing(keys_dir(demo_hub.config))
    new, old = ring.rotate()
    assert old.kid == doc.key_id
    assert (await verify_bytes(pdf, **online(demo_hub), use_qr=False)).status == "valid"
    doc2, _ = await issue_one(demo_hub, "Chloé N'Diaye")
    assert doc2.key_id == new.kid

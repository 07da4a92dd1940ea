"""Keys, canonical encoding, the signed payload, French formatting and proof gaps (no PDF)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from decimal import Decimal

import pytest

from hub.documents import payload as P
from hub.documents.eligibility import proof_gaps
from hub.documents.fr import date_fr, hours_fr, number_fr, percent_fr, slug
from hub.documents.keys import KeyRing, KeyRingError, kid_for, parse_keys_document
from hub.errors import ConfigError
from hub.ulid import new_ulid
from tests.documents.conftest import TODAY
from tests.test_journeys import DEMO_ACTION

FIELDS = {"type": "certificat_realisation", "id": "01JD0000000000000000000000", "learner": "Chloé N'Diaye",
          "action": {"id": "A", "title": "Développeur·se web"}, "hours": "64.5", "start": "2026-10-05"}


def test_french_formatting():
    assert date_fr(dt.date(2026, 10, 16)) == "16 octobre 2026"
    assert date_fr("2026-08-01") == "1er août 2026"
    assert date_fr("2026-12-03T10:00:00Z") == "3 décembre 2026"
    assert hours_fr(Decimal("64.50")) == "64,5\u00a0heures"
    assert hours_fr(Decimal("70.00")) == "70\u00a0heures"
    assert hours_fr("1.5") == "1,5\u00a0heure"  # singular below 2
    assert number_fr("1250.25") == "1\u00a0250,25"
    assert percent_fr("92.10") == "92,1\u00a0%"
    assert slug("Maximilien-Alexandre de La Tour d'Auvergne") == "maximilien-alexandre-de-la-tour-dauvergn"


def test_keyring_generate_rotate_and_file_modes(tmp_path):
    ring = KeyRing(tmp_path / "keys")
    with pytest.raises(KeyRingError, match="keys generate"):
        ring.signer()
    first = ring.generate()
    assert len(first.kid) == 8 and first.kid == kid_for(first.raw)
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / f"{first.kid}.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    with pytest.raises(KeyRingError, match="rotate"):
        ring.generate()
    second, previous = ring.rotate()
    assert previous.kid == first.kid and ring.active().kid == second.kid
    assert {k.kid: k.status for k in ring.public_keys()} == {first.kid: "retired", second.kid: "active"}
    assert ring.signer()[0] == second.kid
    document = ring.document(issuer="OF")
    assert [k["kid"] for k in document["keys"]] == [first.kid, second.kid]
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in document["keys"])
    assert "PRIVATE" not in json.dumps(document)
    parsed = parse_keys_document(json.loads(json.dumps(document)))
    assert set(parsed) == {first.kid, second.kid}
    forged = json.loads(json.dumps(document))
    forged["keys"][0]["kid"] = second.kid  # an id that does not match its key
    with pytest.raises(ValueError, match="does not match"):
        parse_keys_document(forged)


def test_payload_sign_verify_and_tamper(tmp_path):
    ring = KeyRing(tmp_path / "keys")
    ring.generate()
    kid, private = ring.signer()
    doc_id = new_ulid()
    fields = dict(FIELDS, id=doc_id)
    text = P.sign(doc_id, "certificat_realisation", fields, kid, private)
    payload = P.parse(text)
    assert payload.kid == kid and payload.doc_type == "certificat_realisation"
    assert payload.digest == P.fields_digest(fields)
    assert P.check_signature(payload, doc_id, ring.get(kid))
    assert not P.check_signature(payload, new_ulid(), ring.get(kid))  # bound to its document id
    # one character changed anywhere → no longer verifies, or no longer parses
    for i in range(4, len(text)):
        if text[i] == ".":
            continue
        tampered = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]
        try:
            parsed = P.parse(tampered)
        except P.PayloadError:
            continue
        assert not P.check_signature(parsed, doc_id, ring.get(kid)) or parsed.header == payload.header and parsed.signature == payload.signature
    with pytest.raises(P.PayloadError):
        P.parse("PH1.abc")
    # canonical encoding: key order and Unicode normalisation do not matter, a value does
    decomposed = dict(reversed(list(fields.items())), learner="Chloe\u0301 N'Diaye")
    assert P.canonical(decomposed) == P.canonical(fields)
    assert P.fields_digest(dict(fields, hours="65")) != payload.digest


def test_verification_url_round_trip_and_qr_version():
    doc_id = new_ulid()
    text = "PH1." + "A" * 31 + "." + "B" * 86
    base = "https://attestations.organisme-formation-exemple.fr"  # 50 characters
    url = P.verification_url(base + "/", doc_id, text)
    assert P.parse_url(url) == (doc_id, text)
    assert P.parse_url(url.replace("?p=", "#")) == (doc_id, text)
    assert P.parse_url(text) == (None, text)
    with pytest.raises(P.PayloadError):
        P.parse_url("https://example.fr/other/123")
    assert P.make_qr(url).version <= P.QR_MAX_VERSION


def test_qr_code_modules_read_back_as_the_url():
    """make_qr's rows (1 dark) drawn with a quiet zone decode to the URL, at the version its size says."""
    import zxingcpp
    from PIL import Image

    url = P.verification_url("https://of-demo.example.fr", new_ulid(), "PH1." + "A" * 31 + "." + "B" * 86)
    qr = P.make_qr(url)
    n = len(qr.matrix)
    assert n == 17 + 4 * qr.version and all(len(row) == n and set(row) <= {0, 1} for row in qr.matrix)
    assert qr.matrix[0][:8] == b"\x01" * 7 + b"\x00"  # a finder pattern's top edge, then its separator
    scale, quiet = 4, 4
    side = (n + 2 * quiet) * scale
    image = Image.new("L", (side, side), 255)
    for r, row in enumerate(qr.matrix):
        for c, dark in enumerate(row):
            if dark:
                image.paste(0, ((c + quiet) * scale, (r + quiet) * scale, (c + quiet + 1) * scale, (r + quiet + 1) * scale))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [url]


async def test_proof_gaps_of_the_demo_enrolments(make_hub, workdir):
    from tests.documents.conftest import open_demo_hub

    hub = await open_demo_hub(make_hub, workdir, keys=False)
    reports = {r.learner_name: r for r in await hub.journey_reports(action=DEMO_ACTION)}
    gaps = {name: proof_gaps(r, TODAY) for name, r in reports.items()}
    assert [(g["code"], g["subject"]) for g in gaps["Théo Garnier"]] == [("half_day_no_trainer_signature", "2026-10-07/am")]
    assert "co-sign" in gaps["Théo Garnier"][0]["what_would_close_it"]
    assert gaps["Inès Haddad"] == []  # a justified absence is proof, not a gap
    assert gaps["Lucas Bernard"] == []  # nothing is due after his abandonment
    assert sum(bool(g) for g in gaps.values()) == 1
    # a learner whose agreement and FOAD traces are missing, and a half-day nobody signed
    events = [
        {"type": "enrolment.started", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": "s-x",
         "learner": {"ref": "x-1", "email": "x@example.fr", "name": "Zoé X"}, "action": DEMO_ACTION, "data": {"date": "2026-10-05"}},
        {"type": "attendance.signed", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": "a-x",
         "learner": {"ref": "x-1", "email": "x@example.fr"}, "action": DEMO_ACTION,
         "data": {"date": "2026-10-05", "half_day": "am", "trainer_cosigned": True}},
    ]
    await hub.append(events, source=None)
    zoe = next(r for r in await hub.journey_reports(action=DEMO_ACTION) if r.learner_name == "Zoé X")
    codes = [g["code"] for g in proof_gaps(zoe, TODAY)]
    assert codes.count("half_day_unsigned") == 9  # 10 mornings, one signed
    assert "foad_no_connection_trace" in codes and "started_without_agreement" in codes
    assert all(set(g) == {"code", "message", "what_would_close_it", "subject"} for g in proof_gaps(zoe, TODAY))


def test_template_overrides_are_checked(tmp_path):
    from hub.documents.templates import load_templates

    (tmp_path / "common.yaml").write_text("colour: '#004400'\nsignature_caption: Cachet de l'organisme\n", encoding="utf-8")
    (tmp_path / "certificat_realisation.yaml").write_text(
        "title: Certificat de réalisation (modèle OF)\nretention: ''\n", encoding="utf-8")
    templates = load_templates(tmp_path)
    assert templates["certificat_realisation"]["title"] == "Certificat de réalisation (modèle OF)"
    assert templates["attestation_assiduite"]["signature_caption"] == "Cachet de l'organisme"
    (tmp_path / "releve_competences.yaml").write_text("intro: 'Résultats de {learnr}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="learnr"):
        load_templates(tmp_path)
    (tmp_path / "releve_competences.yaml").write_text("titel: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="titel: unknown key"):
        load_templates(tmp_path)
    (tmp_path / "releve_competences.yaml").write_text("intro: 'Résultats de {learner}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must print"):  # verification compares the action and dates
        load_templates(tmp_path)

"""The subrogation bundle: certificat de réalisation + the learner's statement + a proof summary."""

from __future__ import annotations

import io
import json
import zipfile

from hub.formats import Period
from tests.formats.opco.conftest import TODAY, golden, open_demo, without_ids
from tests.test_journeys import DEMO_ACTION

EXPORTS = """
exports:
  subrogation:
    kind: opco
    funders: [opco-atlas]
    statement: end_of_action
    outputs: [subrogation_bundle]
"""
SHA = r"[0-9a-f]{64}"


ATLAS = ["Camille Dubois", "Chloé N'Diaye", "Éloïse Martin-Durand", "Théo Garnier", "Inès Haddad",
         "Maximilien-Alexandre de La Tour d'Auvergne"]


async def _issue_certificates(hub, names=ATLAS):
    """Certificates for the OPCO learners ``names`` (the documents generator of the hub)."""
    from hub.documents.issue import IssueRun, issue_documents
    from hub.documents.keys import KeyRing
    from hub.documents.services import services_of
    from hub.documents.settings import keys_dir

    ring = KeyRing(keys_dir(hub.config))
    if ring.active() is None:
        ring.generate()
    hub.config.hub.http.public_url = "https://of-demo.example.fr"
    ids = {r.learner_name: r.learner_id for r in await hub.journey_reports(action=DEMO_ACTION)}
    run = IssueRun("certificat_realisation")
    for name in names:
        one = await issue_documents(services_of(hub), learner_id=ids[name], today=TODAY)
        run.issued += one.issued
        run.refused += one.refused
    return run


def _zip(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


async def test_without_certificates_every_bundle_is_missing_and_nothing_is_written(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS)
    refused = await hub.export("subrogation", Period.parse("2026-10"))
    assert not refused.written
    assert len(refused.missing) == 6 and {m.field for m in refused.missing} == {"certificat_realisation"}
    assert "no certificat de réalisation issued" in refused.missing[0].message


async def test_bundles_with_the_issued_certificates(make_hub, workdir):
    import re

    hub = await open_demo(make_hub, workdir, EXPORTS)
    run = await _issue_certificates(hub)
    # Théo's certificate is refused by the document generator: a half-day lacks the trainer's signature
    assert [r.learner_name for r in run.refused if r.learner_name in ("Théo Garnier",)] == ["Théo Garnier"]
    refused = await hub.export("subrogation", Period.parse("2026-10"))
    assert [(m.learner, m.field) for m in refused.missing] == [("Théo Garnier", "certificat_realisation")]

    out = await hub.export("subrogation", Period.parse("2026-10"), allow_incomplete=True)
    assert out.written
    zips = sorted(f for f in out.files if f.endswith(".zip"))
    assert len(zips) == 6 and "atlas-subrogation-2026-10.csv" in out.files
    assert "atlas-subrogation-ATL-2026-000101-camille-dubois.zip" in zips

    camille = _zip(out.folder / "atlas-subrogation-ATL-2026-000101-camille-dubois.zip")
    assert sorted(camille) == ["certificat-realisation.pdf", "etat-presence.csv", "synthese-preuves.json",
                               "synthese-preuves.txt"]
    issued = next(d for d in run.issued if d.learner_name == "Camille Dubois")
    assert camille["certificat-realisation.pdf"] == hub.blobs.get(issued.sha256)
    statement = camille["etat-presence.csv"].decode("utf-8-sig").splitlines()
    assert len(statement) == 21 and all(";Dubois;Camille;" in line for line in statement[1:])
    summary = json.loads(camille["synthese-preuves.json"])
    assert summary["certificat_realisation"]["document"] == issued.id
    assert summary["heures"]["realisees"] == summary["certificat_realisation"]["heures"] == "64.43"
    assert summary["preuves_manquantes"] == [] and summary["certificat_probleme"] is None
    normalised = re.sub(SHA, "<sha256>", without_ids(camille["synthese-preuves.json"].decode("utf-8")))
    golden("demo-bundle-camille-synthese-preuves.json", normalised)
    golden("demo-bundle-camille-synthese-preuves.txt", without_ids(camille["synthese-preuves.txt"].decode("utf-8")))

    theo = _zip(out.folder / "atlas-subrogation-ATL-2026-000104-theo-garnier.zip")
    assert "certificat-realisation.pdf" not in theo
    summary = json.loads(theo["synthese-preuves.json"])
    assert summary["certificat_realisation"] is None and "no certificat" in summary["certificat_probleme"]
    codes = [(g["regle"], g["code"]) for g in summary["preuves_manquantes"]]
    assert codes == [("half_days", "half_day_no_trainer_signature"),
                     ("subrogation.billable_half_days", "opco_half_day_not_billable")]
    assert "Preuves manquantes : 2" in theo["synthese-preuves.txt"].decode("utf-8")

    index = (out.folder / "atlas-subrogation-2026-10.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert index[0].startswith("N° de dossier;Nom;Prénom;SIRET employeur") and len(index) == 7
    assert "ATL-2026-000101;Dubois;Camille;44101234500019;05/10/2026;16/10/2026;64,43;64,43" in index

    # same ledger, same bytes: the zips are reproducible
    again = await hub.export("subrogation", Period.parse("2026-10"), allow_incomplete=True)
    name = "atlas-subrogation-ATL-2026-000101-camille-dubois.zip"
    assert (again.folder / name).read_bytes() == (out.folder / name).read_bytes()


async def test_revoked_superseded_and_outdated_certificates(make_hub, workdir):
    from hub.documents.issue import revoke_document
    from hub.documents.services import services_of

    hub = await open_demo(make_hub, workdir, EXPORTS)
    run = await _issue_certificates(hub)
    camille = next(d for d in run.issued if d.learner_name == "Camille Dubois")
    await revoke_document(services_of(hub), camille.id, "erreur de date", actor="test")
    refused = await hub.export("subrogation", Period.parse("2026-10"))
    assert ("Camille Dubois", "certificat_realisation") in [(m.learner, m.field) for m in refused.missing]

    reissued = await _issue_certificates(hub, ["Camille Dubois"])  # a new certificate supersedes the previous one
    refused = await hub.export("subrogation", Period.parse("2026-10"))
    assert [m.learner for m in refused.missing] == ["Théo Garnier"]
    out = await hub.export("subrogation", Period.parse("2026-10"), allow_incomplete=True)
    summary = json.loads(_zip(out.folder / "atlas-subrogation-ATL-2026-000101-camille-dubois.zip")["synthese-preuves.json"])
    assert summary["certificat_realisation"]["document"] == next(
        d.id for d in reissued.issued if d.learner_name == "Camille Dubois")

    # a new trace changes the realised hours: the certificate no longer matches the ledger
    await hub.append([{
        "type": "lms.session", "occurred_at": "2026-10-10T11:00:00+02:00", "source_id": "late-session",
        "learner": {"ref": "apprenant-01", "email": "camille.dubois@example.fr"}, "action": DEMO_ACTION,
        "data": {"start": "2026-10-10T10:00:00+02:00", "end": "2026-10-10T11:00:00+02:00", "duration_seconds": 3600}}],
        source=None)
    refused = await hub.export("subrogation", Period.parse("2026-10"))
    found = {m.learner: m.message for m in refused.missing}
    assert "states 64,43 h but the ledger now gives 65,43 h realised: issue it again" in found["Camille Dubois"]


async def test_no_bundle_without_subrogation(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS)
    await _issue_certificates(hub, [n for n in ATLAS if n != "Théo Garnier"])
    await hub.append([{
        "type": "funding.approved", "occurred_at": "2026-09-15T10:00:00+02:00", "source_id": "pec-nosubro",
        "learner": {"ref": "apprenant-04", "email": "theo.garnier@example.fr"}, "action": DEMO_ACTION,
        "data": {"funder": "opco-atlas", "funder_kind": "opco", "hours": "70", "reference": "PEC-X",
                 "details": {"employer_siret": "55209876500019", "dossier": "ATL-2026-000104", "subrogation": False}}}],
        source=None)
    out = await hub.export("subrogation", Period.parse("2026-10"))
    assert out.written and not out.missing  # Théo's bundle (and certificate) are not asked for any more
    assert len([f for f in out.files if f.endswith(".zip")]) == 5
    assert "1 enrolment(s) without subrogation (funding.approved subrogation: false): no bundle" in out.notes


async def test_bundle_csv_follows_the_profile(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS.replace("outputs:", "profile: akto\n    outputs:"))
    await _issue_certificates(hub, ["Camille Dubois"])
    out = await hub.export("subrogation", Period.parse("2026-10"), allow_incomplete=True)
    members = _zip(out.folder / "akto-ATL-2026-000101-camille-dubois.zip")
    text = members["etat-presence.csv"].decode("utf-8")
    assert text.startswith("siret_employeur,numero_dossier,nom,prenom") and "\r\n" not in text
    assert io.BytesIO(members["certificat-realisation.pdf"]).read(5) == b"%PDF-"

"""The apprenticeship certificate in the inter-OPCO "API CFA" form (intermediate and final, JSON)."""

from __future__ import annotations

import base64
import json

from hub.formats import Period
from tests.formats.opco.conftest import TODAY, golden, open_edge

EXPORTS = """
exports:
  cfa: {kind: opco, funders: [opco-atlas], outputs: [api_cfa]}
  cfa-period: {kind: opco, funders: [opco-atlas], outputs: [api_cfa], api_cfa: {echeance: period, attach_certificate: false}}
"""
# The body fields of the certificate deposit, as the Opcovia documentation lists them (docs/formats/opco.md)
DOCUMENTED = {"typeCertificat", "numeroInterneDossier", "numeroInterneFacture", "dateSignature", "lieuSignatureContrat",
              "representantLegal", "attestationConservationPieces", "natureAction", "employeur", "apprenti",
              "organismeFormation", "echeance", "_files"}
ECHEANCE = {"numero", "codification", "duree", "dateDebut", "dateFin", "echeancePartielle"}


def _only_json(out) -> dict:
    names = [f for f in out.files if f.endswith(".json") and f != "manifest.json"]
    assert len(names) == 1, out.files
    return json.loads((out.folder / names[0]).read_text(encoding="utf-8")), names[0]


async def test_intermediate_then_final_certificate_match_golden_files(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EXPORTS)
    december = await hub.export("cfa", Period.parse("2025-12"))
    assert december.written and not december.missing, december.as_dict()
    body, name = _only_json(december)
    assert name == "atlas-api-cfa-intermediaire-ATL-APP-0042-emma-leroy.json"
    assert set(body) <= DOCUMENTED and set(body["echeance"]) <= ECHEANCE
    assert body["typeCertificat"] == "Intermediaire" and body["dateSignature"] == TODAY.isoformat()
    assert body["echeance"] == {"numero": 1, "codification": "A1", "duree": 56, "dateDebut": "2025-12-01",
                                "dateFin": "2025-12-31", "echeancePartielle": False}
    golden("edge-api-cfa-2025-12.json", json.dumps(body, indent=2, ensure_ascii=False) + "\n")

    january = await hub.export("cfa", Period.parse("2026-01"))
    body, name = _only_json(january)
    assert name == "atlas-api-cfa-final-ATL-APP-0042-emma-leroy.json"
    assert body["typeCertificat"] == "Final" and body["echeance"]["numero"] == 2
    assert body["echeance"]["dateFin"] == "2026-01-27" and body["echeance"]["duree"] == 56
    golden("edge-api-cfa-2026-01.json", json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    # the other learners of the export follow non-apprenticeship actions: no API CFA certificate
    assert not any("api_cfa" in n for n in january.notes)


async def test_an_apprentice_who_leaves_gets_a_partial_final_certificate(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EXPORTS)
    await hub.append([{
        "type": "enrolment.abandoned", "occurred_at": "2026-01-14T10:00:00+01:00", "source_id": "rupture-emma",
        "learner": {"ref": "edge-e", "email": "emma.leroy@example.fr"}, "action": "ACT-APP-01",
        "data": {"date": "2026-01-13", "reason": "rupture du contrat d'apprentissage"}}], source=None)
    out = await hub.export("cfa", Period.parse("2026-01"))
    body, _ = _only_json(out)
    assert body["typeCertificat"] == "Final"
    assert body["echeance"] == {"numero": 2, "codification": "A2", "duree": 28, "dateDebut": "2026-01-01",
                                "dateFin": "2026-01-13", "echeancePartielle": True}


async def test_echeances_numbered_by_period(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EXPORTS)
    body, _ = _only_json(await hub.export("cfa-period", Period.parse("2026-01")))
    assert body["echeance"] == {"numero": 2, "duree": 56, "dateDebut": "2026-01-01", "dateFin": "2026-01-27",
                                "echeancePartielle": False}


async def test_missing_echeancier_and_employer_siret_are_required_fields(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EXPORTS)
    await hub.append([{
        "type": "funding.approved", "occurred_at": "2025-11-02T10:00:00+01:00", "source_id": "pec-edge-e-2",
        "learner": {"ref": "edge-e", "email": "emma.leroy@example.fr"}, "action": "ACT-APP-01",
        "data": {"funder": "opco-atlas", "funder_kind": "opco", "hours": "112", "reference": "PEC-APP-0042",
                 "details": {"dossier": "ATL-APP-0042"}}}], source=None)
    refused = await hub.export("cfa", Period.parse("2025-12"))
    found = {(m.learner, m.field): m.message for m in refused.missing}
    assert set(found) == {("Emma Leroy", "employer_siret"), ("Emma Leroy", "api_cfa.echeance.numero")}
    assert "no échéancier in details.echeances" in found[("Emma Leroy", "api_cfa.echeance.numero")]
    assert not refused.written


async def test_the_issued_certificate_pdf_is_attached(make_hub, workdir):
    from hub.documents.issue import issue_documents
    from hub.documents.keys import KeyRing
    from hub.documents.services import services_of
    from hub.documents.settings import keys_dir

    hub = await open_edge(make_hub, workdir, EXPORTS)
    KeyRing(keys_dir(hub.config)).generate()
    hub.config.hub.http.public_url = "https://of-demo.example.fr"
    run = await issue_documents(services_of(hub), action="ACT-APP-01", today=TODAY)
    assert len(run.issued) == 1, [r.as_dict() for r in run.refused]
    (issued,) = run.issued
    body, _ = _only_json(await hub.export("cfa", Period.parse("2026-01")))
    assert base64.b64decode(body["_files"]["certificat"]) == hub.blobs.get(issued.sha256)
    body, _ = _only_json(await hub.export("cfa-period", Period.parse("2026-01")))  # attach_certificate: false
    assert "_files" not in body

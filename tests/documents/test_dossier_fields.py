"""The dossier's fields (employer, SIRET, file number…) are read from one place by documents and
formats: the certificat de réalisation names the employer the dossier holds, from the typed fields
of ``funding.approved`` and, for events recorded before they existed, from the old ``details`` keys."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from funder_formats.opco.config import OpcoConfig
from funder_formats.opco.statement import enrolments
from hub.documents.issue import issue_documents
from hub.documents.services import services_of
from hub.documents.verify import read_embedded
from hub.events import CORE_EVENT_TYPES, EventTypeRegistry, EventValidationError
from hub.formats import Period
from hub.journeys.dossier import dossier_of
from hub.profiles.enrolments import enrolment_values
from tests.documents.conftest import TODAY, learner_id
from tests.test_journeys import DEMO_ACTION

PARIS = ZoneInfo("Europe/Paris")
CAMILLE = {"ref": "apprenant-01", "email": "camille.dubois@example.fr", "name": "Camille Dubois"}
CHLOE = {"ref": "apprenant-02", "email": "chloe.ndiaye@example.fr", "name": "Chloé N'Diaye"}


def funding(learner, source_id, **data):
    return {"type": "funding.approved", "occurred_at": "2026-09-14T10:30:00+02:00", "source_id": source_id,
            "learner": learner, "action": DEMO_ACTION,
            "data": {"funder": "opco-atlas", "funder_kind": "opco", "amount": "2450.00", "hours": "70", **data}}


async def test_the_certificate_names_the_employer_the_dossier_holds_and_opco_reads_the_same(demo_hub):
    hub = demo_hub
    await hub.append([
        # recorded before the vocabulary had the field: the employer in the old details key
        funding(CAMILLE, "pec-legacy-01", reference="PEC-OPCO-ATLAS-2600",
                details={"employer_siret": "44101234500019", "employer_name": "Atelier Numérique Lyon SARL",
                         "dossier": "ATL-2026-000101"}),
        # the vocabulary's typed fields
        funding(CHLOE, "pec-typed-02", reference="PEC-OPCO-ATLAS-2601", employer_name="Banque Rhône Conseil SA",
                employer_siret="552 098 765 00019", dossier="ATL-2026-000102"),
    ], source="demo")
    run = await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY)
    by_name = {d.learner_name: d for d in run.issued}
    reports = {r.learner_id: r for r in await hub.journey_reports(action=DEMO_ACTION)}
    config = OpcoConfig(kind="opco", funders=["opco-atlas"])
    period = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "2026-10")
    for name, employer, siret, file_number in [
            ("Camille Dubois", "Atelier Numérique Lyon SARL", "44101234500019", "ATL-2026-000101"),
            ("Chloé N'Diaye", "Banque Rhône Conseil SA", "55209876500019", "ATL-2026-000102")]:
        doc = by_name[name]
        embedded, _ = read_embedded(hub.blobs.get(doc.sha256))  # the fields the PDF prints and its payload signs
        assert embedded["fields"]["employer"] == employer
        report = reports[await learner_id(hub, name)]
        (enr,) = enrolments(report, config, period, hub.config.hub.organisation)
        assert (enr.values["employer_name"], enr.values["employer_siret"], enr.values["dossier"]) == \
            (employer, siret, file_number)
        assert dossier_of(report).employer_name == employer
        # the profiles of France Travail and the Régions read the same place
        values = enrolment_values(report, funding=("opco-atlas", report.funders["opco-atlas"]), person=None,
                                  figures=None, period=period, organisation=None, tz=PARIS,
                                  default_remuneration=None, exit_labels={})
        assert (values["funding.employer_name"], values["funding.employer_siret"], values["funding.dossier"]) == \
            (employer, siret, file_number)


def test_the_agreement_states_the_employer_when_no_funding_does():
    from hub.journeys.dossier import dossier_from

    agreement = {"event": "conv-1", "agreement_type": "convention", "employer_name": "Garage Martin",
                 "employer_siret": "44101234500019"}
    legacy_agreement = {"event": "conv-0", "details": {"employer": "Boulangerie Petit"}}
    fund = {"event": "pec-1", "funder": "region-cvl", "reference": "R-1", "details": {"dossier": "CVL-9"}}
    found = dossier_from([fund, agreement])
    assert (found.employer_name, found.employer_siret, found.file_number) == ("Garage Martin", "44101234500019", "CVL-9")
    assert found.origins == {"employer_name": "conv-1: data.employer_name", "employer_siret": "conv-1: data.employer_siret",
                             "dossier": "pec-1: details.dossier"}
    assert dossier_from([{"event": "x", "funder": "f", "reference": "R-2"}, legacy_agreement]).employer_name == \
        "Boulangerie Petit"
    assert dossier_from([{"event": "x", "funder": "f", "reference": "R-2"}]).file_number == "R-2"


@pytest.mark.parametrize("siret, problem", [
    ("44101234500018", "check digit"),
    ("4410123450001", "14 digits"),
    ("4410123450001A", "14 digits"),
])
def test_a_wrong_employer_siret_is_refused_naming_the_field(siret, problem):
    registry = EventTypeRegistry(CORE_EVENT_TYPES)
    for kind in ("funding.approved", "enrolment.agreement_signed"):
        item = funding(CAMILLE, "pec-bad") | {"type": kind}
        item["data"] = ({"employer_siret": siret} if kind != "funding.approved"
                        else {**item["data"], "employer_siret": siret})
        with pytest.raises(EventValidationError) as exc:
            registry.validate_batch([item])
        assert "data.employer_siret" in str(exc.value) and problem in str(exc.value)


async def test_a_certificate_issued_without_the_employer_is_issued_again_with_it(demo_hub):
    hub = demo_hub
    camille = await learner_id(hub, "Camille Dubois")
    first = await issue_documents(services_of(hub), learner_id=camille, today=TODAY)
    (before,) = first.issued
    assert "employer" not in read_embedded(hub.blobs.get(before.sha256))[0]["fields"]
    await hub.append([funding(CAMILLE, "pec-typed-01", reference="PEC-OPCO-ATLAS-2600",
                              employer_name="Atelier Numérique Lyon SARL", employer_siret="44101234500019")],
                     source="demo")
    again = await issue_documents(services_of(hub), learner_id=camille, today=TODAY)
    (after,) = again.issued
    assert after.supersedes == before.id
    assert read_embedded(hub.blobs.get(after.sha256))[0]["fields"]["employer"] == "Atelier Numérique Lyon SARL"

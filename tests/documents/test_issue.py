"""Issuing for the demo action, checked as a person would: render the PDF, decode its QR code with
zbar, verify the payload, read the PDF's text with pdftotext."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from hub.documents import DOCUMENT_TYPES
from hub.documents import payload as P
from hub.documents.issue import issue_documents, revoke_document
from hub.documents.keys import KeyRing
from hub.documents.services import services_of
from hub.documents.settings import keys_dir
from hub.documents.verify import read_embedded
from tests.documents.conftest import (
    PUBLIC_URL,
    TODAY,
    flat,
    learner_id,
    pdftotext,
    render_png,
    zbar,
)
from tests.test_journeys import DEMO_ACTION

ORG = {"name": "Parcours Démo Formation SAS", "siret": "73282932000074", "nda": "84691234569"}
TITLE = "Développeur·se web — React et API"


async def events_of(hub, type_):
    return await hub.store.call(lambda: list(hub.store.iter_events(types=[type_])))


async def test_certificats_for_the_demo_action_read_like_the_model(demo_hub, workdir, tmp_path):
    hub = demo_hub
    run = await issue_documents(services_of(hub), action=DEMO_ACTION, out_dir=workdir / "out", today=TODAY)
    # Théo signed a morning the trainer did not co-sign: no certificat without --allow-incomplete
    assert [(r.learner_name, r.gaps[0]["code"]) for r in run.refused] == [("Théo Garnier", "half_day_no_trainer_signature")]
    assert len(run.issued) == 11 and all(d.path.exists() for d in run.issued)
    by_name = {d.learner_name: d for d in run.issued}
    keys = KeyRing(keys_dir(hub.config))

    # the ledger: one document.issued per PDF, with its SHA-256, the blob, the enrolment's learner and action
    issued = {e["id"]: e for e in await events_of(hub, "document.issued")}
    assert set(issued) == {d.id for d in run.issued}
    reports = {r.learner_id: r for r in await hub.journey_reports(action=DEMO_ACTION)}
    for doc in run.issued:
        event = issued[doc.id]
        assert event["source"] == "hub" and event["action"] == DEMO_ACTION and event["learner_id"] == doc.learner_id
        assert event["data"]["sha256"] == doc.sha256 and event["evidence"][0]["sha256"] == doc.sha256
        assert hub.blobs.get(doc.sha256) == doc.path.read_bytes()
        assert event["data"]["document_type"] == "certificat_realisation" and event["data"]["document"] == doc.id
        # the document shows in the learner's journey
        assert any(f["event"] == doc.id for f in (await hub.store.call(hub.store.journeys, action=DEMO_ACTION,
                                                                         learner_id=doc.learner_id))[0]["documents"])

    for name, hours in [("Camille Dubois", None), ("Lucas Bernard", None), ("Chloé N'Diaye", None)]:
        doc = by_name[name]
        pdf = doc.path.read_bytes()
        # a person scans the printed QR code
        (text,) = zbar(render_png(pdf, tmp_path))
        assert text == doc.url and text.startswith(f"{PUBLIC_URL}/verify/{doc.id}?p=PH1.")
        doc_id, payload_text = P.parse_url(text)
        payload = P.parse(payload_text)
        assert doc_id == doc.id and payload.kid == keys.active().kid and payload.doc_type == "certificat_realisation"
        assert P.check_signature(payload, doc_id, keys.get(payload.kid))
        assert P.make_qr(text).version <= 10
        embedded, _ = read_embedded(pdf)
        assert embedded["url"] == text and P.fields_digest(embedded["fields"]) == payload.digest
        # and reads it
        report = reports[doc.learner_id]
        page = flat(pdftotext(pdf, tmp_path))
        assert "CERTIFICAT DE RÉALISATION" in page
        assert f"Je soussigné(e) Claire Fontaine, représentant légal du dispensateur de l'action concourant au " \
               f"développement des compétences {ORG['name']}, atteste que" in page
        assert f"{name} a suivi l'action {TITLE}" in page
        assert f"SIRET : {ORG['siret']}" in page and f"Déclaration d'activité n° {ORG['nda']}" in page
        hours_text = f"{report.realised_hours.normalize():f}".replace(".", ",")
        assert f"pour une durée de {hours_text} heures." in page
        assert "Fait à Lyon, le 20 novembre 2026" in page and "Cachet et signature" in page
        assert "3 ans à compter de la fin de l'année du dernier paiement" in page
        assert "réalisée en tout ou partie à distance" in page  # FOAD afternoons
        # the nature: the four boxes of the model, « action de formation » ticked
        assert re.search(r"(☒|\[X\]) action de formation (☐|\[ \]) bilan de compétences (☐|\[ \]) action de "
                         r"validation des acquis de l'expérience (☐|\[ \]) action de formation par apprentissage", page)
        assert doc.id in page
    assert "du 5 octobre 2026 au 16 octobre 2026" in flat(pdftotext(by_name["Camille Dubois"].path.read_bytes(), tmp_path))
    assert "du 5 octobre 2026 au 9 octobre 2026" in flat(pdftotext(by_name["Lucas Bernard"].path.read_bytes(), tmp_path))


async def test_every_document_type_renders_scans_and_reads(demo_hub, tmp_path):
    hub = demo_hub
    camille = await learner_id(hub, "Camille Dubois")
    report = next(r for r in await hub.journey_reports(learner_id=camille))
    expectations = {
        "attestation_assiduite": ["ATTESTATION D'ASSIDUITÉ", "Durée prévue 70 heures", "dont présentiel 35 heures",
                                  "Demi-journées émargées 10 sur 10", "Taux d'assiduité"],
        "attestation_fin_formation": ["ATTESTATION DE FIN DE FORMATION", "article L. 6353-1 du Code du travail",
                                      "Nature de l'action : action de formation", "Durée de l'action : 70 heures",
                                      "Concevoir une interface web en composants React",
                                      "Tester et livrer une application web",
                                      "Résultats de l'évaluation des acquis de la formation",
                                      "Projet final : application React + API : 18/20, acquis",
                                      "Formation suivie jusqu'à son terme."],
        "releve_competences": ["RELEVÉ DE COMPÉTENCES", "Compétences visées", "Quiz — Composants React",
                               "Projet final : application React + API 18/20 acquis 16 octobre 2026"],
        "certificat_realisation": ["CERTIFICAT DE RÉALISATION"],
    }
    for doc_type, needles in expectations.items():
        run = await issue_documents(services_of(hub), learner_id=camille, doc_type=doc_type, today=TODAY)
        (doc,) = run.issued
        pdf = hub.blobs.get(doc.sha256)
        (text,) = zbar(render_png(pdf, tmp_path))
        doc_id, payload_text = P.parse_url(text)
        payload = P.parse(payload_text)
        assert payload.doc_type == doc_type and P.check_signature(payload, doc_id, KeyRing(keys_dir(hub.config)).get(payload.kid))
        page = flat(pdftotext(pdf, tmp_path))
        for needle in needles + ["Camille Dubois", TITLE, ORG["name"], ORG["siret"], ORG["nda"], doc.id,
                                 "du 5 octobre 2026 au 16 octobre 2026"]:
            assert needle in page, (doc_type, needle, page)
        realised = f"{report.realised_hours.normalize():f}".replace(".", ",")
        if doc_type in ("attestation_assiduite", "attestation_fin_formation", "certificat_realisation"):
            assert f"{realised} heures" in page
        assert f"{DOCUMENT_TYPES[doc_type]} n° {doc.id}" in page


async def test_incomplete_enrolment_needs_allow_incomplete_and_the_gaps_are_recorded(demo_hub):
    hub = demo_hub
    theo = await learner_id(hub, "Théo Garnier")
    run = await issue_documents(services_of(hub), learner_id=theo, today=TODAY)
    assert not run.issued and "half_day_no_trainer_signature 2026-10-07/am" in run.refused[0].reason
    assert await events_of(hub, "document.issued") == []
    run = await issue_documents(services_of(hub), learner_id=theo, today=TODAY, allow_incomplete=True, actor="claire")
    (doc,) = run.issued
    (event,) = await events_of(hub, "document.issued")
    details = event["data"]["details"]
    assert details["issued_incomplete"] is True
    assert [(g["code"], g["subject"]) for g in details["proof_gaps"]] == [("half_day_no_trainer_signature", "2026-10-07/am")]
    admin = [e for e in await events_of(hub, "admin.action") if "--allow-incomplete" in e["data"]["command"]]
    assert admin[-1]["data"]["actor"] == "claire"
    assert admin[-1]["data"]["details"]["documents"] == {doc.id: ["half_day_no_trainer_signature 2026-10-07/am"]}
    # other documents do not depend on proof completeness
    assert len((await issue_documents(services_of(hub), learner_id=theo, doc_type="attestation_fin_formation", today=TODAY)).issued) == 1


async def test_reissue_supersedes_the_previous_document(demo_hub):
    hub = demo_hub
    ines = await learner_id(hub, "Inès Haddad")
    first = (await issue_documents(services_of(hub), learner_id=ines, today=TODAY)).issued[0]
    second = (await issue_documents(services_of(hub), learner_id=ines, today=TODAY, force=True)).issued[0]
    assert second.supersedes == first.id and first.supersedes is None
    event = await hub.store.call(hub.store.get_event, second.id)
    assert event["supersedes"] == first.id
    third = (await issue_documents(services_of(hub), learner_id=ines, today=TODAY, force=True)).issued[0]
    assert third.supersedes == second.id
    other = (await issue_documents(services_of(hub), learner_id=ines, doc_type="releve_competences", today=TODAY)).issued[0]
    assert other.supersedes is None  # another type is another document


async def test_issuing_again_what_is_already_issued_is_a_no_op(demo_hub):
    hub = demo_hub
    first = await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY)
    assert len(first.issued) == 11 and not first.unchanged
    count = await hub.store.call(hub.store.count_events)
    # the next day, nothing new: no document, no event (the date of issue alone is no change)
    again = await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY + dt.timedelta(days=1))
    assert not again.issued and len(again.refused) == 1
    assert sorted(u.document for u in again.unchanged) == sorted(d.id for d in first.issued)
    assert await hub.store.call(hub.store.count_events) == count
    # a revoked document is no longer current: issuing gives a new one
    revoked = first.issued[0]
    await revoke_document(services_of(hub), revoked.id, "erreur de saisie")
    count = await hub.store.call(hub.store.count_events)
    after = await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY)
    assert [(d.learner_id, d.supersedes) for d in after.issued] == [(revoked.learner_id, revoked.id)]
    assert await hub.store.call(hub.store.count_events) == count + 1
    # new evidence that changes what the document says: a new document that supersedes the old one
    theo = await learner_id(hub, "Théo Garnier")
    await hub.append([{"type": "attendance.signed", "occurred_at": "2026-10-07T12:40:00+02:00",
                       "source_id": "cosign-theo-2026-10-07", "learner": {"ref": "apprenant-04"},
                       "action": DEMO_ACTION, "data": {"date": "2026-10-07", "half_day": "am", "signer": "learner",
                                                       "trainer_cosigned": True, "trainer_name": "Sophie Lambert"}}],
                     source="demo")
    closed = await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY)
    assert [d.learner_id for d in closed.issued] == [theo] and not closed.refused and len(closed.unchanged) == 11
    # --force re-issues every one
    forced = await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY, force=True)
    assert len(forced.issued) == 12 and all(d.supersedes for d in forced.issued)


LONG = ("Marie-Éloïse Anne-Sophie O'Connor-Lefèvre de la Tour d'Auvergne et de Saint-Exupéry-Çàrrière "
        "Œuvray-Ñúñez Łukasiewicz-Dąbrowska")


async def test_apostrophes_accents_and_a_very_long_name_render(demo_hub, tmp_path):
    hub = demo_hub
    base = {"learner": {"ref": "long-1", "email": "long@example.fr", "name": LONG}, "action": DEMO_ACTION}
    items = [
        dict(base, type="enrolment.agreement_signed", occurred_at="2026-09-01T10:00:00+02:00", source_id="conv-long", data={}),
        dict(base, type="enrolment.started", occurred_at="2026-10-05T09:00:00+02:00", source_id="start-long", data={"date": "2026-10-05"}),
    ]
    days = ["2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08", "2026-10-09", "2026-10-12", "2026-10-13",
            "2026-10-14", "2026-10-15", "2026-10-16"]
    for day in days:
        items.append(dict(base, type="attendance.signed", occurred_at=f"{day}T09:05:00+02:00", source_id=f"sig-long-{day}",
                          data={"date": day, "half_day": "am", "trainer_cosigned": True}))
        items.append(dict(base, type="lms.session", occurred_at=f"{day}T17:00:00+02:00", source_id=f"sess-long-{day}",
                          data={"start": f"{day}T14:00:00+02:00", "end": f"{day}T17:00:00+02:00", "duration_seconds": 10800}))
    # connection logs alone do not prove distance learning: the work done and the tutor's assistance beside them
    items.append(dict(base, type="lms.activity_completed", occurred_at="2026-10-16T16:30:00+02:00",
                      source_id="act-long", data={"activity": "mod-react", "activity_name": "Composants React"}))
    items.append(dict(base, type="lms.tutor_interaction", occurred_at="2026-10-14T15:00:00+02:00",
                      source_id="tutor-long", data={"kind": "feedback", "tutor": "Sophie Lambert"}))
    items.append(dict(base, type="enrolment.completed", occurred_at="2026-10-16T17:30:00+02:00",
                      source_id="done-long", data={"date": "2026-10-16"}))
    await hub.append(items, source=None)
    who = await learner_id(hub, LONG)
    run = await issue_documents(services_of(hub), learner_id=who, today=TODAY)
    assert len(run.issued) == 1, run
    (doc,) = run.issued
    pdf = hub.blobs.get(doc.sha256)
    page = pdftotext(pdf, tmp_path)
    assert LONG in flat(page)
    assert not any(LONG in line for line in page.splitlines())  # it wrapped over several lines
    assert all(len(line) < 120 for line in page.splitlines())  # and no line runs off the page
    assert "65 heures" in flat(page)  # 10 × 3.5 h signed + 10 × 3 h FOAD
    (text,) = zbar(render_png(pdf, tmp_path))
    assert text == doc.url
    embedded, _ = read_embedded(pdf)
    assert embedded["fields"]["learner"] == LONG
    assert json.loads(P.canonical(embedded["fields"]))["learner"] == LONG


def test_render_workers_zero_means_one_per_core():
    import os

    from hub.documents.issue import render_workers
    from hub.errors import HubError

    assert render_workers(0) == len(os.sched_getaffinity(0))
    assert render_workers(3) == 3
    with pytest.raises(HubError, match="jobs must be 0"):
        render_workers(-1)

"""A person's rights over their data (hub.rights, `parcours learner export|rectify`) on the demo data:
the export holds everything about one learner and nothing about another, matches its JSON Schema,
is recorded in the ledger; a rectification corrects the projections, re-issues the documents and the
old ones read « remplacé par … (motif : rectification …) » on the public /verify page."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
import zipfile
from pathlib import Path

import jsonschema_rs  # schemathesis's validator, in the test dependencies
import pytest

from hub.documents.issue import issue_documents
from hub.documents.fr import date_fr
from hub.documents.services import services_of
from hub.documents.verify import load_record, verify_bytes
from hub.documents.keys import KeyRing
from hub.documents.settings import keys_dir
from hub.ledger.integrity import seal, verify
from hub.rights.export import ExportError, export_learner
from hub.rights.learners import UnknownLearner
from hub.rights.rectify import RectificationError, rectify_learner
from hub.runtime.app import Hub
from tests.conftest import BASE_HUB
from tests.documents.conftest import HUB_EXTRA, TODAY, flat, learner_id, open_demo_hub, pdftotext
from tests.documents.test_cli import invoke
from tests.test_journeys import DEMO_ACTION, ROOT, demo_config

SCHEMA = json.loads((ROOT / "docs" / "learner-export.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(name="demo_hub")
async def demo_hub_fixture(make_hub, workdir):
    return await open_demo_hub(make_hub, workdir)


@pytest.fixture(name="configured")
def configured_fixture(workdir, plugins):
    """The demo's configuration file, its events ingested and the documents' key made (for the CLI)."""
    path = workdir / "hub.yaml"
    path.write_text(textwrap.dedent(BASE_HUB + HUB_EXTRA + demo_config(workdir)), encoding="utf-8")

    async def ingest():
        hub = Hub.open(path, env={}, plugins=plugins)
        try:
            assert (await hub.pull("demo")).appended == 543
        finally:
            await hub.stop()

    asyncio.run(ingest())
    return path


async def _camille(hub) -> str:
    return await learner_id(hub, "Camille Dubois")


async def test_the_export_holds_everything_about_the_person_and_matches_its_schema(demo_hub, workdir):
    hub = demo_hub
    await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY)
    camille, lucas = await _camille(hub), await learner_id(hub, "Lucas Bernard")
    sheet = hub.blobs.put(b"%PDF-1.4 feuille signee", media_type="application/pdf", name="emargement.pdf")
    await hub.append([{"type": "attendance.signed", "occurred_at": "2026-10-05T12:30:00+02:00", "source_id": "sheet-9",
                       "learner": {"ref": "apprenant-01", "email": "camille.dubois@example.fr"}, "action": DEMO_ACTION,
                       "data": {"date": "2026-10-05", "half_day": "am"},
                       "evidence": [sheet.model_dump(exclude_none=True)]}], source="emargement")
    out = workdir / "exports" / "camille.zip"
    result = await export_learner(services_of(hub), "email:Camille.Dubois@example.fr", out, by="dpo")
    assert result.learner == camille and out.stat().st_mode & 0o777 == 0o600
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "no temporary file is left"
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        data = json.loads(z.read("data.json"))
        events = [json.loads(line) for line in z.read("events.ndjson").splitlines()]
        manifest = json.loads(z.read("manifest.json"))
        pdf = z.read("donnees-personnelles.pdf")
        certificate = [d for d in data["documents"] if d["type"] == "certificat_realisation"][0]
        assert z.read(certificate["file"])[:5] == b"%PDF-"
    jsonschema_rs.Draft202012Validator(SCHEMA).validate(data)
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert data["learner"]["id"] == camille and data["learner"]["name"] == "Camille Dubois"
    assert {e["learner_id"] for e in events} == {camille} and data["events"]["count"] == len(events) > 10
    ledger = [e for e in await hub.store.call(lambda: list(hub.store.iter_events()))
              if e.get("learner_id") == camille and e["id"] != result.event_id]  # the export is recorded after
    assert [e["id"] for e in events] == [e["id"] for e in ledger], "every event about her, in ledger order"
    assert f"evidence/{sheet.sha256}.pdf" in names and any(e["sha256"] == sheet.sha256 for e in data["evidence"])
    assert [j["action"] for j in data["journeys"]] == [DEMO_ACTION] and f"parcours/{DEMO_ACTION}.pdf" in names
    assert certificate["status"] == "current" and certificate["action"] == DEMO_ACTION
    assert lucas not in json.dumps(data) and lucas not in json.dumps(events), "nobody else's data"
    text = pdftotext(pdf, workdir)
    assert "Vos données personnelles" in text and "Camille Dubois" in text and "Certificat de réalisation" in text
    with zipfile.ZipFile(out) as z:
        summary = flat(pdftotext(z.read(f"parcours/{DEMO_ACTION}.pdf"), workdir))
    assert f"certificat_realisation {certificate['id']} {date_fr(certificate['issued_at'][:10])}" in summary
    # recorded: who asked, the digest of what was handed over, and no personal data beyond the id
    recorded = await hub.store.call(hub.store.get_event, result.event_id)
    assert recorded["type"] == "privacy.data_exported" and recorded["learner_id"] == camille
    assert recorded["data"] == {"learner": camille, "by": "dpo", "channel": "cli", "format": "both",
                                "sha256": result.sha256}
    assert "Camille" not in json.dumps(recorded)


async def test_formats_unknown_learner_and_a_failed_write_leave_no_file(demo_hub, workdir, monkeypatch):
    hub = demo_hub
    camille = await _camille(hub)
    only_json = workdir / "json.zip"
    await export_learner(services_of(hub), camille, only_json, fmt="json")
    only_pdf = workdir / "pdf.zip"
    await export_learner(services_of(hub), camille, only_pdf, fmt="pdf")
    with zipfile.ZipFile(only_json) as z:
        assert "data.json" in z.namelist() and not [n for n in z.namelist() if n.endswith(".pdf")]
    with zipfile.ZipFile(only_pdf) as z:
        assert "donnees-personnelles.pdf" in z.namelist() and "data.json" not in z.namelist()
        assert "events.ndjson" not in z.namelist()
    with pytest.raises(UnknownLearner, match="unknown learner 'email:nobody@example.fr'"):
        await export_learner(services_of(hub), "email:nobody@example.fr", workdir / "x.zip")
    with pytest.raises(ExportError, match="is a .zip file"):
        await export_learner(services_of(hub), camille, workdir / "x.tar")
    from hub.rights import overview_pdf

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(overview_pdf, "render_overview", broken)
    before = await hub.store.call(hub.store.max_seq)
    with pytest.raises(ExportError, match="No space left on device; nothing was kept"):
        await export_learner(services_of(hub), camille, workdir / "full.zip")
    assert not list(workdir.glob("*full.zip*")) and await hub.store.call(hub.store.max_seq) == before


def test_the_cli_exports_rectifies_and_exits_2_for_an_unknown_learner(configured, workdir):
    out = workdir / "cli.zip"
    code, printed = invoke("learner", "export", "email:camille.dubois@example.fr", "--out", out, "--format", "json",
                           "--config", configured, "--json")
    assert code == 0, printed
    assert json.loads(printed)["events"] > 10 and out.exists()
    code, printed = invoke("learner", "export", "nobody", "--out", workdir / "n.zip", "--config", configured)
    assert code == 2 and "unknown learner 'nobody'" in printed and not (workdir / "n.zip").exists()
    code, printed = invoke("learner", "rectify", "email:camille.dubois@example.fr", "--field", "name", "--value",
                           "Camille Dubois-Martin", "--reason", "nom d'usage", "--config", configured)
    assert code == 0 and "name rectified" in printed, printed
    code, printed = invoke("learner", "rectify", "email:camille.dubois@example.fr", "--field", "name", "--value",
                           "Camille Dubois-Martin", "--reason", "encore", "--config", configured)
    assert code == 2 and "already: nothing to correct" in printed
    code, printed = invoke("learner", "rectify", "nobody", "--field", "name", "--value", "X", "--reason", "y",
                           "--config", configured)
    assert code == 2 and "unknown learner 'nobody'" in printed


async def test_rectification_corrects_the_projections_and_reissues_the_documents(demo_hub, workdir):
    hub = demo_hub
    services = services_of(hub)
    run = await issue_documents(services, action=DEMO_ACTION, today=TODAY)
    camille = await _camille(hub)
    (old,) = [d for d in run.issued if d.learner_id == camille]
    result = await rectify_learner(services, camille, "name", "Camille Dubois-Martin", "nom d'usage mal saisi",
                                   actor="dpo")
    (event_id,) = result["events"]
    (new,) = [d for d in result["reissued"] if "id" in d]
    assert new["replaces"] == old.id and new["learner_name"] == "Camille Dubois-Martin"
    # projections: the journey, the registry
    (report,) = await hub.journey_reports(learner_id=camille)
    assert report.learner_name == "Camille Dubois-Martin"
    assert (await hub.store.call(hub.store.learner, camille))["name"] == "Camille Dubois-Martin"
    # a source sending the old name again does not undo the correction
    await hub.append([{"type": "lms.progress", "occurred_at": "2026-10-20T10:00:00+02:00", "source_id": "p-1",
                       "learner": {"ref": "apprenant-01", "email": "camille.dubois@example.fr", "name": "Camille Dubois"},
                       "action": DEMO_ACTION, "data": {"percent": 80}}], source="demo")
    (report,) = await hub.journey_reports(learner_id=camille)
    assert report.learner_name == "Camille Dubois-Martin"
    # the ledger keeps the correction with its reason; the old certificate reads as replaced, for rectification
    recorded = await hub.store.call(hub.store.get_event, event_id)
    assert recorded["data"]["previous"] == "Camille Dubois" and recorded["data"]["reason"] == "nom d'usage mal saisi"
    keys = KeyRing(keys_dir(hub.config)).lookup()
    verdict = await verify_bytes(hub.blobs.get(old.sha256), keys=keys, load=lambda d: load_record(services, d),
                                 use_qr=False)
    assert verdict.status == "superseded" and verdict.superseded_by == new["id"]
    assert verdict.message_fr == (f"Document authentique mais remplacé par le document n° {new['id']} "
                                  "(motif : rectification des données de l'apprenant)")
    fresh = await verify_bytes(hub.blobs.get(new["sha256"]), keys=keys, load=lambda d: load_record(services, d),
                               use_qr=False)
    assert fresh.status == "valid" and fresh.fields["learner"] == "Camille Dubois-Martin"
    # a second correction of the same field supersedes the first one; a rebuild gives the same name
    again = await rectify_learner(services, camille, "name", "Camille Martin", "second nom d'usage", actor="dpo")
    assert (await hub.store.call(hub.store.get_event, again["events"][0]))["supersedes"] == event_id
    from hub.journeys import rebuild

    await hub.store.call(rebuild, hub.store)
    (report,) = await hub.journey_reports(learner_id=camille)
    assert report.learner_name == "Camille Martin"
    # the ledger still verifies: nothing was rewritten, the corrections are new sealed events
    await hub.store.call(seal, hub.store)
    report = await hub.store.call(verify, hub.store)
    assert report.ok and report.unsealed == 0


async def test_rectification_refuses_bad_input_before_recording_anything(demo_hub):
    hub = demo_hub
    services = services_of(hub)
    camille = await _camille(hub)
    before = await hub.store.call(hub.store.max_seq)
    with pytest.raises(RectificationError, match="--field 'birth_place'"):
        await rectify_learner(services, camille, "birth_place", "Lyon", "x")
    with pytest.raises(RectificationError, match="--reason is empty"):
        await rectify_learner(services, camille, "name", "Camille D.", "  ")
    with pytest.raises(RectificationError, match="is 'Camille Dubois' already"):
        await rectify_learner(services, camille, "name", "Camille Dubois", "rien")
    with pytest.raises(RectificationError, match="not an e-mail address"):
        await rectify_learner(services, camille, "email", "camille", "coquille")
    with pytest.raises(UnknownLearner):
        await rectify_learner(services, "email:nobody@example.fr", "name", "X", "y")
    assert await hub.store.call(hub.store.max_seq) == before


def test_the_schema_documents_every_field_of_the_export():
    text = (ROOT / "docs" / "personal-data.md").read_text(encoding="utf-8")
    jsonschema_rs.meta.validate(SCHEMA)
    for name in SCHEMA["properties"]:
        assert f"`{name}`" in text, f"docs/personal-data.md does not describe {name}"
    assert os.path.basename("docs/learner-export.schema.json") in text
    assert Path(ROOT / "docs" / "README.md").read_text(encoding="utf-8").count("personal-data.md") >= 1


def test_consent_events_of_any_consent_type_are_listed_as_consents():
    """The consent types come with the consent feature (consent.given, consent.withdrawn): the export
    lists every consent.* event of the person, whichever the hub knows."""
    from hub.rights.export import _Tracked

    tracked = _Tracked()
    for n, kind in enumerate(["consent.given", "lms.session", "consent.withdrawn", "privacy.rectified"]):
        tracked.note({"id": f"E{n}", "type": kind, "occurred_at": "2026-10-05T09:00:00+00:00", "action": None,
                      "data": {"purpose": "employer_progress"} if kind.startswith("consent.") else
                      {"field": "name", "value": "X", "reason": "r", "by": "dpo"}})
    assert [c["type"] for c in tracked.consents] == ["consent.given", "consent.withdrawn"]
    assert [r["event"] for r in tracked.rectifications] == ["E3"]
    assert tracked.by_type == {"consent.given": 1, "lms.session": 1, "consent.withdrawn": 1, "privacy.rectified": 1}


async def test_a_person_without_enrolment_is_rectified_and_exported(demo_hub, workdir):
    hub = demo_hub
    await hub.append([{"type": "prospect.contact_created", "occurred_at": "2026-09-01T10:00:00+02:00",
                       "source_id": "contact-77", "learner": {"ref": "c-77", "email": "ines.roux@example.fr",
                                                              "name": "Inès Rou"},
                       "data": {"email": "ines.roux@example.fr", "first_name": "Inès", "last_name": "Rou"}}],
                     source="crm")
    result = await rectify_learner(services_of(hub), "email:ines.roux@example.fr", "name", "Inès Roux",
                                   "faute de frappe", actor="dpo")
    (event_id,) = result["events"]
    assert result["reissued"] == []
    recorded = await hub.store.call(hub.store.get_event, event_id)
    assert recorded["action"] is None and recorded["data"]["previous"] == "Inès Rou"
    out = workdir / "ines.zip"
    await export_learner(services_of(hub), "email:ines.roux@example.fr", out, fmt="json")
    with zipfile.ZipFile(out) as z:
        data = json.loads(z.read("data.json"))
    assert data["learner"]["name"] == "Inès Roux" and data["journeys"] == []
    assert [r["event"] for r in data["rectifications"]] == [event_id]
    assert data["events"]["by_type"] == {"privacy.rectified": 1, "prospect.contact_created": 1}

"""The certificat de réalisation's distance note states the rule that computed its hours: the same
rules object (connection time capped per day, activity estimates), signed with the other fields."""

from __future__ import annotations

import datetime as dt

from hub.documents.issue import issue_documents
from hub.documents.services import services_of
from tests.documents.conftest import TODAY, flat, learner_id, pdftotext
from tests.documents.test_verify import online
from hub.documents.verify import read_embedded, verify_bytes


async def certificat(hub, tmp_path, name="Camille Dubois", **options):
    who = await learner_id(hub, name)
    run = await issue_documents(services_of(hub), learner_id=who, today=TODAY, force=True, **options)
    (doc,) = run.issued
    pdf = hub.blobs.get(doc.sha256)
    return read_embedded(pdf)[0]["fields"], pdf, flat(pdftotext(pdf, tmp_path))


async def test_the_distance_note_says_how_the_foad_hours_were_counted(demo_hub, tmp_path):
    hub = demo_hub
    fields, pdf, page = await certificat(hub, tmp_path)
    assert "réalisée en tout ou partie à distance" in page
    assert "temps de connexion de l'apprenant, dans la limite de 7 heures par jour" in page
    assert "temps estimé" not in page  # activity estimates are not counted by default
    assert (await verify_bytes(pdf, **online(hub))).status == "valid"
    first_hours = fields["hours"]

    rules = hub.config.hub.realisation
    rules.foad_daily_cap = dt.timedelta(hours=1, minutes=30)
    rules.foad_count_activity_estimates = True
    fields, pdf, page = await certificat(hub, tmp_path)
    assert "dans la limite de 1,5 heure par jour" in page and "7 heures par jour" not in page
    assert "le temps estimé pour réaliser chaque activité pédagogique achevée" in page
    assert fields["distance"]["foad"] == {"connection_daily_cap": "1.5", "activity_estimates": "oui",
                                              "capped_at_planned": "oui"}
    assert fields["hours"] != first_hours  # the same rules computed the hours
    verdict = await verify_bytes(pdf, **online(hub))
    assert verdict.status == "valid", verdict.as_dict()
    shown = {row["label"]: row["value"] for row in verdict.as_dict()["shown"]}
    assert "1,5 heure par jour" in flat(shown["Décompte à distance"])


async def test_a_classroom_only_certificat_has_no_distance_note(demo_hub, tmp_path):
    """A `mixte` action whose half-days are all in the room: no distance figure, so no note about
    a distance computation that did not happen."""
    hub = demo_hub
    action = hub.config.model.actions["ACT-2026-REACT-01"]
    assert action.modality == "mixte"
    action.pattern.pm.modality = "presentiel"
    action.__dict__.pop("_schedule", None)  # the cached schedule
    fields, _, page = await certificat(hub, tmp_path, allow_incomplete=True)
    assert "distance" not in fields and "à distance" not in page


def test_an_overridden_distance_note_must_print_the_rule_applied(tmp_path):
    from hub.documents.templates import load_templates
    from hub.errors import ConfigError

    (tmp_path / "certificat_realisation.yaml").write_text(
        "distance_note: \"La durée tient compte des activités réalisées et du temps estimé.\"\n", encoding="utf-8")
    try:
        load_templates(tmp_path)
    except ConfigError as exc:
        assert "distance_note must print {distance_rule}" in str(exc)
    else:
        raise AssertionError("a distance note describing another computation was accepted")
    (tmp_path / "certificat_realisation.yaml").write_text("distance_note: \"À distance, on compte {distance_rule}.\"\n",
                                                          encoding="utf-8")
    assert "{distance_rule}" in load_templates(tmp_path)["certificat_realisation"]["distance_note"]
    (tmp_path / "certificat_realisation.yaml").write_text("distance_note: \"\"\n", encoding="utf-8")  # left out
    assert load_templates(tmp_path)["certificat_realisation"]["distance_note"] == ""

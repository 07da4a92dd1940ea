"""France Travail format: AIS, AES, attendance statement, exits and LHÉO sessions; profiles; bad input.

Golden files live in ``golden/``; ``UPDATE_GOLDEN=1 pytest tests/formats`` rewrites them (review the diff).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import textwrap
from pathlib import Path

import pytest

from funder_formats.france_travail import PROFILES, FranceTravailProfile
from hub.profiles import load_profile
from funder_formats.france_travail.lheo import SCHEMA, schema
from hub.errors import ConfigError
from hub.formats import Period
from hub.plugins import load_plugins
from tests.formats.france_travail.helpers import (
    FT_DEMO,
    WINTER,
    check_golden,
    demo_with_ids,
    identity_events,
    winter_events,
    with_organisation,
)
from tests.test_journeys import demo_config

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
LHEO = """
    lheo:
      formacode_version: V13
      contact: {nom: Fontaine, prenom: Claire, telephone: "04 72 00 00 00", courriel: contact@of-demo.example.fr}
      defaults:
        public_vise: ["80056"]
        modalites_alternance: "Formation sans période en entreprise"
        conditions_specifiques: "Aucune"
      actions:
        ACT-2026-REACT-01:
          formacodes: ["31054"]
          contenu: "JavaScript moderne, composants React, état et hooks, API REST, tests"
          resultats_attendus: "Attestation de fin de formation et relevé de compétences"
        ACT-2025-HIVER:
          formacodes: ["42752"]
          contenu: "Accueil physique et téléphonique, gestion des visiteurs"
"""
EXPORTS = "exports:\n  ft:\n    kind: france_travail\n    default_remuneration: AREF\n" + LHEO


def rows(path: Path, delimiter: str = ";", encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding)), delimiter=delimiter))


def by_file(folder: Path) -> dict[str, Path]:
    return {re.sub(r"_73282932000074_.*", "", p.name): p for p in folder.iterdir()}


async def demo_hub(make_hub, workdir, exports: str = EXPORTS, ids: bool = True):
    hub = await make_hub(demo_with_ids(workdir, exports))
    await hub.pull("demo")
    if ids:
        await hub.append(identity_events(FT_DEMO), source=None)
    return hub


async def winter_hub(make_hub, workdir, exports: str = EXPORTS):
    hub = await make_hub(with_organisation(demo_config(workdir) + WINTER + exports))
    await hub.append(winter_events(), source=None)
    return hub


def test_registered_through_the_entry_point():
    host = load_plugins(env={})
    assert "france_travail" in host.funder_format_classes()
    info = next(i for i in host.infos if i.name == "france_travail")
    assert info.hooks == ["register_funder_formats"] and info.distribution == "parcours-hub"


async def test_demo_month_golden(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    out = await hub.export("ft", Period.parse("2026-10"))
    assert out.written and not out.missing
    check_golden(out.folder, GOLDEN / "demo-2026-10")
    files = by_file(out.folder)
    assert out.files == ["AES_73282932000074_2026-10.csv", "AIS_73282932000074_2026-10.csv",
                         "ETAT_PRESENCE_73282932000074_2026-10.csv", "ETAT_PRESENCE_DETAIL_73282932000074_2026-10.csv",
                         "LHEO_SESSIONS_73282932000074_2026-10.xml", "SORTIES_73282932000074_2026-10.csv", "manifest.json"]
    attendance = {r[2]: r for r in rows(files["ETAT_PRESENCE"])[1:]}
    assert set(attendance) == {"Yasmine", "Hugo", "Lucas"}  # France Travail's three job-seekers only
    lucas = attendance["Lucas"]
    assert lucas[0] == "3456789C" and lucas[7] == "35,00" and lucas[8] == "17,50" and lucas[14] == "09/10/2026"
    exits = {r[2]: r for r in rows(files["SORTIES"])[1:]}
    assert exits["Lucas"][6:9] == ["09/10/2026", "abandon", "reprise d'un emploi"]
    assert schema().is_valid(files["LHEO_SESSIONS"].read_text(encoding="utf-8"))
    # registration happened in August: the AIS of the month before
    august = await hub.export("ft", Period.parse("2026-08"))
    ais = rows(by_file(august.folder)["AIS"])
    assert [r[1] for r in ais[1:]] == ["Benali", "Bernard", "Lefèvre"] and ais[1][3] == "29/08/2026"
    assert any("no LHÉO file" in n for n in august.notes)


async def test_edge_cases_golden(make_hub, workdir):
    """Dropout mid-month, learner-only signature, an action over two months and two years, two funders."""
    hub = await winter_hub(make_hub, workdir)
    december = await hub.export("ft", Period.parse("2025-12"))
    january = await hub.export("ft", Period.parse("2026-01"))
    assert december.written and january.written
    check_golden(december.folder, GOLDEN / "winter-2025-12")
    check_golden(january.folder, GOLDEN / "winter-2026-01")
    dec = by_file(december.folder)
    attendance = {r[1]: r for r in rows(dec["ETAT_PRESENCE"])[1:]}
    assert set(attendance) == {"Roux", "Petit"}  # Chloé Martin is funded by the Région only
    roux, petit = attendance["Roux"], attendance["Petit"]
    # 10 days of 6.5 h (24, 25 and 31 Dec excluded); 17 Dec pm, signed without the trainer, counts as present;
    # 19 Dec am (3 h) unjustified; the completion in January is not an exit of December
    assert roux[3] == "FT-PEC-7781" and roux[7:15] == ["65,00", "62,00", "0,00", "0,00", "3,00", "0", "OUI", ""]
    # Bastien Petit dropped out after Monday 22 Dec: six days, nothing after
    assert petit[7:10] == ["39,00", "39,00", "0,00"] and petit[13:] == ["NON", "22/12/2025"]
    detail = rows(dec["ETAT_PRESENCE_DETAIL"])
    assert detail[1][4:] == ["19/12/2025", "matin", "09:00", "12:00", "3,00", "absence injustifiée", "NON",
                             "absence non justifiée"] and len(detail) == 2
    assert rows(dec["SORTIES"])[1][1] == "Petit" and rows(dec["SORTIES"])[1][7:9] == ["abandon", "raisons de santé"]
    assert [r[1] for r in rows(dec["AES"])[1:]] == ["Petit", "Roux"]
    jan = by_file(january.folder)
    (roux_jan,) = rows(jan["ETAT_PRESENCE"])[1:]
    # 11 days (1 Jan excluded); 6 Jan am justified (3 h), 8 Jan pm unsigned (3.5 h) counted as unjustified
    assert roux_jan[7:15] == ["71,50", "65,00", "0,00", "3,00", "3,50", "1", "OUI", "16/01/2026"]
    assert [r[9] for r in rows(jan["ETAT_PRESENCE_DETAIL"])[1:]] == ["absence justifiée", "non émargé"]
    assert rows(jan["AES"])[1:] == [] and [r[1] for r in rows(jan["SORTIES"])[1:]] == ["Roux"]
    for folder in (december.folder, january.folder):
        xml = by_file(folder)["LHEO_SESSIONS"].read_text(encoding="utf-8")
        assert schema().is_valid(xml) and "<debut>20251215</debut>" in xml and "<fin>20260116</fin>" in xml
    assert any("Amandine Roux" in n and "R6341-45" in n for n in december.notes)


async def test_empty_period_gives_empty_valid_files(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    assert (await hub.export("ft", Period.parse("2027-03"))).status == "empty"  # nothing written unless forced
    out = await hub.export("ft", Period.parse("2027-03"), force=True)
    assert out.written and out.files == sorted(out.files)
    files = by_file(out.folder)
    assert "LHEO_SESSIONS" not in files
    for name in ("AIS", "AES", "ETAT_PRESENCE", "ETAT_PRESENCE_DETAIL", "SORTIES"):
        (header,) = rows(files[name])
        assert header[0] == "Identifiant France Travail"
    assert any("header only" in n for n in out.notes) and any("no LHÉO file" in n for n in out.notes)


async def test_missing_identifiers_write_nothing_unless_allowed(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir, ids=False)
    refused = await hub.export("ft", Period.parse("2026-10"))
    assert not refused.written and not (workdir / "var" / "exports" / "ft" / "2026-10" / "v1").exists()
    assert sorted((m.learner, m.field) for m in refused.missing) == [
        ("Hugo Lefèvre", "ids.france_travail"), ("Lucas Bernard", "ids.france_travail"),
        ("Yasmine Benali", "ids.france_travail")]
    assert "learner.ids.france_travail" in refused.missing[0].message
    forced = await hub.export("ft", Period.parse("2026-10"), allow_incomplete=True)
    assert forced.written and "missing" in forced.notes[-1]
    assert [r[0] for r in rows(by_file(forced.folder)["AES"])[1:]] == ["", "", ""]


async def test_lheo_lists_what_the_configuration_lacks(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir, exports="exports:\n  ft: {kind: france_travail, documents: [lheo]}\n")
    out = await hub.export("ft", Period.parse("2026-10"))
    assert not out.written
    assert sorted(m.field for m in out.missing) == [
        "lheo.conditions_specifiques", "lheo.contenu", "lheo.modalites_alternance", "lheo.public_vise",
        "lheo.resultats_attendus"]
    assert {m.learner for m in out.missing} == {"action ACT-2026-REACT-01"}


def test_lheo_schema_is_the_official_one_and_validates():
    text = SCHEMA.read_text(encoding="utf-8")
    assert len(text) == 213190 and 'targetNamespace="http://lheo.gouv.fr/2.3"' in text
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert digest in (SCHEMA.parent / "SOURCE.md").read_text(encoding="utf-8")
    broken = ('<lheo xmlns="http://lheo.gouv.fr/2.3"><offres><formation><domaine-formation/>'
              '<intitule-formation>x</intitule-formation></formation></offres></lheo>')
    assert not schema().is_valid(broken)


def write_profile(tmp: Path, body: str) -> Path:
    path = tmp / "mine.yaml"
    path.write_text((PROFILES / "france-travail.yaml").read_text(encoding="utf-8") if body is None else body,
                    encoding="utf-8")
    return path


def edited_profile(tmp: Path, old: str, new: str) -> Path:
    text = (PROFILES / "france-travail.yaml").read_text(encoding="utf-8")
    assert old in text
    return write_profile(tmp, text.replace(old, new, 1))


def test_profile_with_an_unknown_column_names_file_and_line(tmp_path):
    path = edited_profile(tmp_path, "field: learner.first_name", "field: learner.prenom")
    line = next(i for i, l in enumerate(path.read_text().splitlines(), 1) if "learner.prenom" in l)
    with pytest.raises(ConfigError) as err:
        load_profile(path, FranceTravailProfile)
    assert re.search(rf"mine\.yaml:{line}: documents\.ais\.columns\[2\]\.field: unknown column 'learner\.prenom'",
                     str(err.value))
    detail = edited_profile(tmp_path, "field: action.title}", "field: halfday.date}")
    with pytest.raises(ConfigError, match=r"half-day fields only exist in half-day documents"):
        load_profile(detail, FranceTravailProfile)


async def test_unknown_column_is_a_hub_config_error(make_hub, workdir):
    bad = edited_profile(workdir, "field: enrolment.exit_date, required: true", "field: enrolment.sortie")
    with pytest.raises(ConfigError) as err:
        await make_hub(with_organisation(f"exports:\n  ft: {{kind: france_travail, profile: {bad}}}\n"))
    message = str(err.value)
    assert re.search(r"hub\.yaml:\d+: exports\.ft\.profile: .*mine\.yaml:\d+: documents\.exits\.columns\[6\]\.field: "
                     r"unknown column 'enrolment\.sortie'", message)
    with pytest.raises(ConfigError, match="unknown built-in profile 'kairos'"):
        await make_hub(with_organisation("exports:\n  ft: {kind: france_travail, profile: kairos}\n"))


async def test_a_profile_changes_separators_encoding_and_formats(make_hub, workdir):
    text = (PROFILES / "france-travail.yaml").read_text(encoding="utf-8")
    text = (text.replace("encoding: utf-8", "encoding: cp1252").replace('delimiter: ";"', 'delimiter: ","')
            .replace('date_format: "%d/%m/%Y"', 'date_format: "%Y-%m-%d"').replace('decimal_separator: ","',
                                                                                 'decimal_separator: "."')
            .replace('"AES_{siret}_{period}.csv"', '"entrees-{export}-{period}.txt"')
            .replace("true_label: OUI", "true_label: Y").replace('line_terminator: "\\r\\n"', 'line_terminator: "\\n"'))
    profile = workdir / "cp1252.yaml"
    profile.write_text(text, encoding="utf-8")
    hub = await demo_hub(make_hub, workdir, exports=f"exports:\n  ft2:\n    kind: france_travail\n"
                         f"    profile: {profile.name}\n    documents: [aes, attendance]\n    default_remuneration: AREF\n")
    out = await hub.export("ft2", Period.parse("2026-10"))
    assert out.files == ["ETAT_PRESENCE_73282932000074_2026-10.csv", "entrees-ft2-2026-10.txt", "manifest.json"]
    raw = (out.folder / "entrees-ft2-2026-10.txt").read_bytes()
    assert b"Lef\xe8vre" in raw and b"\r\n" not in raw  # Windows-1252, LF
    aes = rows(out.folder / "entrees-ft2-2026-10.txt", delimiter=",", encoding="cp1252")
    assert aes[1][3] == "2026-10-05" and aes[1][8] == "70.00"


async def test_proof_rules_join_proofs_check(make_hub, workdir):
    hub = await winter_hub(make_hub, workdir)
    await hub.append([{
        "type": "funding.approved", "occurred_at": "2025-12-02T10:00:00+01:00", "source_id": "pec-nr",
        "action": "ACT-2025-HIVER", "learner": {"ref": "w9", "email": "w9@example.fr", "name": "Denis Sans-Réf"},
        "data": {"funder": "france-travail", "funder_kind": "france_travail"}}, {
        "type": "attendance.signed", "occurred_at": "2025-12-15T09:05:00+01:00", "source_id": "sig-nr",
        "action": "ACT-2025-HIVER", "learner": {"ref": "w9", "email": "w9@example.fr", "name": "Denis Sans-Réf"},
        "data": {"date": "2025-12-15", "half_day": "am", "trainer_cosigned": True}}, {
        "type": "enrolment.abandoned", "occurred_at": "2025-12-16T10:00:00+01:00", "source_id": "ab-nr",
        "action": "ACT-2025-HIVER", "learner": {"ref": "w9", "email": "w9@example.fr", "name": "Denis Sans-Réf"},
        "data": {"date": "2025-12-15"}}], source=None)
    rules = {r.name for r in hub.proof_rules()}
    assert {"ft:entry", "ft:dropout_reason", "ft:funding_reference"} <= rules
    gaps = {g.learner_name: [gap.code for rule, gap in g.gaps if rule.startswith("ft:")]
            for g in await hub.proof_gaps(action="ACT-2025-HIVER")}
    assert gaps["Denis Sans-Réf"] == ["ft_entry_not_recorded", "ft_dropout_without_reason",
                                      "ft_funding_without_reference"]
    assert gaps.get("Amandine Roux", []) == [] and gaps.get("Chloé Martin", []) == []


async def test_scheduled_by_the_hub(make_hub, workdir):
    import datetime as dt


    hub = await demo_hub(make_hub, workdir, exports=textwrap.dedent("""
        exports:
          ft-monthly: {kind: france_travail, documents: [attendance], schedule: {cron: "0 6 2 * *"}}
        """))
    outcome = await hub.exporter.scheduled("ft-monthly")
    last_month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    assert outcome.period == f"{last_month.year}-{last_month.month:02d}"


def test_docs_page_covers_every_option_and_column():
    from funder_formats.france_travail import FranceTravailConfig
    from hub.profiles.vocabulary import ENROLMENT_FIELDS, HALF_DAY_FIELDS
    from funder_formats.france_travail.lheo import LheoAction, LheoContact, LheoOptions

    doc = (HERE.parents[2] / "docs" / "formats" / "france_travail.md").read_text(encoding="utf-8")
    keys = [*FranceTravailConfig.model_fields, *FranceTravailProfile.model_fields, *LheoOptions.model_fields,
            *LheoAction.model_fields, *LheoContact.model_fields, *ENROLMENT_FIELDS, *HALF_DAY_FIELDS]
    assert [k for k in keys if k not in doc] == []

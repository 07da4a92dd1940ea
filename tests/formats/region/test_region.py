"""Région format: the monthly absence declaration, template-driven; two example Régions; bad input.

Golden files live in ``golden/``; ``UPDATE_GOLDEN=1 pytest tests/formats`` rewrites them (review the diff).
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from pathlib import Path

import pytest

from hub.profiles import load_profile
from funder_formats.region import PROFILES, RegionProfile
from hub.errors import ConfigError
from hub.formats import Period
from hub.plugins import load_plugins
from tests.formats.france_travail.helpers import (
    WINTER,
    check_golden,
    demo_with_ids,
    winter_events,
    with_organisation,
)
from tests.test_journeys import demo_config

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
EXPORTS = """
exports:
  hdf: {kind: region, profile: hauts-de-france, funders: [region-hdf]}
  cvl: {kind: region, profile: centre-val-de-loire}
"""


def rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding)), delimiter=";"))


def newcomer(i: int, type_: str, when: str, data: dict | None = None) -> dict:
    """A Région-funded trainee without NIR nor file number, whose justified absence has no reason."""
    return {"type": type_, "occurred_at": when, "source_id": f"n-{i}", "action": "ACT-2025-HIVER",
            "learner": {"ref": "w8", "email": "w8@example.fr", "name": "Élodie Sans-Dossier"}, "data": data or {}}


NEWCOMER = [
    newcomer(1, "funding.approved", "2025-12-01T10:00:00+01:00",
             {"funder": "region-hdf", "funder_kind": "region", "reference": "PRF-2025-120",
              "details": {"remuneration": "RSP"}}),
    newcomer(2, "enrolment.started", "2025-12-15T09:00:00+01:00", {"date": "2025-12-15"}),
    newcomer(3, "attendance.absent", "2025-12-15T12:00:00+01:00", {"date": "2025-12-15", "half_day": "am",
                                                                   "justified": True}),
]


async def winter_hub(make_hub, workdir, exports: str = EXPORTS, extra: list | None = None):
    hub = await make_hub(with_organisation(demo_config(workdir) + WINTER + exports))
    await hub.append(winter_events() + (extra or []), source=None)
    return hub


def test_registered_through_the_entry_point():
    host = load_plugins(env={})
    assert "region" in host.funder_format_classes()
    assert next(i for i in host.infos if i.name == "region").hooks == ["register_funder_formats"]
    assert sorted(p.stem for p in PROFILES.glob("*.yaml")) == ["centre-val-de-loire", "hauts-de-france"]


async def test_hauts_de_france_golden(make_hub, workdir):
    hub = await winter_hub(make_hub, workdir)
    december = await hub.export("hdf", Period.parse("2025-12"))
    january = await hub.export("hdf", Period.parse("2026-01"))
    check_golden(december.folder, GOLDEN / "hauts-de-france-2025-12")
    check_golden(january.folder, GOLDEN / "hauts-de-france-2026-01")
    (path,) = december.folder.glob("HDF_ABSENCES_*.csv")
    assert path.name == "HDF_ABSENCES_73282932000074_2025-12.csv"
    raw = path.read_bytes()
    assert b"Chlo\xe9" in raw and raw.endswith(b"\r\n")  # Windows-1252, CRLF
    table = rows(path, "cp1252")
    assert table[0][:4] == ["N° de dossier de rémunération", "N° de sécurité sociale", "Nom", "Prénom"]
    declared = {r[2]: r for r in table[1:]}
    assert set(declared) == {"Martin", "Roux"}  # Bastien Petit is funded by France Travail only
    # Amandine Roux, funded by France Travail and by the Région: the Région's funding and ids here
    assert declared["Roux"][:5] == ["RS1-2025-0042", "291056912345678", "Roux", "Amandine", "PRF-2025-118"]
    assert declared["Roux"][7:12] == ["65,00", "62,00", "0,00", "3,00", "OUI"]
    assert declared["Martin"][7:12] == ["65,00", "61,50", "0,00", "3,50", "OUI"]
    (jan,) = january.folder.glob("*.csv")
    roux = {r[2]: r for r in rows(jan, "cp1252")[1:]}["Roux"]
    assert roux[7:] == ["71,50", "65,00", "3,00", "3,50", "OUI", "16/01/2026", ""]
    assert any("2 trainee(s) declared" in n for n in december.notes)


async def test_centre_val_de_loire_golden(make_hub, workdir):
    hub = await winter_hub(make_hub, workdir)
    out = await hub.export("cvl", Period.parse("2026-01"))
    check_golden(out.folder, GOLDEN / "centre-val-de-loire-2026-01")
    (path,) = out.folder.glob("CVL_ABSENCES_*.csv")
    table = rows(path)
    assert table[0] == ["Région", "Centre-Val de Loire"]
    assert table[2] == ["Mois déclaré", "2026-01", "Stagiaires rémunérés", "2"]
    assert table[5][5:] == ["06/01/2026", "Matin", "3,00", "O", "convocation France Travail", "absence justifiée"]
    assert table[6][5:] == ["08/01/2026", "Après-midi", "3,50", "N", "", "non émargé"]
    assert table[-1] == ["Total heures d'absence injustifiée", "3,50"]


async def test_period_without_trainee_gives_an_empty_declaration(make_hub, workdir):
    hub = await make_hub(demo_with_ids(workdir, EXPORTS))
    await hub.pull("demo")  # nobody in the demo is paid by a Région
    assert (await hub.export("hdf", Period.parse("2026-10"))).status == "empty"  # nothing written unless forced
    out = await hub.export("hdf", Period.parse("2026-10"), force=True)
    assert out.written and out.files == ["HDF_ABSENCES_73282932000074_2026-10.csv", "manifest.json"]
    (header,) = rows(out.folder / out.files[0], "cp1252")
    assert header[0] == "N° de dossier de rémunération"
    assert any("no paid trainee of Hauts-de-France" in n for n in out.notes)
    empty = await hub.export("cvl", Period.parse("2026-10"), force=True)
    assert rows(empty.folder / empty.files[0])[2] == ["Mois déclaré", "2026-10", "Stagiaires rémunérés", "0"]


async def test_missing_identifiers_write_nothing_unless_allowed(make_hub, workdir):
    hub = await winter_hub(make_hub, workdir, extra=NEWCOMER)
    refused = await hub.export("hdf", Period.parse("2025-12"))
    assert not refused.written
    assert [(m.learner, m.field) for m in refused.missing] == [
        ("Élodie Sans-Dossier", "ids.region_file"), ("Élodie Sans-Dossier", "ids.nir")]
    assert "learner.ids.nir" in refused.missing[1].message
    forced = await hub.export("hdf", Period.parse("2025-12"), allow_incomplete=True)
    assert forced.written
    (path,) = forced.folder.glob("*.csv")
    assert {r[2]: r[:2] for r in rows(path, "cp1252")[1:]}["Sans-Dossier"] == ["", ""]


async def test_proof_rules_join_proofs_check(make_hub, workdir):
    hub = await winter_hub(make_hub, workdir, extra=NEWCOMER)
    assert {"hdf:absence_reason", "hdf:dropout_reason", "cvl:absence_reason"} <= {r.name for r in hub.proof_rules()}
    gaps = {g.learner_name: [(rule, gap.code, gap.date) for rule, gap in g.gaps if "hdf:" in rule]
            for g in await hub.proof_gaps(action="ACT-2025-HIVER")}
    # both Régions' exports check the same rule: one gap, naming both
    assert gaps["Élodie Sans-Dossier"] == [("hdf:absence_reason, cvl:absence_reason",
                                            "region_justified_absence_without_reason", "2025-12-15")]
    assert not gaps.get("Amandine Roux") and not gaps.get("Bastien Petit")


def bad_profile(tmp: Path, old: str, new: str, name: str = "hauts-de-france") -> Path:
    text = (PROFILES / f"{name}.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp / "ma-region.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_profile_with_an_unknown_column_names_file_and_line(tmp_path):
    path = bad_profile(tmp_path, "field: ids.nir", "field: learner.nir")
    line = next(i for i, l in enumerate(path.read_text().splitlines(), 1) if "learner.nir" in l)
    with pytest.raises(ConfigError, match=rf"ma-region\.yaml:{line}: columns\[1\]\.field: unknown column "
                                          r"'learner\.nir'"):
        load_profile(path, RegionProfile)


async def test_bad_profiles_are_hub_config_errors(make_hub, workdir):
    path = bad_profile(workdir, "field: halfday.reason", "field: halfday.motif", "centre-val-de-loire")
    with pytest.raises(ConfigError) as err:
        await make_hub(with_organisation(f"exports:\n  r: {{kind: region, profile: {path}}}\n"))
    assert re.search(r"hub\.yaml:\d+: exports\.r\.profile: .*ma-region\.yaml:\d+: absence_columns\[9\]\.field: "
                     r"unknown column 'halfday\.motif'", str(err.value))
    missing = bad_profile(workdir, "template: csv.j2", "template: nulle-part.csv.j2")
    with pytest.raises(ConfigError, match=r"template 'nulle-part\.csv\.j2' not found"):
        await make_hub(with_organisation(f"exports:\n  r: {{kind: region, profile: {missing}}}\n"))
    (workdir / "casse.csv.j2").write_text("ligne\n{% for row in learners %}\n{{ row.cells }\n")
    broken = bad_profile(workdir, "template: csv.j2", "template: casse.csv.j2")
    with pytest.raises(ConfigError, match=r"casse\.csv\.j2:3: template error"):
        await make_hub(with_organisation(f"exports:\n  r: {{kind: region, profile: {broken}}}\n"))
    with pytest.raises(ConfigError, match=r"exports\.r\.profile: Field required"):
        await make_hub(with_organisation("exports:\n  r: {kind: region}\n"))


async def test_a_new_region_is_a_profile(make_hub, workdir):
    """A third Région with its own XML layout: a profile and a template next to it, no code."""
    (workdir / "occitanie.xml.j2").write_text(textwrap.dedent("""\
        <?xml version="1.0" encoding="UTF-8"?>
        <declaration region="{{ profile.region }}" mois="{{ period.label }}" siret="{{ organisation.siret }}">
        {% for row in learners %}
          <stagiaire dossier="{{ row.cells[0] }}" nom="{{ row.fields['learner.name'] }}" nir="{{ row.fields['ids.nir'] }}">
            <absences-injustifiees heures="{{ row.cells[1] }}"/>
          </stagiaire>
        {% endfor %}
        </declaration>
        """), encoding="utf-8")
    (workdir / "occitanie.yaml").write_text(textwrap.dedent("""\
        name: Occitanie (essai)
        region: Occitanie & co
        file: "OCC_{period}.xml"
        template: occitanie.xml.j2
        decimal_separator: "."
        columns:
          - {label: dossier, field: ids.region_file, required: true}
          - {label: heures, field: hours.absent_unjustified_period}
        """), encoding="utf-8")
    hub = await winter_hub(make_hub, workdir, exports="exports:\n  occ: {kind: region, profile: occitanie.yaml}\n")
    out = await hub.export("occ", Period.parse("2025-12"))
    text = (out.folder / "OCC_2025-12.xml").read_text(encoding="utf-8")
    assert 'region="Occitanie &amp; co"' in text  # an XML template is autoescaped
    assert '<stagiaire dossier="RS1-2025-0042" nom="Amandine Roux" nir="291056912345678">' in text and 'heures="3.50"' in text


def test_docs_page_covers_every_option():
    from funder_formats.region import RegionConfig

    doc = (HERE.parents[2] / "docs" / "formats" / "region.md").read_text(encoding="utf-8")
    assert [k for k in [*RegionConfig.model_fields, *RegionProfile.model_fields] if f"`{k}`" not in doc] == []

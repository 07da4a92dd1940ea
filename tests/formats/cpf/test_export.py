"""The cpf export: golden files on the demo data and on edge cases, deadlines, bad input, profiles."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from hub.errors import ConfigError
from hub.formats import Period
from tests.formats.cpf import scenario
from tests.formats.cpf.conftest import EXPORTS, cpf_config, golden, set_now

ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")


async def normalised(hub, path) -> bytes:
    """A details file with event ids as ``type:source_id`` and learner ids as ``learner:name`` (ids change per run)."""
    text = path.read_text(encoding="utf-8")
    ids = set(ULID.findall(text))
    names = {}
    for event_id in ids:
        event = await hub.store.call(hub.store.get_event, event_id)
        if event is None:  # a hub learner id
            learner = await hub.store.call(hub.store.learner, event_id)
            names[event_id] = f"learner:{learner['name']}"
        else:
            names[event_id] = f"{event['type']}:{event['source_id']}"
    return ULID.sub(lambda m: names[m.group(0)], text).encode()


def rows(path, profile_encoding="utf-8-sig", delimiter=";"):
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(profile_encoding)), delimiter=delimiter))


async def ledger(hub, type_):
    events = await hub.store.call(lambda: list(hub.store.iter_events(types=[type_])))
    return sorted(events, key=lambda e: e["source_id"])


# ------------------------------------------------------------------------------------------ demo


async def test_demo_october_golden_and_deadline_events(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    hub = await make_hub(cpf_config(workdir))
    await hub.pull("demo")
    out = await hub.export("cpf-edof", Period.parse("2026-10"))
    assert out.written and not out.missing
    assert out.files == ["cpf-edof-2026-10-details.json", "cpf-edof-2026-10.csv", "manifest.json"]
    csv_path = out.folder / "cpf-edof-2026-10.csv"
    golden("demo-2026-10.csv", csv_path.read_bytes())
    golden("demo-2026-10-details.json", await normalised(hub, out.folder / "cpf-edof-2026-10-details.json"))
    lines = rows(csv_path)
    assert [(r["Stagiaire"], r["Déclaration"], r["État"]) for r in lines] == [
        ("Manon Rousseau", "Entrée en formation", "En retard"),
        ("Nathan Fournier", "Entrée en formation", "En retard"),
        ("Manon Rousseau", "Sortie de formation et service fait", "À déclarer"),
        ("Nathan Fournier", "Sortie de formation et service fait", "À déclarer")]
    assert lines[2]["Taux de réalisation (%)"] == "100" and lines[2]["Réalisation"] == "Totale"
    # deadlines: entries on Monday 5 Oct due Thursday 8 Oct (missed at the fixed "now"), exits due Wed 21 Oct
    due = await ledger(hub, "compliance.deadline_due")
    missed = await ledger(hub, "compliance.deadline_missed")
    assert [e["source_id"] for e in due] == [
        "cpf-deadline:PEC-CPF-2609:entry:2026-10-05:due", "cpf-deadline:PEC-CPF-2609:exit:2026-10-16:due",
        "cpf-deadline:PEC-CPF-2610:entry:2026-10-05:due", "cpf-deadline:PEC-CPF-2610:exit:2026-10-16:due"]
    assert {e["data"]["due_at"] for e in due} == {"2026-10-08T23:59:59+02:00", "2026-10-21T23:59:59+02:00"}
    assert all(dt.datetime.fromisoformat(e["data"]["due_at"]).tzinfo for e in due + missed)
    assert [e["data"]["obligation"] for e in missed] == ["cpf.entry_declaration"] * 2
    assert missed[0]["source"] == "hub" and missed[0]["action"] == "ACT-2026-REACT-01"
    journeys = {r.learner_name: r for r in await hub.journey_reports()}
    assert missed[0]["learner_id"] == journeys["Manon Rousseau"].learner_id  # attached to the learner's journey
    # a re-run writes nothing new (a forced one, a new version) and no duplicate event
    assert (await hub.export("cpf-edof", Period.parse("2026-10"))).status == "unchanged"
    again = await hub.export("cpf-edof", Period.parse("2026-10"), force=True)
    assert again.version == 2
    assert len(await ledger(hub, "compliance.deadline_due")) == 4
    assert len(await ledger(hub, "compliance.deadline_missed")) == 2
    assert (again.folder / "cpf-edof-2026-10.csv").read_bytes() == csv_path.read_bytes()


async def test_only_cpf_enrolments_are_exported(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    hub = await make_hub(cpf_config(workdir))
    await hub.pull("demo")
    out = await hub.export("cpf-edof", Period.parse("2026-10"))
    names = {r["Stagiaire"] for r in rows(out.folder / "cpf-edof-2026-10.csv")}
    assert names == {"Manon Rousseau", "Nathan Fournier"}


# ------------------------------------------------------------------------------------------ edge cases


async def winter_hub(make_hub, workdir, **kw):
    hub = await make_hub(cpf_config(workdir, actions=scenario.ACTIONS))
    await hub.pull("demo")
    await hub.append(scenario.events(**kw), source=None)
    return hub


async def test_action_across_two_months_and_two_years(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2027-02-01T09:00:00+01:00")
    hub = await winter_hub(make_hub, workdir)
    december = await hub.export("cpf-edof", Period.parse("2026-12"))
    january = await hub.export("cpf-edof", Period.parse("2027-01"))
    assert december.written and january.written
    golden("hiver-2026-12.csv", (december.folder / "cpf-edof-2026-12.csv").read_bytes())
    golden("hiver-2027-01.csv", (january.folder / "cpf-edof-2027-01.csv").read_bytes())
    golden("hiver-2027-01-details.json", await normalised(hub, january.folder / "cpf-edof-2027-01-details.json"))
    dec = {(r["Stagiaire"], r["Déclaration"]): r for r in rows(december.folder / "cpf-edof-2026-12.csv")}
    jan = {(r["Stagiaire"], r["Déclaration"]): r for r in rows(january.folder / "cpf-edof-2027-01.csv")}
    # entries in December (Monday 14 -> due Thursday 17), exits in January
    assert {k[0] for k, r in dec.items() if r["Déclaration"] == "Entrée en formation"} == {
        "Alice Perrot", "Bruno Caron", "Chloé Vidal", "Damien Roux"}
    assert dec[("Alice Perrot", "Entrée en formation")]["À déclarer au plus tard le"] == "17/12/2026"
    # a dropout mid-month: 5 half-days of 3.5 h of 70 h = 25 %, due after Christmas
    bruno = dec[("Bruno Caron", "Sortie de formation et service fait")]
    assert (bruno["Taux de réalisation (%)"], bruno["Réalisation"], bruno["Durée non réalisée (h)"]) == ("25", "Partielle", "52,50")
    assert bruno["À déclarer au plus tard le"] == "29/12/2026" and bruno["Force majeure"] == "Non"
    assert bruno["Motif de sortie"].startswith("Le stagiaire")
    # force majeure: no exit reason; 14 half-days = 70 %
    damien = jan[("Damien Roux", "Sortie de formation et service fait")]
    assert (damien["Taux de réalisation (%)"], damien["Force majeure"], damien["Motif de sortie"]) == ("70", "Oui", "")
    assert damien["À déclarer au plus tard le"] == "11/01/2027"
    # two funders: the CPF dossier comes from details.dossier; 18 of 20 half-days = 90 %
    chloe = jan[("Chloé Vidal", "Sortie de formation et service fait")]
    assert (chloe["N° de dossier"], chloe["Taux de réalisation (%)"], chloe["Unité du taux"]) == ("CPF-7003", "90", "Heures")
    # the half-day signed without the trainer counts under the default rules
    assert jan[("Alice Perrot", "Sortie de formation et service fait")]["Réalisation"] == "Totale"
    assert not [k for k in jan if k[1] == "Entrée en formation"] and not [k for k in dec if k[0] == "Alice Perrot" and k[1] != "Entrée en formation"]


async def test_a_half_day_without_trainer_signature_under_strict_rules(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2027-02-01T09:00:00+01:00")
    hub = await winter_hub(make_hub, workdir)
    hub.config.hub.realisation.presentiel_requires_trainer_cosignature = True
    out = await hub.export("cpf-edof", Period.parse("2027-01"))
    alice = next(r for r in rows(out.folder / "cpf-edof-2027-01.csv") if r["Stagiaire"] == "Alice Perrot")
    assert (alice["Taux de réalisation (%)"], alice["Réalisation"], alice["Durée non réalisée (h)"]) == ("95", "Partielle", "3,50")
    alice_journey = next(r for r in await hub.journey_reports(action=scenario.ACTION) if r.learner_name == "Alice Perrot")
    assert [(r.half_day.key, r.hours) for r in alice_journey.half_days if r.status == "signed_without_trainer"] == [
        ("2026-12-16/am", 0)]


async def test_half_day_and_day_units(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2027-02-01T09:00:00+01:00")
    extra = """
  cpf-days:
    kind: cpf
    unit: days
    profile: edof-iso
"""
    hub = await make_hub(cpf_config(workdir, extra_exports=extra, actions=scenario.ACTIONS))
    await hub.pull("demo")
    await hub.append(scenario.events(), source=None)
    hub.config.hub.realisation.presentiel_requires_trainer_cosignature = True
    out = await hub.export("cpf-days", Period.parse("2027-01"))
    got = {r["learner_name"]: r for r in rows(out.folder / "cpf-edof-2027-01.csv", "utf-8", ",")}
    # Alice: 9 full days of 10 (16 Dec morning not co-signed) -> 90; Chloé: 9 of 10 -> 90
    assert (got["Alice Perrot"]["rate"], got["Alice Perrot"]["rate_basis"], got["Alice Perrot"]["units_done"]) == ("90", "days", "9.00")
    assert got["Alice Perrot"]["absence_hours"] == "7.00" and got["Alice Perrot"]["exit_date"] == "2027-01-15"
    assert got["Damien Roux"]["force_majeure"] == "true"


# ------------------------------------------------------------------------------------------ bad input


async def test_a_period_without_data_gives_an_empty_valid_file(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2027-04-02T09:00:00+02:00")
    hub = await make_hub(cpf_config(workdir))
    await hub.pull("demo")
    assert (await hub.export("cpf-edof", Period.parse("2027-03"))).status == "empty"  # nothing written unless forced
    out = await hub.export("cpf-edof", Period.parse("2027-03"), force=True)
    assert out.written
    text = (out.folder / "cpf-edof-2027-03.csv").read_bytes().decode("utf-8-sig")
    assert text.count("\r\n") == 1 and text.startswith("Déclaration;N° de dossier;")
    assert any("no CPF entry or exit in 2027-03" in n for n in out.notes)
    assert json.loads((out.folder / "cpf-edof-2027-03-details.json").read_text())["declarations"] == []


async def test_missing_fields_are_listed_and_nothing_is_written(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2027-02-01T09:00:00+01:00")
    hub = await winter_hub(make_hub, workdir, dossier_for_bruno=False)
    # Damien's abandonment says nothing; a fifth CPF learner attends without any recorded entry
    await hub.append([
        {"type": "funding.approved", "occurred_at": "2026-11-20T10:00:00+01:00", "source_id": "eve-pec",
         "learner": {"ref": "hiver-05", "name": "Ève Morel"}, "action": scenario.ACTION,
         "data": {"funder": "cpf", "funder_kind": "cpf", "reference": "CPF-7005"}},
        {"type": "attendance.signed", "occurred_at": "2026-12-14T09:05:00+01:00", "source_id": "eve-sig",
         "learner": {"ref": "hiver-05", "name": "Ève Morel"}, "action": scenario.ACTION,
         "data": {"date": "2026-12-14", "half_day": "am", "trainer_cosigned": True}},
    ], source=None)
    refused = await hub.export("cpf-edof", Period.parse("2026-12"))
    assert not refused.written and refused.folder is None
    assert sorted((m.learner, m.field) for m in refused.missing) == [("Bruno Caron", "dossier"), ("Ève Morel", "entry_date")]
    assert not list((workdir / "var" / "exports" / "cpf-edof" / "2026-12").glob("v*"))
    assert not await ledger(hub, "compliance.deadline_due")
    forced = await hub.export("cpf-edof", Period.parse("2026-12"), allow_incomplete=True)
    assert forced.written and "missing" in forced.notes[-1]
    names = [r["Stagiaire"] for r in rows(forced.folder / "cpf-edof-2026-12.csv")]
    assert names.count("Bruno Caron") == 2  # listed, with an empty dossier number
    # no deadline event without a dossier number to name
    assert all("CPF-7002" not in e["source_id"] for e in await ledger(hub, "compliance.deadline_due"))


async def test_distance_or_mixed_actions_need_milestones(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    bare = "\n  cpf-bare:\n    kind: cpf\n"
    hub = await make_hub(cpf_config(workdir, extra_exports=bare))
    await hub.pull("demo")
    out = await hub.export("cpf-bare", Period.parse("2026-10"))
    assert not out.written
    assert sorted((m.learner, m.field) for m in out.missing) == [("Manon Rousseau", "milestones"), ("Nathan Fournier", "milestones")]
    assert "jalons" in out.missing[0].message


async def test_a_milestone_not_done_lowers_the_rate(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    extra = """
  cpf-exam:
    kind: cpf
    action_settings:
      ACT-2026-REACT-01:
        milestones:
          - {id: salle, attendance: true, weight: 35}
          - {id: modules, activity: mod-js, weight: 28}
          - {id: examen, assessment: "Examen blanc", weight: 7}
"""
    hub = await make_hub(cpf_config(workdir, extra_exports=extra))
    await hub.pull("demo")
    out = await hub.export("cpf-exam", Period.parse("2026-10"))
    manon = [r for r in rows(out.folder / "cpf-edof-2026-10.csv") if r["Stagiaire"] == "Manon Rousseau"][1]
    assert (manon["Taux de réalisation (%)"], manon["Réalisation"], manon["Durée non réalisée (h)"]) == ("90", "Partielle", "7,00")
    gaps = {g.learner_name: [gap.code for _r, gap in g.gaps] for g in await hub.proof_gaps()}
    assert "cpf_milestone_not_traced" in gaps["Manon Rousseau"]


# ------------------------------------------------------------------------------------------ profiles


def test_an_unknown_column_is_a_config_error_naming_the_profile_line(workdir, plugins):
    from hub.runtime.app import Hub
    from tests.conftest import BASE_HUB, write_config

    (workdir / "profil.yaml").write_text(
        'file_name: "x-{period}.csv"\ncolumns:\n  - {field: dossier}\n  - {field: numero_secu}\n', encoding="utf-8")
    path = write_config(workdir, BASE_HUB + "exports:\n  cpf:\n    kind: cpf\n    profile: profil.yaml\n")
    with pytest.raises(ConfigError) as err:
        Hub.open(path, env={}, plugins=plugins)
    message = str(err.value)
    assert "hub.yaml:9: exports.cpf.profile:" in message
    assert f"{workdir / 'profil.yaml'}:4: columns[1].field: unknown column 'numero_secu'" in message


def test_unknown_profile_keys_and_names(workdir, plugins):
    from hub.runtime.app import Hub
    from tests.conftest import BASE_HUB, write_config

    (workdir / "p.yaml").write_text('file_name: "x.csv"\nseparateur: ";"\ncolumns: [{field: dossier}]\n')
    for profile, expected in (("p.yaml", "p.yaml:2: separateur: unknown key"),
                              ("edof-fr", "unknown built-in profile 'edof-fr' (built-in: edof, edof-iso")):
        path = write_config(workdir, BASE_HUB + f"exports:\n  cpf:\n    kind: cpf\n    profile: {profile}\n")
        with pytest.raises(ConfigError, match=re.escape(expected)):
            Hub.open(path, env={}, plugins=plugins)


async def test_a_custom_profile_sets_layout_and_encoding(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2026-10-20T10:00:00+00:00")
    (workdir / "maison.yaml").write_text("""
file_name: "edof-{export}-{period}.txt"
encoding: cp1252
delimiter: "\\t"
line_ending: lf
decimal_separator: "."
date_format: "%Y%m%d"
labels:
  declaration: {entree: E, sortie: S}
columns:
  - {field: declaration, label: TYPE}
  - {field: dossier, label: DOSSIER}
  - {field: action_title, label: TITRE}
  - {field: rate, label: TAUX}
  - {field: planned_hours, label: HEURES, places: 1}
  - {field: due_date, label: ECHEANCE}
""", encoding="utf-8")
    extra = "\n  maison:\n    kind: cpf\n    profile: maison.yaml\n" + EXPORTS.split("cpf\n", 1)[1]
    hub = await make_hub(cpf_config(workdir, extra_exports=extra))
    await hub.pull("demo")
    out = await hub.export("maison", Period.parse("2026-10"))
    raw = (out.folder / "edof-maison-2026-10.txt").read_bytes()
    text = raw.decode("cp1252")
    assert text.splitlines()[0] == "TYPE\tDOSSIER\tTITRE\tTAUX\tHEURES\tECHEANCE" and "\r" not in text
    assert text.splitlines()[3] == "S\tPEC-CPF-2609\tDéveloppeur·se web — React et API\t100\t70.0\t20261021"
    assert "Développeur" in text  # é and — fit cp1252


# ------------------------------------------------------------------------------------------ proofs


async def test_cpf_proof_rules_join_proofs_check(make_hub, workdir, monkeypatch):
    set_now(monkeypatch, "2027-02-01T09:00:00+01:00")
    hub = await winter_hub(make_hub, workdir, dossier_for_bruno=False)
    names = {r.name for r in hub.proof_rules()}
    assert {"cpf-edof:cpf_dossier", "cpf-edof:cpf_entry", "cpf-edof:cpf_milestones"} <= names
    gaps = {g.learner_name: [(rule, gap.code) for rule, gap in g.gaps] for g in await hub.proof_gaps(action=scenario.ACTION)}
    assert ("cpf-edof:cpf_dossier", "cpf_no_dossier") in gaps["Bruno Caron"]
    assert "Damien Roux" not in gaps

"""The bpf export: golden files on the demo data, an action across two years, bad input, profiles."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from hub.errors import ConfigError
from hub.formats import Period
from tests.formats.bpf import scenario
from tests.formats.bpf.conftest import BPF_EXPORT, bpf_config, golden, normalised


def figures(out) -> dict[str, dict]:
    data = json.loads((out.folder / f"bpf-{out.period}.json").read_text(encoding="utf-8"))
    return {f["line"]: f for f in data["figures"]}


def drill(out, line: str) -> list[dict]:
    data = json.loads((out.folder / f"bpf-{out.period}.json").read_text(encoding="utf-8"))
    return data["drilldown"].get(line, [])


async def test_demo_year_golden(bpf_hub, workdir):
    hub = await bpf_hub(bpf_config(workdir))
    await hub.pull("demo")
    out = await hub.export("bpf", Period.parse("2026"))
    assert out.written, out.missing
    assert out.files == ["bpf-2026-detail.csv", "bpf-2026.csv", "bpf-2026.html", "bpf-2026.json", "manifest.json"]
    golden("demo-2026.csv", (out.folder / "bpf-2026.csv").read_bytes())
    golden("demo-2026.html", (out.folder / "bpf-2026.html").read_bytes())
    golden("demo-2026-detail.csv", await normalised(hub, (out.folder / "bpf-2026-detail.csv").read_bytes()))
    golden("demo-2026.json", await normalised(hub, (out.folder / "bpf-2026.json").read_bytes()))
    f = figures(out)
    journeys = {r.learner_name: r for r in await hub.journey_reports()}
    # C: funders' amounts in proportion of the hours realised; the card payment as it was paid
    atlas = sum(2450 * min(journeys[n].realised_hours, 70) / 70 for n, r in journeys.items() if "opco-atlas" in r.funders)
    assert f["C-2h"]["amount"] == round(atlas) and f["C-9"]["amount"] == 2450
    assert f["C-total"]["amount"] == sum(f[line]["amount"] for line in f if re.fullmatch(r"C-\d+[a-h]?", line))
    assert f["C-share"]["value"] == str(round(f["C-total"]["amount"] * 100 / 250000))
    # E: one internal trainer, the 10 classroom mornings
    assert (f["E-internal"]["headcount"], f["E-internal"]["hours"], f["E-external"]["headcount"]) == (1, 35, 0)
    # F-1: 6 + 2 (CPF mapped to employees here) employees, 3 job-seekers, 1 self-funded
    assert [(f[f"F1-{x}"]["trainees"]) for x in "abcde"] == [8, 0, 3, 1, 0]
    exact = sum(r.realised_hours for r in journeys.values())
    assert f["F1-total"]["hours"] == sum(f[f"F1-{x}"]["hours"] for x in "abcde")  # the printed form adds up
    # each line is its hours rounded to the nearest hour (F1-d: Léa's 65.37 h, not 66 to make a total)
    assert f["F1-d"]["hours"] == 65 and abs(f["F1-total"]["hours"] - exact) <= 2
    assert f["F3-total"]["hours"] == f["F3-a-5"]["hours"] == round(exact)  # one line: the exact total rounded
    assert any(n.startswith("F-1: its lines, each rounded to the nearest hour, add up to 729 h") for n in out.notes)
    assert f["F3-a-5"]["trainees"] == 12 and f["F4-1"]["code"] == "326t" and f["F4-1"]["trainees"] == 12
    # every figure can be explained enrolment by enrolment
    assert {e["learner_name"] for e in drill(out, "F1-c")} == {"Yasmine Benali", "Hugo Lefèvre", "Lucas Bernard"}
    lea = drill(out, "C-9")[0]
    assert lea["learner_name"] == "Léa Moreau" and lea["amount"] == "2450.00" and len(lea["events"]) == 1
    detail = list(csv.DictReader(io.StringIO((out.folder / "bpf-2026-detail.csv").read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert sum(1 for d in detail if d["Ligne"] == "F1-a") == 8


async def test_an_action_across_two_years(bpf_hub, workdir):
    hub = await bpf_hub(bpf_config(workdir, actions=scenario.ACTIONS))
    await hub.pull("demo")
    await hub.append(scenario.events(), source=None)
    y2026 = await hub.export("bpf", Period.parse("2026"))
    y2027 = await hub.export("bpf", Period.parse("2027"))
    golden("hiver-2027.csv", (y2027.folder / "bpf-2027.csv").read_bytes())
    a, b = figures(y2026), figures(y2027)
    # Alice: 42 h in 2026, 28 h in 2027; Chloé (absent 28 Dec): 35 h then 28 h; Bruno, a dropout: 17.5 h in 2026
    hiver_2026 = {e["learner_name"]: e for e in drill(y2026, "F1-a") if e["action"] == scenario.ACTION}
    assert {n: e["hours"] for n, e in hiver_2026.items()} == {"Alice Perrot": "42.00", "Chloé Vidal": "35.00"}
    assert [e["hours"] for e in drill(y2026, "F1-c") if e["action"] == scenario.ACTION] == ["17.50"]
    assert (b["F1-a"]["trainees"], b["F1-a"]["hours"], b["F1-c"]["trainees"]) == (2, 56, 0)
    # the funding of an action split by its attendance; a dropout's funding only for what was realised
    akto = {e["learner_name"]: e["amount"] for e in drill(y2026, "C-2h") if e["action"] == scenario.ACTION}
    assert akto == {"Alice Perrot": "840.00", "Chloé Vidal": "500.00"}
    assert {e["learner_name"]: e["amount"] for e in drill(y2027, "C-2h")} == {"Alice Perrot": "560.00", "Chloé Vidal": "400.00"}
    assert [e["amount"] for e in drill(y2026, "C-7") if e["action"] == scenario.ACTION] == ["350.00"]
    # a learner funded by two funders: two payers in C, one trainee (an employee) in F
    assert [e["amount"] for e in drill(y2026, "C-9") if e["learner_name"] == "Chloé Vidal"] == ["400.00"]
    assert b["C-9"]["amount"] == 0
    # E: the external trainer's half-days held, by year
    assert (a["E-external"]["headcount"], a["E-external"]["hours"]) == (1, 42)
    assert (b["E-external"]["headcount"], b["E-external"]["hours"], b["E-internal"]["hours"]) == (1, 28, 0)
    assert b["F3-b"]["trainees"] == 2 and b["F4-1"]["code"] == "314"


async def test_a_half_day_without_the_trainer_under_strict_rules(bpf_hub, workdir):
    hub = await bpf_hub(bpf_config(workdir, actions=scenario.ACTIONS))
    await hub.pull("demo")
    await hub.append(scenario.events(), source=None)
    hub.config.hub.realisation.presentiel_requires_trainer_cosignature = True
    out = await hub.export("bpf", Period.parse("2026"))
    alice = next(e for e in drill(out, "F1-a") if e["learner_name"] == "Alice Perrot")
    assert alice["hours"] == "38.50"  # her morning of 16 December does not count
    assert figures(out)["E-external"]["hours"] == 42  # the half-day was held: the others signed


async def test_subcontracted_and_entrusted_actions(bpf_hub, workdir):
    export = BPF_EXPORT.replace('ACT-2026-HIVER: {aim: rs, nsf: "314", nsf_label: "Comptabilité, gestion"}',
                                'ACT-2026-HIVER: {aim: rs, nsf: "314", entrusted_by_of: true}')
    export = export.replace('nsf_label: "Programmation, mise en place de logiciels"}', 'subcontracted: true}')
    hub = await bpf_hub(bpf_config(workdir, export=export, actions=scenario.ACTIONS))
    await hub.pull("demo")
    await hub.append(scenario.events(), source=None)
    f = figures(await hub.export("bpf", Period.parse("2026")))
    assert (f["G"]["trainees"], f["G"]["hours"]) == (3, 95)  # 42 + 35 + 17.5 = 94.5 -> 95, not in F
    assert f["F1-total"]["trainees"] == 12 and f["F2"]["trainees"] == 12


# ------------------------------------------------------------------------------------------ bad input


async def test_a_year_without_activity_gives_a_valid_form_of_zeros(bpf_hub, workdir):
    hub = await bpf_hub(bpf_config(workdir))
    await hub.pull("demo")
    out = await hub.export("bpf", Period.parse("2030"))
    assert out.written
    f = figures(out)
    assert f["C-total"]["amount"] == 0 and f["F1-total"]["trainees"] == 0 and f["E-total"]["hours"] == 0
    assert f["D-total"]["amount"] == 98000 and f["D-salaries"]["amount"] == 41000 and f["D-purchases"]["amount"] == 8000
    assert any("no training activity recorded in 2030" in n for n in out.notes)
    assert "Cadre F-1" in (out.folder / "bpf-2030.html").read_text()
    lines = (out.folder / "bpf-2030-detail.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert len(lines) == 1  # the header only


async def test_missing_fields_are_listed_and_nothing_is_written(bpf_hub, workdir):
    bare = "\nexports:\n  bpf:\n    kind: bpf\n"
    hub = await bpf_hub(bpf_config(workdir, export=bare), organisation=False)
    await hub.pull("demo")
    out = await hub.export("bpf", Period.parse("2026"))
    assert not out.written and out.folder is None
    got = sorted((m.learner, m.field) for m in out.missing)
    assert got == [("(action ACT-2026-REACT-01)", "aim"), ("(action ACT-2026-REACT-01)", "nsf"),
                   ("(action ACT-2026-REACT-01)", "trainer_status"),
                   ("(organisation)", "charges"), ("(organisation)", "organisation"), ("(organisation)", "turnover"),
                   ("Manon Rousseau", "trainee_type"), ("Nathan Fournier", "trainee_type")]
    assert "12 trainee(s)" in next(m.message for m in out.missing if m.field == "nsf")
    assert not list((workdir / "var" / "exports" / "bpf").glob("2026/v*"))
    forced = await hub.export("bpf", Period.parse("2026"), allow_incomplete=True)
    assert forced.written and "missing" in forced.notes[-1]


async def test_bpf_proof_rules(bpf_hub, workdir):
    bare = "\nexports:\n  bpf:\n    kind: bpf\n"
    hub = await bpf_hub(bpf_config(workdir, export=bare))
    await hub.pull("demo")
    gaps = {g.learner_name: [gap.code for rule, gap in g.gaps if rule == "bpf:bpf_attributes"] for g in await hub.proof_gaps()}
    assert gaps["Manon Rousseau"] == ["bpf_no_nsf", "bpf_no_aim", "bpf_no_trainee_type"]
    assert gaps["Camille Dubois"] == ["bpf_no_nsf", "bpf_no_aim"]


def test_an_unknown_column_is_a_config_error_naming_the_profile_line(workdir, plugins):
    from hub.runtime.app import Hub
    from tests.conftest import BASE_HUB, write_config

    builtin = (workdir.parent.parent / "x")  # noqa: F841 - keep the built-in untouched
    from funder_formats.bpf import PROFILES

    text = (PROFILES / "cerfa-10443.yaml").read_text(encoding="utf-8")
    text = text.replace("  - {field: value, label: \"Valeur\"}", "  - {field: valeur}")
    (workdir / "bpf-maison.yaml").write_text(text, encoding="utf-8")
    line = text.splitlines().index("  - {field: valeur}") + 1
    path = write_config(workdir, BASE_HUB + "exports:\n  bpf:\n    kind: bpf\n    profile: bpf-maison.yaml\n")
    with pytest.raises(ConfigError) as err:
        Hub.open(path, env={}, plugins=plugins)
    assert f"{workdir / 'bpf-maison.yaml'}:{line}: columns[8].field: unknown column 'valeur'" in str(err.value)
    assert "hub.yaml:9: exports.bpf.profile" in str(err.value)

"""The attendance statement: golden files on the demo data and on edge cases, dialects, bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hub.formats import Period
from tests.formats.opco.conftest import (
    EMPLOYERS,
    golden,
    open_demo,
    open_edge,
    read_csv,
    without_ids,
    xlsx_dump,
)
from tests.test_journeys import DEMO_ACTION

EXPORTS = """
exports:
  atlas: {kind: opco, funders: [opco-atlas], profile: atlas, outputs: [attendance_csv, attendance_xlsx]}
  opco-ep: {kind: opco, funders: [opco-atlas], profile: opco-ep, outputs: [attendance_csv]}
  akto: {kind: opco, funders: [opco-atlas], profile: akto, outputs: [attendance_csv]}
"""
PROFILES = {  # export name: (statement file, summary file, encoding, separator)
    "atlas": ("atlas-etat-presence-{p}.csv", "atlas-synthese-{p}.csv", "utf-8-sig", ";"),
    "opco-ep": ("opcoep-releve-assiduite-{p}.csv", "opcoep-totaux-{p}.csv", "cp1252", ";"),
    "akto": ("akto-presence-{p}.csv", "akto-totaux-{p}.csv", "utf-8", ","),
}


def _golden_csv(name: str, path, encoding: str) -> None:
    """Golden comparison of a CSV's bytes (ids, assigned at ingest, normalised)."""
    golden(name, without_ids(path.read_bytes().decode(encoding)).encode(encoding))


def test_registered_through_the_parcours_entry_point(plugins):
    from funder_formats.opco.format import OpcoFormat

    assert plugins.funder_format_classes()["opco"] is OpcoFormat
    info = next(i for i in plugins.infos if i.name == "opco")
    assert info.distribution == "parcours-hub" and info.hooks == ["register_funder_formats"]
    assert OpcoFormat.period == "month"


async def test_demo_month_in_three_profiles_matches_golden_files(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS)
    for export, (statement, summary, encoding, sep) in PROFILES.items():
        out = await hub.export(export, Period.parse("2026-10"))
        assert out.written and not out.missing and not out.notes, out.as_dict()
        files = [statement.format(p="2026-10"), summary.format(p="2026-10")]
        assert sorted(out.files) == sorted(files + ["manifest.json"] + (["atlas-etat-presence-2026-10.xlsx"]
                                                                          if export == "atlas" else []))
        _golden_csv(f"demo-2026-10-{export}-statement.csv", out.folder / files[0], encoding)
        _golden_csv(f"demo-2026-10-{export}-summary.csv", out.folder / files[1], encoding)
        rows = read_csv(out.folder / files[0], encoding, sep)
        assert len(rows) == 1 + 6 * 20  # six Atlas learners, ten days, two half-days each

    # the hours are the journeys' hours, to the cent
    reports = {r.learner_name: r for r in await hub.journey_reports(action=DEMO_ACTION)}
    summary = read_csv(out.folder / "akto-totaux-2026-10.csv", "utf-8", ",")
    header = summary[0]
    for line in summary[1:]:
        record = dict(zip(header, line))
        name = f"{record['prenom']} {record['nom']}"
        assert Decimal(record["heures_realisees"]) == reports[name].realised_hours
    theo = next(dict(zip(header, line)) for line in summary[1:] if line[3] == "Théo")
    assert Decimal(theo["heures_realisees"]) - Decimal(theo["heures_facturables"]) == Decimal("3.5")


async def test_dialects_encodings_and_formats(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS)
    atlas = await hub.export("atlas", Period.parse("2026-10"))
    raw = (atlas.folder / "atlas-etat-presence-2026-10.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and ";05/10/2026;Matin;09:00;12:30;" in raw.decode("utf-8-sig")
    ep = await hub.export("opco-ep", Period.parse("2026-10"))
    raw = (ep.folder / "opcoep-releve-assiduite-2026-10.csv").read_bytes()
    text = raw.decode("cp1252")
    assert not raw.startswith(b"\xef\xbb\xbf") and text.startswith('"SIRET organisme";"N° de dossier"')
    assert '"09h00";"12h30";"3,50";"Présent"' in text and "Théo Garnier" in text and "Développeur·se" not in text
    akto = await hub.export("akto", Period.parse("2026-10"))
    raw = (akto.folder / "akto-presence-2026-10.csv").read_bytes()
    assert b"\r\n" not in raw and raw.decode("utf-8").splitlines()[1].split(",")[6:10] == [
        "2026-10-05", "matin", "presentiel", "signed"]


async def test_demo_xlsx_matches_golden_file_with_typed_cells(make_hub, workdir):
    from openpyxl import load_workbook

    hub = await open_demo(make_hub, workdir, EXPORTS)
    out = await hub.export("atlas", Period.parse("2026-10"))
    path = out.folder / "atlas-etat-presence-2026-10.xlsx"
    golden("demo-2026-10-atlas.xlsx.json", xlsx_dump(path))
    wb = load_workbook(path)
    assert wb.sheetnames == ["État de présence", "Synthèse"]
    ws = wb["État de présence"]
    assert ws["G2"].value == dt.datetime(2026, 10, 5) and ws["G2"].number_format == "dd/mm/yyyy"
    assert ws["N2"].value == 3.5 and ws["N2"].number_format == "0.00"
    assert ws.max_row == 121 and wb["Synthèse"].max_row == 7


async def test_period_without_data_gives_empty_valid_files_and_a_note(make_hub, workdir):
    from openpyxl import load_workbook

    hub = await open_demo(make_hub, workdir, EXPORTS)
    assert (await hub.export("atlas", Period.parse("2027-03"))).status == "empty"  # nothing written unless forced
    out = await hub.export("atlas", Period.parse("2027-03"), force=True)
    assert out.written and not out.missing
    assert out.notes == ["no enrolment funded by an OPCO has training in 2027-03: the statement holds only its header"]
    rows = read_csv(out.folder / "atlas-etat-presence-2027-03.csv", "utf-8-sig", ";")
    assert len(rows) == 1 and rows[0][:3] == ["N° de dossier", "SIRET employeur", "Raison sociale employeur"]
    wb = load_workbook(out.folder / "atlas-etat-presence-2027-03.xlsx")
    assert [ws.max_row for ws in wb.worksheets] == [1, 1]
    # a funder with no OPCO enrolment: the same
    out = await hub.export("atlas", Period.parse("2026-10"), funder="cpf", force=True)
    assert out.written and "funder cpf" in out.notes[0]


async def test_missing_employer_siret_is_listed_per_learner_and_nothing_is_written(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS, details=False)
    refused = await hub.export("atlas", Period.parse("2026-10"))
    assert not refused.written and refused.folder is None
    assert sorted((m.learner, m.field) for m in refused.missing) == sorted(
        (name, "employer_siret") for name in ["Camille Dubois", "Chloé N'Diaye", "Éloïse Martin-Durand", "Théo Garnier",
                                             "Inès Haddad", "Maximilien-Alexandre de La Tour d'Auvergne"])
    assert "data.employer_siret" in refused.missing[0].message
    assert not (workdir / "var" / "exports" / "atlas" / "2026-10" / "v1").exists()
    forced = await hub.export("atlas", Period.parse("2026-10"), allow_incomplete=True)
    assert forced.written and "missing" in forced.notes[-1]
    rows = read_csv(forced.folder / "atlas-etat-presence-2026-10.csv", "utf-8-sig", ";")
    assert rows[1][0] == "PEC-OPCO-ATLAS-2605" and rows[1][1] == ""  # dossier from the reference; no SIRET


async def test_invalid_siret_and_missing_organisation_are_listed(make_hub, workdir):
    employers = dict(EMPLOYERS)
    employers["apprenant-02"] = ("44101234500018", "Atelier Numérique Lyon SARL", "ATL-2026-000102")  # bad check digit
    employers["apprenant-03"] = (None, "Banque Rhône Conseil SA", "ATL-2026-000103")
    hub = await open_demo(make_hub, workdir, EXPORTS, employers=employers, organisation=False)
    refused = await hub.export("opco-ep", Period.parse("2026-10"))  # opco-ep prints the OF's SIRET
    found = {(m.learner, m.field): m.message for m in refused.missing}
    assert set(found) == {("(organisation)", "hub.organisation.siret"), ("Chloé N'Diaye", "employer_siret"),
                          ("Éloïse Martin-Durand", "employer_siret")}
    assert "not a valid SIRET" in found[("Chloé N'Diaye", "employer_siret")]
    assert not refused.written


async def test_scheduled_by_the_hub_for_the_month_that_ended(make_hub, workdir):

    hub = await open_demo(make_hub, workdir, EXPORTS)
    outcome = await hub.exporter.scheduled("atlas")
    last_month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    assert outcome.period == last_month.strftime("%Y-%m")


# --------------------------------------------------------------------------- edge cases

EDGE_EXPORTS = """
exports:
  atlas: {kind: opco, funders: [opco-atlas], profile: atlas, outputs: [attendance_csv]}
  atlas-end: {kind: opco, funders: [opco-atlas], profile: atlas, statement: end_of_action, outputs: [attendance_csv]}
  opco-ep: {kind: opco, profile: opco-ep, actions: [ACT-EDGE-01], outputs: [attendance_csv]}
"""


def _by_learner(rows: list[list[str]]) -> dict[str, list[dict[str, str]]]:
    header, out = rows[0], {}
    for line in rows[1:]:
        record = dict(zip(header, line))
        out.setdefault(f"{record['Prénom']} {record['Nom']}", []).append(record)
    return out


def _hours(text: str) -> Decimal:
    return Decimal(text.replace(",", ".")) if text else Decimal(0)


async def test_edge_cases_over_two_months_and_two_years_match_golden_files(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EDGE_EXPORTS)
    months = {}
    for label in ("2025-12", "2026-01"):
        out = await hub.export("atlas", Period.parse(label))
        assert out.written and not out.missing, out.as_dict()
        _golden_csv(f"edge-{label}-atlas-statement.csv", out.folder / f"atlas-etat-presence-{label}.csv", "utf-8-sig")
        _golden_csv(f"edge-{label}-atlas-summary.csv", out.folder / f"atlas-synthese-{label}.csv", "utf-8-sig")
        months[label] = _by_learner(read_csv(out.folder / f"atlas-etat-presence-{label}.csv", "utf-8-sig", ";"))
    end = await hub.export("atlas-end", Period.parse("2026-01"))
    whole = _by_learner(read_csv(end.folder / "atlas-etat-presence-2026-01.csv", "utf-8-sig", ";"))
    reports = {r.learner_name: r for r in await hub.journey_reports()}
    for name in ("Alice Martin", "Bruno Petit", "Chloé Wiśniewska", "David Nguyen"):
        december = sum(_hours(r["Heures réalisées"]) for r in months["2025-12"][name])
        january = sum(_hours(r["Heures réalisées"]) for r in months["2026-01"][name])
        total = sum(_hours(r["Heures réalisées"]) for r in whole[name])
        assert december + january == total == reports[name].realised_hours, name
        assert {r["Date"][-4:] for r in months["2025-12"][name]} == {"2025"}
        assert {r["Date"][-4:] for r in months["2026-01"][name]} == {"2026"}
    # the apprenticeship action ends on 27 January too: the end-of-action statement has both actions
    assert set(whole) == {"Alice Martin", "Bruno Petit", "Chloé Wiśniewska", "David Nguyen", "Emma Leroy"}


async def test_edge_learner_who_drops_out_mid_month(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EDGE_EXPORTS)
    out = await hub.export("atlas", Period.parse("2026-01"))
    lines = _by_learner(read_csv(out.folder / "atlas-etat-presence-2026-01.csv", "utf-8-sig", ";"))["Bruno Petit"]
    assert [r["Date"] for r in lines][-1] == "06/01/2026"  # nothing after the exit
    assert {r["Date"] for r in lines} == {"05/01/2026", "06/01/2026"}
    summary = {f"{r[3]} {r[2]}": r for r in read_csv(out.folder / "atlas-synthese-2026-01.csv", "utf-8-sig", ";")[1:]}
    bruno = summary["Bruno Petit"]
    assert bruno[6] == "06/01/2026" and bruno[12:] == ["06/01/2026", "démission"]
    assert bruno[7] == "14,00"  # two days scheduled in January before the exit, 3.5 h + 3.5 h each


async def test_edge_half_day_signed_by_the_learner_not_the_trainer(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EDGE_EXPORTS)
    out = await hub.export("atlas", Period.parse("2025-12"))
    chloe = _by_learner(read_csv(out.folder / "atlas-etat-presence-2025-12.csv", "utf-8-sig", ";"))["Chloé Wiśniewska"]
    line = next(r for r in chloe if r["Date"] == "16/12/2025" and r["Demi-journée"] == "Matin")
    assert line["Présence"] == "Présent, sans émargement du formateur"
    assert (line["Heures réalisées"], line["Heures facturables"]) == ("3,50", "0,00")
    assert (line["Émargement stagiaire"], line["Émargement formateur"]) == ("Oui", "Non")
    # the Saturday connection, outside the schedule, is a FOAD line of its own
    saturday = next(r for r in chloe if r["Date"] == "20/12/2025")
    assert (saturday["Demi-journée"], saturday["Présence"], saturday["Heures réalisées"]) == (
        "", "FOAD hors planning (temps de connexion)", "1,50")


async def test_edge_learner_funded_by_two_funders(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EDGE_EXPORTS)
    out = await hub.export("atlas", Period.parse("2025-12"))
    rows = read_csv(out.folder / "atlas-etat-presence-2025-12.csv", "utf-8-sig", ";")
    david = _by_learner(rows)["David Nguyen"]
    assert {r["N° de dossier"] for r in david} == {"ATL-2025-0904"}
    assert len(david) == len({(r["Date"], r["Demi-journée"]) for r in david})  # once, not once per funder
    absent = next(r for r in david if r["Date"] == "17/12/2025" and r["Demi-journée"] == "Matin")
    assert (absent["Présence"], absent["Heures facturables"]) == ("Absence justifiée", "0,00")
    # exported for the CPF (not an OPCO): nothing in an OPCO statement
    cpf = await hub.export("atlas", Period.parse("2025-12"), funder="cpf")
    assert len(read_csv(cpf.folder / "atlas-etat-presence-2025-12.csv", "utf-8-sig", ";")) == 1
    # without `funders`, the export takes the fundings of kind opco: still one OPCO line set for David
    ep = await hub.export("opco-ep", Period.parse("2025-12"))
    text = (ep.folder / "opcoep-releve-assiduite-2025-12.csv").read_bytes().decode("cp1252")
    assert text.count('"ATL-2025-0904"') == len(david)


async def test_characters_the_encoding_lacks_are_transliterated_with_a_note(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EDGE_EXPORTS)
    out = await hub.export("opco-ep", Period.parse("2025-12"))
    text = (out.folder / "opcoep-releve-assiduite-2025-12.csv").read_bytes().decode("cp1252")
    assert '"Chloé Wisniewska"' in text and "Wiś" not in text
    assert any("cp1252 cannot write: transliterated" in n for n in out.notes)


@pytest.mark.parametrize("statement", ["monthly", "end_of_action"])
async def test_end_of_action_statement_leaves_ongoing_enrolments_for_later(make_hub, workdir, statement):
    hub = await open_edge(make_hub, workdir, EDGE_EXPORTS)
    name = "atlas" if statement == "monthly" else "atlas-end"
    out = await hub.export(name, Period.parse("2025-12"))
    learners = _by_learner(read_csv(out.folder / "atlas-etat-presence-2025-12.csv", "utf-8-sig", ";"))
    if statement == "monthly":
        assert set(learners) == {"Alice Martin", "Bruno Petit", "Chloé Wiśniewska", "David Nguyen", "Emma Leroy"}
    else:
        assert learners == {} and any("did not end in 2025-12" in n for n in out.notes)


async def test_xlsx_bytes_are_reproducible(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS)
    first = await hub.export("atlas", Period.parse("2026-10"))
    second = await hub.export("atlas", Period.parse("2026-10"))
    name = "atlas-etat-presence-2026-10.xlsx"
    assert (first.folder / name).read_bytes() == (second.folder / name).read_bytes()
    assert not [p for p in first.folder.iterdir() if p.name.startswith("opco-xlsx-")]  # temporary parts removed


async def test_xlsx_is_streamed_with_a_frozen_bold_header_and_dated_from_the_period(make_hub, workdir):
    """Constant-memory mode writes inline strings (no shared-string table kept in memory); the
    creation date is the period's end, not the clock (the bytes above depend on it)."""
    import zipfile

    from openpyxl import load_workbook

    hub = await open_demo(make_hub, workdir, EXPORTS)
    out = await hub.export("atlas", Period.parse("2026-10"))
    path = out.folder / "atlas-etat-presence-2026-10.xlsx"
    with zipfile.ZipFile(path) as zf:
        assert "xl/sharedStrings.xml" not in zf.namelist()
        sheet = zf.read("xl/worksheets/sheet1.xml").decode("utf-8")
        assert sheet.count('t="inlineStr"') > 1000
        core = zf.read("docProps/core.xml").decode("utf-8")
    assert "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2026-10-31T00:00:00Z</dcterms:created>" in core
    wb = load_workbook(path)
    assert wb.properties.created == dt.datetime(2026, 10, 31) and wb.properties.title
    ws = wb["État de présence"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b and not ws["A2"].font.b
    # widths in characters: the header's length + 2, between 10 and 40 (XlsxWriter adds its padding)
    widths = {letter: int(ws.column_dimensions[letter].width) for letter in ("A", "F", "G")}
    assert widths == {"A": 15, "F": 26, "G": 10}


@pytest.mark.slow
async def test_libreoffice_reads_the_xlsx(make_hub, workdir, tmp_path):
    """The XLSX opens in a real spreadsheet (LibreOffice headless; skipped without it)."""
    import shutil
    import subprocess

    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    hub = await open_demo(make_hub, workdir, EXPORTS)
    out = await hub.export("atlas", Period.parse("2026-10"))
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):59,34,76,1,,0,false,true,false,false,false,-1",
                    "--outdir", str(tmp_path), str(out.folder / "atlas-etat-presence-2026-10.xlsx")],
                   check=True, capture_output=True, timeout=120)
    sheets = sorted(tmp_path.glob("*.csv"))
    assert [p.name.rsplit("-", 1)[-1] for p in sheets] == ["Synthèse.csv", "État de présence.csv"]
    rows = read_csv(sheets[1], "utf-8", ";")
    assert len(rows) == 121 and rows[1][6] == "10/05/2026"  # a real date (LibreOffice's default en-US display)
    assert rows[1][12:15] == ["3.5", "3.5", "3.5"]


def test_xlsx_cells_drop_control_characters_and_refuse_to_cut_a_text_short(tmp_path):
    """A control character a CRM let through would show as ``_x0001_`` in Excel; a text longer than
    a cell holds would be cut silently: the first is dropped, the second stops the export and says where."""
    from openpyxl import load_workbook

    from funder_formats.opco.profile import PROFILES_DIR, ColumnSpec, Profile
    from funder_formats.opco.writers import XlsxBook
    from hub.profiles.loading import builtin_profiles, load_profile

    profile = load_profile(builtin_profiles(PROFILES_DIR)["atlas"], Profile)
    specs = [ColumnSpec(column="learner_name")]  # header "Stagiaire"
    path = tmp_path / "t.xlsx"
    book = XlsxBook(path, profile, dt.datetime(2026, 10, 31))
    sheet = book.sheet("Feuille", specs)
    sheet.write(None, {"learner_name": "Camille\x01 Dubois\x1f"})
    book.close()
    assert load_workbook(path)["Feuille"]["A2"].value == "Camille Dubois"
    book = XlsxBook(tmp_path / "long.xlsx", profile, dt.datetime(2026, 10, 31))
    sheet = book.sheet("Feuille", specs)
    with pytest.raises(ValueError, match=r"long.xlsx, sheet 'Feuille', row 2, column 'Stagiaire': longer than 32,767"):
        sheet.write(None, {"learner_name": "x" * 40_000})
    book.close()

"""Fixtures of the OPCO format tests: the demo data set (with the employer fields the OPCO needs),
an edge-case data set, golden files."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.plugins import load_plugins
from tests.conftest import TestPlugin
from tests.test_journeys import ROOT, demo_config

GOLDEN = Path(__file__).parent / "golden"
TODAY = dt.date(2026, 11, 20)  # "today" for the files (dateSignature…): after the demo action
PARIS = ZoneInfo("Europe/Paris")
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")

ORGANISATION = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8").split("  organisation:\n", 1)[1].split(
    "  timezone:", 1)[0]
HUB_ORGANISATION = "  organisation:\n" + ORGANISATION

# The six OPCO Atlas learners of the demo, with what the OPCO needs and the core vocabulary lacks:
# ref -> (employer SIRET, employer, Atlas file number), as config/demo-dossiers gives them.
EMPLOYERS = {
    event["learner"]["ref"]: (details["employer_siret"], details["employer_name"], details["dossier"])
    for event in map(json.loads, (ROOT / "config/demo-dossiers/dossiers.ndjson").read_text(encoding="utf-8").splitlines())
    if "employer_siret" in (details := event["data"].get("details") or {})
}


@pytest.fixture
def plugins():
    """Only the plugins these tests need, the OPCO format coming through its entry point."""
    return load_plugins(env={"PARCOURS_LOAD_PLUGINS": "file_drop,opco"}, extra=[("test-plugin", TestPlugin())])


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    import funder_formats.opco.format as fmt

    monkeypatch.setattr(fmt, "today", lambda tz: TODAY)


def demo_funding_details(workdir: Path, *, employers: dict | None = None) -> None:
    """Add, to the demo files, the Atlas fundings again with their details (employer, dossier)."""
    lines = []
    for line in (ROOT / "config/demo-data/01-funnel.ndjson").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        ref = (event.get("learner") or {}).get("ref")
        if event["type"] != "funding.approved" or ref not in (employers if employers is not None else EMPLOYERS):
            continue
        siret, name, dossier = (employers if employers is not None else EMPLOYERS)[ref]
        event["source_id"] = "pec-details-" + ref
        event["occurred_at"] = event["occurred_at"].replace(":00:00", ":30:00")
        details = {"employer_name": name, "dossier": dossier}
        if siret is not None:
            details["employer_siret"] = siret
        event["data"]["details"] = details
        lines.append(json.dumps(event, ensure_ascii=False))
    (workdir / "demo-data" / "05-employeurs.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def open_demo(make_hub, workdir, exports: str, *, details: bool = True, employers: dict | None = None,
                    organisation: bool = True, extra_actions: str = ""):
    """A hub on the demo data (plus, with ``details``, the employer fields), with ``exports``."""
    config = demo_config(workdir)
    if details:
        demo_funding_details(workdir, employers=employers)
    hub = await make_hub((HUB_ORGANISATION if organisation else "") + config + extra_actions + exports)
    summary = await hub.pull("demo")
    assert summary.appended == 543 + (len(employers if employers is not None else EMPLOYERS) if details else 0)
    return hub


# --------------------------------------------------------------------------- the edge-case data set

EDGE_ACTIONS = """\
  ACT-EDGE-01:
    title: "Gestion de la paie — session d'hiver"
    nature: formation
    modality: mixte
    start: 2025-12-15
    end: 2026-01-09
    location: Villeurbanne
    trainer: Karim Aït-Ali
    exclude_dates: [2025-12-25, 2025-12-26, 2026-01-01, 2026-01-02]
    pattern:
      weekdays: [mon, tue, wed, thu, fri]
      am: {start: "09:00", end: "12:30", modality: presentiel}
      pm: {start: "13:30", end: "17:00", modality: foad_asynchrone}
  ACT-APP-01:
    title: "BTS Comptabilité et gestion — apprentissage"
    nature: apprentissage
    modality: presentiel
    start: 2025-12-01
    end: 2026-01-27
    location: Lyon
    exclude_dates: [2025-12-29, 2025-12-30]
    pattern:
      weekdays: [mon, tue]
      am: {start: "09:00", end: "12:30"}
      pm: {start: "13:30", end: "17:00"}
"""

EDGE_ACTION_DAYS = [d for d in (dt.date(2025, 12, 15) + dt.timedelta(days=i) for i in range(26))
                    if d.weekday() < 5 and d not in (dt.date(2025, 12, 25), dt.date(2025, 12, 26),
                                                     dt.date(2026, 1, 1), dt.date(2026, 1, 2))]
APP_DAYS = [d for d in (dt.date(2025, 12, 1) + dt.timedelta(days=i) for i in range(58))
            if d.weekday() < 2 and d not in (dt.date(2025, 12, 29), dt.date(2025, 12, 30))]

EDGE_LEARNERS = {
    # ref: (name, email, fundings [(funder, kind, hours, details)])
    "edge-a": ("Alice Martin", "alice.martin@example.fr",
               [("opco-atlas", "opco", "112", {"employer_siret": "44803334400012", "employer_name": "Paie Services SAS",
                                                "dossier": "ATL-2025-0901"})]),
    "edge-b": ("Bruno Petit", "bruno.petit@example.fr",
               [("opco-atlas", "opco", "112", {"employer_siret": "44803334400012", "employer_name": "Paie Services SAS",
                                                "dossier": "ATL-2025-0902"})]),
    "edge-c": ("Chloé Wiśniewska", "chloe.wisniewska@example.fr",
               [("opco-atlas", "opco", "112", {"employer_siret": "55209876500019", "employer_name": "Banque Rhône Conseil SA",
                                                "dossier": "ATL-2025-0903"})]),
    "edge-d": ("David Nguyen", "david.nguyen@example.fr",
               [("opco-atlas", "opco", "56", {"employer_siret": "81204567800016", "employer_name": "Cabinet Haddad & Associés",
                                               "dossier": "ATL-2025-0904"}),
                ("cpf", "cpf", "56", None)]),
}
APPRENTICE = ("edge-e", "Emma Leroy", "emma.leroy@example.fr", {
    "employer_siret": "39201112200018", "employer_name": "Compagnie d'Assurances de La Tour", "dossier": "ATL-APP-0042",
    "invoice_number": "FAC-2026-0007",
    "echeances": [{"numero": 1, "codification": "A1", "dateDebut": "2025-12-01", "dateFin": "2025-12-31"},
                  {"numero": 2, "codification": "A2", "dateDebut": "2026-01-01", "dateFin": "2026-06-30"}]})
EDGE_DROPOUT = ("edge-b", dt.date(2026, 1, 6))
EDGE_NO_COSIGN = ("edge-c", dt.date(2025, 12, 16))
EDGE_ABSENT = ("edge-d", dt.date(2025, 12, 17))
EDGE_UNSCHEDULED_FOAD = ("edge-c", dt.date(2025, 12, 20))  # a Saturday: connection outside the schedule


def _at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).isoformat()


def edge_events() -> list[dict]:
    events: list[dict] = []

    def add(type_, when, ref, name, email, action, data, sid):
        events.append({"type": type_, "occurred_at": when, "source_id": sid, "action": action,
                       "learner": {"ref": ref, "name": name, "email": email}, "data": data})

    for ref, (name, email, fundings) in EDGE_LEARNERS.items():
        action = "ACT-EDGE-01"
        add("enrolment.registered", _at(dt.date(2025, 11, 3), 10), ref, name, email, action, {}, f"reg-{ref}")
        add("enrolment.agreement_signed", _at(dt.date(2025, 11, 5), 10), ref, name, email, action,
            {"agreement_type": "convention", "reference": f"CONV-{ref}"}, f"conv-{ref}")
        for funder, kind, hours, details in fundings:
            data = {"funder": funder, "funder_kind": kind, "hours": hours, "amount": "1960.00" if hours == "112" else "980.00",
                    "reference": f"PEC-{funder.upper()}-{ref}"}
            if details:
                data["details"] = details
            add("funding.approved", _at(dt.date(2025, 11, 20), 10), ref, name, email, action, data, f"pec-{ref}-{funder}")
        add("enrolment.started", _at(EDGE_ACTION_DAYS[0], 9), ref, name, email, action,
            {"date": EDGE_ACTION_DAYS[0].isoformat()}, f"start-{ref}")
        for day in EDGE_ACTION_DAYS:
            if ref == EDGE_DROPOUT[0] and day > EDGE_DROPOUT[1]:
                break
            if (ref, day) == EDGE_ABSENT:
                add("attendance.absent", _at(day, 12, 30), ref, name, email, action,
                    {"date": day.isoformat(), "half_day": "am", "justified": True, "reason": "rendez-vous médical"},
                    f"abs-{ref}-{day}")
            else:
                add("attendance.signed", _at(day, 9, 5), ref, name, email, action,
                    {"date": day.isoformat(), "half_day": "am", "modality": "presentiel", "signer": "learner",
                     "trainer_cosigned": (ref, day) != EDGE_NO_COSIGN, "trainer_name": "Karim Aït-Ali",
                     "proof": "signature électronique"}, f"sig-{ref}-{day}")
            minutes = 150 + (day.day % 4) * 15 if ref != "edge-b" else 60
            start = dt.datetime(day.year, day.month, day.day, 13, 40, tzinfo=PARIS)
            end = start + dt.timedelta(minutes=minutes)
            add("lms.session", end.isoformat(), ref, name, email, action,
                {"start": start.isoformat(), "end": end.isoformat(), "duration_seconds": minutes * 60}, f"sess-{ref}-{day}")
        if ref == EDGE_UNSCHEDULED_FOAD[0]:
            day = EDGE_UNSCHEDULED_FOAD[1]
            start = dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=PARIS)
            end = start + dt.timedelta(minutes=90)
            add("lms.session", end.isoformat(), ref, name, email, action,
                {"start": start.isoformat(), "end": end.isoformat(), "duration_seconds": 5400}, f"sess-{ref}-{day}")
        if ref == EDGE_DROPOUT[0]:
            add("enrolment.abandoned", _at(dt.date(2026, 1, 7), 11), ref, name, email, action,
                {"date": EDGE_DROPOUT[1].isoformat(), "reason": "démission"}, f"abandon-{ref}")
        else:
            add("enrolment.completed", _at(EDGE_ACTION_DAYS[-1], 17, 30), ref, name, email, action,
                {"date": EDGE_ACTION_DAYS[-1].isoformat()}, f"done-{ref}")
    ref, name, email, details = APPRENTICE
    action = "ACT-APP-01"
    add("enrolment.registered", _at(dt.date(2025, 10, 1), 10), ref, name, email, action, {}, f"reg-{ref}")
    add("enrolment.agreement_signed", _at(dt.date(2025, 10, 15), 10), ref, name, email, action,
        {"agreement_type": "contrat", "reference": "CTR-APP-0042"}, f"ctr-{ref}")
    add("funding.approved", _at(dt.date(2025, 11, 1), 10), ref, name, email, action,
        {"funder": "opco-atlas", "funder_kind": "opco", "hours": "112", "reference": "PEC-APP-0042", "details": details},
        f"pec-{ref}")
    add("enrolment.started", _at(APP_DAYS[0], 9), ref, name, email, action, {"date": APP_DAYS[0].isoformat()}, f"start-{ref}")
    for day in APP_DAYS:
        for half, hour in (("am", 9), ("pm", 13)):
            add("attendance.signed", _at(day, hour, 35), ref, name, email, action,
                {"date": day.isoformat(), "half_day": half, "modality": "presentiel", "signer": "learner",
                 "trainer_cosigned": True, "proof": "signature électronique"}, f"sig-{ref}-{day}-{half}")
    add("enrolment.completed", _at(APP_DAYS[-1], 17, 30), ref, name, email, action,
        {"date": APP_DAYS[-1].isoformat()}, f"done-{ref}")
    return events


async def open_edge(make_hub, workdir, exports: str):
    """A hub on the demo data and the edge-case data set (two actions over December and January)."""
    hub = await open_demo(make_hub, workdir, exports, extra_actions=EDGE_ACTIONS)
    result = await hub.append(edge_events(), source=None)
    assert result.appended == len(edge_events())
    return hub


# --------------------------------------------------------------------------- golden files


def golden(name: str, actual: bytes | str) -> None:
    """Compare with tests/formats/opco/golden/<name>; ``UPDATE_GOLDEN=1`` rewrites the file."""
    path = GOLDEN / name
    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"golden file {name} missing: run with UPDATE_GOLDEN=1 and review it"
    expected = path.read_bytes()
    if data != expected:
        import difflib

        diff = "\n".join(difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(),
                                              data.decode("utf-8", "replace").splitlines(), "golden", "actual",
                                              lineterm="", n=1))
        raise AssertionError(f"{name} differs from its golden file:\n{diff[:4000]}")


def without_ids(text: str) -> str:
    """Event and learner ids (ULIDs, assigned at ingest) replaced, for golden comparison."""
    return ULID.sub("<id>", text)


def xlsx_dump(path: Path) -> str:
    """The cells of a workbook as JSON text (values typed: dates ISO, numbers with their format)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    out = {}
    for ws in wb.worksheets:
        rows = []
        for row in ws.iter_rows():
            cells = []
            for cell in row:
                value = cell.value
                if isinstance(value, dt.datetime):
                    value = {"date": value.date().isoformat(), "format": cell.number_format}
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    # an XLSX number is a double: 3 and 3.0 are the same cell (openpyxl reads "3" as int)
                    value = {"number": float(value), "format": cell.number_format}
                cells.append(value)
            while cells and cells[-1] is None:  # trailing empty cells: padding to the sheet's dimension
                cells.pop()
            rows.append(cells)
        out[ws.title] = rows
    return json.dumps(out, ensure_ascii=False, indent=1) + "\n"


def read_csv(path: Path, encoding: str, separator: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline=""), delimiter=separator))

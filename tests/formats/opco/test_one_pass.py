"""The same files, whatever the order the journeys come in and however few are read at a time.

The golden files ``gen-*`` were written by the two-pass export (enrolments first, then the lines
in the files' order) before it became one pass that spools the lines and merges them in the
files' order: these tests hold the one-pass export to those bytes (CSV, JSON, zip members) and
cells (XLSX), on a generated organisation whose learners are ingested in an order the files do
not follow (names that differ only by accents and case, the same name twice, two OPCOs for one
enrolment, dropouts, absences, FOAD outside the schedule, activity estimates, apprentices,
enrolments without subrogation, an action missing from the configuration), read a few journeys
at a time so that the lines of many pages are merged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import zipfile

import pytest

from hub.formats import Period
from tests.formats.opco.conftest import HUB_ORGANISATION, PARIS, golden, read_csv, without_ids, xlsx_dump

ACTIONS = """
actions:
  ACT-GEN-A:
    title: "Comptabilité — parcours mixte"
    nature: formation
    modality: mixte
    start: 2026-09-28
    end: 2026-11-19
    location: Lyon
    trainer: Sophie Lambert
    rules: {foad_count_activity_estimates: true}
    pattern:
      weekdays: [mon, wed]
      am: {start: "09:00", end: "12:30", modality: presentiel}
      pm: {start: "13:30", end: "17:00", modality: foad_asynchrone}
  ACT-GEN-B:
    title: "Paie — session courte"
    nature: formation
    modality: mixte
    start: 2026-10-12
    end: 2026-10-23
    location: Villeurbanne
    pattern:
      weekdays: [mon, tue, wed, thu, fri]
      am: {start: "09:00", end: "12:30", modality: presentiel}
      pm: {start: "14:00", end: "17:00", modality: foad_asynchrone}
  ACT-GEN-APP:
    title: "BTS Gestion de la PME — apprentissage"
    nature: apprentissage
    modality: presentiel
    start: 2026-09-07
    end: 2026-10-27
    location: Lyon
    pattern:
      weekdays: [mon, tue]
      am: {start: "09:00", end: "12:30"}
      pm: {start: "13:30", end: "17:00"}
"""
EXPORTS = """
exports:
  gen:
    kind: opco
    funders: [opco-atlas, opco-akto]
    profile: atlas
    outputs: [attendance_csv, attendance_xlsx, subrogation_bundle, api_cfa]
  gen-end:
    kind: opco
    profile: akto
    statement: end_of_action
    outputs: [attendance_csv, subrogation_bundle]
"""
#: ingest order: names that collate alike (accents, case) and the same name twice, far apart
NAMES = ["Zoé Vasseur", "éloïse martin", "Hugo Bernard", "Éloïse Martin", "Jean Dupont", "Ana",
         "Eloise MARTIN", "Chloé N'Diaye", "Ångel Åberg", "Jean Dupont", "Maximilien-Alexandre de La Tour d'Auvergne",
         "Léa Émery", "lea Emery", "Yanis Zerrouki", "Inès Haddad", "Bruno Petit", "Camille Dubois", "Théo Garnier",
         "Anaïs Roux", "Zoé Vasseur", "Paul Lefèvre", "Sarah Cohen", "Nina Kowalski", "Omar Benali"]
ACTION_OF = ["ACT-GEN-A", "ACT-GEN-B", "ACT-GEN-A", "ACT-GEN-A", "ACT-GEN-A", "ACT-GEN-B", "ACT-GEN-A", "ACT-GEN-APP"]
SIRETS = ["44803334400012", "55209876500019", "81204567800016", "39201112200018"]


def _at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).isoformat()


def _days(start: dt.date, end: dt.date, weekdays: set[int]) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)
            if (start + dt.timedelta(days=i)).weekday() in weekdays]


SPANS = {"ACT-GEN-A": (dt.date(2026, 9, 28), dt.date(2026, 11, 19), {0, 2}),
         "ACT-GEN-B": (dt.date(2026, 10, 12), dt.date(2026, 10, 23), {0, 1, 2, 3, 4}),
         "ACT-GEN-APP": (dt.date(2026, 9, 7), dt.date(2026, 10, 27), {0, 1})}


def generated_events() -> list[dict]:
    """The events of the generated organisation (deterministic)."""
    rng = random.Random(2026)
    events: list[dict] = []
    for n, name in enumerate(NAMES):
        action = "ACT-GEN-GONE" if n == 13 else ACTION_OF[n % len(ACTION_OF)]  # 13: an action not configured
        ref = f"gen-{n:02d}"
        learner = {"ref": ref, "name": name, "email": f"{ref}@example.fr"}

        def add(type_: str, when: str, data: dict, sid: str) -> None:
            events.append({"type": type_, "occurred_at": when, "source_id": f"{sid}-{ref}", "learner": learner,
                           "action": action, "data": data})

        start, end, weekdays = SPANS.get(action, SPANS["ACT-GEN-A"])
        days = _days(start, end, weekdays)
        add("enrolment.registered", _at(start - dt.timedelta(days=30), 10), {}, "reg")
        fundings = [("opco-atlas", "opco")]
        if n % 7 == 2:
            fundings.append(("opco-akto", "opco"))  # two OPCOs: two entries of one enrolment
        if n % 11 == 6:
            fundings = [("cpf", "cpf")]  # not an OPCO: in no statement
        for funder, kind in fundings:
            details = {"employer_siret": SIRETS[n % len(SIRETS)], "employer_name": f"Employeur {n % 5}",
                       "dossier": "ATL-GEN-DUP" if name == "Jean Dupont" else f"{funder.upper()}-{n:03d}"}
            if n % 6 == 5:
                details["subrogation"] = False
            if action == "ACT-GEN-APP":
                details["echeances"] = [
                    {"numero": 1, "codification": "A1", "dateDebut": "2026-09-07", "dateFin": "2026-09-30"},
                    {"numero": 2, "codification": "A2", "dateDebut": "2026-10-01", "dateFin": "2026-10-27"}]
            add("funding.approved", _at(start - dt.timedelta(days=10), 10),
                {"funder": funder, "funder_kind": kind, "hours": str(len(days) * 7), "amount": f"{len(days) * 105}.00",
                 "reference": f"PEC-{funder}-{n}", "details": details}, f"pec-{funder}")
        add("enrolment.started", _at(start, 9), {"date": start.isoformat()}, "start")
        dropout = days[len(days) // 2 + n % 3] if n % 5 == 3 else None
        for day in days:
            if dropout and day > dropout:
                break
            roll = rng.random()
            if roll < 0.06:
                add("attendance.absent", _at(day, 12, 30), {"date": day.isoformat(), "half_day": "am",
                                                            "justified": roll < 0.03, "reason": "rendez-vous"}, f"abs-{day}")
            elif roll < 0.09:
                pass  # neither signed nor absent: a missing signature
            else:
                add("attendance.signed", _at(day, 9, rng.randrange(20)),
                    {"date": day.isoformat(), "half_day": "am", "modality": "presentiel", "signer": "learner",
                     "trainer_cosigned": rng.random() > 0.05, "proof": "signature électronique"}, f"sig-{day}")
            if action == "ACT-GEN-APP":
                add("attendance.signed", _at(day, 13, 35),
                    {"date": day.isoformat(), "half_day": "pm", "modality": "presentiel", "signer": "learner",
                     "trainer_cosigned": True, "proof": "signature électronique"}, f"sigpm-{day}")
                continue
            for k in range(rng.choice((0, 1, 1, 1, 2))):  # FOAD: no session, one, or two (the daily cap)
                begin = dt.datetime(day.year, day.month, day.day, 13 + 4 * k, 40, tzinfo=PARIS)
                minutes = rng.randrange(30, 260)
                add("lms.session", (begin + dt.timedelta(minutes=minutes)).isoformat(),
                    {"start": begin.isoformat(), "end": (begin + dt.timedelta(minutes=minutes)).isoformat(),
                     "duration_seconds": minutes * 60}, f"sess{k}-{day}")
            if rng.random() < 0.3:
                add("lms.activity_completed", _at(day, 16, 10),
                    {"activity": f"act-{day}", "activity_name": "Exercice", "state": "complete",
                     "estimated_minutes": rng.randrange(10, 60)}, f"act-{day}")
        if n % 4 == 1:  # connection on a Saturday: FOAD outside the schedule
            saturday = start + dt.timedelta(days=(5 - start.weekday()) % 7 + 7)
            begin = dt.datetime(saturday.year, saturday.month, saturday.day, 10, 0, tzinfo=PARIS)
            add("lms.session", (begin + dt.timedelta(minutes=95)).isoformat(),
                {"start": begin.isoformat(), "end": (begin + dt.timedelta(minutes=95)).isoformat(),
                 "duration_seconds": 95 * 60}, "sess-sat")
        if dropout:
            add("enrolment.abandoned", _at(dropout, 18), {"date": dropout.isoformat(), "reason": "reprise d'emploi"},
                "abandon")
        elif end <= dt.date(2026, 10, 31):
            add("enrolment.completed", _at(end, 17, 30), {"date": end.isoformat()}, "done")
    return events


def _zip_members(path) -> list[str]:
    """The members of a bundle: name and SHA-256 of the content, ids normalised (its lines are the statement's)."""
    with zipfile.ZipFile(path) as zf:
        return [f"{name} {hashlib.sha256(without_ids(zf.read(name).decode('utf-8-sig')).encode()).hexdigest()}"
                for name in sorted(zf.namelist()) if not name.endswith(".pdf")]


def export_snapshot(out) -> str:
    """Everything an export says and writes, as text: outcome, CSV lines, XLSX cells (a row a line),
    the members of the bundles, API CFA certificates."""
    lines = [json.dumps({"files": sorted(out.files), "notes": out.notes}, ensure_ascii=False)]
    lines += [json.dumps(m.__dict__, ensure_ascii=False) for m in out.missing]
    for name in sorted(out.files):
        path = out.folder / name
        lines.append(f"== {name}")
        if name.endswith(".csv"):
            lines += path.read_bytes().decode("utf-8-sig").splitlines()
        elif name.endswith(".xlsx"):
            for sheet, rows in json.loads(xlsx_dump(path)).items():
                lines.append(f"-- {sheet}")
                lines += [json.dumps(row, ensure_ascii=False) for row in rows]
        elif name.endswith(".zip"):
            lines += _zip_members(path)
        elif name.endswith(".json") and name != "manifest.json":
            lines.append(json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False))
    return without_ids("\n".join(lines)) + "\n"


async def _generated(make_hub, monkeypatch, chunk: int, run_bytes: int | None = None):
    monkeypatch.setattr("hub.journeys.stream.CHUNK", chunk)
    if run_bytes is not None:
        monkeypatch.setattr("funder_formats.opco.spool.RUN_BYTES", run_bytes)
    hub = await make_hub(HUB_ORGANISATION + ACTIONS + EXPORTS)
    events = generated_events()
    assert (await hub.append(events, source=None)).appended == len(events)
    return hub


@pytest.mark.parametrize("chunk, run_bytes", [(3, 1), (3, 40_000), (100, None)])
async def test_generated_organisation_gives_the_files_of_the_two_pass_export(make_hub, workdir, monkeypatch, chunk,
                                                                             run_bytes):
    """Pages of 3 journeys, spooled one enrolment a run (the merge of ~30 runs) or a few a run; and
    the defaults (one page, one run)."""
    hub = await _generated(make_hub, monkeypatch, chunk, run_bytes)
    out = await hub.export("gen", Period.parse("2026-10"), allow_incomplete=True)
    assert out.written and out.missing  # no certificate issued: the bundles say so, exported anyway
    golden("gen-2026-10-monthly.txt", export_snapshot(out))
    assert "atlas-subrogation-ATL-GEN-DUP-jean-dupont-2.zip" in out.files  # the same name twice
    raw = (out.folder / "atlas-etat-presence-2026-10.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and len(read_csv(out.folder / "atlas-etat-presence-2026-10.csv",
                                                            "utf-8-sig", ";")) > 200

    end = await hub.export("gen-end", Period.parse("2026-10"), allow_incomplete=True)
    assert end.written
    golden("gen-2026-10-end-of-action.txt", export_snapshot(end))


async def test_generated_organisation_refused_lists_the_same_missing_fields(make_hub, workdir, monkeypatch):
    hub = await _generated(make_hub, monkeypatch, 3, 1)
    refused = await hub.export("gen", Period.parse("2026-10"))
    assert not refused.written and refused.folder is None
    golden("gen-2026-10-refused.json", json.dumps([m.__dict__ for m in refused.missing], ensure_ascii=False, indent=1) + "\n")
    leftovers = [p for p in (workdir / "var" / "exports").rglob("*") if p.is_file()]
    assert leftovers == []  # nothing half-written


def test_spool_gives_back_records_by_key_whatever_the_runs(tmp_path):
    from decimal import Decimal

    from funder_formats.opco.spool import SortedSpool

    rng = random.Random(16)
    keys = [("ACT-%d" % rng.randrange(3), "".join(rng.choices("abcé", k=4)), f"L{n:04d}") for n in range(500)]
    for run_bytes in (1, 2_000, None):
        folder = tmp_path / str(run_bytes)
        folder.mkdir()
        spool = SortedSpool(folder, run_bytes)
        for key in keys:
            spool.add(key, {"key": key, "hours": Decimal("3.50"), "date": dt.date(2026, 10, 5)})
        records = list(spool)
        spool.close()
        assert [r["key"] for r in records] == sorted(keys)
        assert records[0]["hours"] == Decimal("3.50") and records[0]["date"] == dt.date(2026, 10, 5)
        runs = len(spool._runs)
        assert spool.count == 500 and (runs == 500 if run_bytes == 1 else runs == 1 if run_bytes is None else 1 < runs < 500)
    empty = tmp_path / "empty"
    empty.mkdir()
    spool = SortedSpool(empty)
    assert list(spool) == []
    spool.close()

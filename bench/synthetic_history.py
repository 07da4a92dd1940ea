"""A synthetic history of a training organisation: two years of cohorts, their learners' traces
and their outcomes, for the dropout-risk model (hub/risk, docs/risk.md).

    python bench/synthetic_history.py OUT_DIR [--seed 7] [--cohorts 24] [--learners 16]

writes ``OUT_DIR/data/*.ndjson`` (the same event format as config/demo-data, read by a
``file_drop`` connector) and ``OUT_DIR/hub.yaml`` (the actions, the connector, the store under
``OUT_DIR/var``): ``parcours sync history --config OUT_DIR/hub.yaml`` ingests it. Deterministic
for a given seed.

One cohort starts each month, in turn présentiel (mornings and afternoons in the room), FOAD
(asynchronous distance learning on the LMS) and mixed (mornings in the room, afternoons on the
LMS), four to six weeks long. Each learner has a funder (OPCO, France Travail, CPF, Région,
self-funded) and a story:

* completes (most), with the odd missed or justified half-day, a failed quiz now and then, a
  late start;
* progressive disengagement: attends less and less from some point, goes quiet on the LMS, and
  is recorded as abandoning when attendance has all but stopped;
* sudden drop after a failed assessment: attends normally, fails the first assessment, stops
  within days;
* payment incident: a rejected direct debit (``payment.refunded``), irregular attendance, drops
  out mid-way;
* never starts: registered and funded, no trace; the abandonment is recorded a week or two after
  the start.

A learner's risk differs a little by funder and modality (FOAD loses more learners), as it does
in real organisations; no protected attribute is generated at all.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.journeys.actions import TrainingAction  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
FIRST_START = dt.date(2024, 11, 4)
MODALITIES = ["presentiel", "foad_asynchrone", "mixte"]
TITLES = {"presentiel": "Gestion de la paie", "foad_asynchrone": "Bureautique avancée à distance",
          "mixte": "Développeur·se web — React et API"}
FUNDERS = [("opco-atlas", "opco", 0.35), ("france-travail", "france_travail", 0.25), ("cpf", "cpf", 0.2),
           ("region-ara", "region", 0.12), (None, "self", 0.08)]
#: (story, base weight): the share of each story before the funder's and the modality's adjustments
STORIES = [("completes", 0.70), ("disengages", 0.12), ("fails_then_drops", 0.07), ("payment_incident", 0.05),
           ("never_starts", 0.06)]
FUNDER_RISK = {"france_travail": 1.25, "cpf": 1.1, "self": 1.2, "opco": 0.85, "region": 1.0}
MODALITY_RISK = {"foad_asynchrone": 1.35, "mixte": 1.0, "presentiel": 0.8}
FIRST = ["Camille", "Chloé", "Éloïse", "Théo", "Inès", "Yasmine", "Hugo", "Lucas", "Manon", "Nathan", "Léa",
         "Zoé", "Mathis", "Aïcha", "Jules", "Sofiane", "Clémence", "Noé", "Anaïs", "Karim"]
LAST = ["Dubois", "N'Diaye", "Martin", "Garnier", "Haddad", "Benali", "Lefèvre", "Bernard", "Rousseau",
        "Fournier", "Moreau", "Nguyen", "Petit", "Lambert", "Girard", "Bonnet", "Mercier"]


def _iso(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).isoformat()


def actions(cohorts: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """The cohorts' actions as configuration (one a month, modalities in turn)."""
    out = {}
    for n in range(cohorts):
        month = FIRST_START.month - 1 + n
        first = dt.date(FIRST_START.year + month // 12, month % 12 + 1, 1)
        start = first + dt.timedelta(days=(7 - first.weekday()) % 7)  # the month's first Monday
        modality = MODALITIES[n % len(MODALITIES)]
        weeks = rng.choice([4, 5, 6])
        end = start + dt.timedelta(days=7 * weeks - 3)
        am = {"start": "09:00", "end": "12:30", "modality": "foad_asynchrone" if modality == "foad_asynchrone" else "presentiel"}
        pm = {"start": "13:30", "end": "17:00", "modality": "presentiel" if modality == "presentiel" else "foad_asynchrone"}
        out[f"HIST-{start:%Y-%m}-{modality[:4].upper()}"] = {
            "title": TITLES[modality], "modality": modality, "start": start.isoformat(), "end": end.isoformat(),
            "trainer": "Sophie Lambert", "location": "Lyon", "pattern": {"am": am, "pm": pm}}
    return out


def _story(rng: random.Random, funder_kind: str, modality: str) -> str:
    risk = FUNDER_RISK[funder_kind] * MODALITY_RISK[modality]
    weights = [w if name == "completes" else w * risk for name, w in STORIES]
    return rng.choices([name for name, _ in STORIES], weights)[0]


class Learner:
    def __init__(self, ref: str, name: str, action: str, funder: str | None, kind: str, story: str):
        self.ref, self.name, self.action, self.funder, self.kind, self.story = ref, name, action, funder, kind, story
        self.n = 0

    def event(self, type_: str, at: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        self.n += 1
        return {"type": type_, "occurred_at": at, "source_id": f"{self.ref}-{self.n:04d}", "action": self.action,
                "learner": {"ref": self.ref, "name": self.name,
                            "email": f"{self.ref}@example.fr"}, "data": data or {}}


def _learner_events(rng: random.Random, who: Learner, action: TrainingAction) -> Iterator[dict[str, Any]]:
    schedule = action.schedule()
    days = sorted({hd.date for hd in schedule})
    n_days = len(days)
    registered = action.start - dt.timedelta(days=rng.randint(10, 45))
    yield who.event("enrolment.registered", _iso(registered, 10), {"enrolment": f"ins-{who.ref}"})
    if who.funder:
        approved = registered + dt.timedelta(days=rng.randint(2, 8))
        yield who.event("funding.approved", _iso(approved, 11),
                        {"funder": who.funder, "funder_kind": who.kind, "hours": str(action.total_planned_hours())})
    if who.story == "payment_incident" or (who.kind == "self" and rng.random() < 0.1):
        at = action.start - dt.timedelta(days=rng.randint(0, 5))
        yield who.event("payment.refunded", _iso(at, 8), {"amount": "450", "currency": "EUR",
                                                          "reason": "rejet de prélèvement"})
    if who.story == "never_starts":
        quit_day = days[min(n_days - 1, rng.randint(5, 9))]
        yield who.event("enrolment.abandoned", _iso(quit_day, 16), {"date": quit_day.isoformat(),
                                                                   "reason": "ne s'est jamais présenté"})
        return

    # when and how the learner drops out, and how present they are day by day
    assessments = [days[max(1, round(n_days * 0.3))], days[max(2, round(n_days * 0.7))]]
    quit_index: int | None = None
    if who.story == "disengages":
        fade_from = rng.randint(1, max(2, n_days // 2))
        quit_index = min(n_days - 1, fade_from + rng.randint(4, 8))
    elif who.story == "fails_then_drops":
        quit_index = min(n_days - 1, days.index(assessments[0]) + rng.randint(1, 4))
    elif who.story == "payment_incident":
        quit_index = min(n_days - 1, rng.randint(n_days // 4, n_days // 2 + 1))
    late = rng.random() < 0.08
    start_index = rng.randint(1, 2) if late else 0

    def presence(i: int) -> float:
        if i < start_index or (quit_index is not None and i >= quit_index):
            return 0.0
        if who.story == "disengages" and i >= fade_from:
            return max(0.05, 0.9 - 0.18 * (i - fade_from))
        if who.story == "payment_incident":
            return 0.65
        return 0.96

    started = False
    progress = 0.0
    for i, day in enumerate(days):
        if quit_index is not None and i >= quit_index:
            break
        for hd in (h for h in schedule if h.date == day):
            present = rng.random() < presence(i)
            if present and not started:
                started = True
                yield who.event("enrolment.started", _iso(day, 9), {"date": day.isoformat()})
            if hd.modality == "presentiel":
                if present:
                    hour = 9 if hd.half_day == "am" else 13
                    yield who.event("attendance.signed", _iso(day, hour, 35),
                                    {"date": day.isoformat(), "half_day": hd.half_day, "signer": "learner",
                                     "signer_name": who.name, "trainer_cosigned": True,
                                     "trainer_name": "Sophie Lambert", "proof": "signature électronique"})
                elif i >= start_index and rng.random() < 0.4:
                    yield who.event("attendance.absent", _iso(day, 18),
                                    {"date": day.isoformat(), "half_day": hd.half_day, "justified": True,
                                     "reason": "arrêt maladie"})
            elif present:  # FOAD: a session on the LMS and, often, an activity completed
                hour = 9 if hd.half_day == "am" else 14
                minutes = rng.randint(60, 200)
                begin = dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=PARIS)
                yield who.event("lms.session", _iso(day, hour), {
                    "start": begin.isoformat(), "end": (begin + dt.timedelta(minutes=minutes)).isoformat(),
                    "duration_seconds": minutes * 60})
                if rng.random() < 0.6:
                    yield who.event("lms.activity_completed", (begin + dt.timedelta(minutes=minutes - 5)).isoformat(),
                                    {"activity": f"act-{i:02d}-{hd.half_day}", "activity_name": f"Séquence {i + 1}",
                                     "estimated_minutes": 45})
                progress = min(100.0, progress + 100.0 / max(1, len(schedule)) * (1.6 if present else 0))
        if action.modality != "presentiel" and day.weekday() == 4 and started:
            yield who.event("lms.progress", _iso(day, 19), {"percent": f"{min(100.0, progress):.0f}"})
        if started and rng.random() < (0.12 if who.story == "completes" else 0.04):
            yield who.event("lms.tutor_interaction", _iso(day, 17), {"kind": "message", "tutor": "Sophie Lambert",
                                                                    "summary": "question sur la séquence"})
        if day in assessments and started:
            if who.story == "fails_then_drops" and day == assessments[0]:
                score = rng.randint(3, 8)
            else:
                score = max(0, min(20, round(rng.gauss(13.5, 3))))
            yield who.event("assessment.graded", _iso(day, 16), {
                "assessment": f"evaluation-{assessments.index(day) + 1}", "score": str(score), "max_score": "20",
                "passed": score >= 10, "grader": "Sophie Lambert"})
    if quit_index is not None:
        recorded = days[min(n_days - 1, quit_index + rng.randint(2, 5))]
        reason = {"disengages": "démotivation", "fails_then_drops": "échec à l'évaluation",
                  "payment_incident": "difficultés financières"}[who.story]
        yield who.event("enrolment.abandoned", _iso(recorded, 17), {"date": recorded.isoformat(), "reason": reason})
    elif started:
        yield who.event("enrolment.completed", _iso(action.end, 17), {"date": action.end.isoformat()})
    else:  # present on no day at all: recorded as a no-show
        recorded = days[min(n_days - 1, 7)]
        yield who.event("enrolment.abandoned", _iso(recorded, 17), {"date": recorded.isoformat(),
                                                                   "reason": "ne s'est jamais présenté"})


def generate(out: Path, *, seed: int = 7, cohorts: int = 24, learners: int = 16) -> dict[str, Any]:
    """Write the history under ``out``; returns counts (actions, enrolments, events, stories)."""
    rng = random.Random(seed)
    out = Path(out)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    configured = actions(cohorts, rng)
    stories: dict[str, int] = {}
    events = 0
    for number, (action_id, spec) in enumerate(configured.items()):
        action = TrainingAction.model_validate(spec)
        with (data / f"{number:03d}-{action_id}.ndjson").open("wb") as fh:
            for i in range(learners):
                funder, kind, _ = rng.choices(FUNDERS, [w for *_, w in FUNDERS])[0]
                story = _story(rng, kind, spec["modality"])
                stories[story] = stories.get(story, 0) + 1
                name = f"{FIRST[(number + i) % len(FIRST)]} {LAST[(number * 3 + i) % len(LAST)]}"
                who = Learner(f"h{number:03d}-{i:02d}", name, action_id, funder, kind, story)
                for event in _learner_events(rng, who, action):
                    fh.write(orjson.dumps(event) + b"\n")
                    events += 1
    config = {
        "hub": {"name": "Historique synthétique", "timezone": "Europe/Paris", "data_dir": str(out / "var"),
                "store": {"url": f"sqlite:///{out / 'var' / 'hub.db'}"}},
        "connectors": {"history": {"kind": "file_drop", "path": str(data), "read_only": True, "settle_seconds": 0,
                                   "batch_size": 5000}},
        "actions": configured,
    }
    (out / "hub.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return {"actions": len(configured), "enrolments": cohorts * learners, "events": events, "stories": stories}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cohorts", type=int, default=24)
    parser.add_argument("--learners", type=int, default=16, help="learners per cohort")
    args = parser.parse_args(argv)
    counts = generate(args.out, seed=args.seed, cohorts=args.cohorts, learners=args.learners)
    print(orjson.dumps(counts).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Dropout risk (hub/risk): features as of a date without look-ahead, reasons in words, the model
against the rules on later cohorts, the stored model, idempotent flags and their follow-up."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hub.risk import reasons
from hub.risk.dataset import Example
from hub.risk.evaluate import evaluate
from hub.risk.features import COLUMNS, NUMERIC, Snapshot, as_of_instant, snapshot, state_as_of
from hub.risk.model import load_current, save
from hub.errors import HubError

ROOT = Path(__file__).resolve().parents[1]
PARIS = ZoneInfo("Europe/Paris")
ACTION = {"title": "Paie", "modality": "mixte", "start": "2026-11-02", "end": "2026-11-20",
          "pattern": {"am": {"start": "09:00", "end": "12:30"},
                      "pm": {"start": "13:30", "end": "17:00", "modality": "foad_asynchrone"}}}
WHO = {"ref": "u1", "email": "u1@example.fr", "name": "Zoé L'Hermite"}


def ev(i, type_, at, data=None):
    return {"type": type_, "occurred_at": at, "source_id": f"e{i}", "action": "PAIE-1", "learner": WHO,
            "data": data or {}}


def signed(i, day, half="am"):
    return ev(i, "attendance.signed", f"{day}T09:10:00+01:00",
              {"date": day, "half_day": half, "trainer_cosigned": True})


async def paie_hub(make_hub):
    hub = await make_hub("actions:\n  PAIE-1: " + json.dumps(ACTION) + "\n")
    await hub.append([
        ev(1, "enrolment.registered", "2026-10-01T10:00:00+01:00"),
        ev(2, "funding.approved", "2026-10-05T10:00:00+01:00", {"funder": "france-travail", "funder_kind": "france_travail"}),
        ev(3, "payment.refunded", "2026-10-20T10:00:00+01:00", {"amount": "450", "currency": "EUR"}),
        ev(4, "enrolment.started", "2026-11-02T09:00:00+01:00", {"date": "2026-11-02"}),
        signed(5, "2026-11-02"), signed(6, "2026-11-03"), signed(7, "2026-11-04"), signed(8, "2026-11-05"),
        ev(9, "lms.session", "2026-11-05T15:00:00+01:00", {"start": "2026-11-05T14:00:00+01:00",
                                                            "end": "2026-11-05T15:00:00+01:00", "duration_seconds": 3600}),
        ev(10, "assessment.graded", "2026-11-05T16:00:00+01:00",
           {"assessment": "evaluation-1", "score": "6", "max_score": "20", "passed": False}),
        # nothing from Friday 6 on, until the learner comes back on the 17th
        signed(11, "2026-11-17"),
    ], source=None)
    await hub.project()
    (state,) = await hub.store.call(hub.store.journeys, action="PAIE-1")
    return hub, state


async def test_features_as_of_a_day_see_nothing_later(make_hub):
    hub, state = await paie_hub(make_hub)
    as_of = as_of_instant(dt.date(2026, 11, 12), PARIS)
    seen = state_as_of(state, as_of)
    assert "2026-11-17/am" not in seen["half_days"] and len(seen["half_days"]) == 4
    snap = snapshot(state, hub.config, as_of)
    f = snap.values
    # last trace: the LMS session ending Thursday 5 at 15:00; Friday 6, Monday 9 … Thursday 12 mornings unsigned
    assert snap.facts["days_since_activity"] == 7 and f["days_since_activity"] == 7
    assert snap.facts["recent_unsigned"] == 4 and f["recent_unsigned_share"] == 1.0
    assert f["attendance_drop"] == 1.0  # all signed before, none in the last four
    assert f["failed_assessments"] == 1 and f["last_assessment_failed"] == 1
    assert f["payment_incidents"] == 1 and f["start_delay_days"] == 32 and f["not_started_days"] == 0
    assert f["funder_kind=france_travail"] == 1 and f["modality=mixte"] == 1
    assert sum(f[c] for c in COLUMNS if c.startswith("funder_kind=")) == 1
    # the same day's snapshot taken after the learner came back is the same: no look-ahead
    later = snapshot(state, hub.config, as_of)
    assert later.values == snap.values
    after_return = snapshot(state, hub.config, as_of_instant(dt.date(2026, 11, 17), PARIS))
    assert after_return.facts["days_since_activity"] == 0


async def test_reasons_are_told_in_words(make_hub):
    hub, state = await paie_hub(make_hub)
    snap = snapshot(state, hub.config, as_of_instant(dt.date(2026, 11, 12), PARIS))
    told = reasons.model_reasons(snap, {"days_since_activity": 1.4, "recent_unsigned_share": 0.9,
                                        "last_assessment_failed": 0.5, "modality": 0.01, "progress_gap": -0.3})
    assert [r["text"] for r in told] == [
        "aucune activité depuis 7 jours", "4 des 4 dernières demi-journées non signées",
        "dernière évaluation non réussie : evaluation-1 (6/20)"]  # small and negative contributions are left out
    assert reasons.sentence(told).startswith("aucune activité depuis 7 jours, 4 des 4")
    for feature in [*NUMERIC, "funder_kind", "modality"]:  # every feature has its words
        assert reasons.text(feature, snap)


def _example(i: int, rng: np.random.Generator, start: dt.date) -> Example:
    label = int(rng.random() < 0.3)
    values = {c: 0.0 for c in COLUMNS}
    for name in NUMERIC:
        values[name] = float(rng.random())  # noise: says nothing of the outcome
    values["funder_kind=opco"] = values["modality=presentiel"] = 1.0
    snap = Snapshot(f"l{i}", "A", None, as_of_instant(start, PARIS), "started", "opco-x", "opco", "presentiel", values)
    return Example(snap, label, start, start + dt.timedelta(days=20), 1.0 if label else 0.0, [])


def test_a_model_worse_than_the_rules_is_not_used():
    rng = np.random.default_rng(3)
    examples = [_example(i, rng, dt.date(2025, 1, 6) + dt.timedelta(days=30 * (i % 12))) for i in range(600)]
    result = evaluate(examples, "logistic_regression", 0.5, 20)
    assert result["rules"]["auc"] == 1.0 and result["model"]["auc"] < 0.7
    assert result["used"] is False and "does worse than the rules" in result["why"]
    assert result["train"] and result["test"] and result["cutoff"]
    # the model learns from cohorts that ended before the held-out ones start
    assert max(e.end for e in examples if e.end < dt.date.fromisoformat(result["cutoff"])) < dt.date.fromisoformat(result["cutoff"])
    fairness = result["fairness"]["model"]
    assert set(fairness) == {"funder", "modality"} and fairness["funder"]["opco-x"]["n"] == result["test"]


def test_a_stored_model_is_checked_before_it_is_loaded(tmp_path):
    from hub.risk.model import fit

    X = np.random.default_rng(1).random((40, len(COLUMNS)))
    y = (X[:, 0] > 0.5).astype(float)
    first = save(tmp_path, "logistic_regression", fit("logistic_regression", X, y), X.mean(axis=0), {"used": True})
    second = save(tmp_path, "gradient_boosting", fit("gradient_boosting", X, y), X.mean(axis=0), {"used": False})
    assert first.version.startswith("v1-") and second.version.startswith("v2-")
    loaded = load_current(tmp_path)
    assert loaded.version == second.version and loaded.kind == "gradient_boosting" and not loaded.used
    assert np.allclose(loaded.predict(X), second.predict(X))
    rows = loaded.contributions(X[:2])
    assert set(rows[0]) == {*NUMERIC, "funder_kind", "modality"}
    pickle_file = tmp_path / "risk" / "models" / second.version / "model.pkl"
    pickle_file.write_bytes(pickle_file.read_bytes() + b"x")
    with pytest.raises(HubError, match="SHA-256 does not match"):
        load_current(tmp_path)


def parcours(cwd, *args):
    return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--config", "hub.yaml"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_on_the_synthetic_history_the_model_beats_the_rules_and_flags_explain_themselves(tmp_path):
    made = subprocess.run([sys.executable, str(ROOT / "bench" / "synthetic_history.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    counts = json.loads(made.stdout)
    assert counts["actions"] == 24 and set(counts["stories"]) == {
        "completes", "disengages", "fails_then_drops", "payment_incident", "never_starts"}
    assert parcours(tmp_path, "sync", "history").returncode == 0
    evaluated = parcours(tmp_path, "risk", "evaluate", "--json")
    result = json.loads(evaluated.stdout)
    assert result["stored"] is None  # nothing trained yet
    assert result["used"] is True and result["model"]["auc"] > result["rules"]["auc"]
    assert result["model"]["precision_at_k"] > result["rules"]["precision_at_k"]
    assert result["model"]["brier"] < result["rules"]["brier"]
    assert set(result["fairness"]["model"]["modality"]) == {"presentiel", "foad_asynchrone", "mixte"}
    printed = parcours(tmp_path, "risk", "evaluate").stdout
    assert "model USED" in printed and "AUC" in printed and "reliability" in printed and "funder" in printed

    trained = parcours(tmp_path, "risk", "train")
    assert "stored as v1-" in trained.stdout, trained.stdout + trained.stderr
    meta = json.loads(next((tmp_path / "var/risk/models").glob("v1-*/metadata.json")).read_text())
    assert meta["used"] is True and meta["kind"] == "logistic_regression" and meta["columns"] == COLUMNS

    scored = json.loads(parcours(tmp_path, "risk", "score", "--as-of", "2026-10-14", "--all", "--json").stdout)
    assert scored and all(s["model"] == meta["version"] for s in scored)
    flagged = [s for s in scored if s["score"] >= 0.5]
    assert flagged and all(s["reasons"] and all(r["text"] for r in s["reasons"]) for s in flagged)

    first = parcours(tmp_path, "risk", "flag", "--as-of", "2026-10-14").stdout
    again = parcours(tmp_path, "risk", "flag", "--as-of", "2026-10-14").stdout
    assert f"{len(flagged)} new risk flag(s)" in first and "0 new risk flag(s)" in again

    who = flagged[0]
    shown = parcours(tmp_path, "journey", "show", who["learner"], "--action", who["action"], "--json")
    (journey,) = json.loads(shown.stdout)
    (flag,) = journey["risk"]["flags"]
    assert flag["reasons"] == who["reasons"] and not flag["followed_up"]
    text = parcours(tmp_path, "journey", "show", who["learner"], "--action", who["action"]).stdout
    assert "risk flagged 2026-10-14" in text and who["reasons"][0]["text"] in text

    done = parcours(tmp_path, "risk", "follow-up", flag["event"], "--note", "appel, reprise lundi", "--by", "Claire")
    assert "follow-up recorded" in done.stdout, done.stderr
    assert parcours(tmp_path, "risk", "follow-up", "01NOTAFLAG0000000000000000", "--note", "x").returncode == 2
    last = json.loads(parcours(tmp_path, "risk", "evaluate", "--json").stdout)
    assert last["follow_up"]["flagged"] == len(flagged) and last["follow_up"]["followed_up"] == 1
    assert last["stored"] == {"version": meta["version"], "used": True}


async def test_without_a_model_the_rules_flag_once_and_the_flag_joins_the_journey(make_hub):
    from hub.risk.service import flag, flags_of

    hub, _ = await paie_hub(make_hub)
    as_of = as_of_instant(dt.date(2026, 11, 12), PARIS)
    assert await flag(hub, as_of=as_of) == (1, 1)
    assert await flag(hub, as_of=as_of) == (0, 1)  # the same situation: no second flag
    await hub.project()
    (state,) = await hub.store.call(hub.store.journeys, action="PAIE-1")
    (flagged,) = flags_of(state)
    assert flagged["model"] == "rules" and flagged["score"] == 1.0 and flagged["followed_up"] is None
    assert [r["feature"] for r in flagged["reasons"]] == ["unsigned_half_day", "inactive", "attendance_below"]
    assert "aucune activité à distance depuis 7 jours" in flagged["reasons"][1]["text"]
    # after the learner came back on the 17th, nothing to flag
    assert await flag(hub, as_of=as_of_instant(dt.date(2026, 11, 17), PARIS)) == (0, 1)


async def test_the_daemon_flags_on_its_schedule_unless_disabled(make_hub):
    hub = await make_hub("", hub_extra="  risk: {flag_every: 10m}\n")
    (job,) = [j for j in hub.scheduled_jobs() if j.name == "risk"]
    assert job.schedule.every == dt.timedelta(minutes=10)
    assert await hub.flag_risks() == 0  # no enrolment in progress
    off = await make_hub("", hub_extra="  risk: {enabled: false}\n")
    assert "risk" not in [j.name for j in off.scheduled_jobs()]

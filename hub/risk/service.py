"""Dropout risk on a running hub: train, evaluate, score the enrolments in progress, flag them.

Journeys are read a page at a time from the projection (memory bounded by the page); the
model comes from the data dir (:mod:`hub.risk.model`). Flags are ``risk.flagged`` events of
source ``hub`` whose ``source_id`` names the enrolment, the model and the reasons: the same
situation flags once, a change (another reason, a new model) flags again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from hub.journeys.compute import status_of
from hub.journeys.stream import CHUNK
from hub.risk import rules
from hub.risk.dataset import FINISHED, Example, examples_of
from hub.risk.evaluate import evaluate, matrix
from hub.risk.features import Snapshot, as_of_instant, snapshot
from hub.risk.model import RiskModel, fit, load_current, save
from hub.risk.reasons import model_reasons, rules_reasons


@dataclass
class Score:
    learner_id: str
    learner_name: str | None
    action_id: str
    funder: str
    modality: str
    score: float
    model: str  # the model version, or "rules"
    reasons: list[dict[str, Any]]
    as_of: dt.datetime


async def _state_pages(hub, keep):
    await hub.project()
    after = None
    while states := await hub.store.call(hub.store.journeys_page, after, CHUNK):
        after = (states[-1]["learner_id"], states[-1]["action"])
        kept = [s for s in states if keep(s)]
        if kept:
            yield kept


async def finished_examples(hub) -> list[Example]:
    """The learning examples of every finished enrolment of a configured action."""
    out: list[Example] = []
    config = hub.config
    async for states in _state_pages(hub, lambda s: s["action"] in config.model.actions and status_of(s) in FINISHED):
        out.extend(examples_of(states, config))
    return out


def enough(examples: list[Example], cfg) -> tuple[bool, str]:
    """Whether the finished enrolments are enough to train (``hub.risk.min_finished``, ``min_dropouts``)."""
    enrolments = {(e.snap.learner_id, e.snap.action_id): e.label for e in examples}
    dropouts = sum(enrolments.values())
    if len(enrolments) < cfg.min_finished or dropouts < cfg.min_dropouts:
        return False, (f"not enough finished enrolments to train a model: {len(enrolments)} "
                       f"(needed {cfg.min_finished}), {dropouts} abandoned (needed {cfg.min_dropouts}); "
                       "the hub scores with the rules")
    return True, f"{len(enrolments)} finished enrolments, {dropouts} abandoned"


async def evaluation(hub, kind: str | None = None) -> dict[str, Any]:
    """The held-out evaluation of a model of ``kind`` (default: the configured one) against the rules."""
    cfg = hub.config.hub.risk
    examples = await finished_examples(hub)
    ok, why = enough(examples, cfg)
    if not ok:
        return {"used": False, "why": why, "examples": len(examples)}
    result = evaluate(examples, kind or cfg.model, cfg.threshold, cfg.top_k)
    result["examples"] = len(examples)
    result["follow_up"] = await follow_up_outcomes(hub)
    return result


async def train(hub, kind: str | None = None) -> tuple[RiskModel | None, dict[str, Any]]:
    """Evaluate on later cohorts, then fit on every finished enrolment and store the model (current
    from now on; used only when its evaluation beat the rules). None when there is not enough."""
    cfg = hub.config.hub.risk
    kind = kind or cfg.model
    examples = await finished_examples(hub)
    ok, why = enough(examples, cfg)
    if not ok:
        return None, {"used": False, "why": why, "examples": len(examples)}
    result = evaluate(examples, kind, cfg.threshold, cfg.top_k)
    X, y = matrix(examples)
    estimator = fit(kind, X, y)
    meta = {"trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "examples": len(examples), "enrolments": len({(e.snap.learner_id, e.snap.action_id) for e in examples}),
            "last_cohort": max(e.start for e in examples).isoformat(), "used": result["used"], "why": result["why"],
            "evaluation": {k: v for k, v in result.items() if k in ("cutoff", "train", "test", "model", "rules")}}
    model = save(hub.config.data_dir, kind, estimator, X.mean(axis=0), meta)
    return model, result


def current_model(hub) -> RiskModel | None:
    """The model the hub scores with: the current one when its evaluation beat the rules, else None (rules)."""
    model = load_current(hub.config.data_dir)
    return model if model is not None and model.used else None


def running_at(state: dict[str, Any], config, day: dt.date) -> bool:
    """The enrolment's action is configured and runs on ``day``."""
    action = config.model.actions.get(state["action"])
    return action is not None and action.start <= day <= action.end


async def scores(hub, *, as_of: dt.datetime | None = None, action: str | None = None,
                 model: RiskModel | None = None, rules_only: bool = False) -> list[Score]:
    """The dropout risk of every enrolment in progress at ``as_of`` (default: now), highest first:
    with ``model``, else the current model when it is used, else (or with ``rules_only``) the rules."""
    config = hub.config
    tz = config.timezone
    now = as_of is None  # then the enrolment's status today says whether it is still in progress
    as_of = as_of or dt.datetime.now(dt.timezone.utc)
    day = as_of.astimezone(tz).date()
    if model is None and not rules_only:
        model = current_model(hub)
    found: list[Score] = []

    def keep(state):
        return ((action is None or state["action"] == action) and running_at(state, config, day)
                and not (now and status_of(state) in FINISHED))

    async for states in _state_pages(hub, keep):
        snaps = [snap for s in states if (snap := snapshot(s, config, as_of)).status not in FINISHED]
        found.extend(score_snapshots(snaps, model, config))
    return sorted(found, key=lambda s: (-s.score, s.action_id, s.learner_name or s.learner_id))


def score_snapshots(snaps: list[Snapshot], model: RiskModel | None, config) -> list[Score]:
    """Scores with reasons: the model's when one is used, else the rules'."""
    out = []
    if model is not None and snaps:
        X = np.array([s.vector() for s in snaps], dtype=float)
        for snap, p, contributions in zip(snaps, model.predict(X), model.contributions(X)):
            out.append(_score(snap, float(p), model.version, model_reasons(snap, contributions)))
        return out
    for snap in snaps:
        fired = rules.fired(snap, config.hub.alerts, config.timezone)
        out.append(_score(snap, len(fired) / len(rules.RULES), "rules", rules_reasons(fired)))
    return out


def _score(snap: Snapshot, value: float, model: str, reasons: list[dict[str, Any]]) -> Score:
    return Score(snap.learner_id, snap.learner_name, snap.action_id, snap.funder, snap.modality, round(value, 4),
                 model, reasons, snap.as_of)


def flag_items(found: list[Score], threshold: float) -> list[dict[str, Any]]:
    """``risk.flagged`` inputs for the scores at or above ``threshold`` with at least one reason."""
    items = []
    for s in found:
        if s.score < threshold or not s.reasons:
            continue
        why = "+".join(sorted(r["feature"] for r in s.reasons))
        items.append({
            "type": "risk.flagged", "occurred_at": s.as_of.isoformat(), "action": s.action_id,
            "source_id": f"risk:{s.learner_id}:{s.action_id}:{s.model}:{why}",
            "learner": {"ref": s.learner_id, **({"name": s.learner_name} if s.learner_name else {})},
            "data": {"score": s.score, "threshold": threshold, "model": s.model, "as_of": s.as_of.isoformat(),
                     "reasons": s.reasons},
        })
    return items


async def flag(hub, *, as_of: dt.datetime | None = None) -> tuple[int, int]:
    """Flag the enrolments in progress whose risk reaches the threshold; (new flags, scored)."""
    cfg = hub.config.hub.risk
    found = await scores(hub, as_of=as_of)
    items = flag_items(found, cfg.threshold)
    if not items:
        return 0, len(found)
    result = await hub.append(items, source="hub")
    return result.appended, len(found)


def flags_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``risk.flagged`` facts of a projected journey, each with its latest follow-up (or None)."""
    follow = {f["alert"]: f for f in state.get("alerts", []) if f.get("type") == "alert.followed_up"}
    return [{**f, "followed_up": follow.get(f["event"])} for f in state.get("risk", [])]


async def follow_up_outcomes(hub) -> dict[str, Any]:
    """Among finished enrolments that were flagged: how many were followed up, and how many of
    those (and of the others) completed."""
    config = hub.config
    tally = {"flagged": 0, "followed_up": 0, "followed_up_completed": 0, "not_followed_up_completed": 0}
    async for states in _state_pages(hub, lambda s: s["action"] in config.model.actions and status_of(s) in FINISHED):
        for state in states:
            flags = flags_of(state)
            if not flags:
                continue
            completed = status_of(state) == "completed"
            tally["flagged"] += 1
            if any(f["followed_up"] for f in flags):
                tally["followed_up"] += 1
                tally["followed_up_completed"] += completed
            else:
                tally["not_followed_up_completed"] += completed
    followed, others = tally["followed_up"], tally["flagged"] - tally["followed_up"]
    tally["followed_up_completion"] = tally["followed_up_completed"] / followed if followed else None
    tally["not_followed_up_completion"] = tally["not_followed_up_completed"] / others if others else None
    return tally


def default_as_of(day: dt.date | None, tz) -> dt.datetime | None:
    """``--as-of DAY``: the snapshot instant of that day (18:00 local); None: now."""
    return as_of_instant(day, tz) if day else None


async def risk_of(hub, states: list[dict[str, Any]]) -> dict[tuple[str, str], Score]:
    """The current dropout risk of those of ``states`` (projected journeys) still in progress today."""
    config = hub.config
    now = dt.datetime.now(dt.timezone.utc)
    day = now.astimezone(config.timezone).date()
    live = [s for s in states if running_at(s, config, day) and status_of(s) not in FINISHED]
    if not live:
        return {}
    model = current_model(hub)
    snaps = [snapshot(s, config, now) for s in live]
    return {(s.learner_id, s.action_id): s for s in score_snapshots(snaps, model, config)}

"""Journeys: the ledger projected per enrolment (learner × training action).

A journey state accumulates the facts of one enrolment, each with the id of the event that
states it, so every figure computed from it can be explained event by event. The projection is
incremental (events are applied in ledger order from a stored cursor) and can be rebuilt from
scratch; both give the same states. Corrections (``supersedes``) are kept and honoured when
figures are computed. A ``privacy.rectified`` event corrects the learner's name or e-mail in the
journey it names: the sources' later events do not override it (the first value seen is kept).

Most events are about one learner. A trainer's signature without a learner (Edusign, Yousign:
the trainer signs the sheet of a half-day, often at the end of the day) is about the whole
action: it is added, as a co-signature of its half-day, to every journey of the action — those
already projected when it arrives (read and written a chunk at a time, so that memory is bounded
by the chunk, not by the action), and those created later (a learner who signs afterwards),
which are seeded with the action's trainer signatures from the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from hub.logs import get_logger

log = get_logger("parcours", component="journeys")

STEPS = {
    "enrolment.registered": "registered",
    "enrolment.terms_accepted": "terms_accepted",
    "enrolment.agreement_signed": "agreement_signed",
    "funding.approved": "funding_approved",
    "enrolment.started": "started",
    "enrolment.completed": "completed",
    "enrolment.abandoned": "abandoned",
}
LISTS = {
    "lms.session": "sessions",
    "lms.virtual_class_attended": "virtual",
    "lms.activity_completed": "activities",
    "lms.quiz_attempted": "quizzes",
    "lms.resource_downloaded": "traces",
    "lms.media_played": "traces",
    "lms.tutor_interaction": "tutor",
    "lms.progress": "progress",
    "assessment.graded": "assessments",
    "certification.awarded": "certifications",
    "payment.succeeded": "payments",
    "payment.refunded": "payments",
    "document.issued": "documents",
    "document.revoked": "documents",
    "badge.awarded": "badges",
    "badge.revoked": "badges",
    "alert.raised": "alerts",
    "alert.followed_up": "alerts",
    "risk.flagged": "risk",
}


Key = tuple[str, str]  # (learner_id, action)
FAN_OUT_CHUNK = 100  # stored journeys updated at a time by an event about a whole action
#: the types an event about a whole action (no learner) may have; see :func:`is_action_wide`
ACTION_WIDE_TYPES = ["attendance.signed"]


def new_state(learner_id: str, action: str) -> dict[str, Any]:
    return {
        "learner_id": learner_id,
        "action": action,
        "learner": {"name": None, "email": None, "refs": [], "ids": {}},
        "timeline": {},
        "funders": {},
        "half_days": {},
        "superseded": [],
        "trainer_signatures": [],
        **{name: [] for name in set(LISTS.values())},
    }


def _fact(event: dict[str, Any]) -> dict[str, Any]:
    fact = {"event": event["id"], "at": event["occurred_at"], **event["data"]}
    if event.get("evidence"):
        fact["evidence"] = [e["sha256"] for e in event["evidence"]]
    return fact


def _instant(at: str) -> dt.datetime:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00"))


def add_funding(fundings: dict[str, dict[str, Any]], funder: str, fact: dict[str, Any]) -> None:
    """Keep, per funder, the decision that occurred last (a back office may send an amended
    decision, say with the employer's SIRET, before or after the first one reaches the hub)."""
    known = fundings.get(funder)
    if known is None or _instant(known["at"]) <= _instant(fact["at"]):
        fundings[funder] = fact


def apply(state: dict[str, Any], event: dict[str, Any]) -> None:
    """Add one event's facts to a journey state (events arrive in ledger order).

    An event at or below the state's last applied ``seq`` is ignored, so replaying a range
    (after a crash in the middle of a rebuild, say) never counts a fact twice."""
    if event["seq"] <= state.get("seq", 0):
        return
    state["seq"] = event["seq"]
    if event.get("supersedes"):
        state["superseded"].append(event["supersedes"])
    learner = event.get("learner") or {}
    known = state["learner"]
    if learner.get("name") and not known["name"]:
        known["name"] = learner["name"]
    if learner.get("email") and not known["email"]:
        known["email"] = learner["email"]
    ref = f"{event['source']}:{learner.get('ref')}"
    if learner and ref not in known["refs"]:
        known["refs"].append(ref)
    for namespace, value in (learner.get("ids") or {}).items():
        known.setdefault("ids", {}).setdefault(namespace, value)
    kind = event["type"]
    if kind == "privacy.rectified":  # the person's identity as corrected (RGPD art. 16) wins over the sources'
        data = event["data"]
        known[data["field"]] = data["value"]
        known.setdefault("rectified", {})[data["field"]] = event["id"]
        return
    fact = _fact(event)
    if kind in STEPS:
        state["timeline"].setdefault(STEPS[kind], []).append(fact)
        if kind == "funding.approved":
            add_funding(state["funders"], event["data"]["funder"], fact)
    elif kind in ("attendance.signed", "attendance.absent"):
        key = f"{event['data']['date']}/{event['data']['half_day']}"
        slot = state["half_days"].setdefault(key, {"signatures": [], "absences": []})
        slot["signatures" if kind == "attendance.signed" else "absences"].append(fact)
    elif kind in LISTS:
        fact["type"] = kind
        state.setdefault(LISTS[kind], []).append(fact)  # a list added since the state was stored


def is_action_wide(event: dict[str, Any]) -> bool:
    """A trainer's signature of a half-day that names no learner: it co-signs the whole action's half-day."""
    return (not event.get("learner_id") and bool(event.get("action")) and "unreadable" not in event
            and event["type"] in ACTION_WIDE_TYPES and (event.get("data") or {}).get("signer") == "trainer")


def apply_action_wide(state: dict[str, Any], event: dict[str, Any]) -> None:
    """Add a trainer's signature of the action (and the event it corrects, if any) to a journey, once.

    Not bound to the state's ``seq``: a journey created after the signature is seeded with it."""
    facts = state.setdefault("trainer_signatures", [])
    if any(f["event"] == event["id"] for f in facts):
        return
    fact = _fact(event)
    if event.get("supersedes"):
        fact["supersedes"] = event["supersedes"]
    facts.append(fact)


@dataclass
class ActionWide:
    """What the projection does beyond its batch for events about a whole action:
    ``fan_out(action, events, skip)`` applies them to the action's stored journeys but those of
    ``skip`` (the batch holds them), a chunk at a time; ``events(action)``, the action's trainer
    signatures in the ledger (up to where the projection goes), seeds a new journey."""

    fan_out: Callable[[str, list[dict[str, Any]], set[Key]], None]
    events: Callable[[str], list[dict[str, Any]]]

    @classmethod
    def of(cls, store, until_seq: int) -> "ActionWide":
        def fan_out(action: str, events: list[dict[str, Any]], skip: set[Key]) -> None:
            keys = [(learner, action) for learner in store.journey_learners(action) if (learner, action) not in skip]
            for start in range(0, len(keys), FAN_OUT_CHUNK):
                states = store.load_journeys(keys[start:start + FAN_OUT_CHUNK])
                for state in states.values():
                    for event in events:
                        apply_action_wide(state, event)
                # saved before the batch and its cursor: a crash in between applies them again, once
                store.save_journeys(states, 0)

        def events(action: str) -> list[dict[str, Any]]:
            found = store.action_events(action, types=ACTION_WIDE_TYPES, until_seq=until_seq)
            return [e for e in found if is_action_wide(e)]

        return cls(fan_out, events)


def skip_unreadable(state: dict[str, Any], event: dict[str, Any]) -> None:
    """Name an event that cannot be read in its journey (once), and log it, instead of applying it."""
    if event["seq"] <= state.get("seq", 0):
        return
    state["seq"] = event["seq"]
    state.setdefault("unreadable", []).append({"event": event["id"], "seq": event["seq"], "problem": event["unreadable"]})
    _log_skipped(event)


def _log_skipped(event: dict[str, Any]) -> None:
    log.warning("journeys skip an unreadable event", event_id=event["id"], seq=event["seq"],
                learner_id=event.get("learner_id"), action=event.get("action"), problem=event["unreadable"])


def project(
    events: Iterable[dict[str, Any]],
    load: Callable[[list[Key]], dict[Key, dict[str, Any]]],
    canonical: Callable[[str], str],
    wide: ActionWide | None = None,
) -> tuple[dict[Key, dict[str, Any]], int]:
    """Apply ``events`` to the journeys they concern; returns the changed states and the last seq.

    A trainer's signature about a whole action (:func:`is_action_wide`) goes to every journey of
    the action, read through ``wide``, which also seeds each new journey with the action's
    earlier ones. An event row that cannot be decoded (``unreadable``, see
    hub.store.base.event_dict) adds no fact: it is logged, named in its journey's ``unreadable``
    list, and the projection goes on."""
    events = list(events)
    keys = []
    wide_events: dict[str, list[dict[str, Any]]] = {}  # action -> its trainer signatures in the batch
    for event in events:
        if event.get("learner_id") and event.get("action"):
            event["learner_id"] = canonical(event["learner_id"])
            keys.append((event["learner_id"], event["action"]))
        elif is_action_wide(event):
            wide_events.setdefault(event["action"], []).append(event)
    states = load(sorted(set(keys)))
    if wide is not None:
        for action, found in wide_events.items():  # the journeys the batch does not touch otherwise
            wide.fan_out(action, found, set(keys))
    seeds: dict[str, list[dict[str, Any]]] = {}  # action -> its trainer signatures, read once per batch
    last = 0
    for event in events:
        last = max(last, event["seq"])
        if not (event.get("learner_id") and event.get("action")):
            if is_action_wide(event):
                for key, state in states.items():
                    if key[1] == event["action"]:
                        apply_action_wide(state, event)
            elif "unreadable" in event:
                _log_skipped(event)
            continue
        key = (event["learner_id"], event["action"])
        state = states.get(key)
        if state is None:
            state = states[key] = new_state(*key)
            if wide is not None:
                if key[1] not in seeds:
                    seeds[key[1]] = wide.events(key[1])
                for signature in seeds[key[1]]:
                    apply_action_wide(state, signature)
        if "unreadable" in event:
            skip_unreadable(state, event)
        else:
            apply(state, event)
    return states, last

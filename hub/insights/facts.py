"""Reading an enrolment's LMS facts from its projected journey state (hub.journeys.projection):
the live ones (a superseded event's fact is left out, as hub.journeys.compute does), and which
activity each names."""

from __future__ import annotations

from typing import Any, Iterator

#: journey-state list -> (the fact's key naming the activity, the key naming it for people)
ACTIVITY_KEYS = {
    "activities": ("activity", "activity_name"),
    "quizzes": ("activity", "activity_name"),
}
TRACE_KEYS = (("resource", "resource_name"), ("media", "media_name"))


def superseded_of(state: dict[str, Any]) -> set[str]:
    return set(state.get("superseded", []))


def live(state: dict[str, Any], name: str, superseded: set[str]) -> list[dict[str, Any]]:
    return [f for f in state.get(name, []) if f["event"] not in superseded]


def activity_facts(state: dict[str, Any], superseded: set[str]) -> Iterator[tuple[str, str, str | None, dict[str, Any]]]:
    """Each live LMS fact about an activity: (event type, activity id, activity name, fact) —
    completions, quiz attempts, downloads and media views."""
    for name, (key, label) in ACTIVITY_KEYS.items():
        for fact in live(state, name, superseded):
            yield fact.get("type", ""), fact[key], fact.get(label), fact
    for fact in live(state, "traces", superseded):
        for key, label in TRACE_KEYS:
            if fact.get(key):
                yield fact.get("type", ""), fact[key], fact.get(label), fact
                break

"""What an erased event row keeps: the facts that are not about who the person is.

The row keeps its id, type, times, source, source id, action, its link to the hub learner id (a
random identifier, the pseudonym) and its data without the fields that name, reach or describe a
person (:data:`PERSONAL_KEYS`, and ``details``, the source's free-form fields). Its ``learner``
reference (the source's id, e-mail, name, other identifiers) and its evidence (the blobs, removed)
are dropped. Hours, half-days, scores, amounts and dates stay, so that figures computed from the
ledger after retention still add up.
"""

from __future__ import annotations

import json
from typing import Any

#: data fields removed from an erased event (core types; a plugin type's fields not listed stay)
PERSONAL_KEYS = frozenset({
    "details", "email", "first_name", "last_name", "name", "phone", "url", "signer_name", "signed_by",
    "payer", "payer_name", "employer_name", "reason", "summary", "remote", "comment",
})


def erased_event(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` (a stored event with its ``learner_key``) as erasure leaves it."""
    data = {k: v for k, v in (event.get("data") or {}).items() if k not in PERSONAL_KEYS}
    return {**event, "learner": None, "data": data, "evidence": [], "learner_key": event.get("learner_id")}


def erased_row(event: dict[str, Any]) -> tuple[int, None, str, None, str | None]:
    """The stored columns of :func:`erased_event`: ``(seq, learner, data, evidence, learner_key)``."""
    erased = erased_event(event)
    return (event["seq"], None, json.dumps(erased["data"], ensure_ascii=False, separators=(",", ":")), None,
            erased["learner_key"])


def blobs_of(events: list[dict[str, Any]]) -> list[str]:
    return sorted({ref["sha256"] for e in events for ref in (e.get("evidence") or []) if isinstance(ref, dict)
                   and isinstance(ref.get("sha256"), str)})


def document_ids(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["data"]["document"]) for e in events if e.get("type") == "document.issued"
            and isinstance(e.get("data"), dict) and e["data"].get("document")]

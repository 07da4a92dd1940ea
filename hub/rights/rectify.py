"""Rectification (RGPD art. 16): a learner's name or e-mail corrected without touching the sealed ledger.

1. ``privacy.rectified`` events are appended, one per enrolment of the learner (one without an
   action when there is none), each superseding the enrolment's previous correction of the same
   field: the events the sources sent keep what they said (an attendance signed under a misspelt
   name is still an attendance), and the journeys read the correction
   (:func:`hub.journeys.projection.apply`);
2. the learner registry takes the new value (:meth:`hub.store.base.LearnerStore.rectify_learner`);
3. each current document of the learner whose content changes (the name is printed on every one)
   is re-issued by :func:`hub.documents.issue.issue_documents`: the new ``document.issued``
   supersedes the old one and says why (``details.reissued_for``), so that the public /verify page
   of the old one reads « remplacé par le document … (motif : rectification …) ».
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.documents import DOCUMENT_TYPES
from hub.documents.issue import issue_documents, latest_document
from hub.errors import HubError
from hub.events import RECTIFIABLE_FIELDS
from hub.ingest.audit import whoami
from hub.rights.learners import find_learner
from hub.ulid import new_ulid


class RectificationError(HubError):
    """The correction is refused (nothing was recorded)."""


async def rectify_learner(services, reference: str, field: str, value: str, reason: str, *,
                          actor: str | None = None) -> dict[str, Any]:
    """Correct ``field`` of learner ``reference`` to ``value``; the events recorded and the documents
    re-issued. Raises :class:`hub.rights.learners.UnknownLearner` or :class:`RectificationError`."""
    if field not in RECTIFIABLE_FIELDS:
        raise RectificationError(f"--field {field!r}: a learner's {', '.join(RECTIFIABLE_FIELDS)} can be rectified")
    value, reason = value.strip(), reason.strip()
    if not value:
        raise RectificationError("--value is empty: give the correct value")
    if not reason:
        raise RectificationError("--reason is empty: say why (it is kept in the ledger with the correction)")
    if field == "email" and "@" not in value:
        raise RectificationError(f"--value {value!r} is not an e-mail address")
    store = services.store
    learner_id = await find_learner(store, reference)
    registry = await store.call(store.learner, learner_id)
    states = await services.journeys(learner_id=learner_id)
    current = {(s["learner"].get(field) or None) for s in states} | {registry.get(field)}
    if current == {value}:
        raise RectificationError(f"the learner's {field} is {value!r} already: nothing to correct")
    previous = registry.get(field) or next((s["learner"].get(field) for s in states if s["learner"].get(field)), None)
    actor = actor or whoami()
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    data = {"field": field, "value": value, "reason": reason, "by": actor,
            **({"previous": previous} if previous else {})}
    items = []
    for state in states or [None]:
        earlier = (state["learner"].get("rectified") or {}).get(field) if state else None
        items.append({"type": "privacy.rectified", "occurred_at": now, "source_id": new_ulid(),
                      "learner": {"ref": learner_id}, **({"action": state["action"]} if state else {}),
                      "data": data, **({"supersedes": earlier} if earlier else {})})
    events = (await services.append(items, source="hub")).ids
    await store.call(store.rectify_learner, learner_id, field, value)
    reissued = await _reissue(services, learner_id, states, {"rectification": events[0], "field": field})
    return {"learner": learner_id, "field": field, "events": events, "reissued": reissued}


async def _reissue(services, learner_id: str, states: list[dict[str, Any]], why: dict[str, Any]) -> list[dict[str, Any]]:
    """Re-issue the learner's current documents whose content the correction changes (the issuer
    compares the fields: one that does not print the field is left as it is)."""
    out = []
    for state in states:
        for doc_type in DOCUMENT_TYPES:
            previous = latest_document(state, doc_type)
            if previous is None or _revoked(state, previous["document"]):
                continue
            run = await issue_documents(services, action=state["action"], learner_id=learner_id, doc_type=doc_type,
                                        allow_incomplete=bool((previous.get("details") or {}).get("issued_incomplete")),
                                        reissued_for=why)
            out += [{**doc.as_dict(), "replaces": previous["document"]} for doc in run.issued]
            out += [{"document": previous["document"], "refused": r.reason} for r in run.refused]
    return out


def _revoked(state: dict[str, Any], document: str) -> bool:
    return any(f.get("type") == "document.revoked" and f.get("document") == document for f in state.get("documents", []))

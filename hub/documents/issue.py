"""Issuing documents: eligibility, fields, signature, PDF, blob store, ``document.issued`` events.

For each enrolment of an action (or one learner's), in chunks:

1. compute the journey and check eligibility (:mod:`hub.documents.eligibility`); an incomplete
   enrolment gets a certificat de réalisation only with ``allow_incomplete``, and its gaps are
   recorded in the ledger (in the event's ``details.proof_gaps`` and in an ``admin.action``);
2. build the fields, sign them (Ed25519, active key), render the PDF (optionally PAdES-signed);
3. store the PDF in the blob store (content-addressed) and, optionally, in an output folder;
4. append ``document.issued`` (source ``hub``, the enrolment's learner and action; data: type,
   document id, SHA-256 of the PDF; evidence: the PDF blob). A re-issue of the same type for the
   same enrolment ``supersedes`` the previous ``document.issued``.

Issuing is idempotent: when the current document of that type for the enrolment (not revoked)
already states the same fields (all but its id and date of issue) with the same proof gaps, the
enrolment is listed as ``unchanged`` and nothing is rendered, stored or appended; ``force``
re-issues anyway (after a template change, say).

A document's id is the ULID of its ``document.issued`` event: ``parcours prove <document id>``
prints its inclusion proof in the ledger, and ``get_event(id)`` finds it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.documents import DOCUMENT_TYPES
from hub.documents import fields as fields_mod
from hub.documents import payload as payload_mod
from hub.documents.eligibility import gap_label, proof_gaps, refusal
from hub.documents.fr import slug
from hub.documents.keys import KeyRing
from hub.documents.pades import PadesSigner
from hub.documents.settings import DocumentsConfig, keys_dir, organisation, public_url
from hub.documents.templates import load_templates
from hub.documents.verify import load_record
from hub.errors import HubError
from hub.ingest.audit import record_admin_action, whoami
from hub.journeys.compute import JourneyReport, compute
from hub.ulid import new_ulid

if TYPE_CHECKING:
    from hub.config import LoadedConfig
    from hub.documents.services import DocumentServices

CHUNK = 200


@dataclass
class IssuedDocument:
    id: str
    doc_type: str
    learner_id: str
    learner_name: str | None
    action: str
    sha256: str
    url: str
    key_id: str
    supersedes: str | None = None
    gaps: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("path", "gaps")}
        out["type"] = out.pop("doc_type")
        out["path"] = str(self.path) if self.path else None
        if self.gaps:
            out["proof_gaps"] = self.gaps
        return out


@dataclass
class Refused:
    learner_id: str
    learner_name: str | None
    action: str
    reason: str
    gaps: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {"learner_id": self.learner_id, "learner_name": self.learner_name, "action": self.action,
               "reason": self.reason}
        if self.gaps:
            out["proof_gaps"] = self.gaps
        return out


@dataclass
class Unchanged:
    """An enrolment whose current document already says what a new one would."""

    document: str  # the current document's id
    learner_id: str
    learner_name: str | None
    action: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class IssueRun:
    doc_type: str
    issued: list[IssuedDocument] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.doc_type, "issued": [d.as_dict() for d in self.issued],
                "refused": [r.as_dict() for r in self.refused], "unchanged": [u.as_dict() for u in self.unchanged],
                "seconds": round(self.seconds, 3)}


def _render_job(args: tuple) -> bytes:
    """One PDF, rendered in the run's worker thread (or process, with ``jobs`` > 1): stamped into the
    fixed layout laid out once per process where the document allows (the certificat de
    réalisation), else by platypus (:mod:`hub.documents.stamp`)."""
    from hub.documents.stamp import render  # reportlab is heavy: loaded where PDFs are rendered

    doc_type, fields, template, url, page_url, payload = args
    return render(doc_type, fields, template, url=url, page_url=page_url, payload=payload)


def _render_batch(batch: list[tuple]) -> list[bytes]:
    """Several PDFs in one task: one round trip to a render process for them all (a stamped
    certificat takes about 2 ms: sending each alone would cost about as much as rendering it)."""
    return [_render_job(args) for args in batch]


#: tasks per render worker for a chunk of documents: few round trips, yet the workers end together
BATCHES_PER_WORKER = 4


async def render_pdfs(pool: concurrent.futures.Executor, workers: int, jobs: list[tuple]) -> list[bytes]:
    """The PDFs of ``jobs`` (:func:`_render_job`'s arguments), in order, rendered by ``pool``'s
    ``workers`` in batches."""
    size = max(1, -(-len(jobs) // (workers * BATCHES_PER_WORKER)))
    loop = asyncio.get_running_loop()
    batches = await asyncio.gather(*[loop.run_in_executor(pool, _render_batch, jobs[i:i + size])
                                     for i in range(0, len(jobs), size)])
    return [pdf for batch in batches for pdf in batch]


def render_workers(jobs: int) -> int:
    """The number of render processes for ``jobs``: itself, or with 0 one per core this process may use."""
    if jobs < 0:
        raise HubError(f"jobs must be 0 (one per core) or more, not {jobs}")
    return jobs or len(os.sched_getaffinity(0))


def latest_document(state: dict[str, Any], doc_type: str) -> dict[str, Any] | None:
    """The current (last, not superseded) ``document.issued`` fact of ``doc_type`` in a journey state."""
    superseded = set(state.get("superseded", []))
    facts = [f for f in state.get("documents", []) if f.get("type") == "document.issued"
             and f.get("document_type") == doc_type and f["event"] not in superseded]
    return facts[-1] if facts else None


#: fields that differ between two issues of the same content
VOLATILE_FIELDS = ("id", "issued_on")


def same_content(previous: dict[str, Any] | None, state: dict[str, Any], fields: dict[str, Any],
                 gaps: list[dict[str, Any]]) -> bool:
    """Whether ``previous`` (a ``document.issued`` fact of ``state``) states ``fields`` and ``gaps``
    already, and still stands (not revoked)."""
    if previous is None:
        return False
    revoked = {f.get("document") for f in state.get("documents", []) if f.get("type") == "document.revoked"}
    if previous.get("document") in revoked:
        return False
    details = previous.get("details") or {}
    before = {k: v for k, v in (details.get("fields") or {}).items() if k not in VOLATILE_FIELDS}
    after = {k: v for k, v in fields.items() if k not in VOLATILE_FIELDS}
    return before == after and (details.get("proof_gaps") or []) == json.loads(json.dumps(gaps))


@dataclass
class Draft:
    """A signed document, not yet rendered."""

    report: JourneyReport
    doc_type: str
    id: str
    fields: dict[str, Any]
    payload: str
    url: str  # the verification URL of the QR code
    page_url: str
    previous: dict[str, Any] | None  # the current document.issued of this type, which it supersedes
    gaps: list[dict[str, Any]]


class Issuer:
    """What one issuing run needs, loaded once: keys, templates, organisation, PAdES signer."""

    def __init__(self, services: "DocumentServices", settings: DocumentsConfig | None = None,
                 today: dt.date | None = None):
        config = services.config
        self.settings = settings or config.hub.documents
        self.organisation = organisation(config)
        self.keyring = KeyRing(keys_dir(config, self.settings))
        self.kid, self.private_key = self.keyring.signer()
        folder = config.resolve_path(self.settings.templates_dir) if self.settings.templates_dir else None
        self.templates = load_templates(folder)
        self.base_url = public_url(config, self.settings)
        if not (self.settings.public_url or config.hub.http.public_url):
            services.log.warning("hub.http.public_url is not set: the QR codes point at this machine's address",
                                 url=self.base_url)
        self.today = today or dt.datetime.now(config.timezone).date()
        self.pades = None
        if self.settings.pades is not None:
            self.pades = PadesSigner(self.settings.pades, config.resolve_path, location=self.organisation.city)

    def draft(self, report: JourneyReport, state: dict[str, Any], doc_type: str, gaps: list[dict[str, Any]]) -> Draft:
        """A new document of ``doc_type`` for the enrolment of ``report`` (projected ``state``), signed."""
        doc_id = new_ulid()
        fields = fields_mod.build(doc_type, report, doc_id=doc_id, organisation=self.organisation,
                                  issued_on=self.today, today=self.today)
        payload = payload_mod.sign(doc_id, doc_type, fields, self.kid, self.private_key)
        return Draft(report, doc_type, doc_id, fields, payload, payload_mod.verification_url(self.base_url, doc_id, payload),
                     payload_mod.page_url(self.base_url, doc_id), latest_document(state, doc_type), gaps)

    def render_args(self, draft: Draft) -> tuple:
        """The arguments of :func:`_render_job` for ``draft`` (picklable: jobs may run in other processes)."""
        return draft.doc_type, draft.fields, self.templates[draft.doc_type], draft.url, draft.page_url, draft.payload


def _drafts(states: list[dict[str, Any]], issuer: Issuer, config: "LoadedConfig", doc_type: str, *,
            allow_incomplete: bool, force: bool, run: IssueRun) -> list[Draft]:
    """Compute each journey; the eligible enrolments get a signed draft (unless their current document
    already says the same: ``unchanged``, unless ``force``), the others a refusal."""
    drafts = []
    for state in states:
        act = config.model.actions.get(state["action"])
        report = compute(state, act, config.rules_for(state["action"]), config.timezone, today=issuer.today)
        gaps = proof_gaps(report, issuer.today) if doc_type == "certificat_realisation" else []
        reason = refusal(report, doc_type, gaps, allow_incomplete=allow_incomplete)
        if reason:
            run.refused.append(Refused(report.learner_id, report.learner_name, report.action_id, reason, gaps))
            continue
        draft = issuer.draft(report, state, doc_type, gaps)
        if not force and same_content(draft.previous, state, draft.fields, gaps):
            run.unchanged.append(Unchanged(draft.previous["document"], report.learner_id, report.learner_name,
                                           report.action_id))
        else:
            drafts.append(draft)
    return drafts


async def _store(services: "DocumentServices", issuer: Issuer, draft: Draft, pdf: bytes,
                 out: Path | None, reissued_for: dict[str, Any] | None = None) -> tuple[IssuedDocument, dict[str, Any]]:
    """PAdES-sign the PDF if configured, store it (blob store, and ``out``); the document and its
    ``document.issued`` item."""
    report = draft.report
    if issuer.pades is not None:
        pdf = await asyncio.to_thread(issuer.pades.sign, pdf)
    digest = hashlib.sha256(pdf).hexdigest()
    name = f"{draft.doc_type}-{slug(report.learner_name or report.learner_id)}-{draft.id}.pdf"
    ref = await asyncio.to_thread(services.blobs.put, pdf, media_type="application/pdf", name=name)
    path = None
    if out:
        path = out / name
        await asyncio.to_thread(path.write_bytes, pdf)
    previous = draft.previous["event"] if draft.previous else None
    doc = IssuedDocument(draft.id, draft.doc_type, report.learner_id, report.learner_name, report.action_id,
                         digest, draft.url, issuer.kid, previous, draft.gaps, path)
    details: dict[str, Any] = {"key_id": issuer.kid, "payload": draft.payload, "fields": draft.fields}
    if draft.gaps:
        details["proof_gaps"] = draft.gaps
        details["issued_incomplete"] = True
    if reissued_for and previous:
        details["reissued_for"] = reissued_for
    learner = {"ref": report.learner_id, **({"name": report.learner_name} if report.learner_name else {})}
    item = {
        "type": "document.issued", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "source_id": draft.id, "learner": learner, "action": report.action_id,
        "data": {"document_type": draft.doc_type, "document": draft.id, "sha256": digest, "details": details},
        "evidence": [ref.model_dump(exclude_none=True)],
        **({"supersedes": previous} if previous else {}),
    }
    return doc, item


async def issue_documents(services: "DocumentServices", *, action: str | None = None, doc_type: str = "certificat_realisation",
                          learner_id: str | None = None, allow_incomplete: bool = False,
                          out_dir: str | Path | None = None, actor: str | None = None,
                          today: dt.date | None = None, settings: DocumentsConfig | None = None,
                          jobs: int = 1, chunk: int = CHUNK, progress=None, force: bool = False,
                          reissued_for: dict[str, Any] | None = None) -> IssueRun:
    """Issue ``doc_type`` for every eligible enrolment of ``action`` (or of ``learner_id``) whose current
    document would change (every one with ``force``). ``reissued_for`` says why a document that
    replaces another was issued (``{"rectification": event id, "field": …}``): it is kept in the new
    document's ``details`` and the /verify page of the old one shows it."""
    if doc_type not in DOCUMENT_TYPES:
        raise HubError(f"unknown document type {doc_type!r} (known: {', '.join(DOCUMENT_TYPES)})")
    if action is None and learner_id is None:
        raise HubError("give an action (or a learner)")
    started = time.perf_counter()
    issuer = Issuer(services, settings, today)
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    states = await services.journeys(action=action, learner_id=learner_id)
    if action and not states and action not in services.config.model.actions:
        raise HubError(f"unknown training action {action!r}")
    run = IssueRun(doc_type)
    jobs = render_workers(jobs)
    pool: concurrent.futures.Executor = (concurrent.futures.ProcessPoolExecutor(jobs) if jobs > 1
                                         else concurrent.futures.ThreadPoolExecutor(1))
    try:
        for start in range(0, len(states), chunk):
            drafts = _drafts(states[start:start + chunk], issuer, services.config, doc_type,
                             allow_incomplete=allow_incomplete, force=force, run=run)
            if not drafts:
                continue
            pdfs = await render_pdfs(pool, jobs, [issuer.render_args(d) for d in drafts])
            stored = [await _store(services, issuer, draft, pdf, out, reissued_for) for draft, pdf in zip(drafts, pdfs)]
            documents = [doc for doc, _item in stored]
            await services.append([item for _doc, item in stored], source="hub",
                                  ids=[doc.id for doc in documents])  # a document's id is its event's
            run.issued.extend(documents)
            if progress is not None:
                progress(len(drafts))
    finally:
        pool.shutdown(wait=True)
    incomplete = [doc for doc in run.issued if doc.gaps]
    if incomplete:
        await record_admin_action(services.append, actor, f"documents issue --type {doc_type} --allow-incomplete",
                                  action or learner_id or "",
                                  {"documents": {d.id: [gap_label(g) for g in d.gaps] for d in incomplete}})
    if services.metrics is not None and run.refused:
        services.metrics.count_refused(doc_type, len(run.refused))
    run.seconds = time.perf_counter() - started
    return run


async def revoke_document(services: "DocumentServices", doc_id: str, reason: str, *, actor: str | None = None) -> dict[str, Any]:
    """Append ``document.revoked`` for ``doc_id`` (idempotent). Raises HubError for an unknown document."""
    record = await load_record(services, doc_id)
    if record is None:
        raise HubError(f"no issued document {doc_id!r} in the ledger")
    if record.revoked:
        return {"document": doc_id, "revoked_at": record.revoked["at"], "already": True}
    issued = record.event
    learner = issued.get("learner") or {}
    item = {
        "type": "document.revoked", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "source_id": f"revoke-{doc_id}", "action": issued.get("action"),
        "learner": {"ref": record.learner_id, **({"name": learner["name"]} if learner.get("name") else {})},
        "data": {"document": doc_id, "reason": reason, "details": {"by": actor or whoami()}},
    }
    result = await services.append([item], source="hub")
    return {"document": doc_id, "event": result.ids[0], "revoked_at": item["occurred_at"], "already": False}

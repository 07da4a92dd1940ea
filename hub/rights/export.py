"""A person's data, exported (RGPD art. 15 access, art. 20 portability): one zip with everything the
hub holds about a learner, machine-readable (``data.json``, ``events.ndjson``; the schema is
docs/learner-export.schema.json) and readable (French PDFs), with the documents issued and the
evidence files. ``parcours learner export`` and the learner's own download in the web app
(``POST /app/learner/data-export``) both call :func:`export_learner`; each export is recorded in
the ledger as a ``privacy.data_exported`` event naming the learner by hub id and who asked.

The zip is written by :class:`hub.audit.zipfile_out.PackFile` (entry by entry to a temporary file
renamed at the end: no partial file is left). The learner's events are read a page at a time in
ledger order and streamed into ``events.ndjson``; the evidence and documents are copied in chunks
by the audit pack's own :func:`hub.audit.build.copy_evidence`. Memory is bounded by a page of
events, the lists of the person's documents, evidence files, web sign-ins and dead letters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from hub.audit.build import PackedLearner, copy_evidence, note_evidence
from hub.audit.summary import render_summary
from hub.audit.zipfile_out import CHUNK, PackFile
from hub.errors import HubError
from hub.ingest.audit import whoami
from hub.journeys.stream import compute_states
from hub.rights.learners import find_learner
from hub.ulid import new_ulid

EXPORT_FORMAT = "parcours-learner-export/1"
FORMATS = ("json", "pdf", "both")
PAGE = 2000  # events read at a time
ACCESS_TYPES = ["access.sign_in", "access.sign_out", "access.audit_viewed"]
DEAD_LETTERS_LIMIT = 1000  # of each kind (deliveries, rejects): a person's are a handful
README = Path(__file__).with_name("README.txt")

Read = Callable[..., Any]


class ExportError(HubError):
    """The export cannot be made: nothing was written."""


@dataclass
class ExportResult:
    path: Path
    learner: str
    format: str
    events: int
    files: int
    bytes: int
    sha256: str
    event_id: str  # the privacy.data_exported event

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path)}


async def export_learner(services, reference: str, out: str | Path, *, fmt: str = "both", by: str | None = None,
                         channel: str = "cli", now: dt.datetime | None = None) -> ExportResult:
    """Write the export of learner ``reference`` (a hub id or a key: ``email:…``, ``src:…``) to ``out``
    (a .zip) and record it in the ledger. Raises :class:`hub.rights.learners.UnknownLearner` or
    :class:`ExportError`, leaving no file."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise ExportError(f"{out}: a personal data export is a .zip file")
    if out.is_dir():
        raise ExportError(f"{out} is a folder: give the path of the .zip file to write")
    store = services.store
    learner_id = await find_learner(store, reference)
    states = await services.journeys(learner_id=learner_id)
    loop = asyncio.get_running_loop()

    def read(fn, *args, **kwargs):
        return asyncio.run_coroutine_threadsafe(store.call(fn, *args, **kwargs), loop).result()

    by = by or whoami()
    cancelled = threading.Event()
    try:
        count, files = await asyncio.to_thread(write_export, services.config, store, services.blobs, read, learner_id,
                                               states, out, fmt=fmt, by=by, channel=channel, now=now,
                                               cancelled=cancelled)
    except asyncio.CancelledError:
        cancelled.set()  # a download abandoned: the worker gives up at its next write and removes its file
        raise
    except OSError as exc:
        raise ExportError(f"cannot write the export {out}: {exc.strerror or exc}; nothing was kept") from None
    try:
        digest = await asyncio.to_thread(_sha256, out)
        item = {"type": "privacy.data_exported", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "source_id": new_ulid(), "learner": {"ref": learner_id},
                "data": {"learner": learner_id, "by": by, "channel": channel, "format": fmt, "sha256": digest}}
        event_id = (await services.append([item], source="hub")).ids[0]
    except BaseException:
        out.unlink(missing_ok=True)  # an export the ledger does not record is not handed over
        raise
    return ExportResult(out, learner_id, fmt, count, files, out.stat().st_size, digest, event_id)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_export(config, store, blobs, read: Read, learner_id: str, states: list[dict[str, Any]], out: Path, *,
                 fmt: str, by: str, channel: str, now: dt.datetime | None = None,
                 cancelled: threading.Event | None = None) -> tuple[int, int]:
    """The builder (a worker thread; store reads through ``read``): (events written, files in the zip)."""
    generated_at = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    identity = read(store.learner, learner_id) or {"id": learner_id, "name": None, "email": None, "keys": [],
                                                   "merged": read(store.learner_aliases, learner_id)}
    ids = [learner_id, *identity["merged"]]
    reports = compute_states(states, config)
    accounts = [_account(a) for a in read(store.accounts) if (a.get("scopes") or {}).get("learner") in ids]
    found = PackedLearner(learner_id, "", ids, Path())
    tracked = _Tracked()
    with PackFile(out, cancelled) as pack:
        events_entry = "events.ndjson" if fmt != "pdf" else None
        lines = _events(store, read, ids, found, tracked)
        if events_entry:
            pack.write_chunks(events_entry, lines)
        else:
            for _line in lines:  # the readable export lists the documents and evidence all the same
                pass
        copy_evidence(pack, blobs, found)
        access = _accesses(store, read, ids, {a["id"] for a in accounts})
        needles = [json.dumps(v, ensure_ascii=False) for v in _needles(identity)]
        dead = [_dead_letter(d) for d in read(store.dead_letters_about, ids, needles, limit=DEAD_LETTERS_LIMIT)]
        data = {
            "format": EXPORT_FORMAT, "generated_at": generated_at, "learner": identity,
            "journeys": [r.as_dict() for r in reports],
            "documents": [_document(d, tracked, found) for d in found.documents],
            "evidence": [{"sha256": sha, "file": f["file"], "media_type": f["media_type"], "events": f["events"]}
                         for sha, f in found.evidence.items() if f["file"].startswith("evidence/")],
            "consents": tracked.consents,
            "rectifications": tracked.rectifications,
            "exports": tracked.exports,
            "web_accounts": accounts,
            "access": access,
            "dead_letters": dead,
            "events": {"file": events_entry, "count": found.events, "by_type": dict(sorted(tracked.by_type.items()))},
        }
        if fmt != "pdf":
            pack.write("data.json", json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
        if fmt != "json":
            from hub.rights.overview_pdf import render_overview  # reportlab is heavy: loaded where PDFs are made

            organisation = config.hub.organisation.name if config.hub.organisation else "l'organisme de formation"
            pack.write("donnees-personnelles.pdf", render_overview(data, organisation=organisation))
            for report in reports:
                documents = [d for d in found.documents if d.get("action") == report.action_id]
                pack.write(f"parcours/{_safe(report.action_id)}.pdf",
                           render_summary(report, documents, organisation=organisation, generated_at=generated_at))
        pack.write("LISEZMOI.txt", README.read_text(encoding="utf-8"))
        manifest = {"format": EXPORT_FORMAT, "generated_at": generated_at, "learner": learner_id, "content": fmt,
                    "requested_by": by, "channel": channel, "schema": "docs/learner-export.schema.json",
                    "files": dict(sorted(pack.files.items()))}
        files = len(pack.files) + 1
        pack.finish(json.dumps(manifest, indent=1, ensure_ascii=False).encode() + b"\n")
    return found.events, files


@dataclass
class _Tracked:
    """What the event stream tells beside the events: superseded and revoked documents, the person's
    consents, corrections and earlier exports."""

    def __post_init__(self) -> None:
        self.superseded: dict[str, str] = {}  # event id -> the event that supersedes it
        self.revoked: dict[str, dict[str, Any]] = {}  # document id -> when, why
        self.consents: list[dict[str, Any]] = []
        self.rectifications: list[dict[str, Any]] = []
        self.exports: list[dict[str, Any]] = []
        self.by_type: dict[str, int] = {}

    def note(self, event: dict[str, Any]) -> None:
        if event.get("supersedes"):
            self.superseded[event["supersedes"]] = event["id"]
        kind, data = event["type"], event.get("data") or {}
        self.by_type[kind] = self.by_type.get(kind, 0) + 1
        summary = {"event": event["id"], "type": kind, "occurred_at": event["occurred_at"], "action": event.get("action"),
                   "data": data}
        if kind == "document.revoked":
            self.revoked[data.get("document")] = {"at": event["occurred_at"], "reason": data.get("reason")}
        elif kind.startswith("consent."):  # the consent types, whichever the hub knows
            self.consents.append(summary)
        elif kind == "privacy.rectified":
            self.rectifications.append(summary)
        elif kind == "privacy.data_exported":
            self.exports.append(summary)


def _events(store, read: Read, ids: list[str], found: PackedLearner, tracked: _Tracked) -> Iterator[bytes]:
    """Every event attributed to the person (any action, none), a page at a time, as NDJSON lines;
    noting their evidence and documents on the way."""
    after = 0
    while page := read(store.learner_events_page, ids, action=None, after_seq=after, limit=PAGE):
        after = page[-1]["seq"]
        for event in page:
            found.events += 1
            if "unreadable" not in event:
                note_evidence(found, event)
                tracked.note(event)
            yield json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"


def _accesses(store, read: Read, ids: list[str], accounts: set[str]) -> list[dict[str, Any]]:
    """Sign-ins and sign-outs of the person's web accounts, auditors' readings of their page: events
    about a person that name them in their data, not as their learner (a page at a time)."""
    out = []
    for types, key, values in ((ACCESS_TYPES[:2], "account", sorted(accounts)), (ACCESS_TYPES[2:], "learner", ids)):
        after = 0
        while page := read(store.events_naming, types, key, values, after_seq=after, limit=PAGE):
            after = page[-1]["seq"]
            out += [(e["seq"], {"event": e["id"], "type": e["type"], "occurred_at": e["occurred_at"],
                                "data": e.get("data") or {}}) for e in page]
    return [item for _seq, item in sorted(out, key=lambda found: found[0])]  # in ledger order


def _needles(identity: dict[str, Any]) -> list[str]:
    """What names the person in a payload the hub could not read: e-mail and the sources' ids."""
    out = [identity["email"]] if identity.get("email") else []
    for key in identity.get("keys") or []:
        kind, _, rest = key.partition(":")
        if kind == "email":
            out.append(rest)
        elif kind in ("src", "id"):
            out.append(rest.rpartition(":")[2])
    return [n for n in dict.fromkeys(out) if n]


def _dead_letter(d) -> dict[str, Any]:
    return {"id": d.id, "stage": d.stage, "source": d.source, "sink": d.sink, "event": d.event_id, "error": d.error,
            "attempts": d.attempts, "created_at": _iso(d.created_at), "failed_at": _iso(d.failed_at),
            "payload": d.payload}


def _account(account: dict[str, Any]) -> dict[str, Any]:
    """A web account without its secrets: no password hash, second-factor secret or recovery codes."""
    return {"id": account["id"], "email": account["email"], "name": account.get("name"), "role": account["role"],
            "scopes": account.get("scopes") or {}, "origin": account.get("origin"),
            "second_factor": bool(account.get("totp_secret")),
            "recovery_codes_left": len(account.get("recovery_codes") or []),
            "created_at": _iso(account.get("created_at")), "updated_at": _iso(account.get("updated_at")),
            "disabled_at": _iso(account.get("disabled_at"))}


def _document(doc: dict[str, Any], tracked: _Tracked, found: PackedLearner) -> dict[str, Any]:
    status = "revoked" if doc["id"] in tracked.revoked else "superseded" if doc["event"] in tracked.superseded else "current"
    file = found.evidence.get(doc.get("sha256") or "", {}).get("file")
    return {"id": doc["id"], "type": doc["type"], "action": doc.get("action"), "issued_at": doc["occurred_at"],
            "sha256": doc["sha256"], "file": file, "status": status,
            **({"revoked": tracked.revoked[doc["id"]]} if status == "revoked" else {}),
            **({"superseded_by": tracked.superseded[doc["event"]]} if status == "superseded" else {})}


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat(timespec="seconds")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "_"

"""Command line of documents: ``parcours documents issue|revoke``, ``parcours keys generate|rotate|list``,
``parcours verify-document FILE``.

Exit codes: 0 ok; 1 a failure was found (a document refused, or a verification that is not
``valid``); 2 usage or configuration error.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail_config, open_hub, print_json, run_hub
from hub.cli.progress import progress_bar
from hub.documents import DOCUMENT_TYPES
from hub.documents.issue import issue_documents, revoke_document
from hub.badges.keys import RSA_FOLDER, rsa_ring
from hub.documents.keys import KeyRing
from hub.documents.services import DocumentServices, services_of
from hub.documents.settings import keys_dir, output_dir
from hub.documents.verify import (
    display_fields,
    keys_from_file,
    load_record,
    verify_bytes,
)
from hub.errors import ConfigError, HubError
from hub.ingest.audit import record_admin_action
from hub.learners import reference_key

T = TypeVar("T")


def _with_services(config_path: str, work: Callable[[DocumentServices], Awaitable[T]]) -> T:
    """Open the hub, run ``await work(services)``, stop the hub; configuration/usage errors exit 2."""
    hub = open_hub(config_path)
    services = services_of(hub)
    try:
        return run_hub(hub, lambda: work(services))
    except (ConfigError, HubError) as exc:
        fail_config(exc)
        raise  # not reached: fail_config exits


def _keyring(services: DocumentServices) -> KeyRing:
    return KeyRing(keys_dir(services.config))


# ---------------------------------------------------------------------------- documents


@click.group()
def documents() -> None:
    """Certificats de réalisation and attestations: issue them, revoke them."""


@documents.command("issue")
@CONFIG_OPTION
@click.option("--action", help="Training action id: every eligible enrolment of it.")
@click.option("--type", "doc_type", type=click.Choice(list(DOCUMENT_TYPES)), default="certificat_realisation",
              show_default=True)
@click.option("--learner", help="Only this learner (hub id, email:…, or src:<connector>:<ref>).")
@click.option("--allow-incomplete", is_flag=True,
              help="Issue certificats de réalisation despite missing proof; the gaps are recorded in the ledger.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Also write the PDFs here "
              "(default: hub.documents.output_dir, else <data_dir>/documents).")
@click.option("--jobs", type=click.IntRange(0, 64), default=1, show_default=True,
              help="Render PDFs in this many processes (0: one per core this process may use).")
@click.option("--force", is_flag=True, help="Re-issue even when the current document already says the same "
              "(after a template change, say): the new one supersedes it.")
@JSON_OPTION
def issue(config_path: str, action: str | None, doc_type: str, learner: str | None, allow_incomplete: bool,
          out_dir: str | None, jobs: int, force: bool, as_json: bool) -> None:
    """Issue DOC_TYPE for every eligible enrolment of --action (or of --learner) whose document would change:
    an enrolment whose current document already says the same is left as it is (--force re-issues)."""
    if not action and not learner:
        click.echo("error: give --action (and/or --learner)", err=True)
        sys.exit(2)

    async def go(services: DocumentServices):
        learner_id = None
        if learner:
            learner_id = await _resolve_learner(services, learner)
            if learner_id is None:
                raise HubError(f"no learner {learner!r}")
        target = Path(out_dir) if out_dir else output_dir(services.config)
        with progress_bar(f"issue {doc_type}", unit="documents", as_json=as_json) as advance:
            return await issue_documents(services, action=action, doc_type=doc_type, learner_id=learner_id,
                                         allow_incomplete=allow_incomplete, out_dir=target, jobs=jobs,
                                         progress=advance, force=force)

    run = _with_services(config_path, go)
    if as_json:
        print_json(run.as_dict())
    else:
        label = DOCUMENT_TYPES[doc_type]
        for doc in run.issued:
            extra = f" (supersedes {doc.supersedes})" if doc.supersedes else ""
            extra += f" — INCOMPLETE: {len(doc.gaps)} proof gap(s) recorded" if doc.gaps else ""
            click.echo(f"issued {doc.id}  {doc.learner_name}  {doc.path or ''}{extra}")
        for refused in run.refused:
            click.echo(f"refused {refused.learner_name or refused.learner_id}: {refused.reason}", err=True)
            for gap in refused.gaps:
                click.echo(f"    {gap['code']}: {gap['message']} — to close it: {gap['what_would_close_it']}", err=True)
        unchanged = (f", {len(run.unchanged)} unchanged (their current document already says the same; "
                     "--force re-issues)") if run.unchanged else ""
        click.echo(f"{label}: {len(run.issued)} issued{unchanged}, {len(run.refused)} refused ({run.seconds:.1f} s)")
        if run.refused and doc_type == "certificat_realisation" and not allow_incomplete:
            click.echo("  (close the gaps, or issue anyway with --allow-incomplete: the gaps are then recorded)")
    sys.exit(1 if run.refused else 0)


async def _resolve_learner(services: DocumentServices, learner: str) -> str | None:
    key = reference_key(learner)
    return learner if key is None else await services.store.call(services.store.learner_by_key, key)


@documents.command("revoke")
@CONFIG_OPTION
@click.argument("doc_id")
@click.option("--reason", required=True, help="Why (shown on the verification page).")
@JSON_OPTION
def revoke(config_path: str, doc_id: str, reason: str, as_json: bool) -> None:
    """Revoke document DOC_ID: verification then says « révoqué », with the date and the reason."""
    result = _with_services(config_path, lambda services: revoke_document(services, doc_id.upper(), reason))
    if as_json:
        print_json(result)
    elif result["already"]:
        click.echo(f"{doc_id} was already revoked on {result['revoked_at'][:10]}")
    else:
        click.echo(f"revoked {doc_id} ({result['event']})")


# ---------------------------------------------------------------------------- keys


@click.group()
def keys() -> None:
    """Signing keys: the documents' (Ed25519) and the badges' (RSA, RS256): generate, rotate, list."""


@keys.command("generate")
@CONFIG_OPTION
@click.option("--if-missing", is_flag=True, help="Do nothing (exit 0) when a key exists (for scripts and the demo).")
@JSON_OPTION
def keys_generate(config_path: str, if_missing: bool, as_json: bool) -> None:
    """Create the first signing keys (refused when keys exist: use rotate): the documents' Ed25519 key
    and the badges' RSA key (one missing alone, as after an upgrade, is created by --if-missing)."""
    async def go(services: DocumentServices):
        ring, badge_ring = _keyring(services), rsa_ring(services.config)
        badge_key = None
        if badge_ring.active() is None and (if_missing or ring.active() is None):
            badge_key = badge_ring.generate()
            await record_admin_action(services.append, None, "keys generate", badge_key.kid, {"alg": "RS256"})
        if if_missing and ring.active() is not None:
            return ring, None, badge_key
        key = ring.generate()
        await record_admin_action(services.append, None, "keys generate", key.kid)
        return ring, key, badge_key

    ring, key, badge_key = _with_services(config_path, go)
    if badge_key is not None and not as_json:
        click.echo(f"generated badge key {badge_key.kid} (RSA, RS256) in {ring.folder / RSA_FOLDER}")
    if key is None:
        active = ring.active()
        if as_json:
            print_json(active.jwk())
        else:
            click.echo(f"key {active.kid} exists; nothing to do")
        return
    if as_json:
        print_json(key.jwk())
    else:
        click.echo(f"generated key {key.kid} in {ring.folder} (private key mode 0600)")


@keys.command("rotate")
@CONFIG_OPTION
@JSON_OPTION
def keys_rotate(config_path: str, as_json: bool) -> None:
    """Create new active keys (the documents' and the badges'); the previous ones are retired but
    still verify what they signed."""
    async def go(services: DocumentServices):
        key, previous = _keyring(services).rotate()
        await record_admin_action(services.append, None, "keys rotate", key.kid, {"retired": previous.kid} if previous else None)
        badge_key, badge_previous = rsa_ring(services.config).rotate()
        await record_admin_action(services.append, None, "keys rotate", badge_key.kid,
                                  {"alg": "RS256", **({"retired": badge_previous.kid} if badge_previous else {})})
        return key, previous, badge_key, badge_previous

    key, previous, badge_key, badge_previous = _with_services(config_path, go)
    if as_json:
        print_json({"active": key.jwk(), "retired": previous.kid if previous else None,
                    "badges": {"active": badge_key.jwk(), "retired": badge_previous.kid if badge_previous else None}})
    else:
        click.echo(f"new active key {key.kid}" + (f"; {previous.kid} retired" if previous else ""))
        click.echo(f"new active badge key {badge_key.kid} (RS256)"
                   + (f"; {badge_previous.kid} retired" if badge_previous else ""))


@keys.command("list")
@CONFIG_OPTION
@JSON_OPTION
def keys_list(config_path: str, as_json: bool) -> None:
    """The keys (the documents' Ed25519, then the badges' RSA): id, status, creation and retirement."""
    async def go(services: DocumentServices):
        ring = _keyring(services)
        return ring, ring.public_keys(), rsa_ring(services.config).public_keys()

    ring, found, badge_keys = _with_services(config_path, go)
    if as_json:
        print_json({**ring.document(), "badge_keys": [k.jwk() for k in badge_keys]})
        return
    if not found and not badge_keys:
        click.echo("no key yet: run `parcours keys generate`")
        return
    for key in found + badge_keys:
        click.echo(f"{key.kid}  {key.alg:<6} {key.status:<8} created {key.created_at}"
                   + (f", retired {key.retired_at}" if key.retired_at else ""))


# ---------------------------------------------------------------------------- verify-document


@click.command("verify-document")
@CONFIG_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--keys", "keys_file", type=click.Path(exists=True, dir_okay=False),
              help="Verify offline against this public keys document (parcours-keys.json): no configuration, "
                   "no ledger, so no revocation check.")
@click.option("--trust", "trust", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Trust root (PEM) for the PAdES signature; repeatable.")
@click.option("--no-qr", is_flag=True, help="Do not render the page to decode its QR code (embedded data only).")
@JSON_OPTION
def verify_document(config_path: str, file: str, keys_file: str | None, trust: tuple[str, ...], no_qr: bool,
                    as_json: bool) -> None:
    """Verify FILE (a PDF, or a photo/scan of its QR code): valid, superseded, revoked, altered, unknown key
    or unknown document. Exit 0 only when valid."""
    data = Path(file).read_bytes()
    roots = [Path(t).read_bytes() for t in trust]
    if keys_file:
        try:
            keyset = keys_from_file(keys_file)
        except (OSError, ValueError, KeyError) as exc:
            click.echo(f"error: {keys_file}: not a keys document: {exc}", err=True)
            sys.exit(2)
        verdict = asyncio.run(verify_bytes(data, keys=keyset, filename=file, use_qr=not no_qr, trust_roots=roots))
    else:
        async def go(services: DocumentServices):
            return await verify_bytes(data, keys=_keyring(services).lookup(), load=lambda d: load_record(services, d),
                                      filename=file, use_qr=not no_qr, trust_roots=roots)

        verdict = _with_services(config_path, go)
    if as_json:
        print_json(verdict.as_dict())
    else:
        click.echo(f"{verdict.status.upper()}: {verdict.message_fr}")
        click.echo(f"  {verdict.reason}")
        if verdict.document:
            click.echo(f"  document {verdict.document}" + (f", key {verdict.key_id}" if verdict.key_id else ""))
        for label, value in display_fields(verdict.fields or {}):
            click.echo(f"  {label}: {value}")
        for check in verdict.checks:
            mark = {True: "ok", False: "FAILED", None: "-"}[check["ok"]]
            click.echo(f"    [{mark}] {check['check']}" + (f": {check['detail']}" if check.get("detail") else ""))
    sys.exit(0 if verdict.ok else 1)


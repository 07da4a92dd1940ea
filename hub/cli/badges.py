"""Command line of badges: ``parcours badges award|list|export|revoke|verify``.

Exit codes: 0 ok; 1 a verification that is not ``valid``; 2 usage or configuration error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

import click

from hub.badges import credential as C
from hub.badges.award import revoke_badge
from hub.badges.issue import file_name, signed_credential
from hub.badges.keys import signing_ring, verifying_keys
from hub.badges.records import learner_badges, load_award
from hub.badges.verify import verify_badge
from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, fail_config, open_hub, print_json, run_hub
from hub.documents.services import services_of
from hub.errors import ConfigError, HubError
from hub.learners import reference_key

T = TypeVar("T")


def _with_hub(config_path: str, work: Callable[..., Awaitable[T]]) -> T:
    """Open the hub, run ``await work(hub)``, stop it; configuration and usage errors exit 2."""
    hub = open_hub(config_path)
    try:
        return run_hub(hub, lambda: work(hub))
    except (ConfigError, HubError) as exc:
        fail_config(exc)
        raise  # not reached: fail_config exits


async def _learner_id(hub, learner: str) -> str:
    key = reference_key(learner)
    found = learner if key is None else await hub.store.call(hub.store.learner_by_key, key)
    if not found:
        raise HubError(f"no learner {learner!r} (a hub learner id, email:…, or src:<connector>:<ref>)")
    return found


@click.group()
def badges() -> None:
    """Open Badges 3.0 for milestones: award, list, export, revoke, verify (docs/badges.md)."""


@badges.command("award")
@CONFIG_OPTION
@click.option("--action", help="Only this training action (default: every journey).")
@JSON_OPTION
def award(config_path: str, action: str | None, as_json: bool) -> None:
    """Award the badges earned (badge.awarded events); a badge already awarded is never awarded again."""
    async def go(hub):
        if action and action not in hub.config.model.actions:
            raise HubError(f"unknown training action {action!r}")
        return await hub.award_badges(action)

    run = _with_hub(config_path, go)
    if as_json:
        print_json(run.as_dict())
        return
    for a in run.awarded:
        click.echo(f"{a['id']}  {a['badge']}  learner {a['learner']}  {a['action']}")
    click.echo(f"{len(run.awarded)} badge(s) awarded, {run.already} already awarded before")


@badges.command("list")
@CONFIG_OPTION
@click.option("--learner", help="Only this learner (hub id, email:…, or src:<connector>:<ref>).")
@click.option("--action", help="Only this training action.")
@JSON_OPTION
def list_(config_path: str, learner: str | None, action: str | None, as_json: bool) -> None:
    """List the badges awarded, with their revocation."""
    async def go(hub):
        learner_id = await _learner_id(hub, learner) if learner else None
        await hub.project()
        states = await hub.store.call(hub.store.journeys, action=action, learner_id=learner_id)
        return [(s["learner_id"], b) for s in states for b in learner_badges([s])]

    rows = _with_hub(config_path, go)
    if as_json:
        print_json([{"learner": who, "id": b["event"], "badge": b["badge"], "name": b["name"], "action": b["action"],
                     "at": b["at"], "revoked": b["revoked"]} for who, b in rows])
        return
    if not rows:
        click.echo("no badge awarded")
    for who, b in rows:
        state = f"REVOKED {b['revoked']['at'][:10]}" if b["revoked"] else "valid"
        click.echo(f"{b['event']}  {b['badge']:<20} {who}  {b['action']}  {b['at'][:10]}  {state}")


@badges.command("export")
@CONFIG_OPTION
@click.argument("learner")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder where each credential is written as badge-<badge>-<id>.jwt")
@JSON_OPTION
def export(config_path: str, learner: str, out_dir: str, as_json: bool) -> None:
    """Write LEARNER's badges (not revoked) as Open Badges 3.0 credentials (VC-JWT files)."""
    async def go(hub):
        learner_id = await _learner_id(hub, learner)
        await hub.project()
        states = await hub.store.call(hub.store.journeys, learner_id=learner_id)
        keyring = signing_ring(hub.config)
        out = []
        services = services_of(hub)
        for fact in learner_badges(states):
            if fact["revoked"]:
                continue
            record = await load_award(services, fact["event"])
            out.append((record, signed_credential(hub.config, record, keyring)))
        return out

    found = _with_hub(config_path, go)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for record, token in found:
        path = folder / file_name(record)
        path.write_text(token + "\n", encoding="utf-8")
        written.append({"id": record.id, "badge": record.event["data"]["badge"], "path": str(path)})
    if as_json:
        print_json(written)
        return
    for w in written:
        click.echo(f"{w['path']}")
    click.echo(f"{len(written)} credential(s) written" if written else "no badge to export (none awarded, or all revoked)")


@badges.command("revoke")
@CONFIG_OPTION
@click.argument("badge_id")
@click.option("--reason", required=True, help="Why (shown on the verification page).")
@JSON_OPTION
def revoke(config_path: str, badge_id: str, reason: str, as_json: bool) -> None:
    """Revoke the awarded badge BADGE_ID: its status list bit is set, verification says « révoqué »."""
    result = _with_hub(config_path, lambda hub: revoke_badge(services_of(hub), badge_id.upper(), reason))
    if as_json:
        print_json(result)
    elif result["already"]:
        click.echo(f"{badge_id} was already revoked on {result['revoked_at'][:10]}")
    else:
        click.echo(f"revoked {badge_id} ({result['event']})")


@badges.command("verify")
@CONFIG_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@JSON_OPTION
def verify(config_path: str, file: str, as_json: bool) -> None:
    """Verify a credential file (VC-JWT) against the organisation's keys and the ledger."""
    token = Path(file).read_text(encoding="utf-8").strip()
    try:
        award_id = C.parse(token).credential.get("id", "").rstrip("/").rsplit("/", 1)[-1]
    except C.CredentialError as exc:
        fail(f"{file}: {exc}", 1)

    async def go(hub):
        return await verify_badge(services_of(hub), award_id, token, verifying_keys(hub.config))

    verdict = _with_hub(config_path, go)
    if as_json:
        print_json(verdict.as_dict())
    else:
        click.echo(f"{verdict.status}: {verdict.message_fr} — {verdict.reason}")
        for c in verdict.checks:
            click.echo(f"  {'ok ' if c['ok'] else 'NO '} {c['check']}: {c.get('detail', '')}")
    sys.exit(0 if verdict.status == "valid" else 1)

"""The ledger's integrity: verification and inclusion proofs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from hub.cli.common import (
    CONFIG_OPTION,
    JSON_OPTION,
    fail,
    open_hub,
    print_json,
    run_hub,
    write_or_echo,
)
from hub.cli.progress import progress_bar
from hub.ledger.anchoring import AnchorError, anchor_checker
from hub.ledger.head import HeadError, HeadFile
from hub.ledger.integrity import check_proof
from hub.ledger.integrity import prove as make_proof
from hub.ledger.integrity import verify as verify_ledger


@click.command()
@CONFIG_OPTION
@JSON_OPTION
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Processes that check blocks side by side (default: the number of CPUs; 1: in this process).")
def verify(config_path: str, as_json: bool, jobs: int | None) -> None:
    """Recompute every sealed block from the ledger, check their time-stamp anchors and compare the
    ledger with its signed head; name the first event or block that does not match."""
    hub = open_hub(config_path)
    jobs = jobs or os.cpu_count() or 1

    ledger = hub.config.hub.ledger
    check = anchor_checker(hub.config.resolve_path(p) for p in ledger.tsa_ca)
    head_file = hub.head_file()
    try:
        head = head_file.read()
    except HeadError as exc:
        head, head_problem = None, str(exc)
    else:
        head_problem = None

    async def work():
        total = await hub.store.call(hub.store.count_events)
        with progress_bar("verify", unit="events", total=total, as_json=as_json) as advance:
            return await hub.store.call(verify_ledger, hub.store, check_anchor=check, progress=advance, head=head,
                                        jobs=jobs)

    try:
        report = run_hub(hub, work)
    except AnchorError as exc:
        fail(f"cannot check the time-stamp anchors: {exc}", 2)
    if head_problem and report.ok:
        report.ok, report.problem = False, head_problem
    if as_json:
        print_json({**report.__dict__, "head": head, "head_file": str(head_file.path)})
    elif report.ok or (report.problem is None and report.unreadable):
        click.echo(f"ledger {'intact' if report.ok else 'unaltered'}: {report.blocks} block(s), {report.events} sealed event(s)"
                   + (f", {report.unsealed} not sealed yet" if report.unsealed else ""))
        last = report.last_anchor
        if last:
            click.echo(f"time-stamped: {report.anchored} anchor(s) valid; the newest dates blocks 0–{last['block']} "
                       f"at {last['gen_time']} ({last['tsa']})")
        if report.not_time_stamped and last:
            click.echo(f"note: {report.not_time_stamped} block(s) sealed after the newest anchor are not time-stamped yet")
        elif report.not_time_stamped:
            click.echo("note: no block is time-stamped" + ("" if ledger.tsa_url else " (hub.ledger.tsa_url is not set)"))
        _echo_head(head, head_file, report.blocks)
    else:
        click.echo(f"LEDGER ALTERED: {report.problem}", err=True)
    if not as_json:
        _echo_unreadable(report)
    sys.exit(0 if report.ok else 1)


def _echo_unreadable(report) -> None:
    """Name each event row that cannot be read (stderr): sealed or not, it is a finding."""
    for found in report.unreadable_events:
        where = f"block {found['block']}" if found["block"] is not None else "not sealed yet"
        click.echo(f"UNREADABLE EVENT: event {found['id']} (seq {found['seq']}, {where}): {found['problem']}", err=True)
    if report.unreadable > len(report.unreadable_events):
        click.echo(f"UNREADABLE EVENT: … and {report.unreadable - len(report.unreadable_events)} more", err=True)


def _echo_head(head: dict | None, head_file: HeadFile, blocks: int) -> None:
    if head is not None:
        click.echo(f"signed head: the ledger holds the {head['blocks']} block(s) it had at {head['time']} "
                   f"(head {head_file.path})")
    elif blocks:
        click.echo(f"note: no signed head at {head_file.path} yet (written at the next seal): "
                   "a truncation of the newest blocks would not be seen")


@click.command()
@CONFIG_OPTION
@click.argument("event_id", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the proof to this file.")
@click.option("--check", "check_file", type=click.Path(exists=True, dir_okay=False),
              help="Check a proof file instead (needs no configuration and no ledger).")
@click.option("--tsa-ca", "tsa_ca", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="With --check: PEM certificate of a CA to trust for the proof's time-stamp (repeatable; "
                   "default: the system's trust store).")
def prove(config_path: str, event_id: str | None, output: str | None, check_file: str | None,
          tsa_ca: tuple[str, ...]) -> None:
    """Print the inclusion proof of EVENT_ID (its Merkle audit path and time-stamp anchor), or check one with --check."""

    if check_file:
        try:
            proof = json.loads(Path(check_file).read_text(encoding="utf-8"))
            ok, message = check_proof(proof, tsa_ca=tsa_ca)
        except AnchorError as exc:
            fail(f"cannot check the proof's time-stamp anchor: {exc}", 2)
        except (ValueError, KeyError, TypeError) as exc:
            ok, message = False, f"unreadable proof: {exc}"
        click.echo(("valid: " if ok else "INVALID: ") + message, err=not ok)
        sys.exit(0 if ok else 1)
    if not event_id:
        fail("give an EVENT_ID, or --check FILE", 2)
    hub = open_hub(config_path)

    async def work():
        return await hub.store.call(make_proof, hub.store, event_id)

    try:
        proof = run_hub(hub, work)
    except KeyError as exc:
        fail(f"{exc.args[0]}", 1)
    text = json.dumps(proof, indent=2, ensure_ascii=False) + "\n"
    write_or_echo(text, output)

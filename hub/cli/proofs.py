"""The proof missing before invoicing."""

from __future__ import annotations

import sys

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, open_hub, print_json, run_hub


@click.group()
def proofs() -> None:
    """Proof completeness: what is missing before invoicing or certifying."""


@proofs.command("check")
@CONFIG_OPTION
@click.option("--action", help="Only this training action.")
@click.option("--funder", help="Only enrolments funded by this funder (and its rules).")
@JSON_OPTION
def proofs_check(config_path: str, action: str | None, funder: str | None, as_json: bool) -> None:
    """List the proof gaps per learner, with what would close each. Exit 1 when there are gaps."""
    hub = open_hub(config_path)

    async def work():
        return await hub.proof_gaps(action=action, funder=funder)

    found = run_hub(hub, work)
    if as_json:
        print_json([f.as_dict() for f in found])
    elif not found:
        click.echo("no proof missing" + (f" in {action}" if action else "") + (f" for {funder}" if funder else ""))
    else:
        total = sum(len(f.gaps) for f in found)
        click.echo(f"{total} gap(s) in {len(found)} enrolment(s):")
        for f in found:
            click.echo(f"{f.learner_name or f.learner_id} — {f.action} ({f.status}; {', '.join(f.funders) or 'no funder'})")
            for rule, gap in f.gaps:
                click.echo(f"  [{gap.code}] {gap.message}")
                click.echo(f"      → {gap.to_close}")
    sys.exit(1 if found else 0)

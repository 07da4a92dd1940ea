"""``parcours audit-pack``: every piece of evidence about a sample of learners, in one zip."""

from __future__ import annotations

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub


@click.command("audit-pack")
@CONFIG_OPTION
@click.option("--action", required=True, help="Training action id.")
@click.option("--sample", type=int, help="Pack a random sample of N learners of the action.")
@click.option("--seed", type=int, help="With --sample: the seed of the draw (chosen and printed when not given).")
@click.option("--learners", "learners", help="Pack these learners (hub ids or keys such as email:…), comma-separated.")
@click.option("--funder", help="Pack the learners this funder financed (with --period).")
@click.option("--period", help="With --funder: YYYY-MM, YYYY or YYYY-MM-DD..YYYY-MM-DD.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The .zip file to write.")
@JSON_OPTION
def audit_pack(config_path: str, action: str, sample: int | None, seed: int | None, learners: str | None,
               funder: str | None, period: str | None, out: str, as_json: bool) -> None:
    """Build an audit pack for an auditor: per learner a journey summary (PDF), every event (NDJSON) with
    its inclusion proof, the evidence and the documents; the block headers, time-stamp tokens and signed
    head; a manifest with the SHA-256 of every file, an HTML index and a README. Check it offline with
    docs/verify_audit_pack.py."""
    from hub.audit.build import AuditPackError, build_audit_pack
    from hub.audit.proofs import LedgerAltered
    from hub.audit.selection import Selection, SelectionError
    from hub.documents.services import services_of

    names = tuple(n.strip() for n in learners.split(",") if n.strip()) if learners is not None else ()
    if learners is not None and not names:
        fail("--learners names no learner", 2)
    try:
        selection = Selection(action, sample, seed, names, funder, period).with_seed()
    except SelectionError as exc:
        fail(str(exc), 2)
    hub = open_hub(config_path)

    async def work():
        return await build_audit_pack(services_of(hub), hub.head_file(), selection, out)

    try:
        result = run_hub(hub, work)
    except (SelectionError, AuditPackError, LedgerAltered) as exc:
        fail(str(exc), 1)
    if as_json:
        print_json(result.as_dict())
        return
    if selection.sample is not None and seed is None:
        click.echo(f"seed {selection.seed} (give --seed {selection.seed} to draw the same sample again)")
    click.echo(f"wrote {result.path}: {len(result.learners)} learner(s), {result.events} event(s)"
               + (f" ({result.unsealed} not sealed yet: no proof)" if result.unsealed else "")
               + f", {result.files} file(s), {result.bytes} bytes")

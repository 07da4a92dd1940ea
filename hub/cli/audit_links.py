"""``parcours audit-link``: make, list and revoke auditors' links (docs/web-app.md#the-auditors-link).
Making and revoking are ``admin.action`` events; the token is printed once and kept hashed."""

from __future__ import annotations

import datetime as dt

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub


@click.group("audit-link")
def audit_link() -> None:
    """Auditors' links: a time-limited, revocable address to a sample's evidence and audit pack."""


def _base_url(config) -> str:
    http = config.hub.http
    return (http.public_url or f"http://{http.host}:{http.port}").rstrip("/")


def _when(t: float | None) -> str:
    return "-" if t is None else f"{dt.datetime.fromtimestamp(t, dt.timezone.utc):%Y-%m-%d %H:%M} UTC"


@audit_link.command("create")
@CONFIG_OPTION
@click.option("--action", required=True, help="Training action id.")
@click.option("--sample", type=int, help="A random sample of N learners of the action, drawn now.")
@click.option("--seed", type=int, help="With --sample: the seed of the draw (chosen and printed when not given).")
@click.option("--learners", help="These learners (hub ids or keys such as email:…), comma-separated.")
@click.option("--expires", default="7d", show_default=True, help="How long the link works: 12h, 7d, 30d (at most 90d).")
@click.option("--label", help="Who the link is for, shown in `audit-link list` (e.g. the auditor's name).")
@JSON_OPTION
def audit_link_create(config_path: str, action: str, sample: int | None, seed: int | None, learners: str | None,
                      expires: str, label: str | None, as_json: bool) -> None:
    """Make a link for an auditor to ACTION's sample (drawn once, now); the address is printed once."""
    from hub.audit.links import AuditLinkError, create_link
    from hub.audit.selection import Selection, SelectionError
    from hub.durations import parse_duration

    names = tuple(n.strip() for n in learners.split(",") if n.strip()) if learners is not None else ()
    if learners is not None and not names:
        fail("--learners names no learner", 2)
    try:
        lifetime = parse_duration(expires)
    except ValueError as exc:
        fail(f"--expires: {exc}", 2)
    try:
        selection = Selection(action, sample, seed, names).with_seed()
    except SelectionError as exc:
        fail(str(exc), 2)
    hub = open_hub(config_path)
    try:
        link, token = run_hub(hub, lambda: create_link(hub, selection, lifetime, label=label))
    except (AuditLinkError, SelectionError) as exc:
        fail(str(exc), 1)
    url = f"{_base_url(hub.config)}/app/audit/{token}"
    if as_json:
        print_json({**link.as_dict(), "url": url})
        return
    click.echo(f"audit link {link.id}: action {link.action}, {len(link.learners)} learner(s), until {_when(link.expires_at)}")
    if selection.sample is not None and seed is None:
        click.echo(f"seed {selection.seed} (give --seed {selection.seed} to draw the same sample again)")
    click.echo("Send this address to the auditor (shown once; anyone who has it can read the sample until it expires):")
    click.echo(f"  {url}")


@audit_link.command("list")
@CONFIG_OPTION
@JSON_OPTION
def audit_link_list(config_path: str, as_json: bool) -> None:
    """Every audit link: its id, action, number of learners, expiry and state (never its token)."""
    from hub.audit.links import list_links

    hub = open_hub(config_path)
    links = run_hub(hub, lambda: list_links(hub.store))
    if as_json:
        print_json([link.as_dict() for link in links])
        return
    if not links:
        click.echo("no audit link (make one with `parcours audit-link create`)")
        return
    for link in links:
        click.echo(f"{link.id}  {link.action}  {len(link.learners)} learner(s)  until {_when(link.expires_at)}  "
                   f"{link.state()}{'  ' + link.label if link.label else ''}")


@audit_link.command("revoke")
@CONFIG_OPTION
@click.argument("link_id")
def audit_link_revoke(config_path: str, link_id: str) -> None:
    """Revoke audit link LINK_ID now: its address answers 410 from the next request."""
    from hub.audit.links import AuditLinkError, revoke_link

    hub = open_hub(config_path)
    try:
        run_hub(hub, lambda: revoke_link(hub.store, hub.append, link_id))
    except AuditLinkError as exc:
        fail(str(exc), 1)
    click.echo(f"audit link {link_id} revoked")

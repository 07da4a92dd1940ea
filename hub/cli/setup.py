"""Setting up: a starter configuration, its validation, its JSON Schema."""

from __future__ import annotations

import json
import os
import secrets
from importlib import resources
from pathlib import Path

import click
import yaml

from hub.cli.common import (
    CONFIG_OPTION,
    JSON_OPTION,
    WARNING,
    fail,
    fail_config,
    load_plugins_or_exit,
    print_json,
    write_or_echo,
)
from hub.config import DEFAULT_CONFIG, json_schema, load_config, route_warnings, schedule_warnings
from hub.errors import ConfigError
from hub.redaction import redact_url

STARTER_TOKEN = "config/secrets/admin-token"  # the ${file:…} the starter's hub.http.admin_token names


@click.command()
@click.option("--path", "target", type=click.Path(dir_okay=False), default=DEFAULT_CONFIG, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file (an existing admin token is kept).")
def init(target: str, force: bool) -> None:
    """Write a commented starter configuration, its admin token and the folders it names."""
    path = Path(target)
    if path.exists() and not force:
        fail(f"{path} exists (use --force to overwrite)", 2)
    text = resources.files("hub").joinpath("starter.yaml").read_text(encoding="utf-8")
    token = path.parent / "secrets" / "admin-token"
    if token.as_posix() != STARTER_TOKEN:  # the config is elsewhere: its token lies beside it
        text = text.replace("${file:" + STARTER_TOKEN + "}", "${file:" + token.as_posix() + "}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")
    kept = token.exists()
    write_secret(token)
    click.echo(f"{'kept' if kept else 'wrote'} {token} (the admin API's bearer token, readable by you only)")
    made = [folder for folder in starter_folders(text) if not folder.is_dir()]
    for folder in made:
        folder.mkdir(parents=True, exist_ok=True)  # a folder the configuration names twice
    if made:
        click.echo(f"created {', '.join(str(f) for f in made)}")
    config = "" if target == DEFAULT_CONFIG else f" --config {path}"
    click.echo(f"next: parcours check{config} && parcours run{config}")


def write_secret(path: Path) -> None:
    """A new random token in ``path``, readable and writable by its owner only; an existing one stays."""
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_urlsafe(32) + "\n")


def starter_folders(text: str) -> list[Path]:
    """The folders a starter configuration names: the data folder and its connectors' folders."""
    raw = yaml.safe_load(text)
    names = [raw.get("hub", {}).get("data_dir")]
    names += [c.get(key) for c in (raw.get("connectors") or {}).values() for key in ("path", "directory")]
    return [Path(name) for name in names if name]


@click.command()
@CONFIG_OPTION
@JSON_OPTION
def check(config_path: str, as_json: bool) -> None:
    """Validate the configuration and print connectors, routes and schedules."""
    plugins = load_plugins_or_exit()
    try:
        loaded = load_config(config_path, plugins.connector_classes(), format_classes=plugins.funder_format_classes())
    except ConfigError as exc:
        fail_config(exc)
    event_types = plugins.event_types().names()
    warnings = route_warnings(loaded, event_types) + schedule_warnings(loaded)

    def when(schedule) -> str | None:
        if schedule is None:
            return None
        return f"cron {schedule.cron}" if schedule.cron else f"every {schedule.model_dump(mode='json')['every']}"

    connectors = []
    for name, cfg in loaded.connectors.items():
        cls = loaded.connector_class(name)
        connectors.append({"name": name, "kind": cfg.kind, "enabled": cfg.enabled,
                           "capabilities": cls.capabilities(), "schedule": when(cfg.schedule)})
    routes = [{"name": r.name, "from": r.from_, "types": r.when.types, "actions": r.when.actions,
               "funders": r.when.funders, "consent": r.when.consent, "to": r.to, "enabled": r.enabled}
              for r in loaded.model.routes]
    exports = [{"name": name, "kind": cfg.kind, "enabled": cfg.enabled, "schedule": when(cfg.schedule),
                "period": cfg.period, "funders": cfg.funders, "actions": cfg.actions}
               for name, cfg in loaded.exports.items()]
    if as_json:
        print_json({"config": str(loaded.path), "store": redact_url(loaded.hub.store.url), "timezone": loaded.hub.timezone,
                     "connectors": connectors, "routes": routes, "exports": exports, "warnings": warnings,
                     "event_types": sorted(event_types)})
        return
    for warning in warnings:
        click.echo(WARNING + warning, err=True)
    click.echo(f"{loaded.path}: ok ({loaded.hub.name}, store {redact_url(loaded.hub.store.url)}, time zone {loaded.hub.timezone})")
    click.echo("connectors:")
    for c in connectors:
        state = "" if c["enabled"] else " (disabled)"
        sched = f", {c['schedule']}" if c["schedule"] else ""
        click.echo(f"  {c['name']:<20} {c['kind']:<14} {'+'.join(c['capabilities'])}{sched}{state}")
    click.echo("routes:")
    for r in routes:
        cond = ", ".join(r["types"])
        if r["actions"]:
            cond += f"; actions {', '.join(r['actions'])}"
        if r["funders"]:
            cond += f"; funders {', '.join(r['funders'])}"
        if r["consent"]:
            cond += f"; consent {', '.join(r['consent'])}"
        click.echo(f"  {r['name']:<20} {', '.join(r['from'])} -> {', '.join(r['to'])} when {cond}"
                   + ("" if r["enabled"] else " (disabled)"))
    if not routes:
        click.echo("  (none)")
    if exports:
        click.echo("exports:")
    for e in exports:
        scope = "; ".join(part for part in (
            f"funders {', '.join(e['funders'])}" if e["funders"] else "",
            f"actions {', '.join(e['actions'])}" if e["actions"] else "") if part)
        timing = (f"{e['schedule']}" + (f", period {e['period']}" if e["period"] else ", the period that just ended")
                  if e["schedule"] else "by hand (parcours export)")
        click.echo(f"  {e['name']:<20} {e['kind']:<14} {timing}" + (f"; {scope}" if scope else "")
                   + ("" if e["enabled"] else " (disabled)"))


@click.command("config-schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def config_schema(output: str | None) -> None:
    """Print the JSON Schema of the configuration (installed connectors included)."""
    plugins = load_plugins_or_exit()
    schema = json_schema(plugins.connector_classes(), plugins.funder_format_classes())
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    write_or_echo(text, output)

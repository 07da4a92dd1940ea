"""Connectors: what is installed and configured, and a scaffold for a new one."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from hub.cli.common import (
    CONFIG_OPTION,
    JSON_OPTION,
    fail,
    load_plugins_or_exit,
    open_hub,
    print_json,
)
from hub.errors import HubError
from hub.delivery.connector_health import connectors_health
from hub.scaffold import scaffold


@click.group()
def connectors() -> None:
    """Installed connector kinds and configured connectors."""


@connectors.command("list")
@CONFIG_OPTION
@JSON_OPTION
def connectors_list(config_path: str, as_json: bool) -> None:
    """List installed connector kinds, their plugins, and (with a config) each connector's health."""
    plugins = load_plugins_or_exit()
    kinds = []
    for kind, cls in plugins.connector_classes().items():
        origin = plugins.connector_origin(kind)
        info = next((i for i in plugins.infos if i.name == origin), None)
        kinds.append({
            "kind": kind, "capabilities": cls.capabilities(), "plugin": origin,
            "distribution": info.distribution if info else None, "version": info.version if info else None,
            "description": (cls.__doc__ or "").strip().split("\n")[0],
        })
    blocked = [i.name for i in plugins.infos if i.status == "blocked"]
    configured = []
    if Path(config_path).exists():
        hub = open_hub(config_path, plugins=plugins)

        async def health():
            await hub.start()
            try:
                return await connectors_health(hub)
            finally:
                await hub.stop()

        for c in asyncio.run(health()):
            configured.append({"name": c.name, "kind": c.kind, "enabled": c.enabled, "ok": c.ok, "message": c.message,
                               **({"details": c.details} if c.details else {}), "last_success_at": c.last_success_at,
                               "skipped": c.skipped, "unmapped": c.unmapped})
    unhealthy = any(c["enabled"] and c["ok"] is False for c in configured)
    if as_json:
        print_json({"kinds": kinds, "blocked_plugins": blocked, "configured": configured})
        sys.exit(1 if unhealthy else 0)
    click.echo("installed connector kinds:")
    for k in kinds:
        dist = f"{k['distribution']} {k['version']}" if k["distribution"] else k["plugin"]
        click.echo(f"  {k['kind']:<16} {'+'.join(k['capabilities']):<14} {dist:<28} {k['description']}")
    if blocked:
        click.echo(f"blocked plugins: {', '.join(blocked)}")
    if configured:
        click.echo(f"configured in {config_path}:")
        for c in configured:
            status = "disabled" if not c["enabled"] else ("ok" if c["ok"] else f"UNHEALTHY: {c['message']}")
            click.echo(f"  {c['name']:<20} {c['kind']:<14} {status}")
            if c["skipped"]:
                click.echo(f"  {'':<20} skipped (no event): {', '.join(f'{r} {n}' for r, n in c['skipped'].items())}")
            for value, n in c["unmapped"].items():
                click.echo(f"  {'':<20} not mapped: {value}  ×{n}")
    if unhealthy:
        sys.exit(1)


@click.command("new-connector")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to create the package folder.")
def new_connector(name: str, directory: str) -> None:
    """Scaffold a pip-installable connector package NAME with passing contract tests."""
    try:
        created = scaffold(name, Path(directory))
    except HubError as exc:
        fail(f"{exc}", 2)
    click.echo(f"created {created}")
    click.echo(f"next: pip install -e {created} && pytest {created}")

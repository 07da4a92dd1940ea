"""What every command of the ``parcours`` command line shares: options, opening the hub,
running async work against it, printing JSON, exiting on a configuration error."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from hub.config import DEFAULT_CONFIG
from hub.errors import ConfigError
from hub.plugins import load_plugins

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), envvar="PARCOURS_CONFIG",
    default=DEFAULT_CONFIG, show_default=True, help="Hub configuration file (env PARCOURS_CONFIG).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
# click.echo drops the colours when the output is not a terminal
ERROR = click.style("error: ", fg="red", bold=True)
WARNING = click.style("warning: ", fg="yellow", bold=True)


def fail_config(exc: Exception) -> None:
    problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
    click.echo("\n".join(ERROR + p for p in problems), err=True)
    sys.exit(2)


def open_hub(config_path: str, plugins=None):
    """The hub of ``config_path``, assembled; a configuration error exits 2."""
    # The runtime (HTTP server, scheduler, connectors) loads here, for the commands that open a
    # hub, not for `check`, `init` or `--version` (see hub.cli.COMMANDS).
    from hub.runtime.app import Hub

    try:
        return Hub.open(config_path, plugins=plugins)
    except ConfigError as exc:
        fail_config(exc)


def load_plugins_or_exit():
    try:
        return load_plugins()
    except ConfigError as exc:
        fail_config(exc)


def run_hub(hub, work, *, start: bool = False):
    """Run ``await work()`` against an opened hub (started first when ``start``), then stop the hub."""

    async def go():
        if start:
            await hub.start()
        try:
            return await work()
        finally:
            await hub.stop()

    return asyncio.run(go())


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code`` (1 failure found, 2 usage or config)."""
    click.echo(ERROR + message, err=True)
    sys.exit(code)


def write_or_echo(text: str, output: str | None) -> None:
    """Write ``text`` to the file ``output``, or print it when there is none."""
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)

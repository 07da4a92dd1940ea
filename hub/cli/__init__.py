"""The ``parcours`` command line.

Exit codes: 0 ok, 1 a failure was found (a pull failed, dead letters appeared), 2 usage or
configuration error. Every command that reads configuration takes ``--config PATH``
(default ``config/hub.yaml``, or ``$PARCOURS_CONFIG``). One module per command group.
"""

from __future__ import annotations

import importlib

import click

from hub.logs import quiet_library_warnings

#: command -> "module:attribute" in hub.cli. A command's module (and what it needs: the HTTP
#: server, the PDF renderer, cryptography, progress bars) is imported when the command runs, as
#: click's lazily loaded subcommands do, so that `parcours check` or `--version` start fast.
COMMANDS = {
    "init": "setup:init", "check": "setup:check", "config-schema": "setup:config_schema",
    "run": "running:run", "sync": "running:sync",
    "connectors": "connectors:connectors", "new-connector": "connectors:new_connector",
    "dlq": "dead_letters:dlq", "verify": "integrity:verify", "prove": "integrity:prove",
    "journey": "journeys:journey", "export": "exports:export", "alerts": "alerts:alerts",
    "proofs": "proofs:proofs", "learners": "learners:learners", "learner": "rights:learner",
    "documents": "documents:documents", "accounts": "accounts:accounts", "keys": "documents:keys", "verify-document": "documents:verify_document",
    "badges": "badges:badges",
    "audit-pack": "audit:audit_pack", "audit-link": "audit_links:audit_link", "risk": "risk:risk",
    "consent": "consents:consent",
    "insights": "insights:insights",
    "retention": "retention:retention",
    "migrate-store": "migrate_store:migrate_store",
}


class LazyGroup(click.Group):
    """The ``parcours`` group: its commands come from :data:`COMMANDS`, each module imported on use."""

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(f"hub.cli.{module}"), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="parcours-hub")
def main() -> None:
    """Parcours Hub: collect training evidence, keep it tamper-evident, route it, report it."""
    quiet_library_warnings()

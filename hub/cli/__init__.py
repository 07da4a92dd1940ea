"""The ``parcours`` command line.

Exit codes: 0 ok, 1 a failure was found (a pull failed, dead letters appeared), 2 usage or
configuration error. Every command that reads configuration takes ``--config PATH``
(default ``config/hub.yaml``, or ``$PARCOURS_CONFIG``). One module per command group.
"""

from __future__ import annotations

import click

from hub.cli import (
    alerts,
    connectors,
    dead_letters,
    exports,
    integrity,
    journeys,
    learners,
    proofs,
    running,
    setup,
)
from hub.cli.documents import documents, keys, verify_document
from hub.logs import quiet_library_warnings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="parcours-hub")
def main() -> None:
    """Parcours Hub: collect training evidence, keep it tamper-evident, route it, report it."""
    quiet_library_warnings()


for command in (
    setup.init,
    setup.check,
    setup.config_schema,
    running.run,
    running.sync,
    connectors.connectors,
    connectors.new_connector,
    dead_letters.dlq,
    integrity.verify,
    integrity.prove,
    journeys.journey,
    exports.export,
    alerts.alerts,
    proofs.proofs,
    learners.learners,
    documents, keys, verify_document,
):
    main.add_command(command)

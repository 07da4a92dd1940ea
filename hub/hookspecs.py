"""The plugin contract of Parcours Hub (pluggy project ``parcours``).

A plugin is a module or object with functions decorated by ``@hookimpl`` whose names are
those below. Plugins are found through the ``parcours`` entry-point group, the built-in ones
included. Hooks are synchronous and only hand over classes and declarations: all I/O happens
in the connectors' async methods, which the hub awaits. Never start I/O inside a hook.

Example plugin module::

    from hub.hookspecs import hookimpl

    @hookimpl
    def register_connectors():
        return [MyConnector]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.connector import Connector
    from hub.events import EventData
    from hub.formats import FunderFormat
    from hub.journeys.proofs import ProofRule
    from hub.plugin_runtime import JobSpec, PluginRuntime

PROJECT = "parcours"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_connectors() -> "list[type[Connector]]":
    """Return the connector classes this plugin provides.

    Each class subclasses :class:`hub.connector.Connector`, sets a unique ``kind`` (the value
    of ``kind:`` in YAML) and a ``Config`` model (a subclass of
    :class:`hub.connector.ConnectorConfig`), and inherits the capabilities it offers:
    :class:`~hub.connector.PullSource`, :class:`~hub.connector.WebhookSource`,
    :class:`~hub.connector.EventSink` (whose ``deliver`` docstring is the delivery contract:
    outbox order, at least once, each event's ``id`` as its idempotency key). Called once when the plugin manager loads; two plugins
    declaring the same ``kind`` is an error.
    """


@hookspec
def register_funder_formats() -> "list[type[FunderFormat]]":
    """Return the funder-format classes this plugin provides.

    Each class subclasses :class:`hub.formats.FunderFormat`, sets a unique ``kind`` (the value of
    ``kind:`` under ``exports:`` in YAML), a ``Config`` model (a subclass of
    :class:`hub.formats.FunderFormatConfig`), its natural ``period`` (``"month"`` or ``"year"``)
    and implements ``export(request) -> ExportResult``. Its ``proof_rules()`` join
    ``parcours proofs check``. Called once when the plugin manager loads.
    """


@hookspec
def register_event_types() -> "dict[str, type[EventData]]":
    """Return new event types as ``{"family.name": DataModel}``.

    ``DataModel`` subclasses :class:`hub.events.EventData`. Names are dotted lowercase words
    and must not clash with the core vocabulary or another plugin's type. Called once when
    the plugin manager loads; events of an unregistered type are refused at ingest.
    """


@hookspec
def register_proof_rules() -> "list[ProofRule]":
    """Return proof-completeness rules, usually for the funders this plugin knows.

    Each :class:`hub.journeys.proofs.ProofRule` has a ``name``, a ``check(report, today)`` function that
    returns the :class:`hub.journeys.proofs.Gap` list of one enrolment (a
    :class:`hub.journeys.compute.JourneyReport`), and ``funders``: globs of the funder names it
    applies to (``None``: every enrolment). ``parcours proofs check`` and document issuing run
    them beside the default rules. Called each time rules are evaluated: return the same rules
    every time, and do no I/O here.
    """


@hookspec
def register_jobs(config: Any) -> "list[JobSpec]":
    """Return scheduled jobs this plugin wants the hub to run.

    :param config: the validated configuration (:class:`hub.config.LoadedConfig`: ``config.model`` is
        the :class:`hub.config.HubConfig`, ``config.connectors`` the connectors' models).

    Each :class:`hub.plugin_runtime.JobSpec` has a ``name``, a :class:`hub.connector.Schedule` and
    an async callable taking the :class:`hub.plugin_runtime.PluginRuntime`. Jobs never overlap
    themselves and, with several daemons, run on one of them only. Called when the scheduler starts.
    """


@hookspec
def startup(hub: "PluginRuntime") -> None:
    """Called once the hub is assembled (store open, connectors opened), before any work.

    :param hub: the :class:`hub.plugin_runtime.PluginRuntime` of the running hub (append, journey
        and event pages, funder formats, logger, spawn). Must not block: schedule async work with
        ``hub.spawn(coro)`` instead of awaiting here.
    """


@hookspec
def shutdown(hub: "PluginRuntime") -> None:
    """Called once when the hub stops, after in-flight work has drained, before the store closes.

    :param hub: the :class:`hub.plugin_runtime.PluginRuntime` of the hub being stopped.
    """

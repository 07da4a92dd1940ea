"""The contract kit: one pytest class that every connector must pass, one for funder formats.

In the spirit of the Singer SDK's ``get_tap_test_class``, :func:`get_connector_test_class`
turns a connector class and a sample configuration into a pytest test class. Assign it to a
name starting with ``Test`` in a test module and pytest runs the whole contract::

    from hub.testing import get_connector_test_class

    TestMyLms = get_connector_test_class(
        MyLms,
        {"base_url": "http://127.0.0.1:9/", "token": "test-token"},
        pull_peer=fake_lms,          # starts a fake LMS and returns config overrides
    )

The async tests are marked ``pytest.mark.asyncio``: install ``pytest-asyncio`` (strict or
auto mode both work). Subclass the returned class to add your own tests, or to override a
check that does not apply to your connector (give the reason in a docstring).

Peers
-----
A *peer* is what the connector talks to during a test: a fake HTTP server, a folder of
files. You write it; the kit starts it for each test that needs it. A peer is a callable
``peer(folder)`` that receives an empty folder (a :class:`pathlib.Path` under ``tmp_path``)
and returns the config overrides that point the connector at it, either

* a ``dict`` (e.g. a folder of files that needs no clean-up), or
* an async (or plain) context manager yielding that ``dict``: start the server on enter and
  stop it on exit (``contextlib.asynccontextmanager`` makes this a five-line function).

The overrides are merged over ``config`` (top-level keys), so ``config`` may hold
placeholders such as ``http://127.0.0.1:9/`` but must validate on its own. A peer must serve
the same records each time it is started.

``failing_peer(status, folder)`` is the same, but the peer answers *every* request with HTTP
``status`` (with a ``Retry-After: <seconds>`` header when ``status`` is 429).

What is checked
---------------
Every connector:
  ``kind`` is a non-empty string; the class has a docstring; ``Config`` subclasses
  :class:`~hub.connector.ConnectorConfig`, validates ``config`` and refuses unknown keys; the
  configuration JSON Schema can be generated; fields named like credentials are ``SecretStr``
  and no secret value appears in ``repr(config)``/``str(config)``, in an error message or in
  what the connector logs; ``check()`` returns a :class:`~hub.connector.Health` (``ok`` when a
  working peer is given); the types in ``emits`` are known event types.
Pull sources (``pull_peer``):
  ``pull(None)`` returns a :class:`~hub.connector.PullResult` whose events are valid event
  inputs (:meth:`hub.events.EventTypeRegistry.validate_batch`, with ``extra_event_types``) of a
  type in ``emits`` when ``emits`` is declared, whose cursor survives a JSON round trip and
  whose rejects can be stored and replayed with ``map_record``; while ``has_more`` the cursor
  changes, within ``max_pages`` pages; a full sync returns at least one event; a new
  connector instance pulling from the final cursor returns no source id already returned;
  pulling again from ``None`` returns only source ids already returned, and a fresh peer
  returns exactly the same ones (so the hub's de-duplication makes re-pulls idempotent);
  against ``failing_peer(status)``, ``pull(None)`` raises the class below.
Webhook sources (``webhook_body`` + ``sign_request``):
  a correctly signed request yields valid events, and the same source ids when handled
  twice; a tampered body (one byte added) and a wrong signature raise
  :class:`~hub.errors.WebhookRejected` with status 401; a signed ``malformed_body`` is refused
  with 400; ``stale_request(body)``, if given, is refused (400 or 401).
Sinks (``sink_peer``, ``failing_peer``):
  delivering :func:`sample_events` succeeds; against ``failing_peer(status)``, ``deliver``
  raises the class below.
Peer errors (pull sources and sinks, ``failing_peer``):
  500/503 raise :class:`~hub.errors.RetryableError`, 429
  :class:`~hub.errors.RateLimitedError` with ``retry_after`` set, 400
  :class:`~hub.errors.PermanentError`, 401 :class:`~hub.errors.AuthError` (see
  :func:`expected_error`; ``failing_statuses`` chooses which are tried). The error message
  must not carry a secret.

Helpers for your own tests: :func:`make_context`, :func:`close_context`,
:func:`captured_logs`, :func:`sample_events`; the pytest plugin :mod:`hub.pytest_plugin`
offers them as the fixtures ``parcours_context`` and ``parcours_sample_events``.

Funder formats
--------------
:func:`get_format_test_class` does the same for a funder format: its class and ``Config``
(JSON Schema, every option described), and its exports run on a test hub's ledger (files only
under the output folder, nothing written and the missing fields listed when data is
incomplete, the same bytes twice on the same ledger). The data comes from a fixture
``parcours_format_hub`` you define (see :class:`FormatContract`); :func:`export_files` runs a
format on a hub without versioning nor recording, for your own tests.
"""

from __future__ import annotations

from hub.testing.connectors import (
    ConnectorContract,
    ContractSpec,
    get_connector_test_class,
)
from hub.testing.context import (
    captured_logs,
    close_context,
    expected_error,
    make_context,
    sample_events,
)
from hub.testing.formats import (
    FormatContract,
    FormatSpec,
    export_files,
    get_format_test_class,
)

__all__ = [
    "ConnectorContract",
    "ContractSpec",
    "captured_logs",
    "close_context",
    "expected_error",
    "export_files",
    "FormatContract",
    "FormatSpec",
    "get_connector_test_class",
    "get_format_test_class",
    "make_context",
    "sample_events",
]

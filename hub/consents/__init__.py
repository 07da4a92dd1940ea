"""Consents: which processing each person agreed to, recorded in the ledger and honoured at ingest.

Small modules, one job each:

* :mod:`~hub.consents.settings` — ``hub.consents`` in the configuration: the organisation's
  purposes (id, version of the text, French label and text, allowed, default, the event types
  whose collection the purpose covers);
* :mod:`~hub.consents.decisions` — what is in force for a person and a purpose, from the latest
  ``consent.given`` / ``consent.withdrawn`` and the purpose's settings;
* :mod:`~hub.consents.gate` — the ingest gate: the events a person's consent no longer (or not
  yet) covers are withheld, counted and logged, never appended;
* :mod:`~hub.consents.record` — recording a consent change (CLI, web), a person's choices, and
  :func:`~hub.consents.record.withdrawn_consents` for the retention job.

See docs/consents.md for the rules and their legal sources.
"""

"""Built-in funder format ``opco``: what an OPCO asks for before it pays.

* the attendance statement per learner and half-day with hours, monthly or at the end of the
  action (CSV and XLSX), laid out by a *profile* (``profiles/*.yaml``: atlas, opco-ep, akto);
* the subrogation bundle that goes with an invoice (certificat de réalisation, the learner's
  attendance statement, a proof summary);
* the apprenticeship certificate in the inter-OPCO "API CFA" exchange form (JSON).

Registered like any third-party plugin: the ``parcours`` entry point ``opco`` names this module,
whose ``register_funder_formats`` hook returns :class:`~funder_formats.opco.format.OpcoFormat`.
See docs/formats/opco.md.
"""

from __future__ import annotations

from funder_formats.opco.format import OpcoFormat
from hub.hookspecs import hookimpl


@hookimpl
def register_funder_formats():
    return [OpcoFormat]

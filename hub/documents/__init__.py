"""Documents: certificats de réalisation and attestations, signed, recorded and verifiable.

Small modules, one job each:

* :mod:`~hub.documents.fr` — French formatting (dates, hours, names);
* :mod:`~hub.documents.keys` — the Ed25519 key ring (``<data_dir>/keys``), rotation, public keys document;
* :mod:`~hub.documents.payload` — canonical encoding of a document's fields, the signed compact
  payload (``PH1.…``), the verification URL carried by the QR code, and the PDF's embedded copy;
* :mod:`~hub.documents.fields` — what each document type states, computed from a journey;
* :mod:`~hub.documents.templates` / :mod:`~hub.documents.render` — labels and texts (overridable by
  the admin) and the reportlab (platypus) PDF, any type, any number of pages;
* :mod:`~hub.documents.stamp` — the certificat de réalisation stamped into its fixed layout, laid
  out once per process, with :mod:`~hub.documents.pdf_flow` (paragraphs broken by platypus' rules,
  written as operators), :mod:`~hub.documents.pdf_fonts` (fonts subset once, CID-keyed),
  :mod:`~hub.documents.pdf_images` (the logo) and :mod:`~hub.documents.pdf_objects` (the file);
* :mod:`~hub.documents.pades` — the optional PAdES signature (pyHanko) with the admin's certificate;
* :mod:`~hub.documents.eligibility` — who may receive which document, and ``proof_gaps``;
* :mod:`~hub.documents.settings` — ``hub.documents`` in the configuration, and the folders it names;
* :mod:`~hub.documents.services` — what documents use of the hub (config, store, blobs, ``append``,
  journeys, logger), built from a hub by the edges that own one;
* :mod:`~hub.documents.issue` — issuing: eligibility, render, blob store, ``document.issued`` events;
* :mod:`~hub.documents.verify` — verifying a PDF (or a scan, or a payload) against keys and ledger;
* :mod:`~hub.documents.http` — ``GET /verify/{id}`` and ``GET /.well-known/parcours-keys.json``;
* :mod:`hub.cli.documents` — ``parcours documents …``, ``parcours keys …``, ``parcours verify-document``.

The ``parcours`` command imports this package on every run, so the heavy libraries load on use:
reportlab when a PDF is rendered, pypdf when one is read, cryptography when keys are used, and
pyHanko (optional) only for PAdES.
"""

from __future__ import annotations

DOCUMENT_TYPES: dict[str, str] = {
    "certificat_realisation": "Certificat de réalisation",
    "attestation_assiduite": "Attestation d'assiduité",
    "attestation_fin_formation": "Attestation de fin de formation",
    "releve_competences": "Relevé de compétences",
}
# One byte in the compact payload; never reuse a code.
TYPE_CODES: dict[str, int] = {
    "certificat_realisation": 1,
    "attestation_assiduite": 2,
    "attestation_fin_formation": 3,
    "releve_competences": 4,
}

__all__ = ["DOCUMENT_TYPES", "TYPE_CODES"]

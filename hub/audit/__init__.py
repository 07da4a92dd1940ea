"""The audit pack: every piece of evidence about a sample of learners, in one zip an auditor checks
offline (``parcours audit-pack``, ``POST /api/audit-packs``; see docs/audit-pack.md).

:mod:`hub.audit.selection` picks the learners, :mod:`hub.audit.zipfile_out` writes the zip entry by
entry with the SHA-256 of each file, :mod:`hub.audit.proofs` gives each event's inclusion proof from
the stored leaf hashes, :mod:`hub.audit.summary` renders a learner's journey as a PDF,
:mod:`hub.audit.index_page` writes the auditor's HTML index and :mod:`hub.audit.build` puts them
together. ``docs/verify_audit_pack.py`` checks a pack without the hub.
"""

"""Ingest: validation, the one door to the ledger, routing, the admin audit trail."""

"""file_drop reading another tool's CSV export through a column mapping: an accounting tool's
invoice list (tests/fixtures/accounting) becomes invoice.issued events; a bad line is a dead
letter naming the line and the field."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from hub.events import EventTypeRegistry, EventValidationError
from tests.connectors.test_file_drop import connector, sync, write

FIXTURE = Path(__file__).parents[1] / "fixtures" / "accounting" / "factures-2026-10.csv"

#: the mapping docs/connectors/file_drop.md shows for this export
INVOICES = yaml.safe_load("""
csv_delimiter: ";"
encoding: utf-8-sig
csv_mappings:
  - patterns: ["factures-*.csv"]
    type: invoice.issued
    source_id: "facture:{N° facture}:{E-mail stagiaire}"
    date_format: "%d/%m/%Y"
    columns:
      occurred_at: Date
      action: Session
      learner_ref: E-mail stagiaire
      learner_email: E-mail stagiaire
      learner_name: Stagiaire
      data.number: N° facture
      data.kind: Type
      data.date: Date
      data.due_date: Échéance
      data.payer_name: Client
      data.payer_siret: SIRET client
      data.payer_kind: Type de client
      data.funder: Financeur
      data.amount_ht: Montant HT
      data.amount_ttc: Montant TTC
    dates: [occurred_at, data.date, data.due_date]
    decimals: [data.amount_ht, data.amount_ttc]
    translate:
      data.kind: {Facture: invoice, Avoir: credit_note}
      data.payer_kind: {OPCO: opco, Entreprise: employer, Particulier: self, CDC: cpf, France Travail: france_travail, Région: region}
""")


async def test_an_invoice_export_becomes_invoice_events(tmp_path):
    (tmp_path / "drop").mkdir()
    shutil.copy(FIXTURE, tmp_path / "drop" / FIXTURE.name)
    pages, _ = await sync(connector(tmp_path, **INVOICES))
    events = [e for p in pages for e in p.events]
    assert not [r for p in pages for r in p.rejects]
    assert [e["source_id"] for e in events][:2] == ["facture:F-2026-0101:camille.dubois@example.fr",
                                                    "facture:F-2026-0102:chloe.ndiaye@example.fr"]
    first = events[0]
    assert first["type"] == "invoice.issued" and first["action"] == "ACT-2026-REACT-01"
    assert first["occurred_at"] == "2026-10-30T00:00:00+01:00"  # the invoice date, at midnight in Paris
    assert first["learner"] == {"ref": "camille.dubois@example.fr", "email": "camille.dubois@example.fr",
                                "name": "Camille Dubois"}
    assert first["data"] == {"number": "F-2026-0101", "kind": "invoice", "date": "2026-10-30", "due_date": "2026-11-29",
                             "payer_name": "OPCO Atlas", "payer_siret": "85196467300038", "payer_kind": "opco",
                             "funder": "opco-atlas", "amount_ht": "2450.00", "amount_ttc": "2450.00"}
    valid = EventTypeRegistry().validate_batch(events)
    assert [(v["data"].kind, v["data"].payer_kind, v["data"].amount_ht) for v in valid] == [
        ("invoice", "opco", Decimal("2450.00")), ("invoice", "opco", Decimal("2450.00")),
        ("invoice", "self", Decimal("2450.00")), ("credit_note", "opco", Decimal("350.00")),
        ("invoice", "employer", Decimal("1000.00"))]
    assert "funder" not in events[2]["data"]  # an empty cell is left out


async def test_a_line_that_does_not_read_is_a_dead_letter_naming_line_and_column(tmp_path):
    header = FIXTURE.read_text(encoding="utf-8-sig").splitlines()[0]
    write(tmp_path / "drop", "factures-bad.csv", [
        header,
        "Facture;F-1;31/10/2026;;OPCO Atlas;;OPCO;;A;a@example.fr;S;douze;0;12",  # not an amount
        "Facture;F-2;2026-10-31;;OPCO Atlas;;OPCO;;B;b@example.fr;S;12;0;12",  # not JJ/MM/AAAA
        "Note;F-3;31/10/2026;;OPCO Atlas;;OPCO;;C;c@example.fr;S;12;0;12",  # a type the mapping does not know
        "Facture;F-4;31/10/2026;;OPCO Atlas;12345678901234;OPCO;;D;d@example.fr;S;12;0;12",  # reads, invalid SIRET
    ])
    pages, _ = await sync(connector(tmp_path, **INVOICES))
    rejects = [r for p in pages for r in p.rejects]
    assert [r.error for r in rejects] == [
        "factures-bad.csv:2: column 'Montant HT' (data.amount_ht): 'douze' is not a number",
        "factures-bad.csv:3: column 'Date' (occurred_at): '2026-10-31' is not a date in the format %d/%m/%Y",
        "factures-bad.csv:4: column 'Type' (data.kind): 'Note' is not one of Facture, Avoir",
    ]
    (event,) = [e for p in pages for e in p.events]
    with pytest.raises(EventValidationError, match="data.payer_siret"):
        EventTypeRegistry().validate_batch([event])


def test_a_mapping_to_an_unknown_column_of_the_hub_is_refused(tmp_path):
    bad = {**INVOICES, "csv_mappings": [{**INVOICES["csv_mappings"][0], "columns": {"data.number": "N°", "montant": "HT"}}]}
    with pytest.raises(ValueError, match="montant"):
        connector(tmp_path, **bad)

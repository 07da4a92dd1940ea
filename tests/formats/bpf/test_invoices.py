"""Cadre C from invoices when the ledger has them (by invoice payer and invoice date), from the
funding decisions otherwise, the drill-down saying which; the CPF product at the rate the hub's
EDOF file declares."""

from __future__ import annotations

import json

import pytest

from hub.formats import Period
from hub.plugins import load_plugins
from tests.formats.bpf.conftest import BPF_EXPORT, bpf_config
from tests.formats.bpf.test_export import drill, figures
from tests.test_journeys import DEMO_ACTION, ROOT

CAMILLE = {"ref": "apprenant-01", "email": "camille.dubois@example.fr", "name": "Camille Dubois"}
LEA = {"ref": "apprenant-12", "email": "lea.moreau@example.fr", "name": "Léa Moreau"}


def invoice(learner, number, date, **data):
    return {"type": "invoice.issued", "occurred_at": f"{date}T18:00:00+01:00", "source_id": f"facture-{number}",
            "learner": learner, "action": DEMO_ACTION,
            "data": {"number": number, "date": date, "amount_ttc": data.get("amount_ht", "0"), **data}}


@pytest.fixture
def plugins():
    from tests.conftest import TestPlugin

    return load_plugins(env={"PARCOURS_LOAD_PLUGINS": "file_drop,bpf,cpf"}, extra=[("test-plugin", TestPlugin())])


async def test_invoices_give_cadre_c_by_payer_and_invoice_date(bpf_hub, workdir):
    hub = await bpf_hub(bpf_config(workdir))
    await hub.pull("demo")
    await hub.append([
        # Atlas billed for Camille at the end of the action: the whole price, on the OPCO's line
        invoice(CAMILLE, "F-2026-0101", "2026-10-30", payer_kind="opco", payer_name="OPCO Atlas",
                funder="opco-atlas", amount_ht="2450.00", amount_ttc="2940.00"),
        # Léa's own invoice is dated in January 2027: a product of 2027, whatever she paid in 2026
        invoice(LEA, "F-2027-0003", "2027-01-04", payer_kind="self", payer_name="Léa Moreau",
                amount_ht="2450.00", amount_ttc="2940.00"),
    ], source=None)
    out = await hub.export("bpf", Period.parse("2026"))
    assert out.written, out.missing
    f = figures(out)
    camille = [e for e in drill(out, "C-2h") if e["learner_name"] == "Camille Dubois"]
    assert [(e["amount"], e["basis"]) for e in camille] == [("2450.00", "invoice")]
    assert "F-2026-0101" in camille[0]["note"] and "OPCO Atlas" in camille[0]["note"]
    others = [e for e in drill(out, "C-2h") if e["learner_name"] != "Camille Dubois"]
    assert others and all(e["basis"] == "funding" for e in others)
    assert not [e for e in drill(out, "C-9") if e["learner_name"] == "Léa Moreau"]
    assert f["C-9"]["amount"] == 0
    y2027 = await hub.export("bpf", Period.parse("2027"))
    assert [(e["learner_name"], e["amount"], e["basis"]) for e in drill(y2027, "C-9")] == [
        ("Léa Moreau", "2450.00", "invoice")]


async def test_a_credit_note_is_deducted_and_the_payer_siret_is_checked(bpf_hub, workdir):
    from hub.events import EventValidationError

    hub = await bpf_hub(bpf_config(workdir))
    await hub.pull("demo")
    with pytest.raises(EventValidationError, match="data.payer_siret"):
        await hub.append([invoice(CAMILLE, "F-X", "2026-10-30", payer_kind="opco", payer_siret="12345678901234",
                                  amount_ht="1", amount_ttc="1.2")], source=None)
    await hub.append([
        invoice(CAMILLE, "F-2026-0101", "2026-10-30", payer_kind="opco", funder="opco-atlas", amount_ht="2450.00",
                amount_ttc="2940.00"),
        invoice(CAMILLE, "AV-2026-0007", "2026-11-15", payer_kind="opco", funder="opco-atlas", kind="credit_note",
                amount_ht="350.00", amount_ttc="420.00"),
    ], source=None)
    out = await hub.export("bpf", Period.parse("2026"))
    camille = sorted(e["amount"] for e in drill(out, "C-2h") if e["learner_name"] == "Camille Dubois")
    assert camille == ["-350.00", "2450.00"]


CPF_EXPORT = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8").split("  cpf-edof:\n", 1)[1].split("\n\n", 1)[0]


async def test_the_cpf_product_is_the_price_times_the_rate_edof_declares(bpf_hub, workdir):
    export = BPF_EXPORT + "  cpf-edof:\n" + CPF_EXPORT.replace('    period: "2026-10"\n', "") + "\n"
    hub = await bpf_hub(bpf_config(workdir, export=export))
    await hub.pull("demo")
    edof = await hub.export("cpf-edof", Period.parse("2026-10"))
    details = json.loads((edof.folder / "cpf-edof-2026-10-details.json").read_text(encoding="utf-8"))
    rates = {d["learner_name"]: d["rate"] for d in details["declarations"] if d["declaration"] == "sortie"}
    assert rates["Manon Rousseau"] == 100  # her milestones are all done, though she realised 65.17 h of 70
    out = await hub.export("bpf", Period.parse("2026"))
    cpf = {e["learner_name"]: e for e in drill(out, "C-2e")}
    for name, rate in rates.items():
        assert cpf[name]["amount"] == f"{2450 * rate / 100:.2f}", cpf[name]
        assert cpf[name]["basis"] == "funding" and f"{rate} %" in cpf[name]["note"]


async def test_the_accounting_tools_export_dropped_in_a_folder_gives_cadre_c(bpf_hub, workdir):
    import shutil
    import textwrap

    import yaml

    from tests.connectors.test_file_drop_mapping import FIXTURE, INVOICES

    (workdir / "factures").mkdir()
    shutil.copy(FIXTURE, workdir / "factures" / FIXTURE.name)
    connector = {"factures": {"kind": "file_drop", "path": "factures", "read_only": True, "settle_seconds": 0, **INVOICES}}
    block = textwrap.indent(yaml.safe_dump(connector, allow_unicode=True, sort_keys=False), "  ")
    config = bpf_config(workdir).replace("connectors:\n", "connectors:\n" + block, 1)
    hub = await bpf_hub(config)
    await hub.pull("demo")
    assert (await hub.pull("factures")).appended == 5
    out = await hub.export("bpf", Period.parse("2026"))
    by_line = {line: {(e["learner_name"], e["amount"], e["basis"]) for e in drill(out, line)}
               for line in ("C-1", "C-2h", "C-9")}
    assert by_line["C-1"] == {("Théo Garnier", "1000.00", "invoice")}  # his employer, excl. VAT
    assert {x for x in by_line["C-2h"] if x[0] in ("Camille Dubois", "Chloé N'Diaye")} == {
        ("Camille Dubois", "2450.00", "invoice"), ("Chloé N'Diaye", "2450.00", "invoice"),
        ("Chloé N'Diaye", "-350.00", "invoice")}
    assert ("Léa Moreau", "2450.00", "invoice") in by_line["C-9"]
    assert not [x for x in by_line["C-2h"] if x[0] == "Théo Garnier"]  # invoiced: his OPCO funding is not counted


async def test_an_invoice_of_the_whole_session_replaces_its_enrolments_fundings(bpf_hub, workdir):
    hub = await bpf_hub(bpf_config(workdir))
    await hub.pull("demo")
    session = invoice(None, "F-2026-0200", "2026-10-16", payer_kind="employer", payer_name="Intra Entreprise SA",
                      amount_ht="12000.00", amount_ttc="14400.00")
    del session["learner"]
    await hub.append([session], source=None)
    out = await hub.export("bpf", Period.parse("2026"))
    f = figures(out)
    assert [(e["learner_name"], e["amount"], e["basis"]) for e in drill(out, "C-1")] == [
        (None, "12000.00", "invoice")]
    assert f["C-total"]["amount"] == 12000  # no funding decision or payment of the session counted beside it
    assert all(not drill(out, line) for line in ("C-2e", "C-2h", "C-6", "C-7", "C-9"))

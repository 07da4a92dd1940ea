"""``parcours documents issue|revoke``, ``parcours keys …`` and ``parcours verify-document`` (exit codes)."""

from __future__ import annotations

import asyncio
import json
import textwrap

import pytest
from click.testing import CliRunner

from hub.cli import main as cli
from hub.runtime.app import Hub
from tests.conftest import BASE_HUB
from tests.documents.conftest import HUB_EXTRA, require_tools
from tests.test_journeys import DEMO_ACTION, demo_config


@pytest.fixture
def configured(workdir, plugins):
    path = workdir / "hub.yaml"
    path.write_text(textwrap.dedent(BASE_HUB + HUB_EXTRA + demo_config(workdir)), encoding="utf-8")

    async def ingest():
        hub = Hub.open(path, env={}, plugins=plugins)
        try:
            assert (await hub.pull("demo")).appended == 543
        finally:
            await hub.stop()

    asyncio.run(ingest())
    return path


def invoke(*args):
    """(exit code, what it printed); with --json, only stdout (logs go to stderr)."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_keys_issue_verify_revoke(configured, workdir):
    cfg = ["--config", configured]
    code, out = invoke("documents", "issue", *cfg, "--action", DEMO_ACTION)
    assert code == 2 and "keys generate" in out  # no key yet: a configuration error
    code, out = invoke("keys", "generate", *cfg)
    assert code == 0 and "generated key" in out
    assert invoke("keys", "generate", *cfg)[0] == 2  # only once: then rotate
    code, out = invoke("keys", "generate", *cfg, "--if-missing")
    assert code == 0 and "nothing to do" in out
    code, out = invoke("keys", "list", *cfg, "--json")
    (key,) = json.loads(out)["keys"]
    code, out = invoke("documents", "issue", *cfg, "--action", DEMO_ACTION, "--out", workdir / "out", "--json")
    assert code == 1  # one enrolment refused
    run = json.loads(out)
    assert len(run["issued"]) == 11 and run["refused"][0]["learner_name"] == "Théo Garnier"
    assert run["refused"][0]["proof_gaps"][0]["code"] == "half_day_no_trainer_signature"
    code, out = invoke("documents", "issue", *cfg, "--action", DEMO_ACTION, "--learner", "email:theo.garnier@example.fr",
                       "--allow-incomplete", "--out", workdir / "out", "--json")
    assert code == 0 and json.loads(out)["issued"][0]["proof_gaps"]
    camille = next(d for d in run["issued"] if d["learner_name"] == "Camille Dubois")
    pdf = camille["path"]
    code, out = invoke("verify-document", *cfg, pdf, "--no-qr")
    assert code == 0 and out.startswith("VALID: Document authentique") and "Bénéficiaire: Camille Dubois" in out
    # offline, against the published keys document
    keys_file = workdir / "parcours-keys.json"
    keys_file.write_text(invoke("keys", "list", *cfg, "--json")[1], encoding="utf-8")
    code, out = invoke("verify-document", pdf, "--keys", keys_file, "--no-qr", "--json")
    assert code == 0 and json.loads(out)["status"] == "valid"
    # altered
    altered = workdir / "altered.pdf"
    altered.write_bytes(open(pdf, "rb").read() + b"\n%x\n")
    code, out = invoke("verify-document", *cfg, altered, "--no-qr", "--json")
    assert code == 1 and json.loads(out)["status"] == "altered"
    # revoked
    code, out = invoke("documents", "revoke", *cfg, camille["id"], "--reason", "heures corrigées")
    assert code == 0 and "revoked" in out
    code, out = invoke("verify-document", *cfg, pdf, "--no-qr")
    assert code == 1 and out.startswith("REVOKED: Document révoqué le") and "heures corrigées" in out
    # rotation
    code, out = invoke("keys", "rotate", *cfg, "--json")
    assert code == 0 and json.loads(out)["retired"] == key["kid"]
    code, out = invoke("keys", "list", *cfg)
    assert "retired" in out and "active" in out
    # unknown key: an empty keys document
    keys_file.write_text('{"keys": []}', encoding="utf-8")
    code, out = invoke("verify-document", pdf, "--keys", keys_file, "--no-qr", "--json")
    assert code == 1 and json.loads(out)["status"] == "unknown_key"


def test_verify_document_reads_a_scanned_qr_code(configured, workdir, tmp_path):
    require_tools("pdftoppm", "zbarimg")
    from tests.documents.conftest import render_png

    cfg = ["--config", configured]
    invoke("keys", "generate", *cfg)
    code, out = invoke("documents", "issue", *cfg, "--action", DEMO_ACTION, "--learner", "email:lea.moreau@example.fr",
                       "--type", "attestation_fin_formation", "--out", workdir / "out", "--json")
    assert code == 0
    (doc,) = json.loads(out)["issued"]
    png = render_png(open(doc["path"], "rb").read(), tmp_path)
    code, out = invoke("verify-document", *cfg, png)
    assert code == 0 and "Bénéficiaire: Léa Moreau" in out and "Objectif 1: Concevoir une interface web" in out


def test_usage_errors_exit_2(configured):
    assert invoke("documents", "issue", "--config", configured)[0] == 2  # neither --action nor --learner
    assert invoke("documents", "issue", "--config", "missing.yaml", "--action", "A")[0] == 2
    invoke("keys", "generate", "--config", configured)
    code, out = invoke("documents", "issue", "--config", configured, "--action", "NOPE")
    assert code == 2 and "unknown training action" in out

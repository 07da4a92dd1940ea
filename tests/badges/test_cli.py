"""``parcours badges award|list|export|verify|revoke`` on the demo data (exit codes, files)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main as cli
from hub.runtime.app import Hub
from tests.badges.conftest import BADGES
from tests.conftest import BASE_HUB
from tests.documents.conftest import HUB_EXTRA
from tests.test_journeys import DEMO_ACTION, demo_config


@pytest.fixture
def configured(workdir, plugins):
    path = workdir / "hub.yaml"
    path.write_text(textwrap.dedent(BASE_HUB + HUB_EXTRA + BADGES + demo_config(workdir)), encoding="utf-8")

    async def ingest():
        hub = Hub.open(path, env={}, plugins=plugins)
        try:
            assert (await hub.pull("demo")).appended == 543
        finally:
            await hub.stop()

    asyncio.run(ingest())
    return path


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_award_list_export_verify_revoke(configured, workdir):
    cfg = ["--config", configured]
    code, out = invoke("badges", "award", *cfg, "--action", "NO-SUCH-ACTION")
    assert code == 2 and "unknown training action 'NO-SUCH-ACTION'" in out
    code, out = invoke("badges", "award", *cfg, "--action", DEMO_ACTION, "--json")
    assert code == 0
    awarded = json.loads(out)["awarded"]
    assert awarded and json.loads(invoke("badges", "award", *cfg, "--json")[1]) == {"awarded": [], "already": len(awarded)}
    code, out = invoke("badges", "list", *cfg, "--learner", "email:camille.dubois@example.fr", "--json")
    camille = json.loads(out)
    assert code == 0 and {b["badge"] for b in camille} == {"react-composants", "assiduite-5"}

    code, out = invoke("badges", "export", *cfg, "email:camille.dubois@example.fr", "--out", workdir / "wallet")
    assert code == 2 and "parcours keys generate" in out  # no signing key yet: said, nothing written
    assert not (workdir / "wallet").exists() or not list((workdir / "wallet").iterdir())
    assert invoke("keys", "generate", *cfg)[0] == 0
    code, out = invoke("badges", "export", *cfg, "email:camille.dubois@example.fr", "--out", workdir / "wallet", "--json")
    files = {w["badge"]: Path(w["path"]) for w in json.loads(out)}
    assert code == 0 and set(files) == {"react-composants", "assiduite-5"}
    code, out = invoke("badges", "verify", *cfg, files["assiduite-5"])
    assert code == 0 and out.startswith("valid: Badge authentique")

    token = files["assiduite-5"].read_text().strip()
    altered = workdir / "altered.jwt"
    altered.write_text(token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"))
    code, out = invoke("badges", "verify", *cfg, altered, "--json")
    assert code == 1 and json.loads(out)["status"] == "altered"
    (workdir / "junk.jwt").write_text("hello")
    code, out = invoke("badges", "verify", *cfg, workdir / "junk.jwt")
    assert code == 1 and "not a compact JWS" in out

    badge_id = next(b["id"] for b in camille if b["badge"] == "assiduite-5")
    code, out = invoke("badges", "revoke", *cfg, badge_id, "--reason", "erreur")
    assert code == 0 and out.startswith(f"revoked {badge_id}")
    code, out = invoke("badges", "revoke", *cfg, badge_id, "--reason", "erreur")
    assert code == 0 and "already revoked" in out
    code, out = invoke("badges", "verify", *cfg, files["assiduite-5"], "--json")
    assert code == 1 and json.loads(out)["status"] == "revoked" and json.loads(out)["revoked_reason"] == "erreur"
    code, out = invoke("badges", "revoke", *cfg, "01M994GQRKEKNTJS8PT1F61VDW", "--reason", "x")
    assert code == 2 and "no awarded badge" in out

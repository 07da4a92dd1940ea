"""Fixtures of the badges tests: the demo data with the demo's organisation and its badges
(the ``badges:`` section of config/demo.yaml, as the demo ships it), and a signing key."""

from __future__ import annotations

import pytest

from tests.documents.conftest import HUB_EXTRA, PUBLIC_URL
from tests.test_journeys import ROOT, demo_config

DEMO = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8")
#: the demo's badges, as config/demo.yaml declares them (indented under hub:)
BADGES = "  badges:\n" + DEMO.split("\n  badges:\n", 1)[1].split("\n\nconnectors:", 1)[0] + "\n"


async def open_badges_hub(make_hub, workdir, *, badges: str = BADGES, keys: bool = True):
    from hub.documents.keys import KeyRing
    from hub.documents.settings import keys_dir

    hub = await make_hub(demo_config(workdir), hub_extra=HUB_EXTRA + badges)
    hub.config.hub.http.public_url = PUBLIC_URL
    assert (await hub.pull("demo")).appended == 543
    if keys:
        KeyRing(keys_dir(hub.config)).generate()
    return hub


@pytest.fixture
async def badges_hub(make_hub, workdir):
    return await open_badges_hub(make_hub, workdir)

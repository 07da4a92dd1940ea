"""Fixtures of the BPF format tests: a hub with the organisation's identity, golden files."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from hub.runtime.app import Hub
from hub.plugins import load_plugins
from tests.conftest import BASE_HUB, write_config
from tests.test_journeys import demo_config

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")

ORGANISATION = """\
  organisation:
    name: "Parcours Démo Formation SAS"
    siret: "73282932000074"
    nda: "84691234569"
    address: "12 rue de la République, 69002 Lyon"
    representative: "Claire Fontaine"
    representative_title: "Directrice"
"""

BPF_EXPORT = """
exports:
  bpf:
    kind: bpf
    turnover: 250000
    charges: {total: 98000, trainer_salaries: 41000.40, purchases: 7999.50}
    trainers: {Sophie Lambert: internal, Marc Perrin: external}
    funder_kind_types: {opco: a, employer: a, france_travail: c, self: d, cpf: a}
    catalogue:
      ACT-2026-REACT-01: {aim: rncp, rncp_level: "5", nsf: "326t", nsf_label: "Programmation, mise en place de logiciels"}
      ACT-2026-HIVER: {aim: rs, nsf: "314", nsf_label: "Comptabilité, gestion"}
"""


@pytest.fixture
def plugins():
    """Only the plugins these tests need: the format stands alone (others may be mid-change)."""
    from tests.conftest import TestPlugin

    return load_plugins(env={"PARCOURS_LOAD_PLUGINS": "file_drop,bpf"}, extra=[("test-plugin", TestPlugin())])


@pytest.fixture
async def bpf_hub(workdir, plugins):
    """make_hub with the organisation's identity in the ``hub:`` section."""
    hubs = []
    base = BASE_HUB + ORGANISATION

    async def factory(extra: str, *, organisation: bool = True) -> Hub:
        path = write_config(workdir, (base if organisation else BASE_HUB) + textwrap.dedent(extra))
        hub = Hub.open(path, env={}, plugins=plugins)
        await hub.start()
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        await hub.stop()


def bpf_config(workdir: Path, export: str = BPF_EXPORT, actions: str = "") -> str:
    return demo_config(workdir) + actions + export


async def normalised(hub, data: bytes) -> bytes:
    """Event ids as ``type:source_id`` and learner ids as ``learner:name`` (ids change per run)."""
    text = data.decode("utf-8-sig")
    names = {}
    for found in set(ULID.findall(text)):
        event = await hub.store.call(hub.store.get_event, found)
        if event is None:
            names[found] = f"learner:{(await hub.store.call(hub.store.learner, found))['name']}"
        else:
            names[found] = f"{event['type']}:{event['source_id']}"
    return ULID.sub(lambda m: names[m.group(0)], text).encode()


def golden(name: str, actual: bytes) -> None:
    """Compare with tests/formats/bpf/golden/<name>; PARCOURS_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("PARCOURS_UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
        if os.environ.get("PARCOURS_UPDATE_GOLDEN") != "1":
            pytest.fail(f"golden file {name} did not exist: written, check it and run again")
    assert actual == path.read_bytes(), f"{name} differs from its golden file (PARCOURS_UPDATE_GOLDEN=1 to accept)"

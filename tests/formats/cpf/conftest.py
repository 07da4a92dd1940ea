"""Fixtures of the CPF format tests: the demo hub with a cpf export, a fixed clock, golden files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from funder_formats.cpf import CpfFormat
from hub.plugins import load_plugins
from tests.test_journeys import demo_config

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
PARIS = dt.timezone(dt.timedelta(hours=1))

MILESTONES = """
    action_settings:
      ACT-2026-REACT-01:
        milestones:
          - {id: salle, label: "Séances en salle (matinées)", attendance: true, weight: 35}
          - {id: mod-js, label: "JavaScript moderne", activity: mod-js, weight: 7}
          - {id: mod-react, label: "Composants React", activity: mod-react, weight: 7}
          - {id: mod-state, label: "État et hooks", activity: mod-state, weight: 7}
          - {id: mod-api, label: "Consommer une API REST", activity: mod-api, weight: 7}
          - {id: mod-tests, label: "Tests et qualité", activity: mod-tests, weight: 7}
"""

EXPORTS = """
exports:
  cpf-edof:
    kind: cpf
""" + MILESTONES


@pytest.fixture
def plugins():
    """Only the plugins these tests need: the format stands alone (others may be mid-change)."""
    from tests.conftest import TestPlugin

    return load_plugins(env={"PARCOURS_LOAD_PLUGINS": "file_drop,cpf"}, extra=[("test-plugin", TestPlugin())])


def cpf_config(workdir: Path, extra_exports: str = "", actions: str = "") -> str:
    """The demo configuration, its action plus ``actions``, and the cpf export(s)."""
    text = demo_config(workdir)
    if actions:
        text += actions
    return text + EXPORTS + extra_exports


def set_now(monkeypatch, when: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(when)
    monkeypatch.setattr(CpfFormat, "now", staticmethod(lambda: moment))
    return moment


def golden(name: str, actual: bytes) -> None:
    """Compare with tests/formats/cpf/golden/<name>; PARCOURS_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("PARCOURS_UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
        if os.environ.get("PARCOURS_UPDATE_GOLDEN") != "1":
            pytest.fail(f"golden file {name} did not exist: written, check it and run again")
    assert actual == path.read_bytes(), f"{name} differs from its golden file (PARCOURS_UPDATE_GOLDEN=1 to accept)"

"""A funder format imports the core (hub) and itself, never another format nor a connector."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORMATS = Path(__file__).resolve().parents[2] / "funder_formats"


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(p.name for p in FORMATS.iterdir() if (p / "__init__.py").exists()))
def test_a_format_imports_only_the_core_and_itself(package):
    foreign = sorted(f"{path.relative_to(FORMATS)}: {name}"
                     for path in (FORMATS / package).rglob("*.py") for name in imported(path)
                     if name.split(".")[0] in ("funder_formats", "connectors")
                     and not name.startswith(f"funder_formats.{package}"))
    assert not foreign, f"{package} imports another plugin: {foreign}"

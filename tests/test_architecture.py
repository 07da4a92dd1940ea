"""The architecture holds: layers of hub/, no import cycle, the core never imports a plugin and a
plugin never imports another one.

Imports are read from the source (module level and inside functions alike, so that a local
import cannot hide a cycle); those under ``if TYPE_CHECKING:`` are annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: hub/ from the bottom up: a module may import its own layer and the layers below it, never above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("hub", "hub.errors", "hub.events", "hub.durations", "hub.logs", "hub.ulid", "hub.timefmt",
                    "hub.gcpause", "hub.redaction", "hub.siret", "hub.learners", "hub.leases", "hub.blobs", "hub.http", "hub.connector",
                    "hub.hookspecs", "hub.plugin_runtime", "hub.access", "hub.consents.settings",
                    "hub.consents.decisions")),
    ("store", ("hub.store",)),
    ("journeys, ledger and config sections", ("hub.journeys", "hub.ledger", "hub.documents.settings", "hub.web.settings",
                                              "hub.badges.settings", "hub.privacy.settings")),
    ("dropout risk (features, model and flags read from the journeys)", ("hub.risk",)),
    ("configuration and plugin contracts", ("hub.config", "hub.formats", "hub.profiles", "hub.scaffold")),
    ("ingest and delivery", ("hub.ingest", "hub.delivery", "hub.consents")),
    ("documents and badges", ("hub.documents", "hub.badges")),
    ("retention and erasure (rewrites the store under sealed ledger records)", ("hub.privacy",)),
    ("audit pack (reads the store, ledger proofs, blobs and documents)", ("hub.audit",)),
    ("a person's rights: data export, rectification (reuse the audit pack's and the documents' machinery)",
     ("hub.rights",)),
    ("insights (read the journeys for a quality review)", ("hub.insights",)),
    ("plugin manager", ("hub.plugins",)),
    ("web app (pages on the runtime's server)", ("hub.web",)),
    ("runtime", ("hub.runtime",)),
    ("contract test kit (drives a runtime)", ("hub.testing", "hub.pytest_plugin")),
    ("command line", ("hub.cli",)),
]
#: who may import the assembled hub (hub.runtime.app): what runs it, not what it assembles
APP_IMPORTERS = ("hub.cli", "hub.runtime.daemon")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports at run time (absolute imports)."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def sources(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


HUB = sources("hub")


def hub_imports() -> dict[str, set[str]]:
    """hub module -> the hub modules it imports (``from hub.x import name`` counts as hub.x)."""
    graph = {}
    for name, path in HUB.items():
        graph[name] = {m for m in imported_modules(path) if m in HUB and m != name}
    return graph


def layer_of(module: str) -> int:
    best, found = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return found


def test_every_module_is_in_a_layer_and_imports_only_its_layer_or_below():
    wrong = []
    for module, targets in hub_imports().items():
        for target in targets:
            if layer_of(target) > layer_of(module):
                wrong.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                             f"({LAYERS[layer_of(target)][0]})")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle_in_hub():
    graph = hub_imports()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [node, nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_assembled_hub_is_imported_only_by_what_runs_it():
    importers = sorted(m for m, targets in hub_imports().items() if "hub.runtime.app" in targets)
    wrong = [m for m in importers if not m.startswith(APP_IMPORTERS)]
    assert not wrong, f"hub.runtime.app is imported by {wrong}: give them their collaborators instead"


@pytest.mark.parametrize("package", ["hub", "connectors", "funder_formats"])
def test_the_core_never_imports_a_plugin_and_a_plugin_never_another(package):
    wrong = []
    for module, path in sources(package).items():
        own = ".".join(module.split(".")[:2])  # connectors.moodle, funder_formats.opco
        for target in imported_modules(path):
            top = target.split(".")[0]
            if top not in ("connectors", "funder_formats"):
                continue
            plugin = ".".join(target.split(".")[:2])
            if package == "hub" or (target != top and plugin != own):
                wrong.append(f"{module} imports {plugin}")
    assert not wrong, "\n".join(sorted(set(wrong)))

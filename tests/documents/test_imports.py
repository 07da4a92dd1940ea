"""What importing the documents package loads: not the runtime (documents get DocumentServices,
not the hub), and none of the heavy libraries (the ``parcours`` command imports the package on
every run; they load where they are used)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import importlib, json, pkgutil, sys
import hub.documents as package
for module in pkgutil.iter_modules(package.__path__):
    # the renderers are reportlab: loaded only where PDFs are rendered
    if module.name not in ("render", "stamp", "pdf_flow", "pdf_fonts", "pdf_images"):
        importlib.import_module(f"hub.documents.{module.name}")
print(json.dumps(sorted(sys.modules)))
"""


def test_documents_load_neither_the_runtime_nor_heavy_libraries():
    loaded = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    assert "hub.documents.issue" in loaded and "hub.documents.http" in loaded
    assert [m for m in loaded if m == "hub.runtime" or m.startswith("hub.runtime.")] == []
    heavy = ("reportlab", "pypdf", "cryptography", "pyhanko")
    assert [m for m in loaded if m.split(".")[0] in heavy] == []

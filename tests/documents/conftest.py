"""Fixtures of the documents tests: a hub on the demo data with the demo organisation and a key."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_journeys import DEMO_ACTION, ROOT, demo_config

TODAY = dt.date(2026, 11, 20)  # after the demo action (5–16 October 2026)
ORGANISATION = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8").split("  organisation:\n", 1)[1].split("  timezone:", 1)[0]
HUB_EXTRA = "  organisation:\n" + ORGANISATION
PUBLIC_URL = "https://of-demo.example.fr"


def require_tools(*names: str) -> None:
    """Skip (or, with CI set, fail) when a command-line tool of the real-decoder tests is missing."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        message = (f"{', '.join(missing)} not installed (Debian: apt-get install zbar-tools poppler-utils); "
                   "the QR / PDF text checks need them")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def pdftotext(pdf: bytes | Path, tmp: Path) -> str:
    require_tools("pdftotext")
    path = pdf if isinstance(pdf, Path) else tmp / "doc.pdf"
    if not isinstance(pdf, Path):
        path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout


def render_png(pdf: bytes, tmp: Path, dpi: int = 150) -> Path:
    require_tools("pdftoppm")
    source = tmp / "render.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-png", "-singlefile", str(source),
                    str(tmp / "page")], check=True, capture_output=True)
    return tmp / "page.png"


def zbar(png: Path) -> list[str]:
    require_tools("zbarimg")
    proc = subprocess.run(["zbarimg", "--nodbus", "-q", "--raw", str(png)], capture_output=True, text=True)
    assert proc.returncode in (0, 4), proc.stderr
    return [line for line in proc.stdout.splitlines() if line.strip()]


def flat(text: str) -> str:
    """Text with every run of whitespace (line breaks from wrapping, non-breaking spaces) as one space."""
    return " ".join(text.split())


async def open_demo_hub(make_hub, workdir, *, keys: bool = True, extra: str = ""):
    from hub.documents.keys import KeyRing
    from hub.documents.settings import keys_dir

    hub = await make_hub(HUB_EXTRA + demo_config(workdir) + extra)
    hub.config.hub.http.public_url = PUBLIC_URL
    assert (await hub.pull("demo")).appended == 543
    if keys:
        KeyRing(keys_dir(hub.config)).generate()
    return hub


@pytest.fixture
async def demo_hub(make_hub, workdir):
    return await open_demo_hub(make_hub, workdir)


async def learner_id(hub, name: str) -> str:
    reports = await hub.journey_reports(action=DEMO_ACTION)
    return next(r.learner_id for r in reports if r.learner_name == name)

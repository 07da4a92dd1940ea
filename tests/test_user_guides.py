"""The user guides (docs/guides/, one page per role, in French) hold together: each role has its
page, linked from docs/README.md and from the guides' index; every image a guide shows exists in
docs/guides/img (or docs/web-app) as a small PNG, and every image there is shown; every link's
#fragment names a heading of its page. The screenshots themselves are taken by the slow
tests/web/test_guide_screenshots.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDES = DOCS / "guides"
ROLES = ("formateur", "responsable-pedagogique", "apprenant", "financeur", "auditeur", "administrateur")
LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)\s]+)\)")
PNG = b"\x89PNG\r\n\x1a\n"


def links(page: Path) -> list[tuple[bool, str]]:
    """(is an image, target) of each Markdown link of the page, code blocks left out."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [(bang == "!", target) for bang, target in LINK.findall(text)]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def local(page: Path, target: str) -> tuple[Path, str] | None:
    if re.match(r"[a-z]+:", target):
        return None
    path, _, fragment = target.partition("#")
    return (page.parent / path).resolve() if path else page.resolve(), fragment


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_its_guide_with_screenshots(role):
    page = GUIDES / f"{role}.md"
    assert page.exists(), f"docs/guides/{role}.md is missing"
    images = [local(page, t)[0] for is_image, t in links(page) if is_image]
    assert images, f"{page.name} shows no screenshot"
    for image in images:
        assert image.exists(), f"{page.name} shows {image}, which does not exist"
        assert image.read_bytes()[:8] == PNG, f"{image} is not a PNG"
        assert image.stat().st_size < 400_000, f"{image} is {image.stat().st_size} bytes: optimise it"


def test_every_guide_is_linked_from_the_docs_index_and_the_guides_index():
    for index in (DOCS / "README.md", GUIDES / "README.md"):
        linked = {local(index, t)[0] for _, t in links(index) if local(index, t)}
        missing = [p.name for p in sorted(GUIDES.glob("*.md")) if p.name != "README.md" and p.resolve() not in linked]
        assert not missing, f"{index.relative_to(ROOT)} does not link {missing}"
    web_app = DOCS / "web-app.md"
    assert (GUIDES / "README.md").resolve() in {local(web_app, t)[0] for _, t in links(web_app) if local(web_app, t)}


def test_every_screenshot_is_shown_by_a_guide():
    shown = {local(p, t)[0] for p in GUIDES.glob("*.md") for is_image, t in links(p) if is_image}
    unused = sorted(p.name for p in (GUIDES / "img").glob("*") if p.resolve() not in shown)
    assert not unused, f"docs/guides/img holds images no guide shows: {unused}"


def test_every_anchor_a_guide_links_is_a_heading():
    broken = []
    for page in GUIDES.glob("*.md"):
        for _, target in links(page):
            found = local(page, target)
            if found is None or not found[1] or found[0].suffix != ".md":
                continue
            path, fragment = found
            if path.exists() and fragment not in anchors(path) and f'id="{fragment}"' not in path.read_text("utf-8"):
                broken.append(f"{page.name}: {target}")
    assert not broken, f"links to headings that do not exist: {broken}"


def test_the_slug_is_githubs():
    assert slug("Enregistrer le suivi d'une alerte") == "enregistrer-le-suivi-dune-alerte"
    assert slug("Donner à un auditeur l'accès à un échantillon") == "donner-à-un-auditeur-laccès-à-un-échantillon"
    assert slug("Sign-in by e-mail link (learners)") == "sign-in-by-e-mail-link-learners"

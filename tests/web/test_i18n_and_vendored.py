"""The message catalogues and the vendored front-end files stay whole."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hub.web import i18n

WEB = Path(__file__).resolve().parents[2] / "hub" / "web"
VENDOR = Path(__file__).resolve().parent / "vendor"


def test_french_and_english_have_the_same_messages_with_the_same_placeholders():
    fr, en = i18n.catalogue("fr"), i18n.catalogue("en")
    assert fr.keys() == en.keys()
    for key in fr:
        assert set(re.findall(r"\{(\w+)\}", fr[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_message_a_template_names_is_in_the_catalogue():
    used = set()
    for template in (WEB / "templates").glob("*.html"):
        used.update(re.findall(r"""_\(\s*["']([a-z_]+\.[a-z_0-9]+)["']""", template.read_text(encoding="utf-8")))
    assert used, "no message found in the templates"
    assert not used - i18n.catalogue("fr").keys()
    # keys built from a value: every value the pages can give
    fr = i18n.catalogue("fr")
    from hub.web.roles import ROLES
    from hub.web.today import NOT_SIGNED, SIGNED
    statuses = SIGNED | NOT_SIGNED | {"signed_without_trainer", "foad", "after_exit", "none", "abandoned"}
    from hub.documents import DOCUMENT_TYPES
    from hub.journeys.compute import STATUS_ORDER
    from hub.web.routes_learner import LEARNER_GAPS
    from hub.web.routes_audit import REFUSALS
    from hub.web.routes_audit_links import LIFETIMES
    needed = ({f"role.{r}" for r in ROLES} | {f"status.{s}" for s in statuses} | {f"weekday.{d}" for d in range(7)}
              | {f"enrolment.{s}" for s in [*STATUS_ORDER, "unknown"]} | {f"gap.{g}" for g in LEARNER_GAPS}
              | {f"document.{t}" for t in DOCUMENT_TYPES}
              | {f"audit.{k}.{r}" for k in ("gone", "gone_title") for r in REFUSALS}
              | {f"audit_links.lifetime.{x}" for x in LIFETIMES}
              | {f"audit_links.state.{x}" for x in ("active", "expired", "revoked")}
              | {f"stage.{x}" for x in ("map", "validate", "deliver")})  # a dead letter's (hub.store.base.DeadLetter)
    assert not needed - fr.keys()


def test_the_language_is_the_choice_then_the_browser_then_french():
    class Request:
        def __init__(self, cookie=None, accept=""):
            self.cookies = {i18n.COOKIE: cookie} if cookie else {}
            self.headers = {"Accept-Language": accept}

    assert i18n.language_of(Request()) == "fr"
    assert i18n.language_of(Request(accept="de-DE,en;q=0.8,fr;q=0.5")) == "en"
    assert i18n.language_of(Request(accept="fr-CA;q=0.9,en;q=0.2")) == "fr"
    assert i18n.language_of(Request(cookie="en", accept="fr")) == "en"
    assert i18n.language_of(Request(cookie="xx", accept="de")) == "fr"


def _hashes(note: Path) -> dict[str, str]:
    return dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", note.read_text(encoding="utf-8"), re.M))


def test_vendored_files_are_the_ones_their_provenance_note_names():
    for folder in (WEB / "static", VENDOR):
        listed = _hashes(folder / "VENDORED.md")
        assert listed, f"no file listed in {folder / 'VENDORED.md'}"
        for name, digest in listed.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert set(_hashes(WEB / "static" / "VENDORED.md")) == {p.name for p in (WEB / "static").glob("*.min.js")}


def test_decimals_are_written_as_the_language_writes_them():
    """« 64,53 h » in French, "64.53 h" in English, in messages and in what templates print with num."""
    from decimal import Decimal

    from hub.web.i18n import number, translator

    assert number(Decimal("64.53"), "fr") == "64,53" and number(Decimal("64.53"), "en") == "64.53"
    assert number(3, "fr") == 3 and number("v1.2", "fr") == "v1.2"  # integers and texts as they are
    assert translator("fr")("manager.planned", h=Decimal("12.5")) == "12,5 h prévues"

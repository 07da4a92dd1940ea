"""The interface's languages: French (default) and English, from a small message catalogue.

``messages/fr.json`` and ``messages/en.json`` map a key to its text (``{name}`` placeholders
filled with str.format); both have the same keys (tests/web/test_i18n.py). The language is the
user's choice (the ``parcours_lang`` cookie, set by the language switch), else the browser's
Accept-Language, else French. A catalogue of a few dozen strings needs no Babel: no plural forms,
and numbers need only their decimal separator (a comma in French: « 64,53 h », « 92,2 % »), which
:func:`number` applies to every decimal a page shows, whether a template prints it with ``num`` or
passes it to a message.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from importlib import resources
from typing import Any

from aiohttp import web

LANGUAGES = ("fr", "en")
DEFAULT = "fr"
COOKIE = "parcours_lang"


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    return json.loads((resources.files("hub.web") / "messages" / f"{language}.json").read_text(encoding="utf-8"))


def language_of(request: web.Request) -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    ranked = []
    for part in request.headers.get("Accept-Language", "").split(","):
        tag, _, params = part.strip().partition(";")
        try:
            weight = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight, tag.strip().lower().split("-")[0]))
    for _, tag in sorted(ranked, key=lambda r: -r[0]):
        if tag in LANGUAGES:
            return tag
    return DEFAULT


def number(value: Any, language: str) -> Any:
    """A decimal number as the language writes it (French: a decimal comma); anything else as is."""
    if isinstance(value, (Decimal, float)) and not isinstance(value, bool):
        text = str(value)
        return text.replace(".", ",") if language == "fr" else text
    return value


def translator(language: str):
    messages, fallback = catalogue(language), catalogue(DEFAULT)

    def translate(key: str, **values) -> str:
        text = messages.get(key) or fallback.get(key)
        if text is None:
            raise KeyError(f"no message {key!r} in hub/web/messages/{language}.json")
        return text.format(**{k: number(v, language) for k, v in values.items()}) if values else text

    return translate

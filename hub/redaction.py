"""Credentials never leave the hub in a URL: one function renders any URL for logs, errors,
dead letters and health answers, and one finds the URLs inside a free text.

A URL loses its user-info (``user:password@``) and the values of its query
parameters (``?token=…`` becomes ``?token=****``): signed URLs and API keys travel there. The
scheme, host, port and path stay, so that an administrator still sees which endpoint failed.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = "****"
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"<>]+")  # ' ( ) are legal in user-info and query values


def redact_url(url: str) -> str:
    """``url`` without its credentials: user-info dropped, query values masked, fragment dropped."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # not a URL we can take apart: show its scheme only
        return url.split("://", 1)[0] + "://" + MASK if "://" in url else MASK
    if parts.username is None and parts.password is None and not parts.query and not parts.fragment:
        return url  # nothing to hide: as written (sqlite:///var/hub.db keeps its three slashes)
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port else "")
    query = "&".join(f"{name}={MASK}" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (see :func:`redact_url`)."""
    if "://" not in text:
        return text
    def one(match: re.Match) -> str:
        url = match.group(0)
        kept = url.rstrip(".,;:!?)]}'")  # punctuation that ends the sentence, not the URL
        return redact_url(kept) + url[len(kept):]

    return _URL.sub(one, text)


def redact_all(value: Any) -> Any:
    """``value`` (strings, lists, dicts) with every URL in its strings redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_all(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_all(item) for item in value]
    return value


"""File names of a profile: ``str.format`` templates whose placeholders each format lists."""

from __future__ import annotations

import string
from collections.abc import Iterable


def template_fields(value: str) -> set[str]:
    """The placeholders of a template (``{period}`` → ``period``); ValueError when it is malformed."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"invalid template {value!r}: {exc}") from None


def check_file_template(value: str, allowed: Iterable[str]) -> str:
    """``value`` if it is a plain file name whose placeholders are all in ``allowed``, else ValueError."""
    allowed = sorted(allowed)
    unknown = template_fields(value) - set(allowed)
    if unknown:
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} in {value!r} "
                         f"(allowed: {', '.join('{' + p + '}' for p in allowed)})")
    if "/" in value or "\\" in value or value.startswith(".") or not value.strip():
        raise ValueError(f"{value!r}: a file name, not a path")
    return value

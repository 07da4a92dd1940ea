"""Labels of coded values in a profile (statuses, modalities…): checking the codes a profile names."""

from __future__ import annotations

import difflib
from collections.abc import Collection


def unknown_name(name: str, names: Collection[str], what: str = "column") -> str:
    """The message for an unknown ``name``: the closest known one, else the known ones."""
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(names))})"
    return f"unknown {what} {name!r}{hint}"


def check_label_keys(labels: dict[str, str], codes: Collection[str], what: str) -> dict[str, str]:
    """``labels`` if every key is one of ``codes``, else ValueError naming the first unknown one."""
    for key in labels:
        if key not in codes:
            raise ValueError(unknown_name(key, codes, what))
    return labels

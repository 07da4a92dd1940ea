"""``parcours new-connector NAME``: a pip-installable connector package that passes its tests.

:func:`scaffold` writes ``parcours-connector-<NAME>/`` from the templates in ``hub/scaffold/``
(``string.Template``: ``${kind}``, ``${module}``…; ``$$`` is a literal ``$``):

* ``pyproject.toml`` — setuptools, a dependency on ``parcours-hub``, and the ``parcours``
  entry point that makes the hub find the connector with no change to the hub;
* ``parcours_connector_<name>/__init__.py`` — a working example pull source over HTTP (the
  hub's :class:`hub.http.HttpClient` on ``self.context.http``, configured by
  :class:`hub.http.HttpSettings`; cursor paging) and its ``register_connectors`` hook;
* ``tests/test_contract.py`` — a fake API on a local aiohttp server and the contract class
  from :func:`hub.testing.get_connector_test_class`;
* ``README.md``.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from string import Template

from hub.errors import HubError

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
MAX_NAME_LENGTH = 40

#: template file (in hub/scaffold/) -> path in the new package, itself a template
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "connector.py.tmpl": "${module}/__init__.py",
    "test_contract.py.tmpl": "tests/test_contract.py",
}


def template_values(name: str) -> dict[str, str]:
    """The names derived from NAME, as used by the templates."""
    kind = name.replace("-", "_")
    words = [w for w in re.split(r"[-_]+", name) if w]
    return {
        "name": name,
        "kind": kind,
        "dist": f"parcours-connector-{name}",
        "module": f"parcours_connector_{kind}",
        "class_name": "".join(w[:1].upper() + w[1:] for w in words),
        "env_prefix": kind.upper(),
    }


def check_name(name: str) -> None:
    """Raise :class:`HubError` unless NAME can name a connector kind, a module and a distribution."""
    if not NAME.match(name or ""):
        raise HubError(
            f"invalid connector name {name!r}: use lowercase letters, digits, '_' or '-', starting with a letter "
            "(e.g. my-lms)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise HubError(f"invalid connector name {name!r}: at most {MAX_NAME_LENGTH} characters")
    kind = name.replace("-", "_")
    installed = {ep.name for ep in md.entry_points(group="parcours")}
    if kind in installed:
        raise HubError(f"a plugin named {kind!r} is already installed: choose another name")


def scaffold(name: str, directory: Path) -> Path:
    """Create ``<directory>/parcours-connector-<name>/`` and return its path.

    Raises :class:`HubError` for an invalid name or when the folder already exists. The
    package is written in a temporary folder and renamed into place, so a failure leaves
    nothing half-made.
    """
    check_name(name)
    values = template_values(name)
    directory = Path(directory)
    target = directory / values["dist"]
    if target.exists():
        raise HubError(f"{target} already exists: remove it or choose another name")
    directory.mkdir(parents=True, exist_ok=True)
    templates = resources.files("hub").joinpath("scaffold")
    staging = Path(tempfile.mkdtemp(prefix=f".{values['dist']}-", dir=directory))
    try:
        for template_name, output in FILES.items():
            text = Template(templates.joinpath(template_name).read_text(encoding="utf-8")).substitute(values)
            path = staging / Template(output).substitute(values)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target

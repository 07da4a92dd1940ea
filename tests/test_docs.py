"""The user documentation stays true to the code.

* every plugin hook of ``hub.hookspecs`` has a docstring and a section in docs/plugin-hooks.md
  that mentions each of its arguments;
* the generated configuration reference (docs/gen_config_reference.py) is up to date;
* every HTTP route of ``hub.runtime.server.build_app`` is in its OpenAPI document (hub/runtime/openapi.yaml,
  served as /openapi.json and /api/docs), and nothing else is;
* every key of the built-in connectors' configs is on the connector's page;
* relative links between the docs point at files that exist.
"""

from __future__ import annotations

import html
import inspect
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pluggy
import pytest
import yaml

import hub
import hub.hookspecs
from hub.runtime.server import build_app
from hub.web import PREFIX as WEB_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


# --------------------------------------------------------------------------- plugin hooks


def _hookspecs() -> dict[str, object]:
    """Hook name -> spec function, from the pluggy manager and the ``parcours_spec`` markers."""
    pm = pluggy.PluginManager(hub.hookspecs.PROJECT)
    pm.add_hookspecs(hub.hookspecs)
    from_pm = {name: caller.spec.function for name, caller in vars(pm.hook).items()
               if isinstance(caller, pluggy.HookCaller) and caller.spec is not None}
    marker = f"{hub.hookspecs.PROJECT}_spec"
    from_module = {name: fn for name, fn in vars(hub.hookspecs).items()
                   if callable(fn) and hasattr(fn, marker)}
    assert from_pm.keys() == from_module.keys()
    assert from_pm, "no hookspec found in hub.hookspecs"
    return from_module


def _sections(markdown: str) -> dict[str, str]:
    """``## `name` `` headings of a Markdown page -> the text up to the next ``## ``."""
    out: dict[str, str] = {}
    parts = re.split(r"^## ", markdown, flags=re.M)
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        name = heading.strip().strip("`").strip()
        out[name] = body
    return out


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_hookspec_is_documented(name):
    spec = _hookspecs()[name]
    doc = inspect.getdoc(spec)
    assert doc and doc.strip(), f"hookspec {name} has no docstring in hub/hookspecs.py"
    sections = _sections((DOCS / "plugin-hooks.md").read_text(encoding="utf-8"))
    assert name in sections, f"hook {name} has no '## `{name}`' section in docs/plugin-hooks.md"
    section = sections[name]
    assert f"def {name}(" in section, f"the section of {name} does not show its signature"
    for arg in inspect.signature(spec).parameters:
        assert re.search(rf"\b{re.escape(arg)}\b", section), (
            f"argument {arg!r} of hook {name} is not mentioned in its section of docs/plugin-hooks.md"
        )


def test_plugin_hooks_page_has_no_stale_hook():
    sections = _sections((DOCS / "plugin-hooks.md").read_text(encoding="utf-8"))
    documented = {name for name in sections if re.fullmatch(r"[a-z_]+", name)}
    assert documented <= set(_hookspecs()), f"documented hooks that do not exist: {documented - set(_hookspecs())}"


# --------------------------------------------------------------------------- configuration reference


def test_configuration_reference_is_current():
    result = subprocess.run(
        [sys.executable, str(DOCS / "gen_config_reference.py"), "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (
        "docs/configuration.md is stale: run `python docs/gen_config_reference.py`\n"
        + result.stdout + result.stderr
    )


# --------------------------------------------------------------------------- HTTP routes


def _app_routes() -> set[tuple[str, str]]:
    stub = SimpleNamespace(config=SimpleNamespace(hub=SimpleNamespace(http=SimpleNamespace(max_body_bytes=1 << 20))))
    app = build_app(stub)
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":  # added by aiohttp for every GET route
            continue
        if route.resource.canonical.startswith(WEB_PREFIX + "/"):
            continue  # pages, not API: each is in the authorisation matrix (tests/web/test_authz_matrix.py)
        routes.add((route.method.lower(), route.resource.canonical))
    assert routes, "build_app registered no route"
    return routes


OPENAPI = ROOT / "hub" / "runtime" / "openapi.yaml"  # shipped in the package: the daemon serves it


def _routes_of(spec: dict) -> set[tuple[str, str]]:
    assert str(spec.get("openapi", "")).startswith("3.1"), "the API document must be OpenAPI 3.1"
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}


def _openapi_routes() -> set[tuple[str, str]]:
    return _routes_of(yaml.safe_load(OPENAPI.read_text(encoding="utf-8")))


def test_every_route_is_in_openapi():
    missing = _app_routes() - _openapi_routes()
    assert not missing, f"routes of hub.runtime.server.build_app missing from {OPENAPI.name}: {sorted(missing)}"


def test_openapi_has_no_route_the_server_lacks():
    extra = _openapi_routes() - _app_routes()
    assert not extra, f"{OPENAPI.name} describes routes hub.runtime.server.build_app does not register: {sorted(extra)}"


@pytest.fixture
async def served_docs(make_hub, aiohttp_server_factory):
    hub = await make_hub("")
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield client


async def test_the_daemon_serves_the_document_of_every_route(served_docs):
    async with served_docs.get("/openapi.json") as r:
        assert r.status == 200 and r.content_type == "application/json"
        served = await r.json()
    assert served["info"]["version"] == hub.__version__
    assert _routes_of(served) == _app_routes()
    assert served["paths"] == yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))["paths"]


async def test_the_api_page_shows_every_operation_and_loads_nothing_else(served_docs):
    async with served_docs.get("/api/docs") as r:
        assert r.status == 200 and r.content_type == "text/html"
        page = await r.text()
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                section = re.search(rf'<section class="op" id="{re.escape(op["operationId"])}">(.*?)</section>', page, re.S)
                assert section, f"{method.upper()} {path} has no section on /api/docs"
                assert f"<code>{html.escape(path)}</code>" in section.group(1)
                assert op["summary"].replace("`", "") in html.unescape(re.sub(r"<[^>]+>", "", section.group(1)))
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert not re.search(r"<script|<link|<img|src=|url\(|@import", page), "the page must not load anything"


# --------------------------------------------------------------------------- connector pages


@pytest.mark.parametrize("kind", ["file_drop", "webhook_out", "ndjson_out"])
def test_builtin_connector_page_lists_every_key(kind):
    from hub.connector import ConnectorConfig
    from hub.plugins import load_plugins

    cls = load_plugins(env={}).connector_classes()[kind]
    page = (DOCS / "connectors" / f"{kind}.md").read_text(encoding="utf-8")
    for name, info in cls.Config.model_fields.items():
        if name in ConnectorConfig.model_fields:
            continue
        key = info.alias or name
        assert f"`{key}`" in page, f"key {key!r} of {kind} is not documented in docs/connectors/{kind}.md"


# --------------------------------------------------------------------------- links


def test_relative_links_point_at_files():
    broken = []
    for page in DOCS.rglob("*.md"):
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "broken links: " + ", ".join(broken)


def _generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_config_reference", DOCS / "gen_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_fails_on_an_undocumented_key(monkeypatch, capsys):
    from hub.journeys.actions import TrainingAction

    gen = _generator()
    assert gen.main(["--check"]) == 0, capsys.readouterr().err
    monkeypatch.setattr(TrainingAction.model_fields["trainer"], "description", None)
    assert gen.main(["--check"]) == 1
    assert "  TrainingAction.trainer" in capsys.readouterr().err.splitlines()


# --------------------------------------------------------------------------- docs/README.md


def _commands(group, prefix=()) -> list[str]:
    import click

    out = []
    for name in group.list_commands(None):  # click's API: the CLI loads a command's module on demand
        command = group.get_command(None, name)
        if isinstance(command, click.Group):
            out.extend(_commands(command, prefix + (name,)))
        else:
            out.append(" ".join(prefix + (name,)))
    return out


def test_docs_index_links_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {(DOCS / target.split("#", 1)[0]).resolve() for target in re.findall(r"\]\(([^)\s#][^)\s]*)\)", index)
              if not re.match(r"[a-z]+:", target)}
    pages = {p.resolve() for p in DOCS.rglob("*") if p.suffix in (".md", ".yaml") and p.name != "README.md"}
    missing = sorted(str(p.relative_to(DOCS)) for p in pages - linked)
    assert not missing, f"docs/README.md does not link these pages: {missing}"


def test_docs_index_names_every_command_connector_and_format():
    from hub.cli import main
    from hub.plugins import load_plugins

    index = (DOCS / "README.md").read_text(encoding="utf-8")
    commands = _commands(main)
    assert "journey show" in commands
    missing = [c for c in commands if f"`parcours {c}" not in index and f"/ `parcours {c}" not in index]
    assert not missing, f"docs/README.md does not name these commands: {missing}"
    plugins = load_plugins(env={})
    for kind in plugins.connector_classes():
        assert f"[{kind}.md](connectors/{kind}.md)" in index, f"connector {kind} is not in docs/README.md"
    for kind in plugins.funder_format_classes():
        assert f"[{kind}.md](formats/{kind}.md)" in index, f"funder format {kind} is not in docs/README.md"

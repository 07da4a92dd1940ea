"""The versions of the funder exports the hub wrote, read from the ``manifest.json`` the exporter
writes in each version folder (hub.runtime.exporting): one reading for every page that lists
them (the funder's exports, the manager's exports) and for the download of one of their files.

A version folder without a readable manifest is not an export the hub wrote: it is not listed,
and none of its files is served. A file is served only when its version's manifest lists it, so a
name sent by a browser never reaches another path."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from hub.formats import MANIFEST
from hub.ingest.audit import record_admin_action


@dataclass
class ExportVersion:
    period: str
    version: int
    generated_at: str
    files: list[str]
    missing: list[dict[str, Any]]  # the required fields missing when it was forced (--allow-incomplete)
    current: bool  # the latest version of its period (the others are superseded)


@dataclass
class FunderExport:
    name: str
    kind: str
    outputs: list[str]
    funders: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # empty: every action
    versions: list[ExportVersion] = field(default_factory=list)  # newest period first, newest version first


def export_folder(config, name: str) -> Path:
    """Where the versions of export ``name`` are written (its ``output_dir``, else
    ``<data_dir>/exports/<name>``)."""
    cfg = config.exports[name]
    return config.resolve_path(cfg.output_dir) if cfg.output_dir else config.data_dir / "exports" / name


def configured_exports(config, keep: Callable[[Any], bool]) -> list[FunderExport]:
    """The configured exports whose configuration ``keep`` accepts, in the configuration's order,
    each with the versions its manifests list."""
    return [FunderExport(name, cfg.kind, list(getattr(cfg, "outputs", None) or []), list(cfg.funders or []),
                         list(cfg.actions or []), _versions(export_folder(config, name)))
            for name, cfg in config.exports.items() if keep(cfg)]


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _versions(base: Path) -> list[ExportVersion]:
    versions = []
    periods = sorted((p for p in base.iterdir() if p.is_dir()), reverse=True) if base.is_dir() else []
    for period in periods:
        found = []
        for folder in period.glob("v*"):
            if not folder.name[1:].isdigit() or (manifest := _manifest(folder)) is None:
                continue
            found.append(ExportVersion(period.name, int(folder.name[1:]), manifest.get("generated_at", ""),
                                       [f["name"] for f in manifest.get("files", [])], manifest.get("incomplete", []),
                                       current=False))
        found.sort(key=lambda v: v.version, reverse=True)
        if found:
            found[0].current = True
        versions.extend(found)
    return versions


def export_file(config, name: str, period: str, version: str, filename: str) -> Path | None:
    """The file ``filename`` of version ``version`` (``v<n>``) of ``period`` of export ``name``,
    when that version's manifest lists it (the manifest itself too); None otherwise."""
    if name not in config.exports or not version[1:].isdigit() or version[:1] != "v":
        return None
    base = export_folder(config, name)
    periods = {p.name: p for p in base.iterdir() if p.is_dir()} if base.is_dir() else {}
    if period not in periods:
        return None
    folder = periods[period] / version
    manifest = _manifest(folder) if folder.is_dir() else None
    if manifest is None:
        return None
    listed = {f.get("name") for f in manifest.get("files", []) if isinstance(f, dict)} | {MANIFEST}
    return folder / filename if filename in listed and (folder / filename).is_file() else None


async def serve_export_file(hub, who: str, match: dict[str, str], allowed: Callable[[Any], bool]) -> web.FileResponse:
    """The download of one file of an export version, when ``allowed`` accepts the export's
    configuration; recorded in the ledger (``admin.action``, command ``export download``, by
    ``who``). An unknown export, a file its manifest does not list and an export outside the
    scope all answer the same 404."""
    cfg = hub.config.exports.get(match["export"])
    path = export_file(hub.config, match["export"], match["period"], match["version"], match["file"]) \
        if cfg is not None and allowed(cfg) else None
    if path is None:
        raise web.HTTPNotFound(text="no such export file", content_type="text/plain")
    target = f"{match['export']}/{match['period']}/{match['version']}/{match['file']}"
    await record_admin_action(hub.append, who, "export download", target)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{match['export']}-{match['period']}-{match['version']}-{match['file']}")
    return web.FileResponse(path, headers={"Content-Disposition": f'attachment; filename="{name}"'})

"""The funder-format contract: the pytest class every funder format must pass (see :mod:`hub.testing`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hub.formats import (
    ExportRequest,
    ExportResult,
    FunderFormat,
    FunderFormatConfig,
    MissingField,
    Period,
)
from hub.runtime.exporting import export_journeys
from hub.store import open_store

# --------------------------------------------------------------------------- the funder-format contract


async def export_files(hub: Any, name: str, period: Any, out_dir: Path, *, allow_incomplete: bool = False) -> Any:
    """Run the format of export ``name`` on ``hub``'s ledger into ``out_dir``: its ``ExportResult``.

    Unlike ``hub.export`` nothing is versioned, recorded nor discarded: the format's own answer,
    and the ledger left as it was (two calls read the same ledger).
    """
    period = Period.parse(period) if isinstance(period, str) else period
    fmt = hub.funder_format(name)
    await hub.project()
    out_dir.mkdir(parents=True, exist_ok=True)
    reader = open_store(hub.config.hub.store.url, base_dir=Path.cwd())

    def events(types: list[str] | None = None):
        through = reader.projection_cursor()
        return itertools.takewhile(lambda e: e["seq"] <= through, reader.iter_events(types=types, batch=5000))

    request = ExportRequest(name, period, export_journeys(hub.config, fmt, reader, period, None), out_dir, hub.config,
                            events, allow_incomplete)

    def export() -> Any:
        with reader.read_snapshot():
            return fmt.export(request)

    try:
        return await asyncio.to_thread(export)
    finally:
        reader.close()


def _files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _undocumented_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Fields of ``model`` (and of the models it nests) without a description."""
    found = []
    for field_name, info in model.model_fields.items():
        where = f"{prefix}{field_name}"
        if not (info.description or "").strip():
            found.append(where)
        for nested in _nested_models(info.annotation):
            if nested is not model and not nested.__module__.startswith("hub."):  # the core documents its own
                found += _undocumented_fields(nested, f"{where}.")
    return found


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


@dataclass(frozen=True)
class FormatSpec:
    """What :func:`get_format_test_class` was given; the generated class keeps it as ``contract``."""

    format_cls: type[FunderFormat]
    export: str
    period: str
    incomplete: bool = True


class FormatContract:
    """The funder-format contract tests. Use :func:`get_format_test_class` rather than subclassing directly.

    The tests ask for the fixture ``parcours_format_hub``: an async factory
    ``(complete: bool = True) -> Hub``, a started hub whose configuration has the export under test
    and whose ledger holds the test data, complete or (``complete=False``) lacking fields the
    funder requires.
    """

    __test__ = False
    contract: FormatSpec

    @pytest.fixture
    def parcours_tempdir(self, tmp_path: Path, monkeypatch: Any) -> Path:
        """Temporary files go under ``tmp_path/tmp``: the format must leave nothing there."""
        folder = tmp_path / "tmp"
        folder.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(folder))
        return folder

    async def _export(self, hub: Any, out_dir: Path, **kwargs: Any) -> Any:
        spec = self.contract
        result = await export_files(hub, spec.export, spec.period, out_dir, **kwargs)
        assert isinstance(result, ExportResult), _format_hint(f"export() returned {type(result).__name__}, "
                                                              "not an ExportResult")
        return result

    # ------------------------------------------------------------------ the class
    def test_kind_and_docstring(self) -> None:
        cls = self.contract.format_cls
        assert isinstance(getattr(cls, "kind", None), str) and re.fullmatch(r"[a-z][a-z0-9_]*", cls.kind), \
            _format_hint("kind must be a lowercase name")
        assert (cls.__doc__ or "").strip(), _format_hint(f"{cls.__name__} needs a docstring (it documents the format)")
        assert cls.period in ("month", "year"), _format_hint("period is 'month' or 'year'")

    def test_config_json_schema(self) -> None:
        config_cls = self.contract.format_cls.Config
        assert issubclass(config_cls, FunderFormatConfig), _format_hint("Config must subclass FunderFormatConfig")
        schema = config_cls.model_json_schema()
        assert schema.get("type") == "object" and "kind" in schema.get("properties", {})
        json.dumps(schema)  # serialisable as it is published in config/schema.json
        assert (schema.get("description") or "").strip(), _format_hint("Config needs a docstring")

    def test_options_are_documented(self) -> None:
        undocumented = _undocumented_fields(self.contract.format_cls.Config)
        assert not undocumented, _format_hint(f"options without a description: {', '.join(undocumented)}")

    # ------------------------------------------------------------------ the files
    @pytest.mark.asyncio
    async def test_writes_only_under_its_output_folder(self, parcours_format_hub: Any, tmp_path: Path,
                                                       parcours_tempdir: Path) -> None:
        hub = await parcours_format_hub()
        out_dir = tmp_path / "exports" / "out"
        roots = {tmp_path, Path.cwd()}
        before = {p for root in roots for p in _files_under(root)}
        result = await self._export(hub, out_dir)
        assert not result.missing, f"the complete data still misses fields: {result.missing[:5]}"
        written = set(_files_under(out_dir))
        assert written, "the export wrote no file"
        assert {Path(f) for f in result.files} <= written, "ExportResult.files names files that are not in out_dir"
        stray = [p for root in roots for p in _files_under(root)
                 if p not in before and not p.is_relative_to(out_dir) and not p.name.endswith(("-wal", "-shm", "-journal"))]
        assert not stray, _format_hint(f"files written outside the output folder: {[str(p) for p in stray]}")
        assert not list(parcours_tempdir.iterdir()), "temporary files were left behind"

    @pytest.mark.asyncio
    async def test_incomplete_data_lists_missing_fields_and_writes_nothing(self, parcours_format_hub: Any,
                                                                          tmp_path: Path) -> None:
        if not self.contract.incomplete:
            pytest.skip(_format_hint("no incomplete data given (incomplete=False)"))
        hub = await parcours_format_hub(complete=False)
        out_dir = tmp_path / "exports" / "out"
        result = await self._export(hub, out_dir)
        assert result.missing, "incomplete data, yet no missing field listed"
        for missing in result.missing:
            assert isinstance(missing, MissingField) and missing.field and missing.message, \
                f"a MissingField names the field and says what to do: {missing!r}"
        assert not _files_under(out_dir) and not result.files, \
            _format_hint("with missing fields and allow_incomplete false, write nothing")

    @pytest.mark.asyncio
    async def test_same_ledger_same_bytes(self, parcours_format_hub: Any, tmp_path: Path) -> None:
        hub = await parcours_format_hub()
        first = await self._export(hub, tmp_path / "exports" / "first")
        second = await self._export(hub, tmp_path / "exports" / "second")
        one = {p.relative_to(tmp_path / "exports" / "first"): data
               for p, data in _files_under(tmp_path / "exports" / "first").items()}
        two = {p.relative_to(tmp_path / "exports" / "second"): data
               for p, data in _files_under(tmp_path / "exports" / "second").items()}
        assert sorted(one) == sorted(two), "two runs on the same ledger wrote different files"
        differ = [str(name) for name in one if one[name] != two[name]]
        assert not differ, _format_hint(f"two runs on the same ledger wrote different bytes: {differ}")
        assert first.notes == second.notes


def _format_hint(text: str) -> str:
    return f"{text} (see hub.testing.get_format_test_class)"


def get_format_test_class(format_cls: type[FunderFormat], *, export: str, period: str, incomplete: bool = True) -> type[FormatContract]:
    """Return a pytest class running the funder-format contract on ``format_cls``.

    :param format_cls: the :class:`hub.formats.FunderFormat` subclass under test.
    :param export: the name of its export in the test hub's configuration.
    :param period: the period exported (``2026-10``, ``2026``…), one the test data covers.
    :param incomplete: whether ``parcours_format_hub(complete=False)`` gives data lacking
        required fields (else that test is skipped).

    The test module (or a conftest) defines the fixture ``parcours_format_hub``, an async
    factory ``(complete: bool = True) -> Hub``. What is checked: ``kind``, docstring and
    ``period``; ``Config`` subclasses ``FunderFormatConfig``, its JSON Schema can be generated
    and every option (nested ones included) has a description; on complete data the export
    lists nothing missing and writes only under its output folder (temporary files removed);
    on incomplete data it lists the missing fields and writes nothing; two runs on the same
    ledger write the same files, byte for byte.
    """
    if not (isinstance(format_cls, type) and issubclass(format_cls, FunderFormat)):
        raise TypeError(f"{format_cls!r} is not a hub.formats.FunderFormat subclass")
    spec = FormatSpec(format_cls, export, period, incomplete)
    class_name = f"Test{format_cls.__name__}Contract"
    caller = sys._getframe(1).f_globals.get("__name__", __name__)
    attrs: dict[str, Any] = {"__test__": True, "contract": spec, "__module__": caller, "__qualname__": class_name,
                             "__doc__": f"The funder-format contract for {format_cls.__module__}.{format_cls.__qualname__}."}
    return type(class_name, (FormatContract,), attrs)

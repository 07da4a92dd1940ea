"""Profiles and configuration: validated like the rest of config, errors with file and line."""

from __future__ import annotations

import textwrap

import pytest

from funder_formats.opco.profile import COLUMNS, PROFILES_DIR, Profile
from hub.profiles import builtin_profiles, load_profile
from hub.runtime.app import Hub
from hub.errors import ConfigError
from hub.formats import Period
from tests.conftest import BASE_HUB, write_config
from tests.formats.opco.conftest import open_demo, read_csv

GOOD = """\
name: acme
title: OPCO Acme
columns:
  - dossier
  - learner_name
  - date
  - hours_billable
required: [dossier]
"""


def _hub_with_profile(workdir, plugins, profile_text: str, *, name: str = "acme.yaml", extra: str = ""):
    (workdir / name).write_text(textwrap.dedent(profile_text), encoding="utf-8")
    path = write_config(workdir, BASE_HUB + f"exports:\n  acme:\n    kind: opco\n    profile: {name}\n{extra}")
    return Hub.open(path, env={}, plugins=plugins)


def test_builtin_profiles_are_valid_and_differ():
    profiles = {name: load_profile(path, Profile) for name, path in builtin_profiles(PROFILES_DIR).items()}
    assert set(profiles) == {"atlas", "opco-ep", "akto"}
    dialects = {(p.csv.separator, p.csv.encoding, p.csv.line_endings, p.date_format, p.decimal_separator)
                for p in profiles.values()}
    assert len(dialects) == 3
    assert len({tuple(c.column for c in p.columns) for p in profiles.values()}) == 3
    for profile in profiles.values():
        assert profile.required and all(c in COLUMNS for c in profile.required)


def test_unknown_column_is_a_config_error_naming_the_profile_file_and_line(workdir, plugins):
    bad = GOOD.replace("  - learner_name\n", "  - learner_name\n  - nom_famille\n")
    with pytest.raises(ConfigError) as caught:
        _hub_with_profile(workdir, plugins, bad)
    (problem,) = caught.value.problems
    profile = workdir / "acme.yaml"
    assert f"{workdir / 'hub.yaml'}:9: exports.acme.profile: invalid profile: " in problem
    assert f"{profile}:6: columns[2].column: unknown column 'nom_famille'" in problem


@pytest.mark.parametrize("change, where, message", [
    (("  - date\n", "  - {column: date, lable: Jour}\n"), ":6: columns[2].lable", "unknown key"),
    (("columns:\n", "csv: {encoding: latin-9000}\ncolumns:\n"), ":3: csv.encoding", "unknown encoding 'latin-9000'"),
    (("columns:\n", "date_format: dd/MM/yyyy\ncolumns:\n"), ":3: date_format", "invalid date format"),
    (("columns:\n", "files: {statement: '{period}-{learner}.{ext}'}\ncolumns:\n"), ":3: files",
     "unknown placeholder {learner}"),
    (("columns:\n", "files: {bundle: '../{dossier}.zip'}\ncolumns:\n"), ":3: files", "a file name, not a path"),
    (("required: [dossier]\n", "required: [dossier]\nsummary_columns: [dossier, date]\n"), ":1: (top level)",
     "summary_columns: 'date' is a half-day column"),
    (("  - date\n", "  - date\n  - dossier\n"), ":1: (top level)", "columns: column 'dossier' is listed twice"),
    (("required: [dossier]\n", "required: [attendance_rate]\n"), ":8: required", "'attendance_rate' cannot be required"),
    (("required: [dossier]\n", "required: [dossier]\nlabels: {status: {present: Là}}\n"), ":9: labels.status",
     "unknown status code 'present'"),
    (("title: OPCO Acme\n", "title: [OPCO Acme\n"), ":3:", "invalid YAML"),
    (("columns:\n", "xlsx: {statement_sheet: \"'Présence'\"}\ncolumns:\n"), ":3: xlsx.statement_sheet",
     "cannot start or end with an apostrophe"),
    (("columns:\n", "xlsx: {statement_sheet: Totaux, summary_sheet: TOTAUX}\ncolumns:\n"), ":3: xlsx",
     "statement_sheet and summary_sheet are both 'Totaux'"),
])
def test_profile_errors_name_the_file_and_line(workdir, plugins, change, where, message):
    with pytest.raises(ConfigError) as caught:
        _hub_with_profile(workdir, plugins, GOOD.replace(*change))
    (problem,) = caught.value.problems
    assert f"{workdir / 'acme.yaml'}{where}" in problem and message in problem, problem


def test_unknown_profile_name_or_missing_file(workdir, plugins):
    path = write_config(workdir, BASE_HUB + "exports:\n  x: {kind: opco, profile: atlass}\n")
    with pytest.raises(ConfigError, match=r"hub.yaml:7: exports.x.profile: .*unknown built-in profile 'atlass' "
                                          r"\(built-in: akto, atlas, opco-ep; did you mean 'atlas'\?\)"):
        Hub.open(path, env={}, plugins=plugins)
    path = write_config(workdir, BASE_HUB + "exports:\n  x: {kind: opco, profile: profiles/nowhere.yaml}\n")
    with pytest.raises(ConfigError, match=r"hub.yaml:7: exports.x.profile: invalid profile: .*nowhere.yaml: cannot read"):
        Hub.open(path, env={}, plugins=plugins)


@pytest.mark.parametrize("block, message", [
    ("{kind: opco, outputs: [attendance_pdf]}", "exports.x.outputs[0]: Input should be 'attendance_csv'"),
    ("{kind: opco, outputs: [attendance_csv, attendance_csv]}", "exports.x.outputs: an output is listed twice"),
    ("{kind: opco, statement: weekly}", "exports.x.statement: Input should be 'monthly' or 'end_of_action'"),
    ("{kind: opco, api_cfa: {echeance: yearly}}", "exports.x.api_cfa.echeance"),
    ("{kind: opco, fields: {siret: x}}", "exports.x.fields.siret: unknown key"),
])
def test_export_config_errors(workdir, plugins, block, message):
    path = write_config(workdir, BASE_HUB + f"exports:\n  x: {block}\n")
    with pytest.raises(ConfigError) as caught:
        Hub.open(path, env={}, plugins=plugins)
    assert any(message in p for p in caught.value.problems), caught.value.problems


async def test_a_profile_of_ones_own_lays_out_the_file(make_hub, workdir):
    (workdir / "acme.yaml").write_text(GOOD + textwrap.dedent("""\
        date_format: yyyymmdd
        decimal_separator: "."
        decimals: 1
        csv: {separator: "|", encoding: iso-8859-15, line_endings: lf}
        files: {statement: "acme-{period}-{export}.{ext}"}
        labels: {yes_text: Y, no_text: N}
        """), encoding="utf-8")
    hub = await open_demo(make_hub, workdir, "\nexports:\n  acme-x: {kind: opco, funders: [opco-atlas], profile: acme.yaml}\n")
    out = await hub.export("acme-x", Period.parse("2026-10"))
    assert out.files == ["acme-2026-10-acme-x.csv", "manifest.json"]
    rows = read_csv(out.folder / out.files[0], "iso-8859-15", "|")
    assert rows[0] == ["N° de dossier", "Stagiaire", "Date", "Heures facturables"]
    assert rows[1] == ["ATL-2026-000106", "Maximilien-Alexandre de La Tour d'Auvergne", "20261005", "3.5"]

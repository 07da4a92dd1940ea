"""The core profile kit (hub.profiles): resolution, loading with file:line errors, dialect, file names."""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel, ConfigDict, Field

from hub.errors import ConfigError
from hub.formats import FunderFormatConfig
from hub.profiles import (CsvDialect, ProfileOption, check_file_template, check_label_keys, load_profile,
                          profile_path)


class Tiny(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    file: str = "x-{period}.csv"


@pytest.fixture
def builtins(tmp_path):
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "alpha.yaml").write_text("name: alpha\n")
    (folder / "alpha-long.yaml").write_text("name: alpha-long\n")
    return folder


def test_a_builtin_name_or_a_path(builtins, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert profile_path("alpha", builtins) == builtins / "alpha.yaml"
    assert profile_path("mine.yaml", builtins) == tmp_path / "mine.yaml"
    assert profile_path("sub/mine", builtins) == tmp_path / "sub" / "mine"
    with pytest.raises(ConfigError, match=r"unknown built-in profile 'alpah' \(built-in: alpha, alpha-long; "
                                          r"did you mean 'alpha'\?\)"):
        profile_path("alpah", builtins)


def test_loading_names_the_file_and_line_and_follows_changes(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: one\nfiel: x\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(path, Tiny)
    assert f"{path}:2: fiel: unknown key" in caught.value.problems[0]
    path.write_text("name: one\n")
    assert load_profile(path, Tiny).name == "one"
    path.write_text("name: two\n")
    os.utime(path, (1, 1))  # another modification time: reloaded
    assert load_profile(path, Tiny).name == "two"
    with pytest.raises(ConfigError, match="cannot read profile"):
        load_profile(tmp_path / "nowhere.yaml", Tiny)


def test_profile_option_validates_when_the_config_loads(builtins):
    class Config(ProfileOption, FunderFormatConfig):
        """A test format's keys."""

        profile: str = Field(default="alpha", description="The profile")
        profile_model = Tiny
        profiles_dir = builtins
        profile_error_prefix = "invalid profile: "

    assert Config(kind="t").loaded_profile.name == "alpha"
    with pytest.raises(ValueError, match="invalid profile: unknown built-in profile 'beta'"):
        Config(kind="t", profile="beta")


def test_file_templates_and_labels():
    assert check_file_template("{export}-{period}.csv", ("period", "export")) == "{export}-{period}.csv"
    with pytest.raises(ValueError, match=r"unknown placeholder \{learner\} in .* \(allowed: \{export\}, \{period\}\)"):
        check_file_template("{learner}.csv", ("period", "export"))
    with pytest.raises(ValueError, match="a file name, not a path"):
        check_file_template("../{period}.csv", ("period",))
    with pytest.raises(ValueError, match=r"unknown status 'absnt' \(did you mean 'absent'\?\)"):
        check_label_keys({"absnt": "Abs."}, ("absent", "signed"), "status")


def test_dialect_writes_and_reports_what_the_encoding_cannot_hold():
    dialect = CsvDialect(delimiter=";", line_terminator="\n", quote_all=True, encoding="cp1252")
    text = dialect.text(["Nom", "Ville"], [["Wiśniewska", "Lyon"]])
    assert text == '"Nom";"Ville"\n"Wiśniewska";"Lyon"\n'
    data, bad = dialect.encode(text)
    assert bad == ["ś"] and data.decode("cp1252") == text.replace("ś", "?")

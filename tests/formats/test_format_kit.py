"""The format kit (hub.testing.get_format_test_class) passes a well-behaved format and fails
formats that break the contract: each check can fail."""

from __future__ import annotations

import itertools

import pytest
from pydantic import Field

from hub.formats import ExportResult, FunderFormat, FunderFormatConfig, MissingField
from hub.hookspecs import hookimpl
from hub.plugins import load_plugins
from hub.testing import get_format_test_class
from tests.test_journeys import demo_config


class HoursConfig(FunderFormatConfig):
    """Keys of a test_hours export."""

    email_domain: str | None = Field(default=None, description="An e-mail address outside this domain is a missing field")
    stray: bool = Field(default=False, description="Misbehave: also write a file next to the output folder")
    leaky: bool = Field(default=False, description="Misbehave: write the file even when fields are missing")
    stamped: bool = Field(default=False, description="Misbehave: write a run counter into the file")


_runs = itertools.count()


class HoursFormat(FunderFormat):
    """Test format: one line per enrolment with its realised hours."""

    kind = "test_hours"
    Config = HoursConfig

    def export(self, request):
        cfg = self.config
        result = ExportResult()
        lines = []
        for j in request.journeys:
            if cfg.email_domain and not (j.learner_email or "").endswith("@" + cfg.email_domain):
                result.missing.append(MissingField(j.learner_name or j.learner_id, "email",
                                                   f"no e-mail address at {cfg.email_domain}"))
            lines.append(f"{j.learner_name};{j.realised_hours}\n")
        if result.missing and not request.allow_incomplete and not cfg.leaky:
            return result
        path = request.out_dir / f"hours-{request.period.label}.csv"
        stamp = f"run {next(_runs)}\n" if cfg.stamped else ""
        path.write_text(stamp + "".join(sorted(lines)), encoding="utf-8")
        result.files.append(path)
        if cfg.stray:
            (request.out_dir.parent / "stray.txt").write_text("outside")
        return result


class UndocumentedConfig(FunderFormatConfig):
    """Keys of a test_undocumented export."""

    secret_option: int = 3


class UndocumentedFormat(HoursFormat):
    """Test format whose option has no description."""

    kind = "test_undocumented"
    Config = UndocumentedConfig


class Plugin:
    @hookimpl
    def register_funder_formats(self):
        return [HoursFormat, UndocumentedFormat]


@pytest.fixture
def plugins():
    from tests.conftest import TestPlugin

    return load_plugins(env={"PARCOURS_LOAD_PLUGINS": "file_drop"},
                        extra=[("test-plugin", TestPlugin()), ("formats", Plugin())])


def hub_factory(make_hub, workdir, **options):
    async def factory(complete: bool = True):
        keys = "".join(f", {k}: {str(v).lower()}" for k, v in options.items())
        keys += "" if complete else ", email_domain: nowhere.example"
        hub = await make_hub(demo_config(workdir) + f"\nexports:\n  hours: {{kind: test_hours{keys}}}\n")
        await hub.pull("demo")
        return hub

    return factory


class TestHoursContract(get_format_test_class(HoursFormat, export="hours", period="2026-10")):
    """A well-behaved format passes the whole kit."""

    @pytest.fixture
    def parcours_format_hub(self, make_hub, workdir):
        return hub_factory(make_hub, workdir)


def kit():
    """The kit's checks, to run by hand on misbehaving exports."""
    return get_format_test_class(HoursFormat, export="hours", period="2026-10")()


@pytest.fixture
def sandbox(tmp_path):
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


async def test_writing_outside_the_output_folder_fails(make_hub, workdir, tmp_path, sandbox):
    with pytest.raises(AssertionError, match="files written outside the output folder"):
        await kit().test_writes_only_under_its_output_folder(hub_factory(make_hub, workdir, stray=True),
                                                                  tmp_path, sandbox)


async def test_writing_despite_missing_fields_fails(make_hub, workdir, tmp_path):
    with pytest.raises(AssertionError, match="write nothing"):
        await kit().test_incomplete_data_lists_missing_fields_and_writes_nothing(
            hub_factory(make_hub, workdir, leaky=True), tmp_path)


async def test_different_bytes_on_the_same_ledger_fail(make_hub, workdir, tmp_path):
    with pytest.raises(AssertionError, match="different bytes"):
        await kit().test_same_ledger_same_bytes(hub_factory(make_hub, workdir, stamped=True), tmp_path)


def test_an_undocumented_option_fails():
    kit = get_format_test_class(UndocumentedFormat, export="x", period="2026-10")()
    with pytest.raises(AssertionError, match="options without a description: secret_option"):
        kit.test_options_are_documented()


def test_only_funder_formats_are_accepted():
    with pytest.raises(TypeError, match="not a hub.formats.FunderFormat subclass"):
        get_format_test_class(HoursConfig, export="x", period="2026-10")

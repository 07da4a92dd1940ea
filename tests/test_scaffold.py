"""``parcours new-connector``: the generated package passes its own tests, installs, and is found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.errors import HubError
from hub.scaffold import scaffold, template_values


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: none of the caller's plugin or pytest settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PARCOURS_", "PYTEST_", "PIP_")) and k != "PYTHONPATH"}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", **extra}


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True,
                          timeout=300)


def test_template_values():
    assert template_values("my-lms") == {
        "name": "my-lms", "kind": "my_lms", "dist": "parcours-connector-my-lms", "module": "parcours_connector_my_lms",
        "class_name": "MyLms", "env_prefix": "MY_LMS",
    }
    assert template_values("crm2")["class_name"] == "Crm2"


@pytest.mark.parametrize("name", ["", "My-Lms", "2lms", "-lms", "_lms", "my lms", "my.lms", "my/lms", "é", "a" * 41])
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(HubError, match="invalid connector name"):
        scaffold(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_and_installed_kind_are_refused(tmp_path):
    (tmp_path / "parcours-connector-zz-demo").mkdir()
    with pytest.raises(HubError, match="already exists"):
        scaffold("zz-demo", tmp_path)
    with pytest.raises(HubError, match="already installed"):
        scaffold("file-drop", tmp_path)  # kind file_drop is a built-in plugin


def test_layout(tmp_path):
    created = scaffold("my-lms", tmp_path / "work")
    assert created == tmp_path / "work" / "parcours-connector-my-lms"
    files = sorted(str(p.relative_to(created)) for p in created.rglob("*") if p.is_file())
    assert files == ["README.md", "parcours_connector_my_lms/__init__.py", "pyproject.toml", "tests/test_contract.py"]
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["parcours-connector-my-lms"], "no staging folder left"
    pyproject = (created / "pyproject.toml").read_text()
    assert '[project.entry-points.parcours]\nmy_lms = "parcours_connector_my_lms"' in pyproject
    assert '"parcours-hub"' in pyproject
    module = (created / "parcours_connector_my_lms" / "__init__.py").read_text()
    for needle in ("@hookimpl", "def register_connectors", "self.context.http", "HttpSettings", "self.config.client(",
                   'kind = "my_lms"', "lms.activity_completed"):
        assert needle in module
    compile(module, "__init__.py", "exec")
    assert "${env:MY_LMS_TOKEN}" in (created / "README.md").read_text()


def test_cli_new_connector(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["new-connector", "crm", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "parcours-connector-crm" / "pyproject.toml").exists()
    again = runner.invoke(main, ["new-connector", "crm", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(main, ["new-connector", "Bad Name", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid connector name" in bad.output


def test_generated_tests_pass_out_of_the_box(tmp_path):
    created = scaffold("demo-lms", tmp_path)
    # the package's own pytest configuration applies (strict asyncio mode), not the hub's
    proc = run(["-m", "pytest", str(created / "tests"), "-q", "-p", "no:cacheprovider"], cwd=created,
               PYTHONPATH=str(created))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "failed" not in proc.stdout and "error" not in proc.stdout.lower()


def test_installed_plugin_is_listed_without_changing_the_hub(tmp_path):
    created = scaffold("acme-lms", tmp_path / "src")
    site = tmp_path / "site"
    proc = run(["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                "--target", str(site), str(created)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    listing = ["-m", "hub.cli", "connectors", "list", "--json", "--config", str(tmp_path / "absent.yaml")]
    proc = run(listing, cwd=tmp_path, PYTHONPATH=str(site))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    kinds = {k["kind"]: k for k in out["kinds"]}
    assert {"file_drop", "webhook_out", "ndjson_out"} <= set(kinds), "the built-ins are still there"
    acme = kinds["acme_lms"]
    assert acme["plugin"] == "acme_lms" and acme["capabilities"] == ["pull"]
    assert acme["distribution"].replace("_", "-") == "parcours-connector-acme-lms"
    assert acme["version"] == "0.1.0"
    assert acme["description"].startswith("Pull activity completions")
    assert out["blocked_plugins"] == [] and out["configured"] == []

    proc = run(listing, cwd=tmp_path, PYTHONPATH=str(site), PARCOURS_DISABLED_PLUGINS="acme_lms")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "acme_lms" not in {k["kind"] for k in out["kinds"]}
    assert out["blocked_plugins"] == ["acme_lms"]

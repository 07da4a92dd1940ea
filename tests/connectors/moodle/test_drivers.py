"""The log store's database drivers are optional extras: without one, the error says which to install."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from connectors.moodle import MoodleConfig
from connectors.moodle.logstore import LogstoreDB
from hub.errors import ConnectorConfigError

CASES = [("postgresql://hub:pw-0123@127.0.0.1:5432/moodle", "psycopg", "postgres"),
         ("mariadb://hub:pw-0123@127.0.0.1:3306/moodle", "pymysql", "mariadb"),
         ("mysql://hub:pw-0123@127.0.0.1:3306/moodle", "pymysql", "mariadb")]


@pytest.mark.parametrize("dsn, module, extra", CASES)
def test_config_names_the_extra_to_install(monkeypatch, dsn, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # as if the driver were not installed
    with pytest.raises(ValidationError) as caught:
        MoodleConfig.model_validate({"kind": "moodle", "logstore": {"dsn": dsn}})
    [error] = caught.value.errors()
    assert error["loc"] == ("logstore", "dsn")
    assert f"pip install 'parcours-hub[{extra}]'" in error["msg"] and f"the {module} driver" in error["msg"]


@pytest.mark.parametrize("dsn, module, extra", CASES[:2])
def test_connecting_without_the_driver_names_the_extra(monkeypatch, dsn, module, extra):
    """A configuration validated where the driver was installed, run where it is not."""
    config = MoodleConfig.model_validate({"kind": "moodle", "logstore": {"dsn": dsn}})
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConnectorConfigError, match=rf"pip install 'parcours-hub\[{extra}\]'"):
        LogstoreDB(config.logstore).ping()


def test_parcours_check_says_which_extra(tmp_path):
    (tmp_path / "hub.yaml").write_text(
        "connectors:\n  moodle:\n    kind: moodle\n    logstore:\n      dsn: ${env:MOODLE_DB}\n")
    code = "import sys; sys.modules['psycopg'] = None; from hub.cli import main; main()"
    run = subprocess.run([sys.executable, "-c", code, "check", "--config", "hub.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60,
                         env={"MOODLE_DB": "postgresql://hub:pw-0123@db:5432/moodle", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "connectors.moodle.logstore" in run.stderr
    assert "pip install 'parcours-hub[postgres]'" in run.stderr
    assert "ModuleNotFoundError" not in run.stderr and "Traceback" not in run.stderr
    assert "pw-0123" not in run.stderr

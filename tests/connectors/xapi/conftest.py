"""Fixtures of the xapi connector's tests: a connector on a fake LRS, and a real Ralph LRS."""

from __future__ import annotations

import os

import pytest

from tests.fakes.xapi_ralph import RalphServer, RalphUnavailable, ensure_ralph, write_auth_file


@pytest.fixture(scope="session")
def ralph_app_dir(tmp_path_factory):
    """Ralph installed in .venv-peers/ralph (once) and an auth file written by ``ralph auth``."""
    try:
        ensure_ralph()
    except RalphUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Ralph LRS could not be installed (CI is set, so this is a failure): {exc}")
        pytest.skip(f"Ralph LRS could not be installed, real-LRS tests skipped: {exc}")
    app_dir = tmp_path_factory.mktemp("ralph-app")
    write_auth_file(app_dir)
    return app_dir


@pytest.fixture(scope="module")
def ralph(ralph_app_dir, tmp_path_factory):
    """A Ralph LRS (FS backend, 50 statements per page at most) shared by a test module (it takes
    a few seconds to start); only one test of the module may post statements to it."""
    with RalphServer(tmp_path_factory.mktemp("ralph"), ralph_app_dir, max_hits=50).running() as server:
        yield server

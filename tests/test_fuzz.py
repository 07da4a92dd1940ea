"""Schemathesis against the OpenAPI document the daemon serves, on a real app (aiohttp, on SQLite
and on PostgreSQL).

Every operation of ``GET /openapi.json`` is called with generated valid and invalid inputs, with
and without the admin token: no answer may be a 5xx, and every answer must be one the document
declares (status code, content type, and the body's schema). Bounded by a number of examples per
operation and a fixed seed, so the run is the same every time and takes well under a minute.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from hub.runtime.apidoc import openapi_document, operations
from hub.runtime.server import build_app
from tests.conftest import TOKEN
from tests.store.conftest import pg_schema_url, pg_server  # noqa: F401  (fixtures)
from tests.test_server import store_hub  # noqa: F401  (fixture: SQLite, then PostgreSQL)

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "response_headers_conformance")
EXAMPLES = 25  # per operation and phase: the four runs take about 35 s on a shared 2-core machine
SEED = 11  # fixed: the same requests on every run (a new finding is a change, not luck)
ROOT = Path(__file__).resolve().parent.parent


async def _schemathesis(workdir: Path, base: str, *headers: str) -> tuple[int, str]:
    config = workdir / "schemathesis.toml"
    # the webhook connector's name, so that generated webhook requests reach it instead of a 404
    config.write_text('hooks = "tests.fuzz_hooks"\n[parameters]\nconnector = "signed"\n')
    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
            "run", f"{base}/openapi.json", "--url", base, "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--max-examples", str(EXAMPLES),
            "--seed", str(SEED), "--generation-database", "none",
            "--workers", "1", "--no-color", "--suppress-health-check", "all", "--request-timeout", "20"]
    for header in headers:
        args += ["--header", header]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PARCOURS_FUZZ_HOOK_SECRET": (workdir / "secrets" / "hook").read_text()}
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT, env=env, cwd=workdir)
    output, _ = await process.communicate()
    return process.returncode, output.decode(errors="replace")


@pytest.mark.parametrize("auth", ["admin token", "no token"])
async def test_no_5xx_and_every_answer_is_documented(store_hub, aiohttp_server_factory, workdir, auth):
    hub = store_hub
    server = await aiohttp_server_factory(build_app(hub))
    base = f"http://127.0.0.1:{server.port}"
    headers = [f"Authorization: Bearer {TOKEN}"] if auth == "admin token" else []
    code, report = await _schemathesis(workdir, base, *headers)
    assert code == 0, report
    # it reached every operation of the document but GET /openapi.json, which schemathesis fetched
    # as the document itself and leaves out
    every = len(operations(openapi_document())) - 1
    assert re.search(rf"Tested:\s+{every}\b", report), report

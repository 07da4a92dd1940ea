"""`parcours init` → `parcours check` → `parcours run`, with no edit in between, as a new user does."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys

import aiohttp

from tests.test_cli import parcours
from tests.test_daemon_e2e import Daemon

CLEAN_ENV = {"PARCOURS_ADMIN_TOKEN": "", "PARCOURS_CONFIG": ""}  # nothing from the environment helps


def test_init_writes_a_private_token_and_the_folders_it_names(tmp_path):
    init = parcours("init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "next: parcours check && parcours run" in init.stdout
    config = (tmp_path / "config" / "hub.yaml").read_text()
    assert "admin_token: ${file:config/secrets/admin-token}" in config
    token = tmp_path / "config" / "secrets" / "admin-token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert len(token.read_text().strip()) >= 32
    for folder in ("var", "var/inbox", "var/archive"):
        assert (tmp_path / folder).is_dir(), folder

    check = parcours("check", cwd=tmp_path, env=CLEAN_ENV)
    assert check.returncode == 0, check.stderr
    assert "archive-everything" in check.stdout

    again = parcours("init", cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr  # never overwrites silently
    before = token.read_text()
    forced = parcours("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and f"kept {os.path.join('config', 'secrets', 'admin-token')}" in forced.stdout
    assert token.read_text() == before  # --force rewrites the configuration, not the token clients use


def test_init_elsewhere_puts_the_token_beside_the_configuration(tmp_path):
    init = parcours("init", "--path", "deploy/hub.yaml", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "next: parcours check --config deploy/hub.yaml && parcours run --config deploy/hub.yaml" in init.stdout
    assert "${file:deploy/secrets/admin-token}" in (tmp_path / "deploy" / "hub.yaml").read_text()
    assert stat.S_IMODE((tmp_path / "deploy" / "secrets" / "admin-token").stat().st_mode) == 0o600
    check = parcours("check", "--config", "deploy/hub.yaml", cwd=tmp_path, env=CLEAN_ENV)
    assert check.returncode == 0, check.stderr


class StarterDaemon(Daemon):
    """`parcours run` on the starter configuration, untouched but for a free port."""

    def __init__(self, cwd):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **CLEAN_ENV}
        self.proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--port", "0"], cwd=cwd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.lines = []


async def test_the_starter_comes_up_ready(tmp_path):
    assert parcours("init", cwd=tmp_path).returncode == 0
    daemon = StarterDaemon(tmp_path)
    try:
        base = await daemon.url()
        token = (tmp_path / "config" / "secrets" / "admin-token").read_text().strip()
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{base}/readyz") as r:
                ready = await r.json()
                assert r.status == 200 and ready["status"] == "ok", ready
                assert all(c["ok"] for c in ready["connectors"].values())
            async with client.get(f"{base}/api/dlq", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200  # the token init wrote is the one the daemon expects
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, daemon.proc.wait, 40)
    assert code == 0

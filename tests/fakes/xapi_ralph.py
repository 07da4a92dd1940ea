"""Ralph (France Université Numérique's Python LRS) as a real peer for the xapi connector's tests.

``ensure_ralph()`` creates, once, a virtual environment ``<repo>/.venv-peers/ralph`` with
``ralph-malph[cli,lrs]==5.1.0`` and ``requests`` (Ralph 5.1 imports it without declaring it);
later runs reuse it (a marker file names the installed version; a file lock keeps two test
processes from installing at once). ``RalphServer`` then runs Ralph's LRS API with the file-system
backend under a test folder:

* the auth file is written by ``ralph auth`` (which needs ``RALPH_RUNSERVER_BACKEND=fs``), once:
  it is kept in the virtual environment's folder for later runs;
* Ralph's FS backend refuses every POST after the first one unless the backend's default
  operation type is APPEND: a four-line launcher module sets it before importing ``ralph.api``;
* uvicorn serves it on a free 127.0.0.1 port; ``RALPH_RUNSERVER_MAX_SEARCH_HITS_COUNT`` caps the
  page size (small, to exercise ``more`` paging); readiness is ``GET /__heartbeat__``;
* ``forwardings`` sets ``RALPH_XAPI_FORWARDINGS``: Ralph then POSTs every statement it receives
  to those URLs with HTTP Basic auth (in a background task, after answering).

Quirks seen with 5.1.0 that the connector has to live with: ``since`` filters on ``timestamp``
(not ``stored``) and results are ordered by it (file order for the FS backend); with
``ascending=true`` the FS backend reverses each page but not the page sequence; ``more`` links
carry ``search_after=<last id>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

RALPH_VERSION = "5.1.0"
REQUIREMENTS = [f"ralph-malph[cli,lrs]=={RALPH_VERSION}", "requests"]
REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-peers" / "ralph"
MARKER = VENV / f".parcours-installed-ralph-malph-{RALPH_VERSION}"
USERNAME, PASSWORD = "hub-ralph", "ralph-secret-0123"

LAUNCHER = '''\
"""Ralph's LRS API with the file-system backend in append mode (the stock FS backend accepts one POST)."""
from ralph.backends.data.base import BaseOperationType
from ralph.backends.data.fs import FSDataBackend

FSDataBackend.default_operation_type = BaseOperationType.APPEND
from ralph.api import app  # noqa: E402,F401
'''


class RalphUnavailable(RuntimeError):
    """Ralph could not be installed (no registry access, most likely)."""


def _bin(name: str) -> Path:
    return VENV / "bin" / name


def ensure_ralph() -> Path:
    """The Ralph virtual environment, created on first use (about 10 to 60 seconds)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "ralph.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if MARKER.exists() and _bin("uvicorn").exists() and _bin("ralph").exists():
            return VENV
        if VENV.exists():
            shutil.rmtree(VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=120)
        try:
            done = subprocess.run([str(_bin("python")), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                   "--retries", "2", "--timeout", "30", *REQUIREMENTS],
                                  capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            shutil.rmtree(VENV, ignore_errors=True)
            raise RalphUnavailable("pip install of Ralph took more than 15 minutes") from None
        if done.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise RalphUnavailable(f"pip could not install {' '.join(REQUIREMENTS)}:\n{tail}")
        MARKER.write_text(f"{' '.join(REQUIREMENTS)}\n")
        return VENV


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
    env.update(extra)
    return env


def write_auth_file(app_dir: Path, username: str = USERNAME, password: str = PASSWORD) -> Path:
    """``ralph auth``: one user with every scope, its agent ``mailto:hub@example.org``.

    ``ralph auth`` takes 2 to 10 seconds (imports and a bcrypt hash of cost 12), so the file it
    wrote is kept next to the virtual environment and copied on later runs.
    """
    app_dir.mkdir(parents=True, exist_ok=True)
    target = app_dir / "auth.json"
    digest = hashlib.sha256(f"{username}:{password}".encode()).hexdigest()[:16]
    cached = VENV / f".auth-{username}-{digest}.json"
    if cached.exists():
        shutil.copyfile(cached, target)
        return target
    env = _clean_env({"RALPH_APP_DIR": str(app_dir), "RALPH_RUNSERVER_BACKEND": "fs"})
    done = subprocess.run([str(_bin("ralph")), "auth", "-u", username, "-p", password, "-s", "all",
                           "-M", "mailto:hub@example.org", "-N", "hub", "-w"],
                          env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"ralph auth failed: {done.stderr[-2000:]}")
    shutil.copyfile(target, cached)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RalphServer:
    """One Ralph LRS process (FS backend in append mode) on a free local port."""

    def __init__(self, folder: Path, app_dir: Path, *, max_hits: int = 50,
                 forwardings: list[dict[str, Any]] | None = None):
        self.folder = folder
        self.app_dir = app_dir
        self.max_hits = max_hits
        self.forwardings = forwardings or []
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.username, self.password = USERNAME, PASSWORD

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return self.base + "/xAPI/"

    def start(self, timeout: float = 30.0) -> "RalphServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "ralph_fs_append.py").write_text(LAUNCHER)
        data = self.folder / "data"
        data.mkdir(exist_ok=True)
        self.port = free_port()
        env = _clean_env({
            "RALPH_APP_DIR": str(self.app_dir),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(data),
            "RALPH_RUNSERVER_MAX_SEARCH_HITS_COUNT": str(self.max_hits),
            "PYTHONPATH": str(self.folder),
        })
        if self.forwardings:
            env["RALPH_XAPI_FORWARDINGS"] = json.dumps(self.forwardings)
        self.log_path = self.folder / "ralph.log"
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(_bin("uvicorn")), "ralph_fs_append:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"],
            cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Ralph exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.base + "/__heartbeat__", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Ralph did not answer /__heartbeat__ within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    @contextlib.contextmanager
    def running(self) -> Iterator["RalphServer"]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

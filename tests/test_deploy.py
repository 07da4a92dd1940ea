"""The deployment files of deploy/ agree with the code and with each other.

* deploy/parcours-hub.service passes ``systemd-analyze verify`` and ``systemd-analyze security``
  (skipped where systemd-analyze is not installed, failed when CI is set), and its stop / reload /
  restart semantics match the daemon's (SIGTERM drain, exit 0; exit 2 on a configuration error);
* deploy/Dockerfile and deploy/compose.yaml cannot be run here (no container runtime): they are
  checked against the code — paths copied, port, health path, config path, the same layout as the
  systemd unit — and the compose configuration is validated by the hub's own loader; the image's
  HEALTHCHECK command is run against a running app.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import yaml

from hub.config import load_config
from hub.plugins import load_plugins
from hub.runtime.daemon import DRAIN_SECONDS
from hub.runtime.server import DRAINING_KEY, build_app

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "parcours-hub.service"
INSTALLED_PARCOURS = "/opt/parcours/.venv/bin/parcours"


# --------------------------------------------------------------------------- systemd


def unit_settings() -> dict[str, list[str]]:
    """``Key`` -> its values (a key may repeat) of the [Service] section of the unit."""
    out: dict[str, list[str]] = {}
    section = None
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        if section == "Service":
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def one(settings: dict[str, list[str]], key: str) -> str:
    (value,) = settings[key]
    return value


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        message = "systemd-analyze is not installed (Debian: apt-get install systemd): the unit file is not verified"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def unit_copy(tmp_path) -> Path:
    """The unit, with ExecStart pointing at this environment's `parcours` (verify checks it exists)."""
    text = UNIT.read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED_PARCOURS} run --config " in text
    parcours = Path(sys.executable).parent / "parcours"
    assert parcours.exists(), "the project is not installed in this environment"
    path = tmp_path / UNIT.name
    path.write_text(text.replace(INSTALLED_PARCOURS, str(parcours)), encoding="utf-8")
    return path


def test_the_unit_verifies_without_a_warning(unit_copy):
    result = subprocess.run([systemd_analyze(), "verify", str(unit_copy)], capture_output=True, text=True, timeout=60)
    about_unit = [line for line in (result.stdout + result.stderr).splitlines() if UNIT.name in line]
    assert result.returncode == 0 and not about_unit, result.stdout + result.stderr


def test_the_unit_is_hardened(unit_copy):
    # exposure 0.0 (fully locked down) … 10.0 (nothing); --threshold is in tenths: at most 2.0 ("OK")
    result = subprocess.run([systemd_analyze(), "security", "--offline=yes", "--threshold=20", str(unit_copy)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    settings = unit_settings()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "User": "parcours"}.items():
        assert one(settings, key) == value, key
    assert set(one(settings, "RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # under ProtectSystem=strict only the state directory is writable: it must be the working directory
    assert one(settings, "WorkingDirectory") == "/var/lib/" + one(settings, "StateDirectory")


def _seconds(value: str) -> float:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


def test_stop_reload_and_restart_match_the_daemon():
    settings = unit_settings()
    assert one(settings, "KillSignal") == "SIGTERM"  # what `parcours run` drains on
    # the drain waits for the scheduler, the HTTP requests and the delivery loops, DRAIN_SECONDS each
    assert _seconds(one(settings, "TimeoutStopSec")) > 3 * DRAIN_SECONDS
    assert "ExecReload" not in settings, "the daemon has no reload: the unit must not pretend to"
    assert "2" in one(settings, "RestartPreventExitStatus").split()  # a configuration error
    assert one(settings, "Restart") == "on-failure"


def test_run_exits_2_on_a_configuration_error(tmp_path):
    """What RestartPreventExitStatus=2 relies on (SIGTERM -> exit 0 is tests/test_daemon_e2e.py's)."""
    (tmp_path / "hub.yaml").write_text("hub:\n  no_such_key: 1\n")
    result = subprocess.run([sys.executable, "-m", "hub.cli", "run", "--config", "hub.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr


# --------------------------------------------------------------------------- Dockerfile and compose


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def runtime_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def instruction(steps, word: str) -> str:
    (value,) = [rest for w, rest in steps if w == word]
    return value


def healthcheck_command() -> list[str]:
    rest = instruction(runtime_stage(), "HEALTHCHECK")
    return json.loads(rest[rest.index("CMD") + 3:])


def cmd() -> list[str]:
    stage = runtime_stage()
    return json.loads(instruction(stage, "ENTRYPOINT")) + json.loads(instruction(stage, "CMD"))


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_the_image_builds_from_files_that_exist():
    steps = dockerfile()
    assert sum(word == "FROM" for word, _ in steps) == 2, "multi-stage: a build stage and a runtime stage"
    for word, rest in steps:
        if word == "COPY" and "--from=" not in rest:
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
    build = compose()["services"]["hub"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()


def test_the_image_runs_as_a_user_with_its_volumes_and_the_units_layout():
    stage = runtime_stage()
    user = instruction(stage, "USER").split(":")[0]
    assert user not in ("root", "0")
    volumes = json.loads(instruction(stage, "VOLUME"))
    workdir = instruction(stage, "WORKDIR")
    unit = unit_settings()
    assert workdir == one(unit, "WorkingDirectory") and workdir in volumes  # the data
    assert "/run/secrets" in volumes
    config = option(cmd(), "--config")
    assert config == option(one(unit, "ExecStart").split(), "--config")
    assert f"PARCOURS_CONFIG={config}" in instruction(stage, "ENV").split()
    assert cmd()[:2] == ["parcours", "run"] and instruction(stage, "STOPSIGNAL") == "SIGTERM"
    hub = compose()["services"]["hub"]
    assert [c["target"] for c in hub["configs"]] == [config]
    assert f"{workdir}" in [v.split(":")[1] for v in hub["volumes"]]
    assert _seconds(hub["stop_grace_period"]) >= _seconds(one(unit, "TimeoutStopSec"))


def test_port_and_health_path_are_the_servers():
    stage = runtime_stage()
    port = option(cmd(), "--port")
    assert instruction(stage, "EXPOSE") == port
    assert option(cmd(), "--host") == "0.0.0.0"
    url = urlsplit(re.search(r"https?://[^'\"\s]+", " ".join(healthcheck_command())).group(0))
    assert str(url.port) == port and url.hostname == "127.0.0.1"
    assert url.path == "/readyz"
    published = compose()["services"]["hub"]["ports"]
    assert [p.rsplit(":", 1)[1] for p in published] == [port]
    # build_app reads only hub.config.hub.http.max_body_bytes
    app = build_app(SimpleNamespace(config=SimpleNamespace(hub=SimpleNamespace(http=SimpleNamespace(max_body_bytes=1)))))
    gets = {r.resource.canonical for r in app.router.routes() if r.method == "GET"}
    assert url.path in gets


def test_the_compose_configuration_is_valid_and_points_at_the_database(tmp_path):
    spec = compose()
    hub_service, db = spec["services"]["hub"], spec["services"]["db"]
    source = DEPLOY / spec["configs"][hub_service["configs"][0]["source"]]["file"]
    text = source.read_text(encoding="utf-8")
    referenced = set(re.findall(r"\$\{file:/run/secrets/([^}]+)\}", text))
    assert referenced and referenced <= set(hub_service["secrets"]) <= set(spec["secrets"])
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in referenced:
        (secrets / name).write_text("0123456789abcdef0123456789abcdef\n")
    local = tmp_path / "hub.yaml"
    local.write_text(text.replace("/run/secrets/", f"{secrets}/"), encoding="utf-8")
    plugins = load_plugins(env={})
    config = load_config(local, plugins.connector_classes(), env={}, format_classes=plugins.funder_format_classes())
    url = urlsplit(config.hub.store.url)
    assert url.scheme.startswith("postgresql") and url.hostname in spec["services"]
    assert url.username == db["environment"]["POSTGRES_USER"] and url.path == "/" + db["environment"]["POSTGRES_DB"]
    # the database's password and the one in the store URL are the same secret file
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password" and "db_password" in db["secrets"]
    assert "${file:/run/secrets/db_password}@" in text and url.password == "0123456789abcdef0123456789abcdef"
    assert hub_service["depends_on"]["db"]["condition"] == "service_healthy"


async def test_the_healthcheck_command_follows_readyz(make_hub, aiohttp_server_factory):
    hub = await make_hub("")
    app = build_app(hub)
    server = await aiohttp_server_factory(app)
    command = [part.replace("127.0.0.1:8080", f"127.0.0.1:{server.port}") for part in healthcheck_command()]
    assert command[0] == "python"

    async def health() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, *command[1:], stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL)
        return await proc.wait()

    assert await health() == 0
    app[DRAINING_KEY]["on"] = True  # after SIGTERM /readyz answers 503
    assert await health() != 0

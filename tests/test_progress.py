"""Long commands show a progress bar on a terminal, and nothing for scripts and pipes."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from tests.test_journeys import demo_config

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(cwd: Path, *args: str, raw: bool = False) -> str:
    """Run ``parcours ARGS`` with stdout and stderr on a pseudo-terminal; what it drew (colours removed
    unless ``raw``)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and stderr are the terminal
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "hub.cli", *args, "--config", "hub.yaml"])
    out = []
    try:
        while select.select([fd], [], [], 120)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            out.append(data)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, b"".join(out).decode()
    text = b"".join(out).decode()
    return text if raw else ANSI.sub("", text).replace("\r", "\n")


def piped(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--config", "hub.yaml"], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


async def test_sync_verify_and_rebuild_draw_a_bar_on_a_terminal_only(make_hub, workdir):
    hub = await make_hub(demo_config(workdir))
    await hub.stop()

    drawn = on_terminal(workdir, "sync", "demo")
    assert re.search(r"sync demo .* 543/543 records [\d,]+ records/s", drawn), drawn
    assert "demo: 543 new, 0 already known, 0 dead-lettered" in drawn
    piped(workdir, "run", "--once")  # seals the ledger

    assert "\x1b[32m" in on_terminal(workdir, "verify", raw=True)  # in colour
    drawn = on_terminal(workdir, "verify")
    assert re.search(r"verify .* 543/543 events [\d,]+ events/s", drawn), drawn
    assert "ledger intact: 1 block(s), 543 sealed event(s)" in drawn
    drawn = on_terminal(workdir, "journey", "rebuild")
    assert re.search(r"journey rebuild .* (\d+)/\1 events [\d,]+ events/s", drawn), drawn

    as_json = on_terminal(workdir, "verify", "--json")  # scripts get JSON only, even on a terminal
    assert "events/s" not in as_json and json.loads(as_json)["events"] == 543
    for args in (("verify",), ("journey", "rebuild")):  # into a pipe: no bar, no colour
        result = piped(workdir, *args)
        assert result.returncode == 0 and "events/s" not in result.stdout + result.stderr
        assert "\x1b[" not in result.stdout + result.stderr

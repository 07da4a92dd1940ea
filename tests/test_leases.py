"""Owners of claims and leases: a dead process of this host is recognised, its PID reused or not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from hub.leases import owner_is_dead, process_owner


def test_this_process_is_alive_and_an_earlier_process_with_its_pid_is_not():
    host, pid = socket.gethostname(), os.getpid()
    assert not owner_is_dead(process_owner())
    assert owner_is_dead(f"{host}:{pid}:0000beef")  # a restarted container: same host, PID 1 again
    assert not owner_is_dead(f"{host}:{pid}")  # written before owners had a nonce: cannot tell, alive


def test_a_finished_process_of_this_host_is_dead_another_host_is_not_judged():
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(finished.stdout)
    assert owner_is_dead(f"{socket.gethostname()}:{gone}:cafe0001")
    assert owner_is_dead(f"{socket.gethostname()}:{gone}")
    assert not owner_is_dead(f"elsewhere.example:{gone}:cafe0001")

"""Shared helpers of the benchmarks: synthetic events, machine description, result files.

The synthetic stream looks like a training organisation's evidence feed: ~500 learners spread
over 8 training actions, each with a funder; one ``funding.approved`` per learner first, then a
mix of signed half-days, absences and LMS traces (sessions, activities, quizzes, downloads,
media, virtual classes, progress, tutor messages). Deterministic for a given seed; every event
has a distinct ``source_id``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any, Iterator

import orjson

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"

LEARNERS = 500
ACTIONS = [f"ACT-2026-{code}-{n:02d}" for n, code in enumerate(
    ["REACT", "PYTHON", "COMPTA", "RH", "ANGLAIS", "CACES", "SST", "MANAGEMENT"], start=1)]
FUNDERS = [("opco-atlas", "opco"), ("france-travail", "france_travail"), ("region-ara", "region"),
           ("cpf", "cpf"), ("opco-akto", "opco")]
FIRST = ["Camille", "Chloé", "Éloïse", "Théo", "Inès", "Yasmine", "Hugo", "Lucas", "Manon", "Nathan",
         "Léa", "Maximilien", "Zoé", "Mathis", "Aïcha", "Jules", "Sofiane", "Clémence", "Noé", "Anaïs"]
LAST = ["Dubois", "N'Diaye", "Martin-Durand", "Garnier", "Haddad", "Benali", "Lefèvre", "Bernard",
        "Rousseau", "Fournier", "Moreau", "Nguyen", "Petit", "Lambert", "Girard", "Bonnet", "Mercier"]
MODULES = [("mod-js", "JavaScript moderne"), ("mod-react", "Composants React"), ("mod-state", "État et hooks"),
           ("mod-api", "Consommer une API REST"), ("mod-tests", "Tests et qualité"),
           ("mod-secu", "Sécurité des applications"), ("mod-deploy", "Déploiement continu")]
TRAINERS = ["Sophie Lambert", "Karim Aït-Ali", "Julie Roche", "Marc Perrin"]
# (type, weight): what an LMS + attendance feed mostly carries
MIX = [
    ("lms.activity_completed", 24), ("lms.session", 20), ("attendance.signed", 16), ("lms.quiz_attempted", 10),
    ("lms.resource_downloaded", 8), ("lms.media_played", 8), ("lms.progress", 5), ("lms.virtual_class_attended", 4),
    ("attendance.absent", 3), ("lms.tutor_interaction", 2),
]
TZ = dt.timezone(dt.timedelta(hours=2))
START = dt.datetime(2026, 9, 7, 8, 0, tzinfo=TZ)


def _learners(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(LEARNERS):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        ref = f"lrn-{i + 1:05d}"
        plain = unicodedata.normalize("NFKD", f"{first}.{last}.{i + 1}").encode("ascii", "ignore").decode()
        email = plain.lower().replace("'", "").replace(" ", "") + "@example.fr"
        funder, kind = FUNDERS[rng.randrange(len(FUNDERS))]
        out.append({"learner": {"ref": ref, "email": email, "name": f"{first} {last}"},
                    "action": ACTIONS[i % len(ACTIONS)], "funder": funder, "funder_kind": kind})
    return out


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def _event(index: int, rng: random.Random, learners, types, weights) -> dict[str, Any]:
    who = learners[rng.randrange(LEARNERS)]
    day = START + dt.timedelta(days=(index // 4000) % 120, minutes=rng.randrange(0, 9 * 60))
    type_ = rng.choices(types, weights)[0]
    base = {"type": type_, "occurred_at": _iso(day), "source_id": f"{type_.split('.')[-1][:6]}-{index:09d}",
            "learner": who["learner"], "action": who["action"]}
    module, module_name = MODULES[rng.randrange(len(MODULES))]
    if type_ == "attendance.signed":
        half = "am" if day.hour < 13 else "pm"
        data = {"date": day.date().isoformat(), "half_day": half,
                "modality": rng.choice(["presentiel", "presentiel", "distanciel_synchrone"]),
                "signer": "learner", "signer_name": who["learner"]["name"], "trainer_cosigned": True,
                "trainer_name": TRAINERS[index % len(TRAINERS)], "signed_at": _iso(day),
                "proof": "signature électronique (tablette)"}
    elif type_ == "attendance.absent":
        data = {"date": day.date().isoformat(), "half_day": rng.choice(["am", "pm"]),
                "justified": rng.random() < 0.6, "reason": "arrêt maladie" if rng.random() < 0.5 else None}
        if data["reason"] is None:
            del data["reason"]
    elif type_ == "lms.session":
        minutes = rng.randrange(5, 240)
        start = day - dt.timedelta(minutes=minutes)
        data = {"start": _iso(start), "end": _iso(day), "duration_seconds": minutes * 60}
    elif type_ == "lms.activity_completed":
        data = {"activity": f"{module}-{rng.randrange(1, 30)}", "activity_name": module_name,
                "activity_type": rng.choice(["scorm", "page", "h5p", "assign"]),
                "state": rng.choice(["complete", "complete", "pass"]), "estimated_minutes": rng.randrange(5, 180)}
    elif type_ == "lms.quiz_attempted":
        score = rng.randrange(0, 41) / 2
        data = {"activity": f"quiz-{module}", "activity_name": f"Quiz — {module_name}", "attempt": rng.randrange(1, 4),
                "score": f"{score:g}", "max_score": "20", "passed": score >= 10,
                "started_at": _iso(day - dt.timedelta(minutes=20)), "finished_at": _iso(day)}
    elif type_ == "lms.resource_downloaded":
        data = {"resource": f"res-{module}-{rng.randrange(1, 12)}", "resource_name": f"Support — {module_name} (PDF)"}
    elif type_ == "lms.media_played":
        data = {"media": f"vid-{module}-{rng.randrange(1, 8)}", "media_name": f"Vidéo — {module_name}",
                "played_seconds": rng.randrange(30, 1800), "progress_percent": str(rng.randrange(5, 101))}
    elif type_ == "lms.progress":
        data = {"percent": str(rng.randrange(0, 101))}
    elif type_ == "lms.virtual_class_attended":
        minutes = rng.randrange(30, 180)
        data = {"meeting": f"classe-{who['action']}-{day.date()}", "meeting_name": f"Classe virtuelle — {module_name}",
                "joined_at": _iso(day), "left_at": _iso(day + dt.timedelta(minutes=minutes)),
                "duration_seconds": minutes * 60}
    else:  # lms.tutor_interaction
        data = {"kind": rng.choice(["message", "feedback", "live_help"]), "tutor": TRAINERS[index % len(TRAINERS)],
                "summary": "Question sur l'exercice du module, réponse envoyée"}
    base["data"] = data
    return base


def iter_events(count: int, *, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """``count`` event inputs: first one ``funding.approved`` per learner, then the mix."""
    rng = random.Random(seed)
    learners = _learners(rng)
    types = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    for index in range(count):
        if index < LEARNERS:
            who = learners[index]
            yield {"type": "funding.approved", "occurred_at": _iso(START - dt.timedelta(days=10, hours=index % 50)),
                   "source_id": f"pec-{index:09d}", "learner": who["learner"], "action": who["action"],
                   "data": {"funder": who["funder"], "funder_kind": who["funder_kind"], "amount": "2450.00",
                            "hours": "70", "reference": f"PEC-{who['funder'].upper()}-{index:05d}"}}
        else:
            yield _event(index, rng, learners, types, weights)


def ndjson_batches(count: int, batch: int, *, seed: int = 2026) -> list[bytes]:
    """The events as NDJSON request bodies of ``batch`` lines each (built before any timing)."""
    out: list[bytes] = []
    lines: list[bytes] = []
    for event in iter_events(count, seed=seed):
        lines.append(orjson.dumps(event))
        if len(lines) == batch:
            out.append(b"\n".join(lines) + b"\n")
            lines = []
    if lines:
        out.append(b"\n".join(lines) + b"\n")
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import pydantic
    import pydantic_core

    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "pydantic": pydantic.VERSION, "pydantic_core": pydantic_core.__version__, "orjson": orjson.__version__,
        "platform": platform.platform(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    exe = Path(sys.executable)
    try:
        exe = exe.relative_to(REPO)
    except ValueError:
        pass
    data = {"benchmark": name, "command": " ".join([str(exe), *sys.argv]), "machine": machine(),
            "loadavg_at_end": os.getloadavg(), **data}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run_phase(script: str, name: str, folder: Path, *extra: str) -> dict[str, Any]:
    """Run one phase of a bench ``script`` in a fresh process (``--phase NAME --folder F``), so that
    its peak memory is its own; returns the JSON its last output line holds."""
    proc = subprocess.run([sys.executable, script, "--phase", name, "--folder", str(folder), *extra],
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} of {Path(script).name} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parcours_command() -> list[str]:
    """How to run the ``parcours`` command of this interpreter's environment."""
    exe = Path(sys.executable).with_name("parcours")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "hub.cli"]


class DaemonProcess:
    """``parcours run`` in a subprocess, its output in ``log_path``, stopped with SIGTERM: the
    benchmarks' daemons, which differ in their configuration only."""

    def __init__(self, log_path: Path, url: str):
        self.log_path, self.url = log_path, url
        self.log = open(log_path, "wb")
        self.proc: subprocess.Popen | None = None

    def start(self, config: Path, cwd: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([*parcours_command(), "run", "--config", str(config), *extra], cwd=cwd,
                                     env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT)

    async def wait_ready(self, session, timeout: float = 120.0) -> None:
        """Until ``/healthz`` answers 200; RuntimeError when the daemon exits or ``timeout`` passes."""
        import aiohttp

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: {self.tail()}")
            try:
                async with session.get(self.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"daemon not healthy after {timeout:.0f}s: {self.tail()}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, wait for the drain; returns the exit code (killed after ``timeout``)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode if self.proc is not None else 0

    def tail(self, size: int = 2000) -> str:
        self.log.flush()
        return self.log_path.read_bytes()[-size:].decode(errors="replace")

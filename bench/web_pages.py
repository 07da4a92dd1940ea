"""Web pages at scale: every role's pages over real HTTP, against the store calls they make.

Builds (or, with ``--keep``, reuses) a SQLite ledger of ``--events`` events for ``--learners``
enrolments: ``bench/documents_bench.py``'s actions of 500 learners (two weeks each, signed
mornings, FOAD afternoons, LMS traces), each action funded by one of four funders in turn
(``FUNDERS``); the journeys are projected once. Then it starts ``parcours run`` on that ledger
(real HTTP on 127.0.0.1, like ``bench/http_ingest.py``), creates one account per role with
``parcours accounts add`` (TOTP codes from the printed secret, with pyotp), signs each in through
``/app/login`` and ``/app/login/code``, and requests each page ``--requests`` times after one
warm-up request: p50 / p95 / p99 per page, once the daemon's journeys job has stored every
enrolment's figures and attendance of the day (hub.web.figured), as a running daemon keeps them.

The baseline, timed in the same run in this process on the same store file: the store and
projection calls the route makes (``STORE_CALLS``: the same functions, without HTTP, the session,
the computation of the journeys nor the template). The ratio page p95 / store p95 says what the
web layer costs on top of reading. Target: every page < 300 ms at p95 (issue 13).

    .venv/bin/python bench/web_pages.py --keep /tmp/parcours-webbench          # 2,000,000 events, 10,000 learners
    .venv/bin/python bench/web_pages.py --events 200000 --learners 1000 --requests 20   # a smaller run

``--json`` prints the result; ``--output FILE`` also writes it with the machine's description.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
import documents_bench  # noqa: E402

HOST = "127.0.0.1"
TODAY = documents_bench.TODAY  # the pages' "today" is the real date; the ledger ends before it
FUNDERS = [("opco-atlas", "opco"), ("france-travail", "france_travail"), ("region-ara", "region"), ("cpf", "cpf")]
PASSWORD = "bench-web-pages-" + "x" * 8  # the accounts live in the bench's own throw-away store


def funder_of(k: int) -> tuple[str, str]:
    """The funder of action ``k`` (the actions are funded by the four in turn)."""
    return FUNDERS[k % len(FUNDERS)]


def phase_load(folder: Path, events: int, learners: int) -> dict[str, Any]:
    """The ledger: documents_bench's actions, each with its funder; journeys projected."""
    from hub.journeys import rebuild
    from hub.ledger.integrity import seal
    from hub.store.sqlite import SQLiteStore

    generate = documents_bench.action_events

    def funded(k: int, per_learner: int, rng) -> list[dict[str, Any]]:
        out = generate(k, per_learner, rng)
        funder, kind = funder_of(k)
        for event in out:
            if event["type"] == "funding.approved":
                event["data"] = {**event["data"], "funder": funder, "funder_kind": kind}
        return out

    documents_bench.action_events = funded
    load = documents_bench.phase_load(folder, events, learners)
    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    started = time.perf_counter()
    seal(store, max_events=10_000)  # as a running hub keeps it: the daemon's seal job finds nothing to do
    print(f"  sealed in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    started = time.perf_counter()
    rebuild(store)
    projected = time.perf_counter() - started
    store.close()
    print(f"  journeys projected in {projected:.0f} s", file=sys.stderr, flush=True)
    return {**load, "rebuild_seconds": round(projected, 1)}


# ---------------------------------------------------------------------------------------------
# the daemon, the accounts, the pages

ROLES = {  # role -> (e-mail, options of `parcours accounts add` beyond the scope, fixed TOTP secret)
    "trainer": "formatrice@bench.example",
    "manager": "responsable@bench.example",
    "learner": "apprenant@bench.example",
    "funder": "financeur@bench.example",
}
#: base32 TOTP secrets given to `parcours accounts add --totp-secret-file`, so that a kept ledger's
#: accounts can sign in again in the next run (the store is the bench's own, thrown away after)
TOTP_SECRETS = {role: secret for role, secret in zip(ROLES, ("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                                                             "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU",
                                                             "MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK",
                                                             "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"))}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``, in milliseconds."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return round(1000 * ordered[int(rank) - 1], 1)


def figures(values: list[float]) -> dict[str, float]:
    return {"p50": round(1000 * statistics.median(values), 1), "p95": percentile(values, 95),
            "p99": percentile(values, 99), "max": round(1000 * max(values), 1)}


def web_config(folder: Path, port: int) -> Path:
    """The ledger's configuration (hub.yaml, written by the load) served on ``port``."""
    text = (folder / "hub.yaml").read_text(encoding="utf-8")
    text = text.replace('  http: {public_url: "https://of-demo.example.fr"}\n',
                        f"  http: {{host: {HOST}, port: {port}, public_url: \"http://{HOST}:{port}\"}}\n")
    path = folder / "web.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def scope_options(role: str, actions: list[str], learner_id: str) -> list[str]:
    if role == "trainer":
        return ["--action", actions[0]]
    if role == "manager":  # every action: the largest page a manager can ask for
        return [o for a in actions for o in ("--action", a)]
    if role == "learner":
        return ["--learner", learner_id]
    return ["--funder", funder_of(0)[0]]


def make_accounts(config: Path, actions: list[str], learner_id: str) -> None:
    for role, email in ROLES.items():
        secret = config.parent / f"totp-{role}"
        secret.write_text(TOTP_SECRETS[role] + "\n", encoding="utf-8")
        run = subprocess.run([*common.parcours_command(), "accounts", "add", "--config", str(config), email, "--role", role,
                              *scope_options(role, actions, learner_id), "--password-file", "-", "--totp",
                              "--totp-secret-file", str(secret), "--if-missing"],
                             input=PASSWORD + "\n", capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"parcours accounts add {role}: {run.stderr or run.stdout}")


def make_audit_link(config: Path, action: str) -> tuple[str, list[str]]:
    """A new link to a sample of 20 learners of ``action``: its token and its learners."""
    run = subprocess.run([*common.parcours_command(), "audit-link", "create", "--config", str(config), "--action", action, "--sample", "20",
                          "--seed", "2026", "--expires", "1d", "--label", "bench", "--json"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"parcours audit-link create: {run.stderr or run.stdout}")
    made = json.loads(run.stdout)
    return made["url"].rsplit("/", 1)[1], list(made["learners"])


def sample_ids(folder: Path, action: str) -> dict[str, str]:
    """A learner of ``action`` (the first by id), one of its events, and the audit link's first learner."""
    import sqlite3

    conn = sqlite3.connect(folder / "hub.db")
    try:
        learner = conn.execute("SELECT learner_id FROM journeys WHERE action = ? ORDER BY learner_id LIMIT 1",
                               (action,)).fetchone()[0]
        event = conn.execute("SELECT id FROM events WHERE learner_id = ? AND type = 'attendance.signed' LIMIT 1",
                             (learner,)).fetchone()[0]
    finally:
        conn.close()
    return {"learner": learner, "event": event}


class Daemon(common.DaemonProcess):
    """``parcours run`` on the kept ledger, stopped with SIGTERM."""

    def __init__(self, folder: Path, config: Path, port: int):
        self.folder, self.config, self.port = folder, config, port
        super().__init__(folder / "daemon.log", f"http://{HOST}:{port}")

    def start(self) -> None:
        super().start(self.config, self.folder)


async def sign_in(url: str, role: str):
    """An aiohttp session signed in as ``role`` (password, then the TOTP code), as a person does."""
    import aiohttp
    import pyotp

    session = aiohttp.ClientSession(base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def post(path: str, data: dict) -> int:
        async with session.get(path, allow_redirects=False) as page:
            token = CSRF.search(await page.text())
        if token is None:
            raise SystemExit(f"{role}: no form token in {path}")
        async with session.post(path, data={"csrf_token": token[1], **data}, allow_redirects=False) as resp:
            return resp.status

    if await post("/app/login", {"email": ROLES[role], "password": PASSWORD}) != 303:
        raise SystemExit(f"{role}: the password was refused")
    if await post("/app/login/code", {"code": pyotp.TOTP(TOTP_SECRETS[role]).now(), "next": "/app/"}) != 303:
        raise SystemExit(f"{role}: the TOTP code was refused")
    return session


def pages(actions: list[str], ids: dict[str, str], token: str, day: str) -> list[tuple[str, str | None, str]]:
    """(name, role or None for the auditor's link, path) of every page measured."""
    first = actions[0]
    return [
        ("trainer today", "trainer", f"/app/trainer/today?action={first}&date={day}"),
        ("trainer weeks (live refresh)", "trainer", f"/app/trainer/today/weeks?action={first}&date={day}"),
        ("manager actions", "manager", "/app/manager/actions"),
        ("manager action", "manager", f"/app/manager/actions/{first}"),
        ("manager enrolment", "manager", f"/app/manager/enrolments/{ids['learner']}/{first}"),
        ("manager event", "manager", f"/app/manager/events/{ids['event']}"),
        ("learner journey", "learner", "/app/learner/journey"),
        ("funder enrolments", "funder", "/app/funder/enrolments"),
        ("funder enrolment", "funder", f"/app/funder/enrolments/{ids['learner']}/{first}"),
        ("funder exports", "funder", "/app/funder/exports"),
        ("audit link", None, f"/app/audit/{token}"),
        ("audit link learner", None, f"/app/audit/{token}/learners/{ids['audit_learner']}"),
    ]


async def measure_pages(url: str, listed, requests: int, budget: float) -> dict[str, dict[str, Any]]:
    """Each page ``requests`` times after a warm-up, or fewer (three at least) when they take more
    than ``budget`` seconds in all; a page that does not answer 200 is reported with its status."""
    import aiohttp

    sessions = {role: await sign_in(url, role) for role in ROLES}
    sessions[None] = aiohttp.ClientSession(base_url=url)
    out = {}
    try:
        for name, role, path in listed:
            session = sessions[role]
            times, size, status = [], 0, 200
            shown = re.sub(r"/audit/[^/]+", "/audit/<token>", path)
            for i in range(requests + 1):  # the first one warms up (template, caches)
                started = time.perf_counter()
                async with session.get(path, allow_redirects=False) as resp:
                    body = await resp.read()
                    status = resp.status
                if status != 200:
                    print(f"  {name}: HTTP {status} after {time.perf_counter() - started:.1f} s: {body[:200]!r}",
                          file=sys.stderr, flush=True)
                    break
                if i:
                    times.append(time.perf_counter() - started)
                size = len(body)
                if len(times) >= 3 and sum(times) > budget:
                    break
            if status != 200:
                out[name] = {"path": shown, "status": status}
                continue
            out[name] = {"path": shown, "bytes": size, "requests": len(times), **figures(times)}
            print(f"  {name}: p95 {out[name]['p95']} ms ({len(times)} requests)", file=sys.stderr, flush=True)
    finally:
        for session in sessions.values():
            await session.close()
    return out


def store_calls(store, config, actions: list[str], ids: dict[str, str], token: str) -> dict[str, Any]:
    """Per page, the store (and file) reads its route makes, as one function: the baseline."""
    from hub.audit.links import AuditLink, hash_token
    from hub.web.funded import PAGE, exports_for, funds
    from hub.web.routes_manager import ENROLMENTS_PAGE as LIST_PAGE

    first = actions[0]
    funders = (funder_of(0)[0],)

    def funded_page():  # chunks of the projection until a page (and one more) of funded enrolments is read
        after, kept = None, 0
        while kept <= LIST_PAGE and (states := store.journeys_page(after, min(PAGE, 2 * (LIST_PAGE + 1)))):
            after = (states[-1]["learner_id"], states[-1]["action"])
            kept += sum(1 for s in states if funds(funders, s.get("funders") or {}))

    def audit_link():
        link = AuditLink.of(store.audit_link_by_token_hash(hash_token(token)))
        store.load_journeys([(learner, link.action) for learner in link.learners])

    def audit_learner():
        store.audit_link_by_token_hash(hash_token(token))
        store.load_journeys([(ids["audit_learner"], first)])
        aliases = store.learner_aliases(ids["audit_learner"])
        store.learner_events_page([ids["audit_learner"], *aliases], action=first, after_seq=0, limit=200)

    return {
        "trainer today": lambda: (store.journey_attendance([first]),  # the stored attendance (hub.web.figured)
                                  store.journey_flags(first)),  # the risk list's stored rows (hub.risk.listing)
        "trainer weeks (live refresh)": lambda: store.journey_attendance([first]),
        "manager actions": lambda: [store.journey_figures(a) for a in actions],  # the stored figures (hub.web.figured)
        "manager action": lambda: (store.journeys_page(None, LIST_PAGE + 1, action=first),  # the page
                                   store.journey_flags(first)),  # the risk list's stored rows (hub.risk.listing)
        "manager enrolment": lambda: store.journeys(action=first, learner_id=ids["learner"]),
        "manager event": lambda: (store.get_event(ids["event"], unreadable=True),
                                  store.journeys(learner_id=ids["learner"])),
        "learner journey": lambda: store.journeys(learner_id=ids["learner"]),
        "funder enrolments": funded_page,
        "funder enrolment": lambda: store.journeys(action=first, learner_id=ids["learner"]),
        "funder exports": lambda: exports_for(config, funders),
        "audit link": audit_link,
        "audit link learner": audit_learner,
    }


def loaded_config(config_path: Path):
    from hub.config import load_config
    from hub.plugins import load_plugins

    plugins = load_plugins({})
    return load_config(config_path, plugins.connector_classes(), env={}, format_classes=plugins.funder_format_classes())


def unfigured(folder: Path, basis: str) -> int:
    """How many journeys lack stored figures and attendance of ``basis`` (hub.web.figured)."""
    import sqlite3

    conn = sqlite3.connect(folder / "hub.db")
    try:
        return conn.execute("SELECT count(*) FROM journeys j LEFT JOIN journey_figures f ON f.learner_id = j.learner_id "
                            "AND f.action = j.action WHERE f.basis IS NULL OR f.basis != ?", (basis,)).fetchone()[0]
    finally:
        conn.close()


async def wait_figured(folder: Path, config_path: Path, timeout: float = 3600.0) -> float:
    """Wait until the daemon's journeys job has stored every enrolment's figures and attendance of
    today (its basis names the configuration, whose port changes each run: a kept ledger's rows are
    all stale when the daemon starts); returns how long it took. The pages are timed after, as a
    running daemon serves them."""
    import datetime as dt

    from hub.web.figured import basis_of

    config = loaded_config(config_path)
    basis = basis_of(config, dt.datetime.now(config.timezone).date())
    started = time.perf_counter()
    while (left := await asyncio.to_thread(unfigured, folder, basis)) > 0:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"the journeys job left {left} enrolments without figures after {timeout:.0f} s")
        await asyncio.sleep(2.0)
    return round(time.perf_counter() - started, 1)


def measure_store(folder: Path, config_path: Path, actions, ids, token: str, requests: dict[str, int]) -> dict[str, Any]:
    """Each page's reads, as many times as the page was timed (after one warm-up)."""
    from hub.store.sqlite import SQLiteStore

    config = loaded_config(config_path)
    store = SQLiteStore(folder / "hub.db", synchronous="normal")
    out = {}
    try:
        for name, call in store_calls(store, config, actions, ids, token).items():
            times = []
            for i in range(requests[name] + 1):
                started = time.perf_counter()
                call()
                if i:
                    times.append(time.perf_counter() - started)
            out[name] = figures(times)
    finally:
        store.close()
    return out


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ledger_actions(folder: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(folder / "hub.db")
    try:
        return [r[0] for r in conn.execute("SELECT DISTINCT action FROM journeys ORDER BY action")]
    finally:
        conn.close()


def serve_and_measure(folder: Path, requests: int, budget: float) -> dict[str, Any]:
    import aiohttp

    port = free_port()
    config = web_config(folder, port)
    actions = ledger_actions(folder)
    ids = sample_ids(folder, actions[0])
    make_accounts(config, actions, ids["learner"])
    token, sampled = make_audit_link(config, actions[0])
    ids["audit_learner"] = sampled[0]
    listed = pages(actions, ids, token, documents_bench.action_days(0)[0].isoformat())
    daemon = Daemon(folder, config, port)
    daemon.start()
    waited: dict[str, float] = {}

    async def run() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            await daemon.wait_ready(session)
        print("  waiting for the journeys job's figures of the day …", file=sys.stderr, flush=True)
        waited["figured_seconds"] = await wait_figured(folder, config)
        print(f"  stored in {waited['figured_seconds']} s", file=sys.stderr, flush=True)
        return await measure_pages(daemon.url, listed, requests, budget)

    try:
        measured = asyncio.run(run())
    finally:
        code = daemon.stop()
    if code != 0:
        raise SystemExit(f"daemon exited with {code} after SIGTERM: {daemon.tail()}")
    print("  the same reads on the store …", file=sys.stderr, flush=True)
    baseline = measure_store(folder, config, actions, ids, token, {n: p.get("requests", 3) for n, p in measured.items()})
    for name, page in measured.items():
        page["store"] = baseline[name]
        if "p95" in page:
            page["ratio_p95"] = round(page["p95"] / baseline[name]["p95"], 1) if baseline[name]["p95"] else None
    return {"actions": len(actions), **waited, "pages": measured}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="ledger size (the issue's: 2000000)")
    parser.add_argument("--learners", type=int, default=10_000, help="enrolments, a multiple of 500 (the issue's: 10000)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (after one warm-up)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds of timed requests per page, after which a page stops (3 requests at least)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", help="also write the result (with the machine's description) to this JSON file")
    parser.add_argument("--keep", help="build the ledger in this folder and keep it (reused when it holds one)")
    parser.add_argument("--phase", choices=["load"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase_load(Path(args.folder), args.events, args.learners)))
        return
    with tempfile.TemporaryDirectory(prefix="parcours-webbench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "hub.yaml").exists():
            load = {"reused": str(folder)}
        else:
            print(f"building a ledger of {args.events} events for {args.learners} learners in {folder}", file=sys.stderr)
            load = common.run_phase(__file__, "load", folder, "--events", str(args.events), "--learners", str(args.learners))
        print(f"load: {load}", file=sys.stderr)
        result = {"parameters": {"events": args.events, "learners": args.learners, "requests": args.requests},
                  "load": load, **serve_and_measure(folder, args.requests, args.budget)}
    if args.output:
        data = {"benchmark": "web_pages", "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": common.machine(), "loadavg_at_end": os.getloadavg(), **result}
        Path(args.output).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    print(f"{result['actions']} actions; the journeys job stored the figures of the day in {result['figured_seconds']} s; "
          f"{args.requests} requests per page after one warm-up; load average {os.getloadavg()[0]:.1f}")
    print(f"{'page':<30}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'store p95':>11}{'ratio':>8}  < 300 ms")
    for name, page in result["pages"].items():
        if "p95" not in page:
            print(f"{name:<30}  HTTP {page['status']} (hub.http.request_timeout: 503)")
            continue
        ok = "yes" if page["p95"] < 300 else "NO"
        print(f"{name:<30}{page['p50']:>9}{page['p95']:>9}{page['p99']:>9}{page['store']['p95']:>11}"
              f"{page['ratio_p95'] or 0:>8}  {ok}")


if __name__ == "__main__":
    main()

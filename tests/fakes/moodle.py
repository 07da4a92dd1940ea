"""A fake Moodle: a real local aiohttp server speaking Moodle's REST web-service protocol.

``POST /webservice/rest/server.php`` with ``wstoken``, ``wsfunction``, ``moodlewsrestformat=json``
and the function's parameters, form-encoded with Moodle's bracket notation
(``courseids[0]=3``). Like Moodle, it answers errors with HTTP 200 and an ``exception`` body,
taken from the recorded ``ws/errors/*.json`` of a real Moodle 4.4:

* a wrong, empty or expired token → ``invalid_token.json`` (``invalidtoken``);
* a function that is not in the token's service → ``function_not_in_service.json``;
* a function configured as lacking a capability → Moodle's ``required_capability_exception``;
* a call whose parameters have no answer → ``invalid_parameter_type.json``-like body naming them.

Two back ends answer the calls:

* :class:`RecordedMoodle` replays ``tests/fixtures/moodle/ws/*.json``: a call is answered
  with the recorded response whose ``wsfunction`` and form fields (the token aside) are exactly
  those posted, whatever their order;
* :class:`tests.fakes.moodle_dataset.GeneratedMoodle` computes answers of the same shapes from a
  generated data set (another course, other learners and activities).

Tests can inject HTTP failures (``fail_next(503, retry_after=1)``) and count calls per function.
Run it by hand: ``python -m tests.fakes.moodle --port 8093`` (token ``fake-moodle-token``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import copy
import json
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

from aiohttp import web

# the recordings of a real Moodle 4.4 (where they come from: tests/fixtures/moodle/README.md)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "moodle"
WS_DIR = FIXTURES / "ws"
REST_PATH = "/webservice/rest/server.php"
TOKEN = "fake-moodle-token-0123456789abcdef"
META = ("wstoken", "wsfunction", "moodlewsrestformat")


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def recorded_error(name: str) -> dict[str, Any]:
    """The ``response`` of ``ws/errors/<name>.json`` (an ``exception`` body)."""
    return load_json(WS_DIR / "errors" / f"{name}.json")["response"]


def parse_fields(fields: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Moodle's bracket notation to nested values: ``options[ids][0]=3`` → ``{"options": {"ids": ["3"]}}``."""
    root: dict[str, Any] = {}
    for key, value in fields:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: lists(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return lists(root)


class RecordedMoodle:
    """Answers from the recordings: (wsfunction, set of form fields) → recorded response."""

    def __init__(self, ws_dir: Path = WS_DIR):
        self.answers: dict[tuple[str, frozenset], Any] = {}
        for path in sorted(ws_dir.glob("*.json")):
            exchange = load_json(path)
            request = exchange["request"]
            fields = frozenset((k, v) for k, v in request["form_fields"] if k not in META)
            self.answers[(request["wsfunction"], fields)] = exchange["response"]
        site = self.answers[("core_webservice_get_site_info", frozenset())]
        self.functions = [f["name"] for f in site["functions"]]

    def site_info(self) -> dict[str, Any]:
        return copy.deepcopy(self.answers[("core_webservice_get_site_info", frozenset())])

    def answer(self, function: str, fields: list[tuple[str, str]]) -> tuple[bool, Any]:
        key = (function, frozenset(fields))
        if key not in self.answers:
            return False, None
        return True, copy.deepcopy(self.answers[key])


class FakeMoodle:
    """The HTTP front: token, service functions, capabilities, failures; a back end answers."""

    def __init__(self, backend: Any, *, token: str = TOKEN):
        self.backend = backend
        self.token = token
        self.expired = False
        self.functions: list[str] = list(backend.functions)
        self.missing_capability: dict[str, tuple[str, str]] = {}  # function -> (capability, its display name)
        self.deny: set[str] = set()  # listed by get_site_info, refused when called (user- or IP-restricted service)
        self.failure_times: list[float] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.log: list[tuple[float, str, list[tuple[str, str]]]] = []
        self.http_requests = 0
        self._failures: collections.deque[tuple[int, str | None]] = collections.deque()
        self.fail_always: tuple[int, str | None] | None = None
        self.url = ""

    # ------------------------------------------------------------------ test controls
    def fail_next(self, status: int, *, times: int = 1, retry_after: str | int | None = None) -> None:
        for _ in range(times):
            self._failures.append((status, None if retry_after is None else str(retry_after)))

    def remove_functions(self, *names: str) -> None:
        self.functions = [f for f in self.functions if f not in names]

    def per_user_calls(self) -> int:
        per_user = ("core_completion_get_activities_completion_status", "core_completion_get_course_completion_status",
                    "mod_quiz_get_user_attempts", "mod_scorm_get_scorm_attempt_count", "mod_scorm_get_scorm_sco_tracks")
        return sum(self.calls[f] for f in per_user)

    def reset_counts(self) -> None:
        self.calls.clear()
        self.log.clear()
        self.http_requests = 0

    # ------------------------------------------------------------------ HTTP
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(REST_PATH, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        self.http_requests += 1
        failure = self._failures.popleft() if self._failures else self.fail_always
        if failure is not None:
            self.failure_times.append(time.monotonic())
            status, retry_after = failure
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return web.Response(status=status, text=f"<html><body>HTTP {status}</body></html>",
                                content_type="text/html", headers=headers)
        if request.content_type != "application/x-www-form-urlencoded":
            return self._json(recorded_error("invalid_parameter_type"))
        form = await request.post()
        fields = [(k, str(v)) for k, v in form.items()]
        values = dict(fields)
        function = values.get("wsfunction", "")
        token = values.get("wstoken", "")
        params = [(k, v) for k, v in fields if k not in META]
        if not token or token != self.token or self.expired:
            return self._json(recorded_error("missing_token" if not token else "invalid_token"))
        if values.get("moodlewsrestformat") != "json":
            return web.Response(text="<?xml version=\"1.0\"?><RESPONSE/>", content_type="application/xml")
        self.calls[function] += 1
        self.log.append((time.monotonic(), function, params))
        if function not in self.functions or function in self.deny:
            known = function in self.backend.functions or hasattr(self.backend, f"ws_{function}")
            return self._json(recorded_error("function_not_in_service" if known else "function_does_not_exist"))
        if function in self.missing_capability:
            capability, label = self.missing_capability[function]
            return self._json({
                "exception": "required_capability_exception", "errorcode": "nopermissions",
                "message": f"Sorry, but you do not currently have permissions to do that ({label}).",
            })
        if function == "core_webservice_get_site_info" and not params:
            site = self.backend.site_info()
            site["functions"] = [{"name": f, "version": site.get("version", "2023112400")} for f in self.functions]
            return self._json(site)
        found, answer = self.backend.answer(function, params)
        if not found:
            body = dict(recorded_error("invalid_parameter_type--debug-developer"))
            body["debuginfo"] = f"fake Moodle: no answer for {function} with {sorted(params)}"
            return self._json(body)
        return self._json(answer)

    @staticmethod
    def _json(value: Any) -> web.Response:
        # Moodle escapes "/" on the wire; json.dumps does not, which any JSON reader accepts alike
        return web.Response(text=json.dumps(value, ensure_ascii=False), content_type="application/json")


@contextlib.asynccontextmanager
async def running(fake: FakeMoodle, port: int = 0) -> AsyncIterator[FakeMoodle]:
    """Serve ``fake`` on 127.0.0.1 (a free port unless given); ``fake.url`` is its root URL."""
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def recorded_peer(folder: Any = None) -> AsyncIterator[dict[str, Any]]:
    """A contract-kit peer: the recorded Moodle, as config overrides."""
    async with running(FakeMoodle(RecordedMoodle())) as fake:
        yield {"url": fake.url, "token": TOKEN}


@contextlib.asynccontextmanager
async def failing_peer(status: int, folder: Any = None) -> AsyncIterator[dict[str, Any]]:
    """A contract-kit failing peer: every request answers HTTP ``status`` (``Retry-After: 1`` on 429)."""
    fake = FakeMoodle(RecordedMoodle())
    fake.fail_always = (status, "1" if status == 429 else None)
    async with running(fake) as fake:
        yield {"url": fake.url, "token": TOKEN}


def main() -> None:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--generated", action="store_true", help="serve a generated data set instead of the recordings")
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--activities", type=int, default=12)
    args = parser.parse_args()
    if args.generated:
        from tests.fakes.moodle_dataset import GeneratedMoodle, generate

        backend: Any = GeneratedMoodle([generate(learners=args.learners, activities=args.activities)])
    else:
        backend = RecordedMoodle()

    async def serve() -> None:
        async with running(FakeMoodle(backend), args.port) as fake:
            print(f"fake Moodle on {fake.url} (token {TOKEN})", flush=True)
            await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":  # pragma: no cover
    main()

"""A fake Edusign external API: a real local aiohttp server speaking the documented protocol.

What it serves (shapes from developers.edusign.com and Edusign's own Moodle plugin,
github.com/Edusign/moodle-mod_edusign, classes/commons/EdusignApi.php and locallib.php):

* ``Authorization: Bearer <key>`` on every ``/v1`` route; a wrong key gets HTTP 401 (text
  ``Unauthorized``, as Edusign answers);
* answers ``{"status": "success", "result": …}``, business errors ``{"status": "error",
  "message": …}`` with HTTP 200;
* ``GET /v1/school``; ``GET /v1/course?page=&start=&end=`` (pages of ``page_size`` courses whose
  ``START`` lies in [start, end], page numbers from 0); ``GET /v1/course/{id}``;
  ``GET /v1/student/{id}``; ``GET /v1/professor/{id}``;
* signature images at ``/signatures/{name}.png`` (no auth, like a CDN link).

Failures can be injected: ``fail_all`` answers every request with one status, ``fail_next``
queues statuses for the next requests (with ``Retry-After`` on 429).

Run it by hand: ``python -m tests.fakes.edusign_fake --port 8092 --key demo-edusign-key``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import datetime as dt
from typing import Any, AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer

# a 1×1 transparent PNG: what a signature image looks like to the connector
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG + b"learner-2").decode()


def _parse(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def sample_dataset(base_url: str = "{base}") -> dict[str, Any]:
    """Courses, students and professors shaped like Edusign's answers (dates in UTC, as Edusign sends).

    ``{base}`` in signature URLs is replaced by the server's URL when it starts.
    """
    students = {
        "stu-1": {"ID": "stu-1", "FIRSTNAME": "Camille", "LASTNAME": "Dubois", "EMAIL": "camille.dubois@example.fr",
                  "API_ID": "moodle-17"},
        "stu-2": {"ID": "stu-2", "FIRSTNAME": "Chloé", "LASTNAME": "N'Diaye", "EMAIL": "chloe.ndiaye@example.fr",
                  "API_ID": ""},
        "stu-3": {"ID": "stu-3", "FIRSTNAME": "Hugo", "LASTNAME": "Lefèvre", "EMAIL": "hugo.lefevre@example.fr"},
        "stu-4": {"ID": "stu-4", "FIRSTNAME": "Inès", "LASTNAME": "Haddad", "EMAIL": "ines.haddad@example.fr"},
    }
    professors = {
        "prof-1": {"ID": "prof-1", "FIRSTNAME": "Sophie", "LASTNAME": "Lambert", "EMAIL": "sophie.lambert@example.fr"},
        "prof-2": {"ID": "prof-2", "FIRSTNAME": "Marc", "LASTNAME": "Petit", "EMAIL": "marc.petit@example.fr"},
    }
    courses = [
        {   # Monday morning, classroom, locked by the trainer: everything is final
            "ID": "crs-101", "NAME": "ACT-2026-REACT-01 — React, les bases", "START": "2026-10-05T07:00:00.000Z",
            "END": "2026-10-05T10:30:00.000Z", "LOCKED": True, "CLASSROOM": "Salle Lumière", "ZOOM": False,
            "TRAINING_ID": "tr-react", "API_ID": None, "DESCRIPTION": "",
            "PROFESSOR": "prof-1", "PROFESSOR_SIGNATURE": f"{base_url}/signatures/prof-1-crs-101.png",
            "PROFESSOR_2": "prof-2", "PROFESSOR_SIGNATURE_2": None,
            "STUDENTS": [
                {"_id": "att-1", "studentId": "stu-1", "state": True, "timestamp": "2026-10-05T07:04:00.000Z",
                 "signature": f"{base_url}/signatures/stu-1-crs-101.png", "delay": 0, "comment": None,
                 "absenceId": None, "excluded": None, "signatureEmail": None},
                {"_id": "att-2", "studentId": "stu-2", "state": True, "timestamp": "2026-10-05T07:08:00.000Z",
                 "signature": DATA_URL, "delay": 5, "comment": None, "absenceId": None},
                {"_id": "att-3", "studentId": "stu-3", "state": False, "timestamp": None, "signature": None,
                 "comment": None, "absenceId": None, "signatureEmail": {"nbSent": 2, "requestId": "rq-1"}},
                {"_id": "att-4", "studentId": "stu-4", "state": False, "timestamp": None, "signature": None,
                 "comment": "Arrêt maladie", "absenceId": "abs-77"},
            ],
        },
        {   # Monday afternoon, by visio (ZOOM), not locked but long over
            "ID": "crs-102", "NAME": "ACT-2026-REACT-01 — Hooks", "START": "2026-10-05T11:30:00.000Z",
            "END": "2026-10-05T15:00:00.000Z", "LOCKED": False, "ZOOM": True, "TRAINING_ID": "tr-react",
            "PROFESSOR": "prof-1", "PROFESSOR_SIGNATURE": f"{base_url}/signatures/prof-1-crs-102.png",
            "STUDENTS": [
                {"_id": "att-5", "studentId": "stu-1", "state": True, "timestamp": "2026-10-05T11:35:00.000Z",
                 "signature": f"{base_url}/signatures/stu-1-crs-102.png"},
                {"_id": "att-6", "studentId": "stu-2", "state": False, "timestamp": None, "signature": None},
            ],
        },
        {   # a course Edusign returned without START: dead-lettered, the rest is read
            "ID": "crs-broken", "NAME": "Cours sans date", "END": "2026-10-06T10:00:00.000Z", "STUDENTS": [],
        },
        {   # one malformed learner entry, one good one
            "ID": "crs-103", "NAME": "ACT-2026-REACT-01 — Atelier", "START": "2026-10-06T07:00:00.000Z",
            "END": "2026-10-06T10:00:00.000Z", "LOCKED": True, "TRAINING_ID": "tr-react",
            "PROFESSOR": "prof-2", "PROFESSOR_SIGNATURE": None,
            "STUDENTS": [
                {"_id": "att-7", "studentId": "stu-3", "state": "oui", "timestamp": None, "signature": None},
                {"_id": "att-8", "studentId": "stu-4", "state": True, "timestamp": "2026-10-06T07:02:00.000Z",
                 "signature": f"{base_url}/signatures/stu-4-crs-103.png"},
            ],
        },
        {   # two weeks later (another backfill window), student unknown to /v1/student
            "ID": "crs-201", "NAME": "ACT-2026-REACT-01 — Tests", "START": "2026-10-19T07:00:00.000Z",
            "END": "2026-10-19T10:30:00.000Z", "LOCKED": True, "TRAINING_ID": "tr-react",
            "PROFESSOR": "prof-1", "PROFESSOR_SIGNATURE": f"{base_url}/signatures/prof-1-crs-201.png",
            "STUDENTS": [
                {"_id": "att-9", "studentId": "stu-1", "state": True, "timestamp": "2026-10-19T07:01:00.000Z",
                 "signature": f"{base_url}/signatures/stu-1-crs-201.png"},
                {"_id": "att-10", "studentId": "stu-gone", "state": True, "timestamp": "2026-10-19T07:03:00.000Z",
                 "signature": f"{base_url}/signatures/stu-gone-crs-201.png"},
            ],
        },
        {   # in the future: never read before it happened
            "ID": "crs-999", "NAME": "Plus tard", "START": "2030-01-07T08:00:00.000Z", "END": "2030-01-07T11:00:00.000Z",
            "PROFESSOR": "prof-1", "PROFESSOR_SIGNATURE": None, "STUDENTS": [{"studentId": "stu-1", "state": False}],
        },
    ]
    return {"students": students, "professors": professors, "courses": courses}


class FakeEdusign:
    """The fake's state: its data, the requests it received and the failures to inject."""

    def __init__(self, *, api_key: str = "test-edusign-key", page_size: int = 2,
                 dataset: dict[str, Any] | None = None):
        self.api_key = api_key
        self.page_size = page_size
        self.dataset = copy.deepcopy(dataset or sample_dataset())
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.authorizations: list[tuple[str, str | None]] = []  # (path, Authorization header)
        self.fail_all: int | None = None
        self.fail_next: list[int] = []
        self.retry_after = "1"
        self.courses_error: str | None = None  # answer GET /v1/course with this business error
        self.url = ""

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1/school", self.school)
        app.router.add_get("/v1/course", self.courses)
        app.router.add_get("/v1/course/{id}", self.course)
        app.router.add_get("/v1/student/{id}", self.student)
        app.router.add_get("/v1/professor/{id}", self.professor)
        app.router.add_get("/signatures/{name}", self.signature)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        self.requests.append((request.method, request.path, dict(request.query)))
        self.authorizations.append((request.path, request.headers.get("Authorization")))
        status = self.fail_next.pop(0) if self.fail_next else self.fail_all
        if status is not None:
            headers = {"Retry-After": self.retry_after} if status == 429 else {}
            return web.Response(status=status, text="Too Many Requests" if status == 429 else "Error", headers=headers)
        if request.path.startswith("/v1/"):
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return web.Response(status=401, text="Unauthorized")
        return await handler(request)

    @staticmethod
    def ok(result: Any) -> web.Response:
        return web.json_response({"status": "success", "result": result})

    @staticmethod
    def error(message: str) -> web.Response:
        return web.json_response({"status": "error", "message": message})

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{base}", self.url)
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    async def school(self, request: web.Request) -> web.Response:
        return self.ok({"ID": "school-1", "NAME": "Organisme de formation Démo"})

    async def courses(self, request: web.Request) -> web.Response:
        if self.courses_error:
            return self.error(self.courses_error)
        try:
            page = int(request.query.get("page", "0"))
            start = _parse(request.query["start"]) if "start" in request.query else None
            end = _parse(request.query["end"]) if "end" in request.query else None
        except (ValueError, KeyError) as exc:
            return self.error(f"invalid parameters: {exc}")
        selected = []
        for course in self.dataset["courses"]:
            if "START" in course:
                begin = _parse(course["START"])
                if (start and begin < start) or (end and begin > end):
                    continue
            # a course without START (broken record) is returned for every query
            selected.append(course)
        selected.sort(key=lambda c: (c.get("START", ""), c["ID"]))
        chunk = selected[page * self.page_size:(page + 1) * self.page_size]
        return self.ok(self._resolve(copy.deepcopy(chunk)))

    async def course(self, request: web.Request) -> web.Response:
        for course in self.dataset["courses"]:
            if course["ID"] == request.match_info["id"]:
                return self.ok(self._resolve(copy.deepcopy(course)))
        return self.error("Course not found")

    async def student(self, request: web.Request) -> web.Response:
        found = self.dataset["students"].get(request.match_info["id"])
        return self.ok(found) if found else self.error("Student not found")

    async def professor(self, request: web.Request) -> web.Response:
        found = self.dataset["professors"].get(request.match_info["id"])
        return self.ok(found) if found else self.error("Professor not found")

    async def signature(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(body=PNG + name.encode(), content_type="image/png")

    def count(self, path: str) -> int:
        return sum(1 for _m, p, _q in self.requests if p == path)


@contextlib.asynccontextmanager
async def running(fake: FakeEdusign | None = None) -> AsyncIterator[FakeEdusign]:
    """Start ``fake`` (or a new one) on a free local port; ``fake.url`` is its root URL."""
    fake = fake or FakeEdusign()
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


def main() -> None:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--key", default="demo-edusign-key", help="API key the fake accepts")
    args = parser.parse_args()
    fake = FakeEdusign(api_key=args.key)
    fake.url = f"http://{args.host}:{args.port}"
    print(f"fake Edusign on {fake.url}/v1 (key {args.key!r})")
    web.run_app(fake.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":  # pragma: no cover
    main()

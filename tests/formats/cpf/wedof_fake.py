"""A local Wedof API: registration folders with their state, changed by the declarations it receives
as Wedof documents them (an entry from ``accepted``; a service fait from ``inTraining`` or
``terminated``; a change the folder's state does not allow is refused with a 400). Statuses can be
scripted per dossier."""

from __future__ import annotations

import json

from aiohttp import web

#: the states each declaration moves a folder from, and to
STEPS = {"inTraining": ({"accepted"}, "inTraining"),
         "serviceDone": ({"inTraining", "terminated"}, "serviceDoneDeclared")}


class WedofFake:
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.calls: list[tuple[str, str, dict]] = []  # (dossier, step, body) of the declarations
        self.reads: list[str] = []  # dossiers read with GET
        self.fail: dict[str, int] = {}  # dossier -> HTTP status to answer
        self.states: dict[str, str] = {}  # dossier -> state (``accepted`` until declared)
        self.port = 0

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("X-Api-Key") == self.api_key

    async def declare(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"detail": "bad key"}, status=401)
        dossier, step = request.match_info["dossier"], request.match_info["step"]
        body = json.loads(await request.read())
        self.calls.append((dossier, step, body))
        status = self.fail.get(dossier)
        if status:
            return web.json_response({"detail": "refused"}, status=status)
        allowed, after = STEPS[step]
        state = self.states.get(dossier, "accepted")
        if state not in allowed:
            return web.json_response({"detail": f"the folder is {state}: {step} is not allowed"}, status=400)
        self.states[dossier] = after
        return web.json_response({"externalId": dossier, "state": after})

    async def folder(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"detail": "bad key"}, status=401)
        dossier = request.match_info["dossier"]
        self.reads.append(dossier)
        return web.json_response({"externalId": dossier, "state": self.states.get(dossier, "accepted")})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/registrationFolders/{dossier}/{step:inTraining|serviceDone}", self.declare)
        app.router.add_get("/api/registrationFolders/{dossier}", self.folder)
        return app

"""A local Wedof API: records the declarations it receives; statuses can be scripted per dossier."""

from __future__ import annotations

import json

from aiohttp import web


class WedofFake:
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.calls: list[tuple[str, str, dict]] = []  # (dossier, step, body)
        self.fail: dict[str, int] = {}  # dossier -> HTTP status to answer
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Api-Key") != self.api_key:
            return web.json_response({"detail": "bad key"}, status=401)
        dossier, step = request.match_info["dossier"], request.match_info["step"]
        body = json.loads(await request.read())
        self.calls.append((dossier, step, body))
        status = self.fail.get(dossier)
        if status:
            return web.json_response({"detail": "refused"}, status=status)
        state = {"inTraining": "inTraining", "serviceDone": "serviceDoneDeclared"}[step]
        return web.json_response({"externalId": dossier, "state": state})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/registrationFolders/{dossier}/{step:inTraining|serviceDone}", self.handle)
        return app

"""A daemon's web app on the demo data, with one account per role, and a client that signs in as
a person does (password, then the TOTP code), keeping its cookies."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pyotp
import pytest

from hub.runtime.server import build_app
from hub.web.accounts import Accounts
from hub.web.roles import Scopes

ROOT = Path(__file__).resolve().parents[2]
ACTION = "ACT-2026-REACT-01"
PASSWORD = "correct horse battery staple"
THEO = "theo.garnier@example.fr"
#: role -> (e-mail address, name, scopes)
PEOPLE = {
    "admin": ("claire@demo.example", "Claire Fontaine", Scopes()),
    "manager": ("marc@demo.example", "Marc Girard", Scopes(actions=(ACTION,))),
    "trainer": ("sophie@demo.example", "Sophie Lambert", Scopes(actions=(ACTION,))),
    "learner": ("theo@demo.example", "Théo Garnier", None),  # scoped to Théo's learner id, once the demo is in
    "funder": ("atlas@demo.example", "OPCO Atlas", Scopes(funders=("opco-atlas",))),
    "auditor": ("audit@demo.example", "Auditeur Qualiopi", Scopes(actions=(ACTION,))),
}


def demo_config(workdir: Path, extra: str = "") -> str:
    shutil.copytree(ROOT / "config" / "demo-data", workdir / "demo-data", ignore=shutil.ignore_patterns("*.py"))
    action = (ROOT / "config" / "demo.yaml").read_text().split("\nactions:\n", 1)[1]
    return f"""
connectors:
  demo: {{kind: file_drop, path: demo-data, read_only: true, settle_seconds: 0}}
{extra}
actions:
{action}
"""


@dataclass
class Site:
    hub: object
    url: str
    secrets: dict[str, str]  # role -> TOTP secret
    emails: dict[str, str]


@pytest.fixture
async def site(make_site) -> Site:
    return await make_site()


@pytest.fixture
def make_site(make_hub, workdir, aiohttp_server_factory):
    """``await make_site(extra, hub_extra)``: the site on the demo data, ``extra`` (top-level YAML) and
    ``hub_extra`` (lines under ``hub:``) added to its configuration."""
    return lambda extra="", hub_extra="": _site(make_hub, workdir, aiohttp_server_factory, extra, hub_extra)


async def _site(make_hub, workdir, aiohttp_server_factory, extra: str, hub_extra: str) -> Site:
    hub = await make_hub(demo_config(workdir, extra), hub_extra=hub_extra)
    await hub.pull("demo")
    theo = await hub.store.call(hub.store.learner_by_key, f"email:{THEO}")
    accounts = Accounts(hub.store, hub.append)
    secrets = {}
    for role, (email, name, scopes) in PEOPLE.items():
        _, made = await accounts.add(email, role, scopes or Scopes(learner=theo), password=PASSWORD,
                                     name=name, with_totp=True, actor="test")
        secrets[role] = made.totp_secret
    server = await aiohttp_server_factory(build_app(hub))
    return Site(hub, f"http://127.0.0.1:{server.port}", secrets, {r: e for r, (e, _, _) in PEOPLE.items()})


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Person:
    """A browser without JavaScript: cookies, forms with their CSRF token, no redirect followed."""

    def __init__(self, site: Site):
        self.site = site
        self.http = aiohttp.ClientSession(base_url=site.url, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str, **kw) -> aiohttp.ClientResponse:
        async with self.http.get(path, allow_redirects=False, **kw) as r:
            r.body = await r.text()
            return r

    async def token(self, path: str = "/app/login") -> str:
        page = await self.get(path)
        found = CSRF.search(page.body)
        assert found, f"no CSRF token in {path}: {page.status} {page.body[:200]}"
        return found[1]

    async def post(self, path: str, data: dict, *, token_from: str | None = None, **kw) -> aiohttp.ClientResponse:
        token = await self.token(token_from or path)
        async with self.http.post(path, data={"csrf_token": token, **data}, allow_redirects=False, **kw) as r:
            r.body = (await r.read()).decode("utf-8", "replace")  # a download (a zip) is read, not decoded
            return r

    async def sign_in(self, role: str, *, code: str | None = None) -> aiohttp.ClientResponse:
        first = await self.post("/app/login", {"email": self.site.emails[role], "password": PASSWORD})
        assert first.status == 303 and first.headers["Location"].startswith("/app/login/code"), first.body[:300]
        code = code or pyotp.TOTP(self.site.secrets[role]).now()
        return await self.post("/app/login/code", {"code": code, "next": "/app/"})


@pytest.fixture
async def people(site):
    opened = []

    def make() -> Person:
        person = Person(site)
        opened.append(person)
        return person

    yield make
    for person in opened:
        await person.close()


async def events_of(hub, type_: str) -> list[dict]:
    return await hub.store.call(lambda: list(hub.store.iter_events(types=[type_])))

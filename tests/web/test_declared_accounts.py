"""Accounts declared in the configuration (hub.web.accounts): applied when the daemon's web app
starts, changed and disabled with their declaration, secrets only through ${file:…}/${env:…}."""

from __future__ import annotations

import pyotp
import pytest

from hub.errors import ConfigError
from hub.runtime.server import build_app
from hub.web.accounts import AccountError, Accounts
from hub.web.declared import apply_declared
from hub.web.passwords import hash_password
from hub.web.roles import Scopes
from tests.web.conftest import ACTION, PASSWORD, Person, Site, demo_config, events_of

DECLARED = """\
  web:
    accounts:
      - email: Sophie@Example.fr
        role: trainer
        name: Sophie Lambert
        actions: [ACT-2026-REACT-01]
        password_hash: ${file:secrets/sophie.hash}
        totp_secret: ${file:secrets/sophie.totp}
      - email: theo@example.fr
        role: learner
        learner: email:theo.garnier@example.fr
        password_hash: ${file:secrets/theo.hash}
"""


def secrets(workdir, totp: str) -> None:
    (workdir / "secrets" / "sophie.hash").write_text(hash_password(PASSWORD))
    (workdir / "secrets" / "theo.hash").write_text(hash_password(PASSWORD))
    (workdir / "secrets" / "sophie.totp").write_text(totp)


async def test_declared_accounts_are_created_when_the_daemon_starts_and_sign_in(make_hub, workdir,
                                                                               aiohttp_server_factory):
    totp = pyotp.random_base32()
    secrets(workdir, totp)
    hub = await make_hub(DECLARED + demo_config(workdir))
    await hub.pull("demo")
    server = await aiohttp_server_factory(build_app(hub))
    site = Site(hub, f"http://127.0.0.1:{server.port}", {"trainer": totp}, {"trainer": "sophie@example.fr"})
    listed = await Accounts(hub.store, hub.append).list()
    assert [(a["email"], a["role"], a["origin"], a["second_factor"]) for a in listed] == [
        ("sophie@example.fr", "trainer", "config", True), ("theo@example.fr", "learner", "config", False)]
    person = Person(site)
    try:
        assert (await person.sign_in("trainer")).status == 303
        assert (await person.get("/app/trainer/today?date=2026-10-07")).status == 200
    finally:
        await person.close()
    recorded = [e["data"] for e in await events_of(hub, "admin.action") if e["data"]["command"] == "accounts declare"]
    assert [(r["actor"], r["target"]) for r in recorded] == [("configuration", "sophie@example.fr"),
                                                            ("configuration", "theo@example.fr")]
    assert PASSWORD not in str(recorded) and totp not in str(recorded)


async def test_a_changed_or_removed_declaration_changes_or_disables_the_account(make_hub, workdir):
    secrets(workdir, pyotp.random_base32())
    hub = await make_hub(DECLARED + demo_config(workdir))
    await hub.pull("demo")
    declared = hub.config.hub.web.accounts
    log = hub.log
    assert len(await apply_declared(hub.store, hub.append, declared, log)) == 2
    assert await apply_declared(hub.store, hub.append, declared, log) == []  # nothing changed: nothing recorded
    sophie = await hub.store.call(hub.store.account_by_email, "sophie@example.fr")
    await hub.store.call(hub.store.add_web_session, {
        "id": "s1", "account_id": sophie["id"], "stage": "full", "csrf": "c", "created_at": 1.0, "last_seen_at": 1.0,
        "expires_at": 9e9})
    moved = declared[0].model_copy(update={"actions": ["ACT-OTHER"], "name": "Sophie L."})
    changes = await apply_declared(hub.store, hub.append, [moved, declared[1]], log)
    assert changes == ["sophie@example.fr: name, scopes changed"]
    assert (await hub.store.call(hub.store.web_session, "s1"))["revoked_at"] is not None  # a new scope: signed out
    assert await apply_declared(hub.store, hub.append, [declared[1]], log) == [
        "sophie@example.fr: disabled (no longer declared)"]
    assert (await hub.store.call(hub.store.account_by_email, "sophie@example.fr"))["disabled_at"] is not None
    assert await apply_declared(hub.store, hub.append, declared, log) == [  # declared again: enabled as declared
        "sophie@example.fr: disabled_at, name, scopes changed"]
    assert (await hub.store.call(hub.store.account_by_email, "sophie@example.fr"))["disabled_at"] is None
    with pytest.raises(AccountError, match="declared in the configuration"):
        await Accounts(hub.store, hub.append).set_password("sophie@example.fr", "a brand new password")


async def test_an_address_taken_by_the_cli_or_an_unknown_learner_is_reported_and_left_aside(make_hub, workdir):
    secrets(workdir, pyotp.random_base32())
    hub = await make_hub(DECLARED + demo_config(workdir))  # not pulled: the demo's learners are unknown
    await Accounts(hub.store, hub.append).add("sophie@example.fr", "trainer", Scopes(actions=(ACTION,)),
                                              password=PASSWORD)
    errors = []

    class Log:
        def error(self, message, **fields):
            errors.append((message, fields))

    assert await apply_declared(hub.store, hub.append, hub.config.hub.web.accounts, Log()) == []
    assert [(f["account"], f["error"]) for _, f in errors] == [
        ("hub.web.accounts[0] (Sophie@Example.fr)",
         "an account created with `parcours accounts add` has this address: left as it is"),
        ("hub.web.accounts[1] (theo@example.fr)",
         "no learner 'email:theo.garnier@example.fr' in the hub (see `parcours learners show`)")]
    assert (await hub.store.call(hub.store.account_by_email, "sophie@example.fr"))["origin"] == "cli"


@pytest.mark.parametrize("change, message", [
    ("password_hash: ${file:secrets/sophie.hash}", None),
    ("password_hash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo'",
     "hub.web.accounts[0].password_hash: secrets must come from ${env:VAR} or ${file:PATH}"),
    ("password_hash: ${file:secrets/plain}", "password_hash is not an Argon2id hash"),
])
async def test_declarations_are_checked_when_the_configuration_loads(make_hub, workdir, change, message):
    secrets(workdir, pyotp.random_base32())
    (workdir / "secrets" / "plain").write_text("not a hash")
    body = DECLARED.replace("password_hash: ${file:secrets/sophie.hash}", change) + demo_config(workdir)
    if message is None:
        await make_hub(body, start=False)
        return
    with pytest.raises(ConfigError) as raised:
        await make_hub(body, start=False)
    assert message in str(raised.value.problems)


@pytest.mark.parametrize("swap, message", [
    ("        actions: [ACT-2026-REACT-01]\n", "a trainer account needs its actions"),
    ("        totp_secret: ${file:secrets/sophie.totp}\n", "a trainer account needs its totp_secret"),
])
async def test_a_declaration_that_does_not_fit_its_role_is_refused(make_hub, workdir, swap, message):
    secrets(workdir, pyotp.random_base32())
    with pytest.raises(ConfigError) as raised:
        await make_hub(DECLARED.replace(swap, "") + demo_config(workdir), start=False)
    assert message in str(raised.value.problems)

"""Sign-in by a link sent by e-mail (learners): asked for on the sign-in page, sent through a real
SMTP server (tests/fakes/smtp_server.py) that keeps the message, then followed as a person does:
the link's page, its button, the TOTP code when the account has one."""

from __future__ import annotations

import asyncio
import re
import time

import pyotp
import pytest

from hub.errors import ConfigError
from hub.web.accounts import Accounts
from hub.web.sessions import session_id
from tests.fakes.smtp_server import SmtpServer
from tests.web.conftest import CSRF, Person, events_of

PUBLIC = "https://hub.example.fr"
LINK = re.compile(re.escape(PUBLIC) + r"(/app/login/link/[A-Za-z0-9_-]{43})\b")


def email_link_config(port: int, *, security: str = "none", ca_file: str | None = None, user: str | None = None) -> str:
    lines = [
        "  web:",
        "    email_link:",
        "      enabled: true",
        f"      public_url: {PUBLIC}",
        "      smtp:",
        "        host: 127.0.0.1",
        f"        port: {port}",
        f"        security: {security}",
        "        from_address: no-reply@demo.example",
        "        timeout: 5s",
    ]
    if ca_file:
        lines.append(f"        ca_file: {ca_file}")
    if user:
        lines += [f"        username: {user}", "        password: ${file:secrets/smtp-password}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def linked(make_site, smtp):
    return await make_site(hub_extra=email_link_config(smtp.port))


@pytest.fixture
async def persons(linked):
    """People on the site where sign-in links are on."""
    opened = []

    def make() -> Person:
        opened.append(Person(linked))
        return opened[-1]

    yield make
    for person in opened:
        await person.close()


async def ask_link(person: Person, email: str):
    return await person.post("/app/login/link", {"email": email}, token_from="/app/login")


async def refusals(hub, count: int) -> list[tuple[str, str]]:
    """The (address, reason) of the first ``count`` refused sign-ins, once recorded (by the task
    that sends the links, after the answer)."""
    for _ in range(200):
        found = [(e["data"]["email"], e["data"]["reason"]) for e in await events_of(hub, "access.sign_in")
                 if e["data"]["outcome"] == "failure"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} refusals expected, {len(found)} recorded")


def link_in(message) -> str:
    found = LINK.search(message.get_content())
    assert found, message.get_content()
    return found[1]


def without_token(body: str) -> str:
    return CSRF.sub("", body)


async def test_a_learner_follows_the_link_then_types_the_code(linked, smtp):
    person = Person(linked)
    try:
        page = await person.get("/app/login")
        assert "Recevoir un lien de connexion" in page.body
        asked = await ask_link(person, "Theo@Demo.Example ")
        assert asked.status == 200 and "valable 15 min" in asked.body
        (to, message), = await smtp.wait_for(1)
        assert to == ["theo@demo.example"] and message["From"] == "no-reply@demo.example"
        assert "Votre lien de connexion" in message["Subject"] and "Théo Garnier" in message.get_content()
        path = link_in(message)
        for _ in range(2):  # a mail scanner opening the link uses nothing up
            shown = await person.get(path)
            assert shown.status == 200 and 'id="use-link"' in shown.body
        assert (await person.get("/app/")).status == 303  # not signed in by opening it
        used = await person.post(path, {}, token_from=path)
        assert used.status == 303 and used.headers["Location"].startswith("/app/login/code")  # TOTP still needed
        assert (await person.get("/app/")).status == 303
        code = await person.post("/app/login/code", {"code": pyotp.TOTP(linked.secrets["learner"]).now(), "next": "/app/"})
        assert code.status == 303
        assert (await person.get("/app/learner/journey")).status == 200
        again = await person.get(path)
        assert again.status == 404 and "plus valable" in again.body  # used once
    finally:
        await person.close()
    assert [(e["data"]["outcome"], e["data"]["step"]) for e in await events_of(linked.hub, "access.sign_in")] == [
        ("success", "totp")]


async def test_a_learner_without_a_second_factor_is_signed_in_by_the_link(linked, smtp, persons):
    await Accounts(linked.hub.store, linked.hub.append).reset_second_factor("theo@demo.example", remove=True)
    person = persons()
    await ask_link(person, "theo@demo.example")
    (_, message), = await smtp.wait_for(1)
    path = link_in(message)
    used = await person.post(path, {}, token_from=path)
    assert used.status == 303 and used.headers["Location"] == "/app/"
    assert (await person.get("/app/learner/journey")).status == 200
    reused = await persons().post(path, {}, token_from="/app/login")
    assert reused.status == 401 and "plus valable" in reused.body
    signed = [(e["data"]["outcome"], e["data"]["step"], e["data"].get("reason"), e["data"]["email"])
              for e in await events_of(linked.hub, "access.sign_in")]
    assert signed == [("success", "email_link", None, "theo@demo.example"),
                      ("failure", "email_link", "bad_link", "(link)")]
    stored = str([e["data"] for e in await events_of(linked.hub, "access.sign_in")])
    assert path.rsplit("/", 1)[1] not in stored  # the token is never in the ledger


async def test_the_answer_is_the_same_whatever_the_address_and_comes_before_the_mail(linked, smtp, persons):
    person = persons()
    smtp.hold()  # the server keeps the client waiting: the answer does not wait for it
    learner = await ask_link(person, "theo@demo.example")
    trainer = await ask_link(person, "sophie@demo.example")
    nobody = await ask_link(person, "nobody@demo.example")
    assert learner.status == trainer.status == nobody.status == 200
    assert without_token(learner.body) == without_token(trainer.body) == without_token(nobody.body)
    assert smtp.messages == []
    smtp.release()
    (to, _), = await smtp.wait_for(1)
    assert to == ["theo@demo.example"]  # a trainer gets no link; nor does an address without an account
    reasons = await refusals(linked.hub, 2)
    assert sorted(reasons) == [("nobody@demo.example", "unknown_email"), ("sophie@demo.example", "not_learner")]


async def test_a_link_expires(linked, smtp, persons):
    person = persons()
    await ask_link(person, "theo@demo.example")
    (_, message), = await smtp.wait_for(1)
    path = link_in(message)
    store = linked.hub.store
    await store.call(store.update_web_session, session_id(path.rsplit("/", 1)[1]), expires_at=time.time() - 1)
    assert (await person.get(path)).status == 404
    assert (await person.post(path, {}, token_from="/app/login")).status == 401
    assert (await person.get("/app/")).status == 303


async def test_a_new_password_revokes_the_links_not_used_yet(linked, smtp, persons):
    person = persons()
    await ask_link(person, "theo@demo.example")
    (_, message), = await smtp.wait_for(1)
    await Accounts(linked.hub.store, linked.hub.append).set_password("theo@demo.example", "another long passphrase")
    assert (await person.get(link_in(message))).status == 404


async def test_asking_again_and_again_locks_the_address_out(linked, smtp, persons):
    person = persons()
    for _ in range(5):
        assert (await ask_link(person, "theo@demo.example")).status == 200
    locked = await ask_link(person, "theo@demo.example")
    assert locked.status == 429 and "Réessayez dans 15 min" in locked.body
    assert len(await smtp.wait_for(5)) == 5
    password = await person.post("/app/login", {"email": "theo@demo.example", "password": "whatever it is"})
    assert password.status == 429  # the same lockout as the password's


async def test_the_link_goes_through_starttls_with_the_servers_password(make_site, workdir):
    server = SmtpServer(tls_folder=workdir, user=("mailer", "s3cret-smtp-pass")).start()
    try:
        (workdir / "secrets").mkdir(exist_ok=True)
        (workdir / "secrets" / "smtp-password").write_text("s3cret-smtp-pass")
        site = await make_site(hub_extra=email_link_config(server.port, security="starttls",
                                                           ca_file=str(server.ca_file), user="mailer"))
        person = Person(site)
        try:
            await ask_link(person, "theo@demo.example")
            (to, message), = await server.wait_for(1)
            assert to == ["theo@demo.example"] and server.logins == ["mailer"]
            assert link_in(message)
        finally:
            await person.close()
    finally:
        server.stop()


async def test_off_by_default_the_page_offers_no_link(site, people):
    page = await people().get("/app/login")
    assert "Recevoir un lien de connexion" not in page.body and 'action="/app/login/link"' not in page.body


def test_the_configuration_says_what_is_missing_or_written_in_clear(workdir):
    from hub.config import parse_config

    def load_config_text(text, filename, env):
        return parse_config(text, {}, filename=filename, env=env)

    base = "hub:\n  web:\n    email_link:\n      enabled: true\n"
    with pytest.raises(ConfigError, match="needs public_url and smtp"):
        load_config_text(base, "hub.yaml", env={})
    clear = base + (f"      public_url: {PUBLIC}\n      smtp: {{host: mail.example.fr, from_address: a@b.fr, "
                    "username: u, password: written-here}\n")
    with pytest.raises(ConfigError, match=r"hub.web.email_link.smtp.password: secrets must come from"):
        load_config_text(clear, "hub.yaml", env={})
    plain = base + f"      public_url: {PUBLIC}\n      smtp: {{host: mail.example.fr, security: none, from_address: a@b.fr}}\n"
    with pytest.raises(ConfigError, match="security none is for a relay on this machine only"):
        load_config_text(plain, "hub.yaml", env={})
    with pytest.raises(ConfigError, match="public_url must be an https:// URL"):
        load_config_text(base.replace("enabled: true", "public_url: http://hub.example.fr"), "hub.yaml", env={})


async def test_a_link_is_never_a_session_even_in_a_well_signed_cookie(linked, smtp, persons):
    """Defence in depth: a link's token signed with the session secret, put in the session
    cookie, opens nothing (hub.web.sessions keeps links and sessions apart by their stage)."""
    from hub.web.sessions import COOKIE, _sign, load_secret

    person = persons()
    await ask_link(person, "theo@demo.example")
    (_, message), = await smtp.wait_for(1)
    token = link_in(message).rsplit("/", 1)[1]
    secret = load_secret(None, linked.hub.config.data_dir)
    person.http.cookie_jar.update_cookies({COOKIE: f"{token}.{_sign(secret, token)}"})
    assert (await person.get("/app/learner/journey")).status == 303
    assert (await person.get(link_in(message))).status == 200  # and the link still works

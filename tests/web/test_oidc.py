"""Staff sign-in through an OpenID Connect provider: a real local provider over HTTP
(tests/fakes/oidc_provider.py) signs RS256 ID tokens; the browser goes there and back as a person's
does. What the provider answers wrong (nonce, audience, expiry, signature, state, an address it
does not vouch for) and accounts it must not open (unknown, disabled, a learner) are refused with a
clear message, open no session and are recorded."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from hub.config import parse_config
from hub.errors import ConfigError
from hub.web.accounts import Accounts
from hub.web.oidc import pkce_challenge
from hub.web.routes_oidc import MESSAGES
from hub.web import i18n
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.web.conftest import Person, events_of

PUBLIC = "https://hub.example.fr"
CALLBACK = f"{PUBLIC}/app/login/oidc/callback"


def oidc_config(issuer: str, *, extra: str = "") -> str:
    return ("  web:\n    oidc:\n      enabled: true\n      label: Google Workspace\n"
            f"      issuer: {issuer}\n      client_id: {CLIENT_ID}\n"
            "      client_secret: ${file:secrets/oidc-client-secret}\n"
            f"      public_url: {PUBLIC}\n" + extra)


@pytest.fixture
async def provider(aiohttp_server_factory):
    peer = OidcProvider(CALLBACK)
    server = await aiohttp_server_factory(peer.app())
    peer.issuer = f"http://127.0.0.1:{server.port}"
    return peer


@pytest.fixture
def make_oidc_site(make_site, provider, workdir):
    async def make(extra: str = "", *, secret: str = CLIENT_SECRET):
        (workdir / "secrets").mkdir(exist_ok=True)
        (workdir / "secrets" / "oidc-client-secret").write_text(secret)
        return await make_site(hub_extra=oidc_config(provider.issuer, extra=extra))
    return make


@pytest.fixture
async def oidc_site(make_oidc_site):
    return await make_oidc_site()


@pytest.fixture
async def persons(oidc_site):
    opened = []

    def make() -> Person:
        opened.append(Person(oidc_site))
        return opened[-1]

    yield make
    for person in opened:
        await person.close()


async def through_provider(person: Person, provider: OidcProvider, *, state: str | None = None):
    """The button, the provider (which signs its user in), and the way back: the callback's answer."""
    start = await person.get("/app/login/oidc?next=/app/trainer/today")
    assert start.status == 303, start.body[:300]
    assert start.headers["Location"].startswith(f"{provider.issuer}/authorize?")
    async with aiohttp.ClientSession() as browser, browser.get(start.headers["Location"], allow_redirects=False) as r:
        back = r.headers["Location"]
    assert back.startswith(CALLBACK + "?"), back
    if state is not None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        back = f"{CALLBACK}?code={query['code']}&state={state}"
    return await person.get(back[len(PUBLIC):])


async def sign_ins(hub) -> list[tuple]:
    return [(e["data"]["outcome"], e["data"]["step"], e["data"].get("reason"), e["data"]["email"])
            for e in await events_of(hub, "access.sign_in")]


async def test_a_trainer_signs_in_through_the_provider_without_the_totp_code(oidc_site, provider, persons):
    person = persons()
    page = await person.get("/app/login")
    assert "Se connecter avec Google Workspace" in page.body
    back = await through_provider(person, provider)
    assert back.status == 303 and back.headers["Location"] == "/app/trainer/today"
    home = await person.get("/app/")
    assert home.status == 200 and "Sophie Lambert" in home.body
    asked = provider.authorize_requests[0]
    assert asked["code_challenge_method"] == "S256" and asked["scope"] == "openid email profile"
    assert len(asked["state"]) >= 43 and len(asked["nonce"]) >= 43
    assert pkce_challenge(provider.token_requests[0]["code_verifier"]) == asked["code_challenge"]
    assert "client_secret" not in provider.token_requests[0]  # sent with HTTP Basic
    assert await sign_ins(oidc_site.hub) == [("success", "oidc", None, "sophie@demo.example")]


async def test_the_totp_code_can_be_required_after_the_provider(make_oidc_site, provider):
    site = await make_oidc_site("      require_totp_after_oidc: true\n")
    person = Person(site)
    try:
        back = await through_provider(person, provider)
        assert back.status == 303 and back.headers["Location"].startswith("/app/login/code")
        assert (await person.get("/app/")).status == 303  # the code is still to type
    finally:
        await person.close()


@pytest.mark.parametrize(("spoil", "detail"), [
    ({"nonce": "not-the-nonce-of-this-sign-in"}, "nonce"),
    ({"aud": "another-client"}, "not meant for this client (aud)"),
    ({"exp": 1_000_000_000, "iat": 999_999_000}, "expired (exp)"),
    ({"iss": "https://evil.example"}, "another issuer (iss)"),
    ("wrong_key", "signature does not verify"),
])
async def test_an_id_token_that_does_not_hold_is_refused(oidc_site, provider, persons, spoil, detail):
    if spoil == "wrong_key":
        provider.wrong_key = True
    else:
        provider.overrides = spoil
    person = persons()
    back = await through_provider(person, provider)
    assert back.status == 401 and "n'a pas pu être vérifiée" in html.unescape(back.body)
    assert (await person.get("/app/")).status == 303  # no session
    events = await events_of(oidc_site.hub, "access.sign_in")
    assert [(e["data"]["outcome"], e["data"]["step"], e["data"]["reason"]) for e in events] == [
        ("failure", "oidc", "bad_token")]
    assert detail in events[0]["data"]["detail"]


async def test_a_state_that_is_not_the_browsers_is_refused(oidc_site, provider, persons):
    person = persons()
    back = await through_provider(person, provider, state="forged-state")
    assert back.status == 401 and "un autre navigateur" in html.unescape(back.body)
    assert provider.token_requests == []  # the code is not even exchanged
    assert await sign_ins(oidc_site.hub) == [("failure", "oidc", "bad_state", "(unknown)")]
    # another browser (no flow cookie) bringing a good code and state is refused the same way
    stranger = persons()
    start = await person.get("/app/login/oidc")
    async with aiohttp.ClientSession() as browser, browser.get(start.headers["Location"], allow_redirects=False) as r:
        back = r.headers["Location"]
    assert (await stranger.get(back[len(PUBLIC):])).status == 401
    assert (await stranger.get("/app/")).status == 303


async def test_an_address_the_provider_does_not_vouch_for_is_refused(oidc_site, provider, persons):
    provider.user["email_verified"] = False
    back = await through_provider(persons(), provider)
    assert back.status == 401 and "ne garantit pas votre adresse" in html.unescape(back.body)
    assert await sign_ins(oidc_site.hub) == [("failure", "oidc", "email_not_verified", "(unknown)")]


@pytest.mark.parametrize(("who", "reason", "words"), [
    ("nobody@demo.example", "unknown_email", "Aucun compte n'a cette adresse"),
    ("theo@demo.example", "role_not_allowed", "utilisez votre mot de passe"),
    ("marc@demo.example", "disabled", "Ce compte est désactivé"),
])
async def test_accounts_it_must_not_open_are_refused(oidc_site, provider, persons, who, reason, words):
    if reason == "disabled":
        await Accounts(oidc_site.hub.store, oidc_site.hub.append).disable(who)
    provider.user["email"] = who.upper()  # the provider's spelling: matched without case
    person = persons()
    back = await through_provider(person, provider)
    assert back.status == 403 and words in html.unescape(back.body)
    assert (await person.get("/app/")).status == 303
    assert await sign_ins(oidc_site.hub) == [("failure", "oidc", reason, who)]


async def test_a_provider_whose_discovery_names_another_issuer_is_not_followed(oidc_site, provider, persons):
    provider.discovery_issuer = "https://accounts.example.com"
    start = await persons().get("/app/login/oidc")
    assert start.status == 502 and "n'a pas confirmé votre identité" in html.unescape(start.body)
    assert provider.authorize_requests == []


def test_every_refusal_has_its_message_in_both_languages():
    for key in MESSAGES.values():
        assert key in i18n.catalogue("fr") and key in i18n.catalogue("en")


def test_the_configuration_keeps_the_secret_out_and_the_issuer_on_https():
    base = ("hub:\n  web:\n    oidc:\n      enabled: true\n      issuer: https://accounts.google.com\n"
            f"      client_id: {CLIENT_ID}\n      public_url: {PUBLIC}\n")
    with pytest.raises(ConfigError, match=r"hub.web.oidc.client_secret: secrets must come from"):
        parse_config(base + "      client_secret: written-in-the-file\n", {}, filename="hub.yaml", env={})
    with pytest.raises(ConfigError, match="issuer must be an https:// URL"):
        parse_config(base.replace("https://accounts.google.com", "http://accounts.google.com")
                     + "      client_secret: ${env:OIDC_SECRET}\n", {}, filename="hub.yaml", env={"OIDC_SECRET": "x"})
    with pytest.raises(ConfigError, match="allowed_roles"):
        parse_config(base + "      client_secret: ${env:S}\n      allowed_roles: [learner]\n", {}, filename="hub.yaml",
                     env={"S": "x"})
    loaded = parse_config(base + "      client_secret: ${env:S}\n", {}, filename="hub.yaml", env={"S": "x"})
    assert loaded.model.hub.web.oidc.redirect_uri == f"{PUBLIC}/app/login/oidc/callback"


async def test_a_provider_that_refuses_the_client_is_refused_without_the_secret_in_words(make_oidc_site, provider):
    site = await make_oidc_site(secret="not-what-the-provider-issued")
    person = Person(site)
    try:
        back = await through_provider(person, provider)
        assert back.status == 401 and "n'a pas confirmé votre identité" in html.unescape(back.body)
        assert (await person.get("/app/")).status == 303
    finally:
        await person.close()
    events = await events_of(site.hub, "access.sign_in")
    assert [(e["data"]["outcome"], e["data"]["reason"]) for e in events] == [("failure", "provider_error")]
    assert "HTTP 401" in events[0]["data"]["detail"] and "not-what-the-provider-issued" not in str(events[0]["data"])


async def test_a_sign_in_cancelled_at_the_provider_is_refused(oidc_site, provider, persons):
    person = persons()
    start = await person.get("/app/login/oidc")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    back = await person.get(f"/app/login/oidc/callback?error=access_denied&state={state}")
    assert back.status == 401 and "n'a pas confirmé votre identité" in html.unescape(back.body)
    events = await events_of(oidc_site.hub, "access.sign_in")
    assert [(e["data"]["reason"], e["data"]["detail"]) for e in events] == [
        ("provider_error", "the provider answered access_denied")]

"""Signing in to the web app: password then TOTP, recovery codes, lockout, sign-out, CSRF, the
cookie's attributes, the security headers, and the ledger events of each sign-in and sign-out."""

from __future__ import annotations

import pyotp
from yarl import URL

from hub.web import headers
from tests.web.conftest import PASSWORD, events_of


async def test_password_then_code_opens_a_session_and_both_are_in_the_ledger(site, people):
    person = people()
    response = await person.sign_in("trainer")
    assert response.status == 303 and response.headers["Location"] == "/app/"
    home = await person.get("/app/")
    assert home.status == 200 and "Connecté : Sophie Lambert, formateur." in home.body
    signed = await events_of(site.hub, "access.sign_in")
    assert [(e["data"]["outcome"], e["data"]["step"], e["data"]["email"]) for e in signed] == [
        ("success", "totp", "sophie@demo.example")]
    assert signed[0]["source"] == "hub" and signed[0]["data"]["remote"] == "127.0.0.1"


async def test_a_wrong_password_is_refused_recorded_without_what_was_typed(site, people):
    person = people()
    response = await person.post("/app/login", {"email": "sophie@demo.example", "password": "not the password!"})
    assert response.status == 401 and "Adresse e-mail ou mot de passe incorrect" in response.body
    unknown = await person.post("/app/login", {"email": "nobody@demo.example", "password": PASSWORD})
    assert unknown.status == 401 and unknown.body.count("incorrect") == response.body.count("incorrect")
    failures = await events_of(site.hub, "access.sign_in")
    assert [(e["data"]["outcome"], e["data"]["reason"], e["data"].get("account") is None) for e in failures] == [
        ("failure", "bad_credentials", False), ("failure", "bad_credentials", True)]
    stored = str([e["data"] for e in failures])
    assert "not the password" not in stored and PASSWORD not in stored
    assert (await person.get("/app/")).status == 303  # no session


async def test_the_second_factor_is_required_and_a_wrong_code_is_refused(site, people):
    person = people()
    first = await person.post("/app/login", {"email": "sophie@demo.example", "password": PASSWORD})
    assert first.status == 303
    assert (await person.get("/app/")).status == 303  # a password alone opens nothing
    wrong = await person.post("/app/login/code", {"code": "000000"})
    assert wrong.status == 401 and "Code incorrect" in wrong.body
    assert [e["data"].get("reason") for e in await events_of(site.hub, "access.sign_in")] == ["bad_code"]


async def test_a_totp_code_works_once(site, people):
    code = pyotp.TOTP(site.secrets["trainer"]).now()
    assert (await people().sign_in("trainer", code=code)).status == 303
    replayed = await people().sign_in("trainer", code=code)  # seen over a shoulder, typed again
    assert replayed.status == 401 and "Code incorrect" in replayed.body
    steps = [(e["data"]["outcome"], e["data"]["step"]) for e in await events_of(site.hub, "access.sign_in")]
    assert steps == [("success", "totp"), ("failure", "totp")]


async def test_a_recovery_code_works_once(site, people):
    from hub.web.accounts import Accounts

    secrets = await Accounts(site.hub.store, site.hub.append).reset_second_factor("sophie@demo.example")
    code = secrets.recovery_codes[3]
    assert (await people().sign_in("trainer", code=code.lower())).status == 303
    assert (await people().sign_in("trainer", code=code)).status == 401
    steps = [(e["data"]["outcome"], e["data"]["step"]) for e in await events_of(site.hub, "access.sign_in")]
    assert steps == [("success", "recovery_code"), ("failure", "recovery_code")]


async def test_repeated_failures_lock_the_address_out_even_with_the_right_password(site, people):
    person = people()
    for _ in range(5):
        await person.post("/app/login", {"email": "sophie@demo.example", "password": "wrong wrong wrong"})
    locked = await person.post("/app/login", {"email": "sophie@demo.example", "password": PASSWORD})
    assert locked.status == 429 and "Réessayez dans 15 min" in locked.body
    reasons = [e["data"].get("reason") for e in await events_of(site.hub, "access.sign_in")]
    assert reasons == ["bad_credentials"] * 5 + ["locked"]  # the fifth failure locks
    other = await people().sign_in("manager")  # another address from the same client still signs in
    assert other.status == 303


async def test_sign_out_ends_the_session_for_good(site, people):
    person = people()
    await person.sign_in("trainer")
    cookie = person.http.cookie_jar.filter_cookies(URL(site.url + "/app/"))["parcours_session"].value
    replay = people()  # someone who copied the cookie
    replay.http.cookie_jar.update_cookies({"parcours_session": cookie}, URL(site.url + "/app/"))
    assert (await replay.get("/app/")).status == 200
    out = await person.post("/app/logout", {}, token_from="/app/")
    assert out.status == 303 and out.headers["Location"] == "/app/login"
    assert [e["data"]["email"] for e in await events_of(site.hub, "access.sign_out")] == ["sophie@demo.example"]
    assert (await replay.get("/app/")).status == 303  # the old cookie opens nothing now


async def test_disabling_an_account_ends_its_sessions(site, people):
    from hub.web.accounts import Accounts

    person = people()
    await person.sign_in("trainer")
    assert (await person.get("/app/")).status == 200
    await Accounts(site.hub.store, site.hub.append).disable("sophie@demo.example")
    assert (await person.get("/app/")).status == 303


async def test_an_unsafe_request_without_the_csrf_token_is_refused(site, people):
    person = people()
    await person.sign_in("trainer")
    async with person.http.post("/app/logout", data={}, allow_redirects=False) as r:
        assert r.status == 403
    async with person.http.post("/app/logout", data={"csrf_token": "forged"}, allow_redirects=False) as r:
        assert r.status == 403
    assert (await person.get("/app/")).status == 200  # still signed in
    anonymous = people()
    async with anonymous.http.post("/app/login", data={"email": "sophie@demo.example", "password": PASSWORD},
                                   allow_redirects=False) as r:
        assert r.status == 403  # the sign-in form too (login CSRF)


async def test_the_cookie_is_http_only_same_site_and_secure_except_on_loopback_http(site, people):
    person = people()
    first = await person.post("/app/login", {"email": "sophie@demo.example", "password": PASSWORD})
    cookie = first.cookies["parcours_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/app/"
    assert not cookie["secure"]  # http://127.0.0.1 from 127.0.0.1: the documented developer exception
    proxied = people()
    token = await proxied.token()
    async with proxied.http.post("/app/login", headers={"Host": "hub.example.fr"}, allow_redirects=False,
                                 data={"csrf_token": token, "email": "sophie@demo.example", "password": PASSWORD}) as r:
        assert r.status == 303 and r.cookies["parcours_session"]["secure"]


async def test_security_headers_are_on_every_web_response(site, people):
    person = people()
    await person.sign_in("trainer")
    for path, status in [("/app/", 200), ("/app/login", 303), ("/app/trainer/today?date=2026-10-07", 200),
                         ("/app/nowhere", 404), ("/app/trainer/today?date=nope", 400)]:
        response = await person.get(path)
        assert response.status == status, path
        for name, value in headers.HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert response.headers["Cache-Control"] == "no-store", path
    csp = headers.CSP
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    static = await person.get("/app/static/htmx.min.js")
    assert static.status == 200 and static.headers["Cache-Control"].startswith("public")


async def test_a_learner_signs_in_with_a_password_alone_when_it_has_no_second_factor(site, people):
    from hub.web.accounts import Accounts

    await Accounts(site.hub.store, site.hub.append).reset_second_factor("theo@demo.example", remove=True)
    person = people()
    response = await person.post("/app/login", {"email": "theo@demo.example", "password": PASSWORD, "next": "/app/"})
    assert response.status == 303 and response.headers["Location"] == "/app/"
    assert (await person.get("/app/")).status == 200
    steps = [(e["data"]["outcome"], e["data"]["step"]) for e in await events_of(site.hub, "access.sign_in")]
    assert steps == [("success", "password")]


async def test_after_sign_in_the_page_asked_for_opens_and_never_another_site(site, people):
    person = people()
    first = await person.post("/app/login", {"email": "sophie@demo.example", "password": PASSWORD,
                                             "next": "/app/trainer/today?date=2026-10-07"})
    assert first.headers["Location"].startswith("/app/login/code?next=")
    code = pyotp.TOTP(site.secrets["trainer"]).now()
    done = await person.post("/app/login/code", {"code": code, "next": "https://evil.example/"})
    assert done.headers["Location"] == "/app/"

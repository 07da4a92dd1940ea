"""Badges end to end on the demo data, as the demo configures them: awarded once, downloaded,
verified by an independent verifier over HTTP (the key from the credential's ``kid`` URL, the
schema, the status list), tampered with, revoked."""

from __future__ import annotations

import base64
import gzip
import json

import aiohttp
import jsonschema
import pytest
from jwcrypto import jwk, jws

from hub.badges.award import revoke_badge
from hub.badges.issue import signed_credential
from hub.badges.records import load_award
from hub.documents.keys import KeyRing, b64u
from hub.documents.settings import keys_dir
from hub.documents.services import services_of
from hub.runtime.server import build_app
from hub.ulid import new_ulid
from tests.badges.test_credential import SCHEMA
from tests.test_journeys import ROOT


@pytest.fixture
async def served(badges_hub, aiohttp_server_factory):
    server = await aiohttp_server_factory(build_app(badges_hub))
    base = f"http://127.0.0.1:{server.port}"
    badges_hub.config.hub.http.public_url = base  # the credentials' URLs point at this server
    async with aiohttp.ClientSession(base_url=base) as client:
        yield badges_hub, client


def demo_completions(activity: str) -> set[str]:
    """The demo learners (their source ref) who completed ``activity``, read from the demo files."""
    out = set()
    for line in (ROOT / "config/demo-data/03-lms.ndjson").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "lms.activity_completed" and event["data"]["activity"] == activity:
            out.add(event["learner"]["ref"])
    return out


async def awards_by_name(hub) -> dict[tuple[str, str], str]:
    await hub.project()
    states = await hub.store.call(hub.store.journeys, action="ACT-2026-REACT-01")
    return {(s["learner"]["name"], f["badge"]): f["event"] for s in states for f in s.get("badges", [])
            if f["type"] == "badge.awarded"}


def independent_check(token: str, public_jwk: dict) -> dict:
    """Verify a VC-JWT with jwcrypto and the key as published; the claims."""
    checked = jws.JWS()
    checked.allowed_algs = ["EdDSA"]
    checked.deserialize(token)
    checked.verify(jwk.JWK(**public_jwk))
    return json.loads(checked.payload)


def status_bit(status_list: dict, index: int) -> bool:
    encoded = status_list["credentialSubject"]["encodedList"]
    assert encoded[0] == "u"
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


async def test_demo_badges_are_awarded_once_and_verify_anywhere(served):
    hub, client = served
    first = await hub.award_badges()
    react = demo_completions("mod-react")
    modules = [a for a in first.awarded if a["badge"] == "react-composants"]
    assert len(modules) == len(react) and react  # one per learner who completed the module
    assert {a["badge"] for a in first.awarded} == {"react-composants", "assiduite-5"}  # no certification in the demo
    again = await hub.award_badges()
    assert again.awarded == [] and again.already == len(first.awarded)  # never twice

    award_id = (await awards_by_name(hub))[("Camille Dubois", "assiduite-5")]
    record = await load_award(services_of(hub), award_id)
    token = signed_credential(hub.config, record)

    # an independent verifier: the key from the kid URL, the claims, the schema, the status list
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"].startswith(str(client._base_url))
    async with aiohttp.ClientSession() as outside:
        async with outside.get(header["kid"]) as r:
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
            public = await r.json()
        assert "d" not in public  # never the private part
        claims = independent_check(token, public)
        credential = claims["vc"]
        cls = jsonschema.validators.validator_for(SCHEMA)
        assert not list(cls(SCHEMA, format_checker=cls.FORMAT_CHECKER).iter_errors(credential))
        assert credential["credentialSubject"]["achievement"]["name"] == "Assiduité : 5 demi-journées d'affilée"
        assert credential["validFrom"] == "2026-10-09T10:30:00Z"  # the fifth signed morning ends at 12:30 in Lyon
        async with outside.get(credential["issuer"]["id"]) as r:
            assert (await r.json())["name"] == "Parcours Démo Formation SAS"
        async with outside.get(credential["credentialSubject"]["achievement"]["id"]) as r:
            assert (await r.json())["criteria"]["narrative"].startswith("Signer la feuille d'émargement")
        status_url = credential["credentialStatus"]["statusListCredential"]
        index = int(credential["credentialStatus"]["statusListIndex"])
        async with outside.get(status_url) as r:
            assert r.headers["Cache-Control"] == "no-store"
            assert status_bit(await r.json(), index) is False
        async with outside.get(status_url, headers={"Accept": "application/vc+jwt"}) as r:
            signed_list = independent_check(await r.text(), public)["vc"]  # the list itself is signed
            assert status_bit(signed_list, index) is False

    # the hub's verification page
    async with client.get(f"/verify/{award_id}", params={"credential": token, "format": "json"}) as r:
        body = await r.json()
    assert r.status == 200 and body["status"] == "valid" and body["recipient"] == "Camille Dubois", body
    async with client.get(f"/verify/{award_id}", headers={"Accept": "text/html"}) as r:
        page = await r.text()
    assert "Badge authentique" in page and "Camille Dubois" in page and "9 octobre 2026" in page

    # after a key rotation, the file downloaded before still verifies (its key is retired, still
    # published), and a new download is signed with the new key
    KeyRing(keys_dir(hub.config)).rotate()
    async with client.get(header["kid"][len(str(client._base_url)):]) as r:
        assert r.status == 200 and await r.json() == public
    async with client.get(f"/verify/{award_id}", params={"credential": token, "format": "json"}) as r:
        assert (await r.json())["status"] == "valid"
    renewed = signed_credential(hub.config, record)
    new_kid = json.loads(base64.urlsafe_b64decode(renewed.split(".")[0] + "=="))["kid"]
    assert new_kid != header["kid"]
    async with client.get(new_kid[len(str(client._base_url)):]) as r:
        assert independent_check(renewed, await r.json())["vc"] == credential

    # tampered: another learner's name in the credential, the signature kept
    head, payload, signature = token.split(".")
    changed = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed["vc"]["credentialSubject"]["identifier"][0]["identityHash"] = "Léa Moreau"
    forged = ".".join((head, b64u(json.dumps(changed).encode()), signature))
    with pytest.raises(jws.InvalidJWSSignature):
        independent_check(forged, public)
    async with client.get(f"/verify/{award_id}", params={"credential": forged, "format": "json"}) as r:
        assert (await r.json())["status"] == "altered"

    # revoked: the page says so, the status list's bit is set, and the badge is not awarded again
    result = await revoke_badge(services_of(hub), award_id, "émargements contestés", actor="test")
    assert result["already"] is False
    assert (await revoke_badge(services_of(hub), award_id, "bis", actor="test"))["already"] is True
    async with client.get(f"/verify/{award_id}", params={"credential": token}, headers={"Accept": "text/html"}) as r:
        page = await r.text()
    assert "Badge révoqué le" in page and "émargements contestés" in page
    async with client.get(f"/verify/{award_id}?format=json") as r:
        assert (await r.json())["status"] == "revoked"
    async with client.get(status_url) as r:
        assert status_bit(await r.json(), index) is True
    assert (await hub.award_badges()).awarded == []

    async with client.get(f"/verify/{new_ulid()}?format=json") as r:
        assert r.status == 404  # neither a document nor a badge
    async with client.get("/badges/keys/zzzzzzzz") as r:
        assert r.status == 404
    async with client.get("/badges/achievements/no-such-badge") as r:
        assert r.status == 404


async def test_badges_off_by_default_and_config_errors_name_the_badge(make_hub, workdir):
    from hub.errors import ConfigError, HubError
    from tests.badges.conftest import open_badges_hub

    hub = await open_badges_hub(make_hub, workdir, badges="", keys=False)
    assert hub.config.hub.badges.enabled is False
    assert "badges" not in {job.name for job in hub.scheduled_jobs()}
    with pytest.raises(HubError, match="badges are not enabled"):
        await hub.award_badges()
    broken = "  badges:\n    enabled: true\n    badges:\n      - {id: streak, name: S, description: D, criteria: C, kind: attendance_streak}\n"
    with pytest.raises(ConfigError, match="badge 'streak': kind attendance_streak needs `half_days`"):
        await make_hub("", hub_extra=broken)

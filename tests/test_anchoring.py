"""RFC 3161 time-stamp anchors on sealed blocks, against a real ``openssl ts`` TSA (tests/fakes/tsa.py).

Requests and replies go over HTTP through hub.http.fetch; tokens are checked in Python
(hub.ledger.tsp_check), and ``openssl ts -verify`` is kept as an independent oracle. The tests at
the end exercise the hub's integration (Hub.seal, ``parcours verify``, ``prove --check --tsa-ca``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import sqlite3
import subprocess

import aiohttp
import pytest

from hub.ledger import integrity as ledger
from hub.ledger.anchoring import (
    Anchor,
    AnchorError,
    AnchorSettings,
    AnchorStatus,
    anchor_after_seal,
    anchor_block,
    block_to_anchor,
    build_request,
    check_block_anchor,
    redact_url,
    token_info,
    verify_anchor,
)
from hub.ledger.integrity import seal
from tests.conftest import event
from tests.fakes.tsa import openssl_or_skip, tsa_peer_fixture, tsa_pki_fixture  # noqa: F401  (fixtures)

class Log:
    """Collects structlog-style calls."""

    def __init__(self):
        self.records: list[tuple[str, str, dict]] = []

    def __getattr__(self, level):
        return lambda message, **kw: self.records.append((level, message, kw))

    def bind(self, **kw):
        return self


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def settings_for(peer, **over) -> AnchorSettings:
    return AnchorSettings(**{"url": peer.url, "ca_paths": (peer.pki.ca,), "timeout": 5.0, "attempts": 2,
                             "backoff": 0.01, **over})


async def sealed_hub(make_hub, n: int = 12, max_events: int = 5):
    """A hub whose ledger holds ``n`` events sealed in blocks of ``max_events``; (hub, event ids, blocks)."""
    hub = await make_hub("")
    ids = (await hub.append([event(i) for i in range(n)], source=None)).ids
    await hub.store.call(seal, hub.store, max_events=max_events)
    blocks = await hub.store.call(lambda: list(hub.store.iter_blocks()))
    return hub, ids, blocks


async def stored_blocks(hub) -> list[dict]:
    return await hub.store.call(lambda: list(hub.store.iter_blocks()))


def openssl_verify(der: bytes, digest: str, ca, tmp_path) -> str:
    """The independent oracle: ``openssl ts -verify``'s verdict, "OK" or its error text."""
    (tmp_path / "token.der").write_bytes(der)
    run = subprocess.run([openssl_or_skip(), "ts", "-verify", "-digest", digest, "-in", str(tmp_path / "token.der"),
                          "-token_in", "-CAfile", str(ca)], capture_output=True, text=True, timeout=60)
    return "OK" if run.returncode == 0 and "Verification: OK" in run.stdout else run.stdout + run.stderr


# --------------------------------------------------------------------------- the request


def test_time_stamp_request_is_rfc3161_with_nonce_and_cert_req(tmp_path):
    from asn1crypto import tsp

    digest = "ab" * 32
    der, nonce = build_request(digest)
    request = tsp.TimeStampReq.load(der)
    assert request["version"].native == "v1" and request["cert_req"].native is True
    assert request["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert request["message_imprint"]["hashed_message"].native == bytes.fromhex(digest)
    assert request["nonce"].native == nonce and nonce > 0 and build_request(digest)[1] != nonce
    openssl = openssl_or_skip()
    (tmp_path / "q.tsq").write_bytes(der)
    import subprocess

    text = subprocess.run([openssl, "ts", "-query", "-in", str(tmp_path / "q.tsq"), "-text"], capture_output=True,
                          text=True, timeout=30, check=True).stdout
    assert "Hash Algorithm: sha256" in text and "Certificate required: yes" in text and f"{nonce:X}" in text
    with pytest.raises(ValueError):
        build_request("abcd")


def test_stored_urls_carry_no_credentials():
    assert redact_url("https://user:secret@tsa.example:8443/ts?key=k") == "https://tsa.example:8443/ts?key=****"
    assert redact_url("http://127.0.0.1:3180") == "http://127.0.0.1:3180"


# --------------------------------------------------------------------------- anchoring a block


async def test_anchor_a_sealed_block_and_verify_it(make_hub, tsa_peer, session):
    hub, _, blocks = await sealed_hub(make_hub)
    assert [b["index"] for b in blocks] == [0, 1, 2] and all(b["anchor"] is None for b in blocks)
    log = Log()
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    anchor = await anchor_after_seal(hub.store, session, settings_for(tsa_peer), log=log)
    assert anchor is not None and anchor.tsa == tsa_peer.url
    assert [(r["content_type"], r["authorization"]) for r in tsa_peer.requests] == [("application/timestamp-query", None)]
    stored = await stored_blocks(hub)
    assert [b["anchor"] is not None for b in stored] == [False, False, True]  # the newest block only
    record = json.loads(stored[2]["anchor"])
    assert set(record) == {"tsa", "token", "gen_time"} and Anchor.from_json(record) == anchor
    gen_time = dt.datetime.fromisoformat(record["gen_time"].replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=2) <= gen_time <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    info = token_info(record["token"])
    assert info["imprint"] == stored[2]["hash"] and info["gen_time"] == record["gen_time"]
    assert "Test TSA" in info["signer"]

    check = verify_anchor(stored[2], record["token"], [tsa_peer.pki.ca])
    assert check.ok and check.status is AnchorStatus.VALID and check.gen_time == record["gen_time"]
    assert "Test TSA" in check.tsa and str(check).startswith("valid: time-stamped ")
    assert check_block_anchor(stored[2], [tsa_peer.pki.ca]).ok
    assert check_block_anchor(stored[1], [tsa_peer.pki.ca]) is None
    assert verify_anchor(stored[2], base64.b64decode(record["token"]), [tsa_peer.pki.ca]).ok  # DER works too
    assert ("info", "anchored") == log.records[-1][:2]

    # anchored already: nothing to do, no request; an anchor is written once
    assert await anchor_after_seal(hub.store, session, settings_for(tsa_peer)) is None
    assert len(tsa_peer.requests) == 1
    assert await hub.store.call(hub.store.set_block_anchor, 2, '{"other":1}') is False
    assert (await stored_blocks(hub))[2]["anchor"] == stored[2]["anchor"]


async def test_a_tampered_token_is_invalid(make_hub, tsa_peer, session):
    hub, _, blocks = await sealed_hub(make_hub, n=3)
    anchor = await anchor_block(session, blocks[-1], settings_for(tsa_peer))
    der, block, ca = anchor.der, blocks[-1], [tsa_peer.pki.ca]
    # back-date the token by a day: its genTime is signed
    gen = dt.datetime.fromisoformat(anchor.gen_time.replace("Z", "+00:00"))
    stamp = gen.strftime("%Y%m%d%H%M%SZ").encode()
    earlier = (gen - dt.timedelta(days=1)).strftime("%Y%m%d%H%M%SZ").encode()
    assert der.count(b"\x18\x0f" + stamp) == 1
    backdated = verify_anchor(block, der.replace(b"\x18\x0f" + stamp, b"\x18\x0f" + earlier), ca)
    assert backdated.status is AnchorStatus.SIGNATURE_INVALID and "altered" in backdated.detail
    flipped = bytearray(der)
    flipped[-3] ^= 0x01  # inside the signature value
    assert verify_anchor(block, bytes(flipped), ca).status is AnchorStatus.SIGNATURE_INVALID
    assert verify_anchor(block, der[:-40], ca).status is AnchorStatus.MALFORMED
    assert verify_anchor(block, "not base64!", ca).status is AnchorStatus.MALFORMED
    # the stored record: readable, and its gen_time must be the token's
    assert check_block_anchor({**block, "anchor": "{not json"}, ca).status is AnchorStatus.MALFORMED
    edited = json.dumps({**anchor.as_dict(), "gen_time": "2020-01-01T00:00:00Z"})
    check = check_block_anchor({**block, "anchor": edited}, ca)
    assert check.status is AnchorStatus.MALFORMED and "edited" in check.detail
    assert check_block_anchor({**block, "anchor": anchor.to_json()}, ca).ok


async def test_the_anchor_of_another_block_is_an_imprint_mismatch(make_hub, tsa_peer, session, tmp_path):
    hub, _, blocks = await sealed_hub(make_hub, n=8)
    anchor = await anchor_block(session, blocks[0], settings_for(tsa_peer))
    ca = [tsa_peer.pki.ca]
    assert verify_anchor(blocks[0], anchor.token, ca).ok
    check = verify_anchor(blocks[1], anchor.token, ca)
    assert check.status is AnchorStatus.IMPRINT_MISMATCH and "block 1 hashes to" in check.detail
    # a header altered behind the hash it claims: no token can match it
    altered = {**blocks[0], "count": blocks[0]["count"] + 1}
    assert verify_anchor(altered, anchor.token, ca).status is AnchorStatus.IMPRINT_MISMATCH
    # the oracle agrees: openssl ts -verify refuses the token for the other block's digest
    assert "imprint mismatch" in openssl_verify(anchor.der, blocks[1]["hash"], tsa_peer.pki.ca, tmp_path)


async def test_a_token_under_another_ca_is_untrusted(make_hub, tsa_peer, session):
    hub, _, blocks = await sealed_hub(make_hub, n=3)
    anchor = await anchor_block(session, blocks[0], settings_for(tsa_peer))
    pki = tsa_peer.pki
    wrong = verify_anchor(blocks[0], anchor.token, [pki.other_ca])
    assert wrong.status is AnchorStatus.UNTRUSTED and "not trusted" in wrong.detail
    assert verify_anchor(blocks[0], anchor.token, []).status is AnchorStatus.UNTRUSTED  # the system store
    assert verify_anchor(blocks[0], anchor.token, [pki.other_ca, pki.ca]).ok  # a bundle
    with pytest.raises(AnchorError, match="not found"):
        verify_anchor(blocks[0], anchor.token, [pki.dir / "missing.pem"])
    # checked as of a time before the TSA certificate existed
    old = verify_anchor(blocks[0], anchor.token, [pki.ca], at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
    assert old.status is AnchorStatus.UNTRUSTED and "not yet valid" in old.detail


async def test_an_untrusted_token_is_not_stored(make_hub, tsa_peer, session):
    hub, _, blocks = await sealed_hub(make_hub, n=3)
    log = Log()
    assert await anchor_after_seal(hub.store, session, settings_for(tsa_peer, ca_paths=(tsa_peer.pki.other_ca,)),
                                   log=log) is None
    assert all(b["anchor"] is None for b in await stored_blocks(hub))
    level, message, kw = log.records[-1]
    assert level == "warning" and "next seal" in message and "untrusted" in kw["error"]


async def test_credentials_go_in_a_header_never_in_stored_urls_or_errors(tsa_peer, session):
    authed = tsa_peer.url.replace("http://", "http://hub:p%40ss@")
    anchor = await anchor_block(session, {"hash": "12" * 32, "index": 0}, settings_for(tsa_peer, url=authed))
    assert tsa_peer.requests[-1]["authorization"] == "Basic " + base64.b64encode(b"hub:p@ss").decode()
    assert anchor.tsa == tsa_peer.url
    tsa_peer.mode = "http500"
    with pytest.raises(AnchorError) as caught:
        await anchor_block(session, {"hash": "12" * 32, "index": 0}, settings_for(tsa_peer, url=authed, attempts=1))
    assert "p%40ss" not in str(caught.value) and "hub:" not in str(caught.value) and "HTTP 500" in str(caught.value)


# --------------------------------------------------------------------------- TSA failures


@pytest.mark.parametrize("mode, expected", [
    ("http500", "time-stamp request failed: POST http://127.0.0.1:*/tsa: HTTP 500"),
    ("reject", "refused the request: status rejection (Message digest algorithm is not supported., failInfo: bad_alg)"),
    ("garbage", "not an RFC 3161 TimeStampResp (ValueError) (Content-Type 'text/html')"),
    ("replay", "a token for another hash than the one sent (imprint mismatch)"),
])
async def test_tsa_errors_are_clear_and_store_nothing(make_hub, tsa_peer, session, mode, expected):
    import fnmatch

    hub, _, _ = await sealed_hub(make_hub, n=3)
    if mode == "replay":  # a first, genuine answer the TSA will then send again for any query
        await anchor_block(session, {"hash": "cd" * 32, "index": 9}, settings_for(tsa_peer, verify=False))
    tsa_peer.mode = mode
    block = await hub.store.call(hub.store.last_block)
    with pytest.raises(AnchorError) as caught:
        await anchor_block(session, block, settings_for(tsa_peer))
    assert fnmatch.fnmatch(str(caught.value), f"*{expected}*"), str(caught.value)
    log = Log()
    assert await anchor_after_seal(hub.store, session, settings_for(tsa_peer), log=log) is None
    warnings = [r for r in log.records if r[0] != "info"]  # info: fetch's "retrying request"
    assert [r[0] for r in warnings] == ["warning"] and fnmatch.fnmatch(warnings[0][2]["error"], f"*{expected}*")
    assert (await hub.store.call(hub.store.last_block))["anchor"] is None
    if mode == "http500":
        assert len(tsa_peer.requests) == 4  # fetch retried once, twice
    # the TSA is back: the next seal anchors the block
    tsa_peer.mode = "ok"
    assert await anchor_after_seal(hub.store, session, settings_for(tsa_peer)) is not None
    assert (await hub.store.call(hub.store.last_block))["anchor"] is not None


async def test_a_replayed_answer_for_the_same_hash_is_refused(tsa_peer, session):
    block = {"hash": "ef" * 32, "index": 0}
    await anchor_block(session, block, settings_for(tsa_peer))
    tsa_peer.mode = "replay"  # same imprint, but the nonce of the first request
    with pytest.raises(AnchorError, match="lacks the request's nonce"):
        await anchor_block(session, block, settings_for(tsa_peer))


async def test_an_unreachable_or_silent_tsa_neither_blocks_nor_stores(make_hub, session, tsa_pki):
    from aiohttp import web

    hub, _, _ = await sealed_hub(make_hub, n=3)
    log = Log()
    closed = AnchorSettings(url="http://127.0.0.1:9/tsa", attempts=1, timeout=2.0)
    assert await anchor_after_seal(hub.store, session, closed, log=log) is None
    assert "time-stamp request failed: POST http://127.0.0.1:9/tsa: Client" in log.records[-1][2]["error"]

    release = asyncio.Event()

    async def silent(request):
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/", silent)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        started = asyncio.get_running_loop().time()
        slow = AnchorSettings(url=f"http://127.0.0.1:{runner.addresses[0][1]}/", attempts=1, timeout=0.3)
        assert await anchor_after_seal(hub.store, session, slow, log=log) is None
        assert asyncio.get_running_loop().time() - started < 3
        assert "TimeoutError" in log.records[-1][2]["error"]
    finally:
        release.set()
        await runner.cleanup()
    assert (await hub.store.call(hub.store.last_block))["anchor"] is None


# --------------------------------------------------------------------------- when to anchor


async def test_anchor_every_period_anchors_the_newest_block_at_most_once_per_period(make_hub, tsa_peer, session):
    hub, _, blocks = await sealed_hub(make_hub, n=4, max_events=2)
    hour = dt.timedelta(hours=1)
    now = dt.datetime.now(dt.timezone.utc)
    assert (await hub.store.call(block_to_anchor, hub.store, hour, now))["index"] == 1  # nothing anchored yet
    assert await anchor_after_seal(hub.store, session, settings_for(tsa_peer, every=hour)) is not None
    await hub.append([event(i) for i in range(4, 6)], source=None)
    await hub.store.call(seal, hub.store, max_events=2)
    assert await hub.store.call(block_to_anchor, hub.store, hour, now) is None  # block 1 was anchored moments ago
    assert await anchor_after_seal(hub.store, session, settings_for(tsa_peer, every=hour)) is None
    later = now + dt.timedelta(hours=2)
    assert (await hub.store.call(block_to_anchor, hub.store, hour, later))["index"] == 2
    assert (await hub.store.call(block_to_anchor, hub.store, None, now))["index"] == 2  # every seal
    assert len(tsa_peer.requests) == 1


# --------------------------------------------------------------------------- hub integration (patches)


async def test_verify_checks_every_anchor_and_names_the_block(make_hub, tsa_peer, session):
    from hub.ledger.anchoring import anchor_checker

    hub, _, blocks = await sealed_hub(make_hub, n=12)
    checker = anchor_checker([tsa_peer.pki.ca])
    report = await hub.store.call(ledger.verify, hub.store, check_anchor=checker)
    assert report.ok and report.anchored == 0 and report.unanchored == 3 and report.not_time_stamped == 3
    one = await anchor_block(session, blocks[1], settings_for(tsa_peer))
    await hub.store.call(hub.store.set_block_anchor, 1, one.to_json())
    report = await hub.store.call(ledger.verify, hub.store, check_anchor=checker)
    assert report.ok and (report.anchored, report.unanchored, report.not_time_stamped) == (1, 2, 1)
    assert report.last_anchor == {"block": 1, "tsa": tsa_peer.url, "gen_time": one.gen_time}
    # block 2 gets block 0's token: verify fails naming block 2
    zero = await anchor_block(session, blocks[0], settings_for(tsa_peer))
    await hub.store.call(hub.store.set_block_anchor, 2, zero.to_json())
    report = await hub.store.call(ledger.verify, hub.store, check_anchor=checker)
    assert not report.ok and report.problem.startswith("block 2: its time-stamp anchor does not match (imprint mismatch")
    untrusted = await hub.store.call(ledger.verify, hub.store, check_anchor=anchor_checker([tsa_peer.pki.other_ca]))
    assert not untrusted.ok and untrusted.problem.startswith("block 1: its time-stamp anchor does not match (untrusted")


async def test_a_proof_carries_the_anchor_that_dates_its_block(make_hub, tsa_peer, session):
    hub, ids, blocks = await sealed_hub(make_hub, n=12)
    proof = await hub.store.call(ledger.prove, hub.store, ids[1])
    assert proof["anchor"] is None and proof["anchor_chain"] == [] and ledger.check_proof(proof)[0]
    anchor = await anchor_after_seal(hub.store, session, settings_for(tsa_peer))  # the newest block: 2
    proof = json.loads(json.dumps(await hub.store.call(ledger.prove, hub.store, ids[1])))  # block 0
    assert proof["anchor"] == anchor.as_dict() and [h["index"] for h in proof["anchor_chain"]] == [1, 2]
    ok, message = ledger.check_proof(proof, tsa_ca=[tsa_peer.pki.ca])
    assert ok and f"time-stamped {anchor.gen_time} by " in message and "anchor on block 2" in message
    ok, message = ledger.check_proof(proof, tsa_ca=[tsa_peer.pki.other_ca])
    assert not ok and "untrusted" in message
    own = await hub.store.call(ledger.prove, hub.store, ids[11])
    assert own["anchor_chain"] == [] and ledger.check_proof(own, tsa_ca=[tsa_peer.pki.ca])[0]
    broken = json.loads(json.dumps(proof))
    broken["anchor_chain"][0]["prev_hash"] = "00" * 32
    ok, message = ledger.check_proof(broken, tsa_ca=[tsa_peer.pki.ca])
    assert not ok and "does not match its hash" in message
    skipped = json.loads(json.dumps(proof))
    del skipped["anchor_chain"][0]
    ok, message = ledger.check_proof(skipped, tsa_ca=[tsa_peer.pki.ca])
    assert not ok and "chain is broken at block 2" in message


TSA_HUB = """\
# (a line at column 0 keeps make_hub's dedent from moving the section)
  ledger:
    tsa_url: "{url}"
    tsa_ca: "{ca}"
    tsa_timeout: 5s
"""


async def test_hub_seal_anchors_and_a_tsa_outage_loses_nothing(make_hub, tsa_peer):
    hub = await make_hub(TSA_HUB.format(url=tsa_peer.url, ca=tsa_peer.pki.ca))
    await hub.append([event(i) for i in range(5)], source=None)
    tsa_peer.mode = "http500"
    made = await hub.seal()
    assert [b.index for b in made] == [0] and (await hub.store.call(hub.store.last_block))["anchor"] is None
    tsa_peer.mode = "ok"
    assert await hub.seal() == []  # nothing new to seal, but the pending anchor is retried
    assert Anchor.from_json((await hub.store.call(hub.store.last_block))["anchor"]).tsa == tsa_peer.url


async def test_cli_verify_and_prove_check_with_an_anchor(workdir, tsa_peer):
    from click.testing import CliRunner

    from hub.cli import main

    async def parcours(*args):
        """The command in-process, in a thread (it runs its own event loop; this one serves the TSA).
        A subprocess per command would cost seconds each; tests/test_ledger.py covers that path."""
        result = await asyncio.wait_for(asyncio.to_thread(CliRunner().invoke, main, list(args)), timeout=60)
        return result.exit_code, result.stdout, result.stderr

    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "a.ndjson").write_text("\n".join(json.dumps(event(i)) for i in range(10)) + "\n")
    (workdir / "hub.yaml").write_text(
        "hub:\n  data_dir: var\n  store: {url: 'sqlite:///var/hub.db'}\n"
        + TSA_HUB.format(url=tsa_peer.url, ca=tsa_peer.pki.ca)
        + "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1h}}\n")
    code, out, err = await parcours("run", "--once", "--config", "hub.yaml")
    assert code == 0, err
    code, out, err = await parcours("verify", "--config", "hub.yaml")
    assert code == 0 and "ledger intact: 1 block(s), 10 sealed event(s)" in out
    assert "time-stamped: 1 anchor(s) valid; the newest dates blocks 0–0 at " in out, out + err
    event_id = sqlite3.connect(workdir / "var" / "hub.db").execute(
        "SELECT id FROM events WHERE source_id = 'evt-3'").fetchone()[0]
    code, out, err = await parcours("prove", event_id, "-o", "proof.json", "--config", "hub.yaml")
    assert code == 0, err
    code, out, err = await parcours("prove", "--check", "proof.json", "--tsa-ca", str(tsa_peer.pki.ca))
    assert code == 0 and out.startswith("valid: ") and "time-stamped " in out, out + err
    code, out, err = await parcours("prove", "--check", "proof.json", "--tsa-ca", str(tsa_peer.pki.other_ca))
    assert code == 1 and err.startswith("INVALID: the block's time-stamp anchor does not check out: untrusted")
    db = sqlite3.connect(workdir / "var" / "hub.db")
    with db:  # someone edits the anchor's date behind the hub's back
        db.execute("UPDATE blocks SET anchor = json_set(anchor, '$.gen_time', '2026-01-01T00:00:00Z')")
    db.close()
    code, out, err = await parcours("verify", "--config", "hub.yaml")
    assert code == 1 and "LEDGER ALTERED: block 0: its time-stamp anchor does not match (malformed" in err, out + err


"""A local RFC 3161 time-stamping authority: ``openssl ts -reply`` behind a tiny aiohttp front.

Import ``tsa_pki_fixture`` and ``tsa_peer_fixture`` into a test module to get two fixtures:

* ``tsa_pki`` (session scope) makes, with the ``openssl`` command, a throwaway root CA, a TSA
  certificate signed by it (extended key usage ``timeStamping``, critical, as RFC 3161 requires)
  and an unrelated CA (see docs/integrity.md);
* ``tsa_peer`` serves ``POST /`` and ``POST /tsa`` on 127.0.0.1 (``peer.url``): an
  ``application/timestamp-query`` body goes through ``openssl ts -reply`` and comes back as
  ``application/timestamp-reply``. ``peer.mode`` scripts the answers:

  * ``"ok"`` – a granted token;
  * ``"reject"`` – openssl's own refusal (a TSA section accepting only SHA-512: status rejection, badAlg);
  * ``"http500"`` – HTTP 500 with a text body;
  * ``"replay"`` – the first granted answer again, whatever the query (its imprint, or at least its nonce, is wrong);
  * ``"garbage"`` – HTTP 200 with a body that is not DER.

Without ``openssl`` the fixtures skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"

TSA_CNF = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir                     = {dir}
serial                  = $dir/tsaserial
crypto_device           = builtin
signer_cert             = $dir/tsa.crt
certs                   = $dir/tsa-ca.crt
signer_key              = $dir/tsa.key
signer_digest           = sha256
default_policy          = 1.2.3.4.1
other_policies          = 1.2.3.4.5.6
digests                 = sha256, sha384, sha512
accuracy                = secs:1, millisecs:500
clock_precision_digits  = 0
ordering                = yes
tsa_name                = yes
ess_cert_id_chain       = no
ess_cert_id_alg         = sha256

# Same TSA, but it only accepts SHA-512 imprints: refuses our SHA-256 queries (badAlg).
[ tsa_reject ]
dir                     = {dir}
serial                  = $dir/tsaserial
crypto_device           = builtin
signer_cert             = $dir/tsa.crt
certs                   = $dir/tsa-ca.crt
signer_key              = $dir/tsa.key
signer_digest           = sha256
default_policy          = 1.2.3.4.1
other_policies          = 1.2.3.4.5.6
digests                 = sha512
accuracy                = secs:1
clock_precision_digits  = 0
ordering                = yes
tsa_name                = yes
ess_cert_id_chain       = no
ess_cert_id_alg         = sha256

[ tsa_ext ]
basicConstraints        = critical, CA:FALSE
keyUsage                = critical, digitalSignature, nonRepudiation
extendedKeyUsage        = critical, timeStamping
subjectKeyIdentifier    = hash
authorityKeyIdentifier  = keyid:always
"""

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]  # instant, unlike RSA key generation


def openssl_or_skip() -> str:
    path = shutil.which("openssl")
    if path is None:
        reason = "openssl not installed: the local TSA and token checks need it (Debian: apt-get install openssl)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)
    return path


@dataclass
class TsaPki:
    dir: Path
    ca: Path  # root CA certificate (PEM) the TSA certificate chains to
    cert: Path  # TSA certificate
    other_ca: Path  # an unrelated root CA: trusting it alone must not validate our tokens
    config: Path


def make_tsa_pki(folder: Path) -> TsaPki:
    """Root CA + TSA certificate (EKU timeStamping, critical) + an unrelated CA, with openssl."""
    openssl = openssl_or_skip()
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True, timeout=60)

    (folder / "tsa.cnf").write_text(TSA_CNF.format(dir=folder))
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    run("req", "-x509", *_EC, "-nodes", "-keyout", "tsa-ca.key", "-out", "tsa-ca.crt", "-days", "30",
        "-subj", "/CN=Test TSA Root CA", *ca_ext)
    run("req", *_EC, "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=Test TSA/O=Parcours Tests")
    run("x509", "-req", "-in", "tsa.csr", "-CA", "tsa-ca.crt", "-CAkey", "tsa-ca.key", "-CAcreateserial", "-days", "30",
        "-out", "tsa.crt", "-extfile", "tsa.cnf", "-extensions", "tsa_ext")
    run("req", "-x509", *_EC, "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "30",
        "-subj", "/CN=Some Other Root CA", *ca_ext)
    (folder / "tsaserial").write_text("01\n")
    return TsaPki(folder, folder / "tsa-ca.crt", folder / "tsa.crt", folder / "other-ca.crt", folder / "tsa.cnf")


@dataclass
class TsaPeer:
    pki: TsaPki
    mode: str = "ok"
    url: str = ""
    requests: list[dict] = field(default_factory=list)  # {"content_type", "size", "authorization"} per POST
    _first: bytes | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def reply(self, query: bytes, section: str) -> bytes:
        async with self._lock:  # openssl ts -reply rewrites the serial file
            with tempfile.TemporaryDirectory(prefix="tsa-") as tmp:
                qfile, rfile = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
                qfile.write_bytes(query)
                proc = await asyncio.create_subprocess_exec(
                    openssl_or_skip(), "ts", "-reply", "-config", str(self.pki.config), "-section", section,
                    "-queryfile", str(qfile), "-out", str(rfile),
                    cwd=self.pki.dir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )
                _, err = await proc.communicate()
                if proc.returncode != 0 or not rfile.exists():
                    raise RuntimeError(f"openssl ts -reply failed: {err.decode(errors='replace')}")
                return rfile.read_bytes()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({"content_type": request.content_type, "size": len(body),
                              "authorization": request.headers.get("Authorization")})
        if request.content_type != QUERY_TYPE:
            return web.Response(status=415, text="expected application/timestamp-query")
        if self.mode == "http500":
            return web.Response(status=500, text="TSA down for maintenance")
        if self.mode == "garbage":
            return web.Response(body=b"<html>captive portal</html>", content_type="text/html")
        if self.mode == "replay" and self._first is not None:
            return web.Response(body=self._first, content_type=REPLY_TYPE)
        reply = await self.reply(body, "tsa_reject" if self.mode == "reject" else "tsa_config1")
        if self._first is None and self.mode != "reject":
            self._first = reply
        return web.Response(body=reply, content_type=REPLY_TYPE)


@pytest.fixture(scope="session", name="tsa_pki")
def tsa_pki_fixture(tmp_path_factory) -> TsaPki:
    return make_tsa_pki(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(name="tsa_peer")
async def tsa_peer_fixture(tsa_pki):
    peer = TsaPeer(tsa_pki)
    app = web.Application()
    app.router.add_post("/", peer.handle)
    app.router.add_post("/tsa", peer.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    peer.url = f"http://127.0.0.1:{runner.addresses[0][1]}/tsa"
    try:
        yield peer
    finally:
        await runner.cleanup()

"""Time-stamp anchors: RFC 3161 tokens over sealed block hashes.

A block hash (SHA-256 of the canonical block header, see :mod:`hub.ledger`) is sent to a
time-stamping authority (TSA) as the message imprint of an RFC 3161 ``TimeStampReq`` (with a
nonce, asking for the TSA certificate). The TSA answers with a ``TimeStampResp`` whose token — a
CMS ``SignedData`` over a ``TSTInfo`` holding that imprint and the TSA's time, ``genTime`` — is
kept in the block's ``anchor`` column as JSON::

    {"tsa": "https://tsa.example/", "token": "<DER, base64>", "gen_time": "2026-11-28T08:41:36Z"}

Because each block header holds the previous block's hash, an anchor on block N also dates every
block before it: they existed, unchanged, at the anchor's ``gen_time``.

Checking a token (:func:`verify_anchor`) is done in Python: its imprint against the block hash,
then its CMS signature, TSA certificate and chain to the configured CAs (:mod:`hub.ledger.tsp_check`,
with ``asn1crypto`` and ``cryptography``; no ``openssl`` command needed). Results are one of
:class:`AnchorStatus`; a missing CA file raises :class:`AnchorError` instead, as that says
nothing about the token.

Anchoring never holds up sealing: :func:`anchor_after_seal` logs a TSA outage and tries again at
the next seal (the newest block stays unanchored until then).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import enum
import functools
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from hub.errors import ConnectorError, HubError
from hub.http import fetch
from hub.ledger.merkle import BlockHeader
from hub.redaction import redact_url

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
#: how far back :func:`block_to_anchor` looks for a recent anchor (blocks)
MAX_LOOKBACK = 5000


class AnchorError(HubError):
    """A block could not be anchored, or a token could not be checked at all (TSA unreachable,
    request refused, unusable answer, a CA file missing or unreadable). Says nothing about a token."""


class AnchorStatus(str, enum.Enum):
    VALID = "valid"
    #: the token time-stamps another hash than the block's
    IMPRINT_MISMATCH = "imprint mismatch"
    #: the token's CMS signature does not cover its content (altered token, back-dated time…)
    SIGNATURE_INVALID = "signature invalid"
    #: the signature holds but the TSA certificate does not chain to a trusted CA (or is not a TSA certificate)
    UNTRUSTED = "untrusted"
    #: not an RFC 3161 time-stamp token at all
    MALFORMED = "malformed"


@dataclass(frozen=True)
class AnchorCheck:
    """The verdict on one anchor; ``str()`` reads ``"<status>: <detail>"``."""

    status: AnchorStatus
    detail: str
    gen_time: str | None = None
    tsa: str | None = None  # subject of the certificate that signed the token

    @property
    def ok(self) -> bool:
        return self.status is AnchorStatus.VALID

    def __str__(self) -> str:
        return f"{self.status.value}: {self.detail}"


@dataclass(frozen=True)
class Anchor:
    """What the ``anchor`` column of a block holds."""

    tsa: str
    token: str  # DER, base64
    gen_time: str  # ISO 8601, UTC

    def to_json(self) -> str:
        return json.dumps({"tsa": self.tsa, "token": self.token, "gen_time": self.gen_time}, separators=(",", ":"))

    def as_dict(self) -> dict[str, str]:
        return {"tsa": self.tsa, "token": self.token, "gen_time": self.gen_time}

    @classmethod
    def from_json(cls, value: "str | Mapping[str, Any]") -> "Anchor":
        """Read a stored anchor (JSON text or its decoded mapping); ValueError if unreadable."""
        data = json.loads(value) if isinstance(value, (str, bytes)) else value
        if not isinstance(data, Mapping) or not all(isinstance(data.get(k), str) for k in ("tsa", "token", "gen_time")):
            raise ValueError("an anchor is a JSON object with the strings tsa, token and gen_time")
        return cls(data["tsa"], data["token"], data["gen_time"])

    @property
    def der(self) -> bytes:
        return base64.b64decode(self.token, validate=True)


@dataclass(frozen=True)
class AnchorSettings:
    """How to reach the TSA and which CAs to trust (built from ``hub.ledger`` by :meth:`from_config`)."""

    url: str
    ca_paths: tuple[Path, ...] = ()  # empty: the system's trust store
    every: dt.timedelta | None = None  # None: at every seal; else at most once per period
    timeout: float = 10.0
    attempts: int = 2
    backoff: float = 0.5
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # e.g. Authorization for a TSA account
    verify: bool = True  # check each new token against ca_paths before storing it

    @classmethod
    def from_config(cls, config: Any) -> "AnchorSettings | None":
        """Settings from a :class:`hub.config.LoadedConfig`; None when ``hub.ledger.tsa_url`` is unset."""
        ledger = config.hub.ledger
        if not ledger.tsa_url:
            return None
        headers = {}
        if ledger.tsa_username is not None:
            password = ledger.tsa_password.get_secret_value() if ledger.tsa_password is not None else ""
            basic = base64.b64encode(f"{ledger.tsa_username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        return cls(
            url=ledger.tsa_url,
            ca_paths=tuple(config.resolve_path(p) for p in ledger.tsa_ca),
            every=ledger.anchor_every or None,
            timeout=ledger.tsa_timeout.total_seconds(),
            headers=headers,
        )


# --------------------------------------------------------------------------- ASN.1


def _asn1():
    try:
        from asn1crypto import cms, core, tsp
    except ImportError:  # pragma: no cover - a declared dependency
        raise AnchorError("time-stamp anchors need asn1crypto: pip install asn1crypto") from None
    return cms, core, tsp


@functools.cache
def _resp_class():
    """``TimeStampResp`` whose token is optional: a TSA omits it when it refuses (RFC 3161 §2.4.2);
    asn1crypto's ``tsp.TimeStampResp`` requires it."""
    cms, core, tsp = _asn1()

    class TimeStampResp(core.Sequence):
        _fields = [
            ("status", tsp.PKIStatusInfo),
            ("time_stamp_token", cms.ContentInfo, {"optional": True}),
        ]

    return TimeStampResp


def _digest_bytes(digest_hex: str) -> bytes:
    try:
        digest = bytes.fromhex(digest_hex)
    except (TypeError, ValueError):
        raise ValueError(f"not a hex SHA-256 digest: {digest_hex!r}") from None
    if len(digest) != 32:
        raise ValueError(f"not a SHA-256 digest (32 bytes): {digest_hex!r}")
    return digest


def build_request(digest_hex: str, nonce: int | None = None) -> tuple[bytes, int]:
    """DER ``TimeStampReq`` for a SHA-256 digest (hex), with a 64-bit nonce and certReq; returns (der, nonce)."""
    _, _, tsp = _asn1()
    nonce = secrets.randbits(63) | 1 << 62 if nonce is None else nonce  # positive, 8 bytes on the wire
    request = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": _digest_bytes(digest_hex)},
        "nonce": nonce,
        "cert_req": True,
    })
    return request.dump(), nonce


def _tst_info(token_der: bytes):
    """(ContentInfo, SignedData, TSTInfo) of a token; ValueError if it is not a time-stamp token."""
    cms, _, _ = _asn1()
    try:
        info = cms.ContentInfo.load(token_der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"content type {info['content_type'].native}, expected signed_data")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError(f"encapsulated content {encap['content_type'].native}, expected tst_info")
        tst = encap["content"].parsed
        _ = tst.native  # parse every field now: lazy parsing would fail later, somewhere else
        if not signed["signer_infos"]:
            raise ValueError("no signer")
    except ValueError:
        raise
    except Exception as exc:  # asn1crypto raises TypeError, KeyError… on some garbage
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    return info, signed, tst


def _utc_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _signer_subject(signed) -> str | None:
    """Subject of the certificate named by the (first) signer, if the token carries it."""
    try:
        sid = signed["signer_infos"][0]["sid"]
        for choice in signed["certificates"] or []:
            if choice.name != "certificate":
                continue
            cert = choice.chosen
            if sid.name == "issuer_and_serial_number":
                match = (cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native)
            else:
                match = cert.key_identifier == sid.chosen.native
            if match:
                return cert.subject.human_friendly
    except Exception:  # informational only
        return None
    return None


def _tsa_name(tst) -> str | None:
    """The TSTInfo's optional ``tsa`` GeneralName, readable."""
    try:
        tsa = tst["tsa"]
        if tsa.native is None:
            return None
        return tsa.chosen.human_friendly if tsa.name == "directory_name" else str(tsa.native)
    except Exception:  # informational only
        return None


def token_info(token: "str | bytes") -> dict[str, Any]:
    """What a token says: gen_time, serial, policy, imprint (hex), its algorithm, nonce, TSA name, signer."""
    _, signed, tst = _tst_info(_token_der(token))
    imprint = tst["message_imprint"]
    return {
        "gen_time": _utc_iso(tst["gen_time"].native),
        "serial": tst["serial_number"].native,
        "policy": tst["policy"].dotted,
        "imprint": imprint["hashed_message"].native.hex(),
        "imprint_algorithm": imprint["hash_algorithm"]["algorithm"].native,
        "nonce": tst["nonce"].native,
        "tsa_name": _tsa_name(tst),
        "signer": _signer_subject(signed),
    }


def parse_reply(body: bytes, digest_hex: str, nonce: int) -> tuple[bytes, dt.datetime]:
    """The token (DER) and genTime of a granted ``TimeStampResp`` for ``digest_hex`` and ``nonce``.

    Raises :class:`AnchorError` when the TSA refused, or answered for another imprint or nonce.
    """
    try:
        resp = _resp_class().load(body, strict=True)
        status = resp["status"]
        state = status["status"].native
    except Exception as exc:
        raise AnchorError(f"answered with something that is not an RFC 3161 TimeStampResp ({type(exc).__name__})") from None
    if state not in ("granted", "granted_with_mods"):
        text = "; ".join(status["status_string"].native or []) if status["status_string"] else ""
        fail = ", ".join(sorted(status["fail_info"].native)) if status["fail_info"] else ""
        detail = ", ".join(part for part in (text, f"failInfo: {fail}" if fail else "") if part)
        raise AnchorError(f"refused the request: status {state}" + (f" ({detail})" if detail else ""))
    token = resp["time_stamp_token"]
    if not token:
        raise AnchorError(f"granted the request (status {state}) but sent no token")
    der = token.dump()
    try:
        _, _, tst = _tst_info(der)
    except ValueError as exc:
        raise AnchorError(f"answered with something that is not a time-stamp token ({exc})") from None
    imprint = tst["message_imprint"]
    if (imprint["hash_algorithm"]["algorithm"].native != "sha256"
            or imprint["hashed_message"].native != _digest_bytes(digest_hex)):
        raise AnchorError("answered with a token for another hash than the one sent (imprint mismatch)")
    if tst["nonce"].native != nonce:
        raise AnchorError("answered with a token that lacks the request's nonce (a replayed or mixed-up answer)")
    return der, tst["gen_time"].native


# --------------------------------------------------------------------------- asking a TSA


class _WithBody:
    """A session whose requests carry ``body``: :func:`hub.http.fetch` has no body parameter,
    and the time-stamp query is bytes. Everything else (timeouts, retries, errors) is fetch's."""

    def __init__(self, session, body: bytes):
        self._session = session
        self._body = body

    def request(self, method: str, url: str, **kwargs: Any):
        kwargs["data"] = self._body
        return self._session.request(method, url, **kwargs)


def _credentials_to_header(url: str, headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Move ``user:password@`` out of the URL into an Authorization header, so that no error
    message or log line carries it."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, dict(headers)
    basic = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=netloc)), {"Authorization": f"Basic {basic}", **headers}


async def request_token(session, url: str, digest_hex: str, *, timeout: float = 10.0, attempts: int = 2,
                        backoff: float = 0.5, headers: Mapping[str, str] | None = None,
                        log: Any = None) -> tuple[bytes, dt.datetime]:
    """POST a time-stamp query for ``digest_hex`` to ``url``; the checked token (DER) and its genTime."""
    query, nonce = build_request(digest_hex)
    where = redact_url(url)
    url, headers = _credentials_to_header(url, headers or {})
    try:
        response = await fetch(
            _WithBody(session, query), "POST", url, what=f"POST {where}",
            headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE, **headers},
            timeout=timeout, attempts=attempts, backoff=backoff, log=log,
        )
    except ConnectorError as exc:
        raise AnchorError(f"time-stamp request failed: {exc}") from None
    try:
        return parse_reply(response.body, digest_hex, nonce)
    except AnchorError as exc:
        kind = response.headers.get("Content-Type", "")
        hint = f" (Content-Type {kind!r})" if kind and not kind.startswith(REPLY_TYPE) else ""
        raise AnchorError(f"TSA {where}: {exc}{hint}") from None


async def anchor_block(session, block: Mapping[str, Any], settings: AnchorSettings, *, log: Any = None) -> Anchor:
    """Get a token for ``block["hash"]`` and, when ``settings.verify``, check it before returning it."""
    der, gen_time = await request_token(session, settings.url, block["hash"], timeout=settings.timeout,
                                        attempts=settings.attempts, backoff=settings.backoff,
                                        headers=settings.headers, log=log)
    if settings.verify:
        check = await asyncio.to_thread(verify_anchor, block, der, settings.ca_paths)
        if not check.ok:
            raise AnchorError(f"the token of TSA {redact_url(settings.url)} for block {block.get('index')} "
                              f"does not check out: {check}")
    return Anchor(tsa=redact_url(settings.url), token=base64.b64encode(der).decode(), gen_time=_utc_iso(gen_time))


# --------------------------------------------------------------------------- after each seal


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def block_to_anchor(store, every: dt.timedelta | None = None, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """(store thread) The newest block when it should be anchored now, else None.

    It should when it has no anchor and, with a period ``every``, no block sealed within the
    last period already has one (blocks are walked back from the newest, by ``block_for_seq``).
    """
    last = store.last_block()
    if last is None or last.get("anchor"):
        return None
    if not every:
        return last
    now = now or dt.datetime.now(dt.timezone.utc)
    horizon = now - every
    block = last
    for _ in range(MAX_LOOKBACK):
        if block["first_seq"] <= 1:
            break
        block = store.block_for_seq(block["first_seq"] - 1)
        if block is None:
            break
        if block.get("anchor"):
            try:
                anchored_at = _parse_time(Anchor.from_json(block["anchor"]).gen_time)
            except ValueError:
                anchored_at = _parse_time(block["sealed_at"])
            return None if anchored_at > horizon else last
        if _parse_time(block["sealed_at"]) <= horizon:
            break
    return last


async def anchor_after_seal(store, session, settings: AnchorSettings, *, log: Any = None,
                            now: dt.datetime | None = None, count: Any = None) -> Anchor | None:
    """Anchor the newest block if it is due (see :func:`block_to_anchor`); what ``Hub.seal`` calls.

    Never raises for a TSA problem: it is logged and the block is tried again at the next call,
    so an outage neither loses nor holds up anything. Returns the stored anchor, or None.
    ``count(obtained)``, if given, is called once per attempt (the metrics).
    """
    try:
        block = await store.call(block_to_anchor, store, settings.every, now)
        if block is None:
            return None
        anchor = await anchor_block(session, block, settings, log=log)
        stored = await store.call(store.set_block_anchor, block["index"], anchor.to_json())
    except AnchorError as exc:
        if log is not None:
            log.warning("anchoring failed; trying again at the next seal", error=str(exc))
        if count is not None:
            count(False)
        return None
    except Exception as exc:  # never let anchoring break sealing
        if log is not None:
            log.exception("anchoring crashed; trying again at the next seal", error=repr(exc))
        if count is not None:
            count(False)
        return None
    if count is not None:
        count(True)
    if not stored:  # another process anchored it meanwhile
        return None
    if log is not None:
        log.info("anchored", block=block["index"], tsa=anchor.tsa, gen_time=anchor.gen_time)
    return anchor


# --------------------------------------------------------------------------- checking


def _token_der(token: "str | bytes") -> bytes:
    if isinstance(token, bytes):
        return token
    try:
        return base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the token is not base64") from None


def _header_hash(block: Mapping[str, Any]) -> str | None:
    """SHA-256 of the block header when ``block`` has every header field (see hub.ledger.merkle.BlockHeader)."""
    names = [name for name in BlockHeader.__dataclass_fields__ if name != "leaf_format"]
    if not all(name in block for name in names):
        return None
    return BlockHeader.of(block).hash


def _name(block: Mapping[str, Any]) -> str:
    return f"block {block['index']}" if block.get("index") is not None else "the block"


def verify_anchor(block: Mapping[str, Any], token: "str | bytes", trusted_ca_pem_paths: Iterable["str | Path"] = (),
                  *, at: dt.datetime | None = None) -> AnchorCheck:
    """Check a time-stamp token (base64 text or DER) against a block.

    The token must time-stamp ``block["hash"]`` (and, when ``block`` has the header fields, that
    hash must be the header's), carry a valid CMS signature, and be signed by a TSA certificate
    (extended key usage timeStamping) that chains to one of ``trusted_ca_pem_paths`` (PEM files;
    none: the system's trust store), as of ``at`` (default: now). Raises :class:`AnchorError`
    when a CA file is missing or holds no certificate.
    """
    try:
        der = _token_der(token)
        _, signed, tst = _tst_info(der)
    except ValueError as exc:
        return AnchorCheck(AnchorStatus.MALFORMED, f"not an RFC 3161 time-stamp token ({exc})")
    gen_time = _utc_iso(tst["gen_time"].native)
    signer = _signer_subject(signed)

    def result(status: AnchorStatus, detail: str) -> AnchorCheck:
        return AnchorCheck(status, detail, gen_time=gen_time, tsa=signer)

    expected = str(block.get("hash", ""))
    header_hash = _header_hash(block)
    if header_hash is not None and header_hash != expected:
        return result(AnchorStatus.IMPRINT_MISMATCH, f"{_name(block)}'s header does not hash to {expected[:16]}…: "
                                                     "the header was altered")
    imprint = tst["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    stamped = imprint["hashed_message"].native.hex()
    try:
        _digest_bytes(expected)
    except ValueError as exc:
        return result(AnchorStatus.IMPRINT_MISMATCH, str(exc))
    if algorithm != "sha256" or stamped != expected.lower():
        return result(AnchorStatus.IMPRINT_MISMATCH,
                      f"the token time-stamps {algorithm} {stamped[:16]}…, {_name(block)} hashes to {expected[:16]}…")

    from hub.ledger import tsp_check  # cryptography's X.509: loaded on use

    cas = [Path(p) for p in trusted_ca_pem_paths]
    for ca in cas:
        if not ca.is_file():
            raise AnchorError(f"TSA CA certificate file not found: {ca}")
    try:
        trusted = tsp_check.load_pem_bundle(cas) if cas else tsp_check.system_trust_store()
    except ValueError as exc:
        raise AnchorError(f"TSA CA certificate file unreadable: {exc}") from None
    try:
        tsp_check.check_signed_data(signed, trusted, at)
    except tsp_check.Rejected as rejected:
        return result(AnchorStatus(rejected.status), rejected.detail)
    return result(AnchorStatus.VALID, f"time-stamped {gen_time} by {signer or 'the TSA'}")


def check_anchor_record(block: Mapping[str, Any], anchor: "Anchor | Mapping[str, Any] | str",
                        ca_paths: Iterable["str | Path"] = (), *, at: dt.datetime | None = None) -> AnchorCheck:
    """Check an anchor record (as stored, or as a proof carries it) against its block: the token
    (:func:`verify_anchor`), and the record's ``gen_time`` against the token's."""
    try:
        record = anchor if isinstance(anchor, Anchor) else Anchor.from_json(anchor)
        stated = _parse_time(record.gen_time)
    except (ValueError, TypeError) as exc:
        return AnchorCheck(AnchorStatus.MALFORMED, f"the anchor record is not readable ({exc})")
    check = verify_anchor(block, record.token, ca_paths, at=at)
    if check.ok and check.gen_time is not None and _parse_time(check.gen_time) != stated:
        return AnchorCheck(AnchorStatus.MALFORMED, f"the anchor record says {record.gen_time}, its token "
                           f"{check.gen_time}: the record was edited", gen_time=check.gen_time, tsa=check.tsa)
    return check


def check_block_anchor(block: Mapping[str, Any], ca_paths: Iterable["str | Path"] = (),
                       *, at: dt.datetime | None = None) -> AnchorCheck | None:
    """The check of a stored block's anchor (its ``anchor`` column); None when it has none."""
    raw = block.get("anchor")
    if not raw:
        return None
    return check_anchor_record(block, raw, ca_paths, at=at)


# --------------------------------------------------------------------------- proofs


def _header(block: Mapping[str, Any]) -> dict[str, Any]:
    return {**BlockHeader.of(block).fields(), "hash": block["hash"]}


def anchor_record(raw: Any) -> Any:
    """A stored anchor as its JSON object (left as it is when it is not JSON: checks report that)."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def covering_anchor(store, block: Mapping[str, Any], *, limit: int = MAX_LOOKBACK) -> tuple[Any, list[dict[str, Any]]]:
    """(store thread) The anchor that dates ``block`` and the headers that chain ``block`` to it.

    That is the block's own anchor (and no header), or the anchor of the first later anchored
    block with the headers after ``block`` up to that one, oldest first. ``(None, [])`` when no
    block within ``limit`` after it is anchored.
    """
    chain: list[dict[str, Any]] = []
    current = block
    for _ in range(limit + 1):
        if current.get("anchor"):
            return anchor_record(current["anchor"]), chain
        current = store.block_for_seq(current["last_seq"] + 1)
        if current is None:
            break
        chain.append(_header(current))
    return None, []


def check_chained_anchor(block: Mapping[str, Any], chain: Iterable[Mapping[str, Any]], anchor: Any,
                         ca_paths: Iterable["str | Path"] = (), *, at: dt.datetime | None = None) -> AnchorCheck:
    """Check ``anchor`` as a proof carries it: on ``block`` itself (empty ``chain``) or on the last
    header of ``chain``, each header of which must hash right and hold the previous one's hash."""
    previous = block
    for header in chain:
        try:
            ok_hash = _header_hash(header) == header["hash"]
            linked = header["prev_hash"] == previous["hash"] and header["index"] == previous["index"] + 1
        except (KeyError, TypeError) as exc:
            return AnchorCheck(AnchorStatus.MALFORMED, f"the anchor chain is not readable ({type(exc).__name__}: {exc})")
        if not ok_hash:
            return AnchorCheck(AnchorStatus.IMPRINT_MISMATCH, f"block {header.get('index')} of the anchor chain "
                               "does not match its hash")
        if not linked:
            return AnchorCheck(AnchorStatus.IMPRINT_MISMATCH, f"the anchor chain is broken at block {header.get('index')}: "
                               f"it does not follow block {previous.get('index')}")
        previous = header
    return check_anchor_record(previous, anchor, ca_paths, at=at)


def anchor_checker(ca_paths: Iterable["str | Path"] = ()):
    """A ``block -> AnchorCheck | None`` callable for :func:`hub.ledger.integrity.verify` (``check_anchor=``)."""
    cas = tuple(ca_paths)

    def check(block: Mapping[str, Any]) -> AnchorCheck | None:
        return check_block_anchor(block, cas)

    return check


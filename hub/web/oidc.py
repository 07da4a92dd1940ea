"""Signing staff in through the organisation's OpenID Connect provider (``hub.web.oidc``).

The authorization code flow (OpenID Connect Core 1.0, section 3.1) with PKCE (RFC 7636, S256):

1. :meth:`OidcClient.start` reads the provider's discovery document
   (``<issuer>/.well-known/openid-configuration``, OpenID Connect Discovery 1.0, section 4; its
   ``issuer`` must be the configured one) and sends the browser to its authorization endpoint
   with a random ``state``, ``nonce`` and PKCE challenge. State, nonce, the PKCE verifier and the
   page asked for travel in a cookie signed with the session secret, good for 10 minutes.
2. :meth:`OidcClient.finish`, on the provider's redirect back: the ``state`` must be the
   cookie's; the code is exchanged at the token endpoint (with the verifier and the client
   secret); the ID token is validated as Core section 3.1.3.7 says: its signature against the
   provider's JWKS (asymmetric algorithms only, never ``none`` nor HMAC), ``iss``, ``aud`` (and
   ``azp`` when there are several audiences), ``exp`` and ``iat`` with ``clock_skew`` of
   tolerance, the ``nonce``. The address is the ``email_claim``, counted only when the
   ``verified_claim`` is true.

Any failure is an :class:`OidcError` with a reason (``bad_state``, ``provider_error``,
``bad_token``, ``email_not_verified``) and what was wrong in words; no token or secret is ever in
its message. Which account the address opens, if any, is hub.web.accounts' business.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote_plus, urlencode, urlsplit

import aiohttp
import jwt

from hub.errors import HubError
from hub.http import HttpClient
from hub.web.settings import LOOPBACK_HOSTS, OidcConfig

COOKIE = "parcours_oidc"
FLOW_SECONDS = 600  # time allowed at the provider
DISCOVERY_SECONDS = 3600  # the discovery document and the keys are read again after this
#: signatures an ID token may have: asymmetric only (RFC 8725, section 3.1)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class OidcError(HubError):
    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(detail)


@dataclass(frozen=True)
class Flow:
    """What the browser carries between the redirect to the provider and the way back."""

    state: str
    nonce: str
    verifier: str
    next: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce_challenge(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


def _endpoint(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or not parts.hostname or not (
            parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)):
        raise OidcError("provider_error", f"the provider's discovery document has no https {name}")
    return value


class OidcClient:
    def __init__(self, settings: OidcConfig, session_factory: Callable[[], aiohttp.ClientSession], secret: bytes):
        self.settings, self.secret = settings, secret
        self.http = HttpClient(session_factory, base_url=settings.issuer, auth_headers=dict, timeout=15.0, retries=1,
                               backoff=0.5, max_wait=2.0)
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, jwt.PyJWKSet] | None = None

    # ------------------------------------------------------------------ the provider's documents
    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            answer = await self.http.request("GET", url, what=what, max_bytes=1_000_000)
            document = answer.json(what)
        except HubError as exc:
            raise OidcError("provider_error", str(exc)) from None
        if not isinstance(document, dict):
            raise OidcError("provider_error", f"{what}: not a JSON object")
        return document

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is not None and self._discovery[0] > time.time():
            return self._discovery[1]
        document = await self._get_json(self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
                                        "the provider's discovery document")
        if document.get("issuer") != self.settings.issuer:
            raise OidcError("provider_error", f"the discovery document names the issuer {document.get('issuer')!r}, "
                            f"not {self.settings.issuer!r} (hub.web.oidc.issuer)")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            _endpoint(document, name)
        self._discovery = (time.time() + DISCOVERY_SECONDS, document)
        return document

    async def _key_set(self, *, refresh: bool = False) -> jwt.PyJWKSet:
        if not refresh and self._keys is not None and self._keys[0] > time.time():
            return self._keys[1]
        document = await self.discovery()
        keys = await self._get_json(document["jwks_uri"], "the provider's keys (jwks_uri)")
        try:
            key_set = jwt.PyJWKSet.from_dict(keys)
        except jwt.PyJWTError as exc:
            raise OidcError("provider_error", f"the provider's keys cannot be read: {exc}") from None
        self._keys = (time.time() + DISCOVERY_SECONDS, key_set)
        return key_set

    async def _key_for(self, header: dict[str, Any]) -> jwt.PyJWK:
        kid = header.get("kid")
        for refresh in (False, True):  # a key the provider rolled over since we last read them
            for key in (await self._key_set(refresh=refresh)).keys:
                if (kid is None or key.key_id == kid) and (key.public_key_use in (None, "sig")):
                    return key
        raise OidcError("bad_token", f"the ID token is signed with key {kid!r}, which the provider does not publish")

    # ------------------------------------------------------------------ the flow
    def _seal(self, flow: Flow) -> str:
        payload = _b64(json.dumps([flow.state, flow.nonce, flow.verifier, flow.next, flow.expires]).encode())
        mac = _b64(hmac.new(self.secret, b"oidc:" + payload.encode(), hashlib.sha256).digest())
        return f"{payload}.{mac}"

    def _unseal(self, value: str | None) -> Flow | None:
        if not value or value.count(".") != 1 or len(value) > 2000:
            return None
        payload, mac = value.split(".")
        expected = _b64(hmac.new(self.secret, b"oidc:" + payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        flow = Flow(*json.loads(_unb64(payload)))
        return flow if flow.expires > time.time() else None

    async def start(self, next_path: str) -> tuple[str, str]:
        """The provider's authorization URL to send the browser to, and the cookie value that
        carries the flow (see the module)."""
        document = await self.discovery()
        flow = Flow(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64), next_path,
                    time.time() + FLOW_SECONDS)
        query = urlencode({"response_type": "code", "client_id": self.settings.client_id,
                           "redirect_uri": self.settings.redirect_uri, "scope": " ".join(self.settings.scopes),
                           "state": flow.state, "nonce": flow.nonce, "code_challenge": pkce_challenge(flow.verifier),
                           "code_challenge_method": "S256"})
        endpoint = document["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", self._seal(flow)

    def flow_of(self, cookie: str | None) -> Flow | None:
        """The flow a well-signed, unexpired cookie carries, or None."""
        try:
            return self._unseal(cookie)
        except (ValueError, TypeError):
            return None

    async def finish(self, query: dict[str, str], flow: Flow | None) -> tuple[str, dict[str, Any]]:
        """The provider's redirect back (its ``query``) for the browser's ``flow``: the verified
        e-mail address (lowercased) and the ID token's claims; OidcError otherwise."""
        if flow is None:
            raise OidcError("bad_state", "the sign-in started more than 10 minutes ago, or in another browser")
        if not hmac.compare_digest(str(query.get("state", "")).encode(), flow.state.encode()):
            raise OidcError("bad_state", "the state the provider sent back is not this browser's")
        if "error" in query:
            error = "".join(c for c in str(query["error"])[:60] if c.isalnum() or c in "_-")
            raise OidcError("provider_error", f"the provider answered {error}")
        code = query.get("code")
        if not code:
            raise OidcError("provider_error", "the provider sent back no code")
        claims = await self.validate(await self._exchange(code, flow), flow.nonce)
        return self._address(claims), claims

    async def validate(self, token: str, nonce: str) -> dict[str, Any]:
        """The claims of ``token`` once its signature, issuer, audience, times and ``nonce`` hold."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcError("bad_token", "the ID token is not a signed JWT") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OidcError("bad_token", f"the ID token is signed with {str(alg)[:20]!r}, which is not accepted")
        key = await self._key_for(header)
        s = self.settings
        skew = s.clock_skew.total_seconds()
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], audience=s.client_id, issuer=s.issuer, leeway=skew,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.InvalidSignatureError:
            raise OidcError("bad_token", "the ID token's signature does not verify with the provider's key") from None
        except jwt.ExpiredSignatureError:
            raise OidcError("bad_token", "the ID token has expired (exp)") from None
        except jwt.InvalidAudienceError:
            raise OidcError("bad_token", "the ID token is not meant for this client (aud)") from None
        except jwt.InvalidIssuerError:
            raise OidcError("bad_token", "the ID token comes from another issuer (iss)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise OidcError("bad_token", f"the ID token has no {exc.claim} claim") from None
        except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
            raise OidcError("bad_token", "the ID token is issued in the future (iat, nbf)") from None
        except jwt.PyJWTError as exc:
            raise OidcError("bad_token", f"the ID token does not hold ({type(exc).__name__})") from None
        if not isinstance(claims["iat"], (int, float)) or claims["iat"] > time.time() + skew:
            raise OidcError("bad_token", "the ID token is issued in the future (iat)")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != s.client_id:
            raise OidcError("bad_token", "the ID token has several audiences and is not authorised for this client (azp)")
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise OidcError("bad_token", "the ID token's nonce is not this sign-in's")
        return claims

    def _address(self, claims: dict[str, Any]) -> str:
        s = self.settings
        email = claims.get(s.email_claim)
        if not isinstance(email, str) or "@" not in email:
            raise OidcError("email_not_verified", f"the ID token has no e-mail address in {s.email_claim}")
        verified = claims.get(s.verified_claim)
        if verified is not True and verified != "true":  # some providers write the boolean as a string
            raise OidcError("email_not_verified", f"the provider does not vouch for {email} ({s.verified_claim} "
                            "is not true)")
        return email.strip().lower()

    async def _exchange(self, code: str, flow: Flow) -> str:
        document = await self.discovery()
        s = self.settings
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": s.redirect_uri,
                "code_verifier": flow.verifier}
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if "client_secret_basic" in methods:
            # RFC 6749, section 2.3.1: both form-urlencoded before the Basic scheme
            pair = f"{quote_plus(s.client_id)}:{quote_plus(s.client_secret.get_secret_value())}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form |= {"client_id": s.client_id, "client_secret": s.client_secret.get_secret_value()}
        try:
            answer = await self.http.request("POST", document["token_endpoint"], data=urlencode(form).encode(),
                                             headers=headers, retries=0, what="the provider's token endpoint",
                                             max_bytes=1_000_000)
            tokens = answer.json("the provider's token endpoint")
        except HubError as exc:
            raise OidcError("provider_error", str(exc)) from None
        token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(token, str):
            raise OidcError("provider_error", "the token endpoint sent no ID token")
        return token

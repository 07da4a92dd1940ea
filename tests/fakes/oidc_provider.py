"""A small OpenID Connect provider over real HTTP (aiohttp), from OpenID Connect Core 1.0 and
Discovery 1.0, enough for the authorization code flow with PKCE (RFC 7636):

* ``/.well-known/openid-configuration``: the discovery document;
* ``/jwks``: its RSA public key (JWK, RFC 7517);
* ``/authorize``: checks the client, the redirect URI, the scope and the PKCE challenge, "signs in"
  the person the test chose (``user``: the provider's own login page is not what is tested) and
  redirects back with a one-time code and the state;
* ``/token``: checks the client's secret (HTTP Basic, RFC 6749 section 2.3.1, or in the form), the
  code, the redirect URI and the PKCE verifier, and answers an RS256-signed ID token carrying the
  nonce.

Tests spoil what it answers on purpose: ``overrides`` (claims to replace in the next ID token:
another nonce, audience, expiry…), ``wrong_key`` (sign with a key it does not publish) and
``discovery_issuer`` (name another issuer in its discovery document)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "parcours-hub"
CLIENT_SECRET = "provider-issued-client-secret"
KID = "test-key-1"


class OidcProvider:
    def __init__(self, redirect_uri: str):
        self.redirect_uri = redirect_uri
        self.issuer = ""  # set once the server listens
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user: dict[str, Any] = {"sub": "user-1", "email": "sophie@demo.example", "email_verified": True}
        self.overrides: dict[str, Any] = {}
        self.wrong_key = False
        self.discovery_issuer: str | None = None  # another issuer named in the discovery document
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        return app

    async def discovery(self, _request: web.Request) -> web.Response:
        return web.json_response({
            "issuer": self.discovery_issuer or self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"]})

    async def jwks(self, _request: web.Request) -> web.Response:
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**key, "kid": KID, "use": "sig", "alg": "RS256"}]})

    @staticmethod
    def _refuse(error: str, status: int = 400) -> web.Response:
        return web.json_response({"error": error}, status=status)

    async def authorize(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.authorize_requests.append(q)
        if q.get("client_id") != CLIENT_ID or q.get("redirect_uri") != self.redirect_uri:
            return self._refuse("invalid_request")  # never redirect to an unregistered address
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            raise web.HTTPFound(f"{self.redirect_uri}?{urlencode({'error': 'invalid_request', 'state': q.get('state', '')})}")
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            raise web.HTTPFound(f"{self.redirect_uri}?{urlencode({'error': 'invalid_request', 'state': q.get('state', '')})}")
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"nonce": q.get("nonce"), "challenge": q["code_challenge"], "user": dict(self.user)}
        raise web.HTTPFound(f"{self.redirect_uri}?{urlencode({'code': code, 'state': q.get('state', '')})}")

    def _client_of(self, request: web.Request, form) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user, password
        if "client_id" in form:
            return str(form["client_id"]), str(form.get("client_secret", ""))
        return None

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_requests.append({k: str(v) for k, v in form.items()})
        if self._client_of(request, form) != (CLIENT_ID, CLIENT_SECRET):
            return self._refuse("invalid_client", 401)
        grant = self.codes.pop(str(form.get("code", "")), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or grant is None or form.get("redirect_uri") != self.redirect_uri:
            return self._refuse("invalid_grant")
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != grant["challenge"]:
            return self._refuse("invalid_grant")
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": grant["user"]["sub"], "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **grant["user"], **self.overrides}
        claims = {k: v for k, v in claims.items() if v is not None}  # an override of None removes the claim
        id_token = jwt.encode(claims, self.other_key if self.wrong_key else self.key, algorithm="RS256",
                              headers={"kid": KID})
        return web.json_response({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                  "expires_in": 300, "id_token": id_token})

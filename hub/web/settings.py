"""Settings of the two other ways to sign in (docs/web-app.md, "Signing in"): a link by e-mail for
learners (``hub.web.email_link``) and OpenID Connect for staff (``hub.web.oidc``). Both are off
unless configured; their secrets come only from ${env:…} or ${file:…} (hub.config checks it)."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.durations import Duration

#: the roles that may sign in through the organisation's identity provider
STAFF_ROLES = ("admin", "manager", "trainer")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _https_url(value: str, what: str, *, strip: bool = True) -> str:
    """``value`` (without its trailing slash if ``strip``): an https:// URL (http:// only to this machine)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"{what} must be an https:// URL (http:// is accepted for this machine only)")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must have no query string nor fragment")
    return value.rstrip("/") if strip else value


class SmtpConfig(BaseModel):
    """The mail server that sends the sign-in links (smtplib, in a thread: hub.web.mailer)."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, description="The SMTP server's host name")
    port: int = Field(default=587, ge=1, le=65535, description="587 with starttls, 465 with tls, 25 without")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (STARTTLS after connecting), tls (TLS from the start, "
        "SMTPS) or none (a relay on this machine only)")
    username: str | None = Field(default=None, description="Sign-in name on the server, if it asks for one")
    password: SecretStr | None = Field(default=None, description="Its password (use ${env:…} or ${file:…})")
    from_address: str = Field(min_length=3, max_length=320, description="The sender of the messages")
    ca_file: str | None = Field(default=None, description="CA certificates (PEM) that sign the server's "
                                "certificate, when not a public CA")
    timeout: Duration = Field(default=dt.timedelta(seconds=20), description="Connecting and each exchange")

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> "SmtpConfig":
        if self.security == "none" and self.password is not None:
            raise ValueError("a password is never sent without TLS: set security to starttls or tls")
        if self.security == "none" and self.host not in LOOPBACK_HOSTS:
            raise ValueError("security none is for a relay on this machine only (host 127.0.0.1 or localhost)")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class EmailLinkConfig(BaseModel):
    """Sign-in by a link sent by e-mail, for learner accounts (docs/web-app.md)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=False, description="Offer 'Recevoir un lien de connexion' on the sign-in page")
    public_url: str | None = Field(
        default=None, description="The web app's address as learners reach it (https://hub.example.fr): the "
        "links point there, never to the Host a request names; required when enabled")
    link_lifetime: Duration = Field(default=dt.timedelta(minutes=15), description="A link works once, within this")
    smtp: SmtpConfig | None = Field(default=None, description="The mail server; required when enabled")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else _https_url(value, "public_url")

    @field_validator("link_lifetime")
    @classmethod
    def _lifetime(cls, value: dt.timedelta) -> dt.timedelta:
        if not dt.timedelta(minutes=1) <= value <= dt.timedelta(hours=24):
            raise ValueError("link_lifetime must be between 1 minute and 24 hours")
        return value

    @model_validator(mode="after")
    def _complete(self) -> "EmailLinkConfig":
        if self.enabled and (self.public_url is None or self.smtp is None):
            raise ValueError("an enabled email_link needs public_url and smtp")
        return self


class OidcConfig(BaseModel):
    """Sign-in of staff through the organisation's OpenID Connect provider (Google, Microsoft Entra
    ID…): authorization code flow with PKCE (docs/web-app.md)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=False, description="Offer the provider's button on the sign-in page")
    label: str = Field(default="Google Workspace", min_length=1, max_length=60,
                       description="The provider's name on the button ('Se connecter avec …')")
    issuer: str = Field(description="The provider's issuer URL (its discovery document is "
                        "<issuer>/.well-known/openid-configuration)")
    client_id: str = Field(min_length=1, description="The web app's client id at the provider")
    client_secret: SecretStr = Field(description="Its client secret (use ${env:…} or ${file:…})")
    public_url: str = Field(description="The web app's address as staff reach it (https://hub.example.fr): "
                            "the redirect URI registered at the provider is <public_url>/app/login/oidc/callback")
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"],
                              description="Scopes asked for (openid is required)")
    allowed_roles: list[Literal["admin", "manager", "trainer"]] = Field(
        default_factory=lambda: list(STAFF_ROLES), min_length=1, description="The roles that may sign in this way")
    email_claim: str = Field(default="email", min_length=1,
                             description="The ID token's claim matched against the accounts' e-mail addresses")
    verified_claim: str = Field(default="email_verified", min_length=1,
                                description="The claim that must be true for that address to count "
                                "(Microsoft Entra ID: xms_edov)")
    clock_skew: Duration = Field(default=dt.timedelta(minutes=2),
                                 description="Tolerance on the ID token's exp and iat")
    require_totp_after_oidc: bool = Field(
        default=False, description="Ask the account's TOTP code after the provider (by default the provider's "
        "own multi-factor authentication stands in for it)")

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return _https_url(value, "issuer", strip=False)  # compared as it is with the tokens' iss

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _https_url(value, "public_url")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include openid")
        return value

    @field_validator("clock_skew")
    @classmethod
    def _skew(cls, value: dt.timedelta) -> dt.timedelta:
        if value > dt.timedelta(minutes=10):
            raise ValueError("clock_skew above 10 minutes would accept stale tokens")
        return value

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/app/login/oidc/callback"

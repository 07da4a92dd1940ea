"""Accounts of the web app: creating and changing them (the CLI), and signing them in (the pages).

Every change an administrator makes is an ``admin.action`` event (without the secret it sets);
every sign-in, successful or not, is an ``access.sign_in`` event and every sign-out an
``access.sign_out`` event, through the one door to the ledger (``append``: ``Hub.append``).
Failures are counted per e-mail address and per client address (hub.store AccountStore); past
the limit, sign-in is locked out for a while whatever is typed. The other ways in use the same
counters and events: a link asked for by e-mail (step ``email_link``, hub.web.sign_in_links) and
the organisation's OpenID Connect provider (step ``oidc``, hub.web.oidc).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Any

from hub.errors import HubError
from hub.ingest.audit import Append, record_admin_action
from hub.ulid import new_ulid
from hub.web import passwords, totp
from hub.web.roles import SECOND_FACTOR_REQUIRED, Scopes, check_scopes

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: a client address may fail this many times more than one e-mail address (an office behind one NAT)
PER_ADDRESS_FACTOR = 4


class AccountError(HubError):
    """A change of account that cannot be made, said in words."""


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email) or len(email) > 320:
        raise AccountError(f"{email!r} is not an e-mail address")
    return email


@dataclass
class Secrets:
    """What an administrator hands the account's owner once: nothing of it is stored in clear."""

    totp_secret: str | None = None
    totp_uri: str | None = None
    recovery_codes: list[str] = field(default_factory=list)


@dataclass
class SignInStep:
    """The outcome of one sign-in step."""

    ok: bool
    account: dict[str, Any] | None = None
    needs_code: bool = False
    reason: str | None = None  # bad_credentials, bad_code, locked, disabled
    locked_until: float | None = None


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5
    window: float = 900.0
    lockout: float = 900.0

    @classmethod
    def of(cls, web_config) -> "Limits":
        return cls(web_config.login_max_failures, web_config.login_failure_window.total_seconds(),
                   web_config.lockout.total_seconds())


class Accounts:
    def __init__(self, store, append: Append, limits: Limits | None = None):
        self.store, self.append, self.limits = store, append, limits or Limits()

    async def _get(self, email: str) -> dict[str, Any]:
        account = await self.store.call(self.store.account_by_email, normalise_email(email))
        if account is None:
            raise AccountError(f"no account has the e-mail address {email}")
        return account

    async def _changeable(self, email: str) -> dict[str, Any]:
        account = await self._get(email)
        if account["origin"] == "config":
            raise AccountError(f"the account {account['email']} is declared in the configuration (hub.web.accounts): "
                               "change its declaration, the daemon applies it when it starts")
        return account

    # ------------------------------------------------------------------ administration
    async def add(self, email: str, role: str, scopes: Scopes, *, password: str, name: str | None = None,
                  with_totp: bool | None = None, totp_secret: str | None = None, actor: str | None = None,
                  origin: str = "cli") -> tuple[dict[str, Any], Secrets]:
        """Create an account; its TOTP secret and recovery codes are returned once (required for
        every role but learner; ``with_totp`` gives a learner one)."""
        email = normalise_email(email)
        try:
            check_scopes(role, scopes)
            password_hash = passwords.hash_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        secrets = Secrets()
        if role in SECOND_FACTOR_REQUIRED or with_totp or totp_secret:
            secrets = _second_factor(email, totp_secret)
        account = {"id": new_ulid(), "email": email, "name": name, "role": role, "scopes": scopes.as_dict(),
                   "password_hash": password_hash, "totp_secret": secrets.totp_secret,
                   "recovery_codes": [totp.hash_recovery_code(c) for c in secrets.recovery_codes], "origin": origin}
        await self.store.call(self.store.add_account, account, at=time.time())
        await record_admin_action(self.append, actor, "accounts add", email,
                                  {"account": account["id"], "role": role, **_scope_details(scopes),
                                   "second_factor": bool(secrets.totp_secret)})
        return account, secrets

    async def set_password(self, email: str, password: str, *, actor: str | None = None) -> None:
        account = await self._changeable(email)
        try:
            password_hash = passwords.hash_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        now = time.time()
        await self.store.call(self.store.update_account, account["id"], at=now, password_hash=password_hash)
        revoked = await self.store.call(self.store.revoke_web_sessions, account["id"], at=now)
        await record_admin_action(self.append, actor, "accounts passwd", account["email"],
                                  {"account": account["id"], "sessions_revoked": revoked})

    async def reset_second_factor(self, email: str, *, remove: bool = False, actor: str | None = None,
                                  totp_secret: str | None = None) -> Secrets:
        """A new TOTP secret and new recovery codes (the old ones stop working), or none (``remove``:
        learners only). The account's sessions are revoked."""
        account = await self._changeable(email)
        if remove and account["role"] in SECOND_FACTOR_REQUIRED:
            raise AccountError(f"a {account['role']} account must keep its second factor")
        secrets = Secrets() if remove else _second_factor(account["email"], totp_secret)
        now = time.time()
        await self.store.call(self.store.update_account, account["id"], at=now, totp_secret=secrets.totp_secret,
                              totp_last_step=None,
                              recovery_codes=[totp.hash_recovery_code(c) for c in secrets.recovery_codes])
        revoked = await self.store.call(self.store.revoke_web_sessions, account["id"], at=now)
        await record_admin_action(self.append, actor, "accounts totp", account["email"],
                                  {"account": account["id"], "second_factor": not remove, "sessions_revoked": revoked})
        return secrets

    async def disable(self, email: str, *, actor: str | None = None) -> int:
        """Disable an account and end its sessions; how many sessions were revoked."""
        account = await self._changeable(email)
        if account["disabled_at"] is not None:
            raise AccountError(f"the account {account['email']} is disabled already")
        now = time.time()
        await self.store.call(self.store.update_account, account["id"], at=now, disabled_at=now)
        revoked = await self.store.call(self.store.revoke_web_sessions, account["id"], at=now)
        await record_admin_action(self.append, actor, "accounts disable", account["email"],
                                  {"account": account["id"], "sessions_revoked": revoked})
        return revoked

    async def list(self) -> list[dict[str, Any]]:
        return [{k: a[k] for k in ("id", "email", "name", "role", "scopes", "origin", "disabled_at", "created_at")}
                | {"second_factor": bool(a["totp_secret"]), "recovery_codes_left": len(a["recovery_codes"])}
                for a in await self.store.call(self.store.accounts)]

    # ------------------------------------------------------------------ signing in
    async def check_password(self, email: str, password: str, remote: str | None) -> SignInStep:
        """The first step: the address and the password (checked in the same time whether or not an
        account has the address; a locked-out address is refused before any check)."""
        typed = email.strip().lower()[:320] or "(empty)"
        keys = [f"email:{typed}", f"ip:{remote or 'unknown'}"]
        now = time.time()
        locked = await self.store.call(self.store.login_lock, keys, now=now)
        if locked:
            await self._record(typed, None, "failure", "password", "locked", remote)
            return SignInStep(False, reason="locked", locked_until=locked)
        account = await self.store.call(self.store.account_by_email, typed)
        matches = passwords.verify_password(account["password_hash"] if account else None, password)
        if not matches or account is None:
            return await self._failed(typed, account, "password", "bad_credentials", remote, keys)
        if account["disabled_at"] is not None:
            await self._record(typed, account, "failure", "password", "disabled", remote)
            return SignInStep(False, reason="disabled")
        if account["totp_secret"]:
            return SignInStep(True, account, needs_code=True)
        await self.store.call(self.store.clear_login_failures, keys[:1])
        await self._record(typed, account, "success", "password", None, remote)
        return SignInStep(True, account)

    async def check_code(self, account_id: str, code: str, remote: str | None) -> SignInStep:
        """The second step: a TOTP code, or one of the recovery codes (used up by this)."""
        account = await self.store.call(self.store.account, account_id)
        if account is None or account["disabled_at"] is not None or not account["totp_secret"]:
            return SignInStep(False, reason="disabled")
        keys = [f"email:{account['email']}", f"ip:{remote or 'unknown'}"]
        now = time.time()
        locked = await self.store.call(self.store.login_lock, keys, now=now)
        if locked:
            await self._record(account["email"], account, "failure", "totp", "locked", remote)
            return SignInStep(False, reason="locked", locked_until=locked)
        compact = "".join(code.split())
        if compact.isdigit():
            step, matched = "totp", totp.matching_step(account["totp_secret"], compact, now)
            ok = matched is not None and await self.store.call(self.store.use_totp_step, account["id"], matched, at=now)
        else:
            step = "recovery_code"
            ok = await self.store.call(self.store.use_recovery_code, account["id"], totp.hash_recovery_code(code), at=now)
        if not ok:
            return await self._failed(account["email"], account, step, "bad_code", remote, keys)
        await self.store.call(self.store.clear_login_failures, keys[:1])
        await self._record(account["email"], account, "success", step, None, remote)
        return SignInStep(True, account)

    async def link_requested(self, email: str, remote: str | None) -> SignInStep:
        """A sign-in link asked for ``email``: refused while the address or the client is locked out,
        else counted like a failure (so that asking again and again locks out too); the same work
        whether or not an account has the address. The link itself is sent by hub.web.sign_in_links."""
        typed = email.strip().lower()[:320] or "(empty)"
        keys = [f"email:{typed}", f"ip:{remote or 'unknown'}"]
        locked = await self.store.call(self.store.login_lock, keys, now=time.time())
        if locked:
            await self._record(typed, None, "failure", "email_link", "locked", remote)
            return SignInStep(False, reason="locked", locked_until=locked)
        await self._count(keys)  # this one goes out; the next ones wait for the end of a lockout it starts
        return SignInStep(True)

    async def link_refused(self, email: str, account: dict[str, Any] | None, reason: str, remote: str | None) -> None:
        """No link is sent for ``email`` (no account, not a learner, disabled): recorded."""
        await self._record(email.strip().lower()[:320] or "(empty)", account, "failure", "email_link", reason, remote)

    async def check_link(self, account_id: str | None, remote: str | None) -> SignInStep:
        """A sign-in link taken (``account_id``), or one unknown, expired or used already (None)."""
        account = await self.store.call(self.store.account, account_id) if account_id else None
        keys = [f"email:{account['email'] if account else '(link)'}", f"ip:{remote or 'unknown'}"]
        locked = await self.store.call(self.store.login_lock, keys[1:], now=time.time())
        if locked:
            await self._record(account["email"] if account else "(link)", account, "failure", "email_link", "locked", remote)
            return SignInStep(False, reason="locked", locked_until=locked)
        if account is None:
            until = await self._count(keys[1:], per_address=True)
            await self._record("(link)", None, "failure", "email_link", "bad_link", remote)
            return SignInStep(False, reason="locked" if until else "bad_link", locked_until=until)
        return await self._signed_in_by(account, "email_link", keys, remote, allowed_roles=("learner",))

    async def check_oidc(self, email: str | None, remote: str | None, *, allowed_roles: tuple[str, ...],
                         require_code: bool) -> SignInStep:
        """The provider vouched for ``email`` (its ID token checked by hub.web.oidc): the account that
        has this address, if it exists, is enabled and of an allowed role. The provider's own
        multi-factor authentication stands in for the TOTP code unless ``require_code``."""
        account = await self.store.call(self.store.account_by_email, email) if email else None
        keys = [f"email:{email}", f"ip:{remote or 'unknown'}"]
        locked = await self.store.call(self.store.login_lock, keys[1:], now=time.time())
        if locked:
            await self._record(email or "(unknown)", account, "failure", "oidc", "locked", remote)
            return SignInStep(False, reason="locked", locked_until=locked)
        if account is None:
            await self._record(email or "(unknown)", None, "failure", "oidc", "unknown_email", remote)
            return SignInStep(False, reason="unknown_email")
        return await self._signed_in_by(account, "oidc", keys, remote, allowed_roles=allowed_roles,
                                        require_code=require_code)

    async def oidc_refused(self, email: str | None, reason: str, detail: str, remote: str | None) -> None:
        """The provider's answer did not hold (state, ID token, unverified address): recorded, and
        counted against the client's address."""
        await self._count([f"ip:{remote or 'unknown'}"], per_address=True)
        await self._record(email or "(unknown)", None, "failure", "oidc", reason, remote, detail=detail)

    async def _signed_in_by(self, account: dict[str, Any], step: str, keys: list[str], remote: str | None, *,
                            allowed_roles: tuple[str, ...], require_code: bool = True) -> SignInStep:
        if account["disabled_at"] is not None:
            await self._record(account["email"], account, "failure", step, "disabled", remote)
            return SignInStep(False, account, reason="disabled")
        if account["role"] not in allowed_roles:
            reason = "not_learner" if step == "email_link" else "role_not_allowed"
            await self._record(account["email"], account, "failure", step, reason, remote)
            return SignInStep(False, account, reason=reason)
        if account["totp_secret"] and require_code:
            return SignInStep(True, account, needs_code=True)
        await self.store.call(self.store.clear_login_failures, keys[:1])
        await self._record(account["email"], account, "success", step, None, remote)
        return SignInStep(True, account)

    async def _count(self, keys: list[str], *, per_address: bool = False) -> float | None:
        """Count a failure against ``keys`` (``email:…`` then ``ip:…``, or ``ip:…`` alone with
        ``per_address``); until when one of them is locked, if this locked it."""
        limits, now = self.limits, time.time()
        email_keys, address_keys = ([], keys) if per_address else (keys[:1], keys[1:])
        locked = by_address = None
        if email_keys:
            locked = await self.store.call(self.store.record_login_failure, email_keys, now=now, window=limits.window,
                                           limit=limits.max_failures, lockout=limits.lockout)
        if address_keys:
            by_address = await self.store.call(self.store.record_login_failure, address_keys, now=now,
                                               window=limits.window, limit=limits.max_failures * PER_ADDRESS_FACTOR,
                                               lockout=limits.lockout)
        return max(filter(None, (locked, by_address)), default=None)

    async def _failed(self, email, account, step, reason, remote, keys) -> SignInStep:
        until = await self._count(keys)
        await self._record(email, account, "failure", step, reason, remote)
        return SignInStep(False, account, reason="locked" if until else reason, locked_until=until)

    async def _record(self, email: str, account: dict[str, Any] | None, outcome: str, step: str,
                      reason: str | None, remote: str | None, *, detail: str | None = None) -> None:
        await self.append([{
            "type": "access.sign_in", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "source_id": new_ulid(),
            "data": {"email": email, "account": account["id"] if account else None,
                     "role": account["role"] if account else None, "outcome": outcome, "step": step,
                     "reason": reason, "remote": remote} | ({"detail": detail[:200]} if detail else {}),
        }], source="hub")

    async def record_sign_out(self, account: dict[str, Any] | Any, remote: str | None) -> None:
        await self.append([{
            "type": "access.sign_out", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "source_id": new_ulid(),
            "data": {"email": account["email"], "account": account["id"], "remote": remote},
        }], source="hub")


def _second_factor(email: str, secret: str | None) -> Secrets:
    secret = secret or totp.new_secret()
    return Secrets(secret, totp.provisioning_uri(secret, email), totp.new_recovery_codes())


def _scope_details(scopes: Scopes) -> dict[str, Any]:
    return {k: v for k, v in scopes.as_dict().items() if v}

"""Accounts declared in the configuration (``hub.web.accounts``), brought in line with it when the
daemon starts: created when missing, changed when their declaration changed (sessions end when a
credential, the role or the scope changes), disabled when their declaration is removed. Accounts
created with ``parcours accounts add`` are never touched: a declaration with their address is
reported and left aside. Each change is an ``admin.action`` event by ``configuration``, naming the
fields changed, never their values.

What the configuration checks when it loads (role and scope, the second factor, the hash's form)
fails the load; what only the store knows (an unknown learner, an address taken) is logged as an
error naming the declaration, and the other declarations still apply.
"""

from __future__ import annotations

import time
from typing import Any

from hub.ingest.audit import Append, record_admin_action
from hub.ulid import new_ulid
from hub.web.accounts import AccountError, normalise_email
from hub.web.roles import Scopes

ACTOR = "configuration"


async def apply_declared(store, append: Append, declared: list[Any], log) -> list[str]:
    """Bring the store's declared accounts in line with ``declared`` (hub.config.DeclaredAccount);
    what changed, one line per account."""
    changes: list[str] = []
    kept: set[str] = set()
    for index, declaration in enumerate(declared):
        where = f"hub.web.accounts[{index}] ({declaration.email})"
        try:
            email = normalise_email(declaration.email)
            wanted = await _wanted(store, declaration)
        except AccountError as exc:
            log.error("declared account not applied", account=where, error=str(exc))
            continue
        kept.add(email)
        existing = await store.call(store.account_by_email, email)
        now = time.time()
        if existing is None:
            await store.call(store.add_account, {"id": new_ulid(), "email": email, **wanted, "recovery_codes": [],
                                                 "origin": "config"}, at=now)
            await record_admin_action(append, ACTOR, "accounts declare", email, {"created": True, "role": wanted["role"]})
            changes.append(f"{email}: created")
            continue
        if existing["origin"] != "config":
            log.error("declared account not applied", account=where,
                      error="an account created with `parcours accounts add` has this address: left as it is")
            continue
        changed = {k: v for k, v in wanted.items() if existing[k] != v}
        if not changed:
            continue
        if "totp_secret" in changed:
            changed["totp_last_step"] = None
        await store.call(store.update_account, existing["id"], at=now, **changed)
        revoked = 0
        if changed.keys() & {"password_hash", "totp_secret", "role", "scopes", "disabled_at"}:
            revoked = await store.call(store.revoke_web_sessions, existing["id"], at=now)
        fields = sorted(k for k in changed if k != "totp_last_step")
        await record_admin_action(append, ACTOR, "accounts declare", email,
                                  {"changed": fields, "sessions_revoked": revoked})
        changes.append(f"{email}: {', '.join(fields)} changed")
    for account in await store.call(store.accounts):
        if account["origin"] == "config" and account["email"] not in kept and account["disabled_at"] is None:
            now = time.time()
            await store.call(store.update_account, account["id"], at=now, disabled_at=now)
            revoked = await store.call(store.revoke_web_sessions, account["id"], at=now)
            await record_admin_action(append, ACTOR, "accounts declare", account["email"],
                                      {"disabled": "no longer declared", "sessions_revoked": revoked})
            changes.append(f"{account['email']}: disabled (no longer declared)")
    return changes


async def _wanted(store, declaration) -> dict[str, Any]:
    learner_id = None
    if declaration.learner:
        key = declaration.learner
        learner_id = await store.call(store.learner_by_key, key) if ":" in key else key
        found = learner_id and await store.call(store.learner, learner_id)
        if not found:
            raise AccountError(f"no learner {key!r} in the hub (see `parcours learners show`)")
        learner_id = found["id"]
    totp = declaration.totp_secret.get_secret_value().strip().upper() if declaration.totp_secret else None
    return {"name": declaration.name, "role": declaration.role,
            "scopes": Scopes(tuple(declaration.actions), tuple(declaration.funders), learner_id).as_dict(),
            "password_hash": declaration.password_hash.get_secret_value(), "totp_secret": totp, "disabled_at": None}

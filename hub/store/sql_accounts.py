"""The web app's accounts, sessions and sign-in failures in the SQL stores (see AccountStore)."""

from __future__ import annotations

import json
from typing import Any

from hub.store.base import DuplicateAccount
from hub.store.dialect import SqlDialect

ACCOUNT_FIELDS = ("email", "name", "role", "scopes", "password_hash", "totp_secret", "totp_last_step",
                  "recovery_codes", "origin", "disabled_at")
SESSION_FIELDS = ("stage", "csrf", "last_seen_at", "expires_at", "revoked_at")


def _account(row: Any) -> dict[str, Any]:
    account = dict(row)
    account["scopes"] = json.loads(account["scopes"])
    account["recovery_codes"] = json.loads(account["recovery_codes"])
    return account


class SqlAccounts(SqlDialect):
    """Accounts (one per e-mail address), their sessions (revocable) and failure counters."""

    def add_account(self, account: dict[str, Any], *, at: float) -> None:
        if self.account_by_email(account["email"]) is not None:
            raise DuplicateAccount(account["email"])
        with self._write():
            self._execute(
                "INSERT INTO accounts (id, email, name, role, scopes, password_hash, totp_secret, recovery_codes, "
                "origin, disabled_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (account["id"], account["email"], account.get("name"), account["role"], json.dumps(account["scopes"]),
                 account.get("password_hash"), account.get("totp_secret"),
                 json.dumps(account.get("recovery_codes") or []), account["origin"], account.get("disabled_at"), at, at))

    def account(self, account_id: str) -> dict[str, Any] | None:
        row = self._execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return _account(row) if row else None

    def account_by_email(self, email: str) -> dict[str, Any] | None:
        row = self._execute("SELECT * FROM accounts WHERE email = ?", (email,)).fetchone()
        return _account(row) if row else None

    def accounts(self) -> list[dict[str, Any]]:
        return [_account(r) for r in self._execute(f"SELECT * FROM accounts ORDER BY email{self.binary_order}")]

    def update_account(self, account_id: str, *, at: float, **fields: Any) -> bool:
        unknown = set(fields) - set(ACCOUNT_FIELDS)
        if unknown:
            raise ValueError(f"not an account field: {', '.join(sorted(unknown))}")
        values = {k: json.dumps(v) if k in ("scopes", "recovery_codes") else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._write():
            cur = self._execute(f"UPDATE accounts SET {assignments}, updated_at = ? WHERE id = ?",
                                (*values.values(), at, account_id))
        return cur.rowcount == 1

    def use_recovery_code(self, account_id: str, code_hash: str, *, at: float) -> bool:
        with self._transaction():
            row = self._execute("SELECT recovery_codes FROM accounts WHERE id = ?", (account_id,)).fetchone()
            codes = json.loads(row["recovery_codes"]) if row else []
            if code_hash not in codes:
                return False
            codes.remove(code_hash)
            self._execute("UPDATE accounts SET recovery_codes = ?, updated_at = ? WHERE id = ? AND recovery_codes = ?",
                          (json.dumps(codes), at, account_id, row["recovery_codes"]))
        return True

    def use_totp_step(self, account_id: str, step: int, *, at: float) -> bool:
        with self._write():
            cur = self._execute("UPDATE accounts SET totp_last_step = ?, updated_at = ? WHERE id = ? "
                                "AND (totp_last_step IS NULL OR totp_last_step < ?)", (step, at, account_id, step))
        return cur.rowcount == 1

    # ------------------------------------------------------------------ sessions
    def add_web_session(self, session: dict[str, Any]) -> None:
        with self._write():
            self._execute(
                "INSERT INTO web_sessions (id, account_id, stage, csrf, created_at, last_seen_at, expires_at, remote) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (session["id"], session["account_id"], session["stage"], session["csrf"], session["created_at"],
                 session["last_seen_at"], session["expires_at"], session.get("remote")))

    def web_session(self, session_id: str) -> dict[str, Any] | None:
        row = self._execute("SELECT * FROM web_sessions WHERE id = ?", (session_id,)).fetchone()
        return dict(row) if row else None

    def update_web_session(self, session_id: str, **fields: Any) -> bool:
        unknown = set(fields) - set(SESSION_FIELDS)
        if unknown:
            raise ValueError(f"not a session field: {', '.join(sorted(unknown))}")
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self._write():
            cur = self._execute(f"UPDATE web_sessions SET {assignments} WHERE id = ? AND revoked_at IS NULL",
                                (*fields.values(), session_id))
        return cur.rowcount == 1

    def revoke_web_sessions(self, account_id: str, *, at: float) -> int:
        with self._write():
            cur = self._execute("UPDATE web_sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
                                (at, account_id))
        return cur.rowcount

    # ------------------------------------------------------------------ sign-in failures
    def login_lock(self, keys: list[str], *, now: float) -> float | None:
        """The latest time until which one of ``keys`` is locked out, or None."""
        until = [r["locked_until"] for r in self._rows_in("SELECT locked_until FROM login_failures WHERE {}", "key", keys)
                 if r["locked_until"] is not None and r["locked_until"] > now]
        return max(until) if until else None

    def record_login_failure(self, keys: list[str], *, now: float, window: float, limit: int,
                             lockout: float) -> float | None:
        locked = None
        with self._transaction():
            for key in keys:
                row = self._execute("SELECT * FROM login_failures WHERE key = ?", (key,)).fetchone()
                if row is None or row["first_at"] < now - window:
                    failures, first = 1, now
                else:
                    failures, first = row["failures"] + 1, row["first_at"]
                until = now + lockout if failures >= limit else None
                if until is not None:
                    failures, first = 0, now  # the lockout is the penalty: the count starts again after it
                    locked = max(locked or 0, until)
                self._execute(
                    "INSERT INTO login_failures (key, failures, first_at, locked_until) VALUES (?,?,?,?) "
                    "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, first_at = excluded.first_at, "
                    "locked_until = coalesce(excluded.locked_until, login_failures.locked_until)",
                    (key, failures, first, until))
        return locked

    def clear_login_failures(self, keys: list[str]) -> None:
        condition, params = self._in("key", keys)
        with self._write():
            self._execute(f"DELETE FROM login_failures WHERE {condition}", params)

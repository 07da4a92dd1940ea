"""The web app's accounts, sessions and sign-in failures: same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from hub.store.base import DuplicateAccount

ACCOUNT = {"id": "01ACCOUNT0000000000000000A", "email": "sophie@example.fr", "name": "Sophie", "role": "trainer",
           "scopes": {"actions": ["ACT-1"], "funders": [], "learner": None}, "password_hash": "$argon2id$x",
           "totp_secret": "JBSWY3DPEHPK3PXP", "recovery_codes": ["h1", "h2"], "origin": "cli"}


def test_an_account_is_stored_read_back_and_changed(store):
    store.add_account(ACCOUNT, at=100.0)
    got = store.account_by_email("sophie@example.fr")
    assert got["id"] == ACCOUNT["id"] and got["scopes"] == ACCOUNT["scopes"] and got["recovery_codes"] == ["h1", "h2"]
    assert got["disabled_at"] is None and got["created_at"] == 100.0
    assert store.account(ACCOUNT["id"])["email"] == "sophie@example.fr"
    assert [a["email"] for a in store.accounts()] == ["sophie@example.fr"]
    assert store.update_account(ACCOUNT["id"], at=200.0, disabled_at=200.0, scopes={"actions": ["ACT-2"]})
    got = store.account(ACCOUNT["id"])
    assert got["disabled_at"] == 200.0 and got["scopes"] == {"actions": ["ACT-2"]} and got["updated_at"] == 200.0
    assert not store.update_account("nobody", at=1.0, name="x")
    with pytest.raises(ValueError, match="not an account field"):
        store.update_account(ACCOUNT["id"], at=1.0, id="other")


def test_an_address_has_one_account(store):
    store.add_account(ACCOUNT, at=1.0)
    with pytest.raises(DuplicateAccount, match="sophie@example.fr"):
        store.add_account({**ACCOUNT, "id": "01ACCOUNT0000000000000000B"}, at=2.0)


def test_a_recovery_code_works_once(store):
    store.add_account(ACCOUNT, at=1.0)
    assert store.use_recovery_code(ACCOUNT["id"], "h1", at=2.0)
    assert not store.use_recovery_code(ACCOUNT["id"], "h1", at=3.0)
    assert store.account(ACCOUNT["id"])["recovery_codes"] == ["h2"]
    assert not store.use_recovery_code("nobody", "h2", at=3.0)


def test_sessions_are_revoked_per_account(store):
    store.add_account(ACCOUNT, at=1.0)
    for sid in ("s1", "s2"):
        store.add_web_session({"id": sid, "account_id": ACCOUNT["id"], "stage": "full", "csrf": "c", "created_at": 1.0,
                               "last_seen_at": 1.0, "expires_at": 99.0, "remote": "127.0.0.1"})
    assert store.update_web_session("s1", last_seen_at=5.0)
    assert store.web_session("s1")["last_seen_at"] == 5.0
    assert store.revoke_web_sessions(ACCOUNT["id"], at=6.0) == 2
    assert store.web_session("s2")["revoked_at"] == 6.0
    assert not store.update_web_session("s1", last_seen_at=7.0)  # a revoked session stays revoked
    assert store.revoke_web_sessions(ACCOUNT["id"], at=8.0) == 0
    assert store.web_session("nope") is None


def test_failures_lock_a_key_out_then_count_again(store):
    keys = ["email:a@example.fr"]
    for n in range(2):
        assert store.record_login_failure(keys, now=10.0 + n, window=60, limit=3, lockout=100) is None
    assert store.login_lock(keys, now=12.0) is None
    assert store.record_login_failure(keys, now=12.0, window=60, limit=3, lockout=100) == 112.0
    assert store.login_lock(keys + ["ip:1.2.3.4"], now=50.0) == 112.0
    assert store.login_lock(keys, now=112.0) is None  # the lockout is over
    store.record_login_failure(keys, now=200.0, window=60, limit=3, lockout=100)
    store.clear_login_failures(keys)
    assert store.record_login_failure(keys, now=201.0, window=60, limit=2, lockout=100) is None  # counted from zero


def test_failures_older_than_the_window_are_forgotten(store):
    keys = ["ip:1.2.3.4"]
    store.record_login_failure(keys, now=0.0, window=60, limit=2, lockout=100)
    assert store.record_login_failure(keys, now=61.0, window=60, limit=2, lockout=100) is None
    assert store.record_login_failure(keys, now=62.0, window=60, limit=2, lockout=100) == 162.0

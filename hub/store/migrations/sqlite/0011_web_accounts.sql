-- The web app's accounts, their server-side sessions and the sign-in failures that lock them out.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    role TEXT NOT NULL,
    scopes TEXT NOT NULL,
    password_hash TEXT,
    totp_secret TEXT,
    recovery_codes TEXT NOT NULL DEFAULT '[]',
    totp_last_step INTEGER,
    origin TEXT NOT NULL,
    disabled_at REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE web_sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    stage TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL,
    remote TEXT
) WITHOUT ROWID;
CREATE INDEX web_sessions_account ON web_sessions(account_id);
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at REAL NOT NULL,
    locked_until REAL
) WITHOUT ROWID;

-- The web app's accounts, their server-side sessions and the sign-in failures that lock them out.
CREATE TABLE accounts (
    id text PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text,
    role text NOT NULL,
    scopes text NOT NULL,
    password_hash text,
    totp_secret text,
    recovery_codes text NOT NULL DEFAULT '[]',
    totp_last_step bigint,
    origin text NOT NULL,
    disabled_at double precision,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);
CREATE TABLE web_sessions (
    id text PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts(id),
    stage text NOT NULL,
    csrf text NOT NULL,
    created_at double precision NOT NULL,
    last_seen_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    revoked_at double precision,
    remote text
);
CREATE INDEX web_sessions_account ON web_sessions(account_id);
CREATE TABLE login_failures (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    first_at double precision NOT NULL,
    locked_until double precision
);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    occurred_us INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    learner TEXT,
    learner_key TEXT,
    action TEXT,
    data TEXT NOT NULL,
    evidence TEXT,
    supersedes TEXT
);
CREATE UNIQUE INDEX events_id ON events(id);
CREATE UNIQUE INDEX events_source_key ON events(source, source_id);

CREATE TABLE funding (
    learner_key TEXT NOT NULL,
    action TEXT NOT NULL,
    funder TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (learner_key, action, funder)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    event_seq INTEGER NOT NULL REFERENCES events(seq),
    sink TEXT NOT NULL,
    route TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    last_attempt_at REAL,
    delivered_at REAL,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox(sink, state, next_attempt_at);

CREATE TABLE rejects (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    stage TEXT NOT NULL,
    source_id TEXT,
    error TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    replayed_at REAL,
    replay_error TEXT
);
CREATE INDEX rejects_open ON rejects(source, replayed_at);

CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    cursor TEXT,
    last_pull_at REAL,
    last_success_at REAL,
    last_error TEXT,
    healthy INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE sinks (
    name TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    paused_until REAL,
    last_error TEXT
);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);

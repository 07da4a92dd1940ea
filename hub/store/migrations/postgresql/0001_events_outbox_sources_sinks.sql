CREATE TABLE events (
    seq bigint PRIMARY KEY,  -- max + 1 under the append lock: gap-free, like SQLite
    id text NOT NULL,
    type text NOT NULL,
    occurred_us bigint NOT NULL,
    received_at text NOT NULL,
    source text NOT NULL,
    source_id text NOT NULL,
    learner text,
    learner_key text,
    action text,
    data text NOT NULL,
    evidence text,
    supersedes text
);
CREATE UNIQUE INDEX events_id ON events(id);
CREATE UNIQUE INDEX events_source_key ON events(source, source_id);
CREATE INDEX events_type_seq ON events(type, seq);

CREATE TABLE funding (
    learner_key text NOT NULL,
    action text NOT NULL,
    funder text NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (learner_key, action, funder)
);

CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq bigint NOT NULL REFERENCES events(seq),
    sink text NOT NULL,
    route text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    next_attempt_at double precision NOT NULL,
    lease_owner text,
    lease_until double precision,
    last_attempt_at double precision,
    delivered_at double precision,
    last_error text
);
CREATE INDEX outbox_due ON outbox(sink, state, next_attempt_at);
CREATE INDEX outbox_event ON outbox(event_seq);

CREATE TABLE rejects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    stage text NOT NULL,
    source_id text,
    error text NOT NULL,
    payload text NOT NULL,
    created_at double precision NOT NULL,
    replayed_at double precision,
    replay_error text
);
CREATE INDEX rejects_open ON rejects(source, replayed_at);

CREATE TABLE sources (
    name text PRIMARY KEY,
    cursor text,
    last_pull_at double precision,
    last_success_at double precision,
    last_error text,
    healthy boolean NOT NULL DEFAULT true
);

CREATE TABLE sinks (
    name text PRIMARY KEY,
    consecutive_failures integer NOT NULL DEFAULT 0,
    paused_until double precision,
    last_error text
);

CREATE TABLE leases (
    name text PRIMARY KEY,
    owner text NOT NULL,
    expires_at double precision NOT NULL
);

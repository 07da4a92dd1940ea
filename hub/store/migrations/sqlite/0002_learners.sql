ALTER TABLE events ADD COLUMN learner_id TEXT;
CREATE INDEX events_learner ON events(learner_id, action);

CREATE TABLE learners (
    id TEXT PRIMARY KEY,
    name TEXT,
    email TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE learner_keys (
    key TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX learner_keys_learner ON learner_keys(learner_id);
CREATE TABLE learner_aliases (
    alias TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE learner_separations (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE learner_conflicts (
    id INTEGER PRIMARY KEY,
    event_id TEXT,
    keys TEXT NOT NULL,
    learners TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at REAL NOT NULL,
    resolved_at REAL,
    resolution TEXT
);

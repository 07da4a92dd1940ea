-- Retention and erasure (hub.privacy): which sealed events were pseudonymised, under which
-- privacy.erased record of the ledger (verify checks each against that record), and each
-- erasure's progress: applied (rows, registry, accounts: one transaction) then finished
-- (blobs removed, journeys re-projected), so that a run killed in between resumes.
CREATE TABLE erased_events (
    seq INTEGER PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE erasures (
    record TEXT PRIMARY KEY,
    learner_id TEXT,
    kind TEXT NOT NULL,
    applied_at REAL NOT NULL,
    blobs TEXT NOT NULL DEFAULT '[]',
    finished_at REAL
);
CREATE INDEX erasures_learner ON erasures(learner_id);

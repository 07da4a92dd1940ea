-- Retention and erasure (hub.privacy): which sealed events were pseudonymised, under which
-- privacy.erased record of the ledger (verify checks each against that record), and each
-- erasure's progress: applied (rows, registry, accounts: one transaction) then finished
-- (blobs removed, journeys re-projected), so that a run killed in between resumes.
CREATE TABLE erased_events (
    seq bigint PRIMARY KEY,
    record text NOT NULL
);
CREATE TABLE erasures (
    record text PRIMARY KEY,
    learner_id text,
    kind text NOT NULL,
    applied_at double precision NOT NULL,
    blobs text NOT NULL DEFAULT '[]',
    finished_at double precision
);
CREATE INDEX erasures_learner ON erasures(learner_id);

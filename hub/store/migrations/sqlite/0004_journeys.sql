CREATE TABLE journeys (
    learner_id TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_seq INTEGER NOT NULL,
    PRIMARY KEY (learner_id, action)
) WITHOUT ROWID;
CREATE INDEX journeys_action ON journeys(action);
CREATE TABLE projections (
    name TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);

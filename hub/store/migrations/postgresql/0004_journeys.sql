CREATE TABLE journeys (
    learner_id text NOT NULL,
    action text NOT NULL,
    state text NOT NULL,
    updated_seq bigint NOT NULL,
    PRIMARY KEY (learner_id, action)
);
CREATE INDEX journeys_action ON journeys(action);
CREATE TABLE projections (
    name text PRIMARY KEY,
    last_seq bigint NOT NULL
);

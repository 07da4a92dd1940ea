-- The latest consent decision of each person for each purpose (hub.consents), kept at ingest in
-- the same transaction as the consent.given / consent.withdrawn events it is read from: the ingest
-- gate and the routes' consent filter read it instead of the ledger.
CREATE TABLE consents (
    learner_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,
    version TEXT NOT NULL,
    scope TEXT,
    channel TEXT,
    occurred_us BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (learner_id, purpose)
);
CREATE INDEX consents_purpose_state ON consents(purpose, state);

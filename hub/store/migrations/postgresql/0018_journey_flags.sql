-- The dropout-risk list's row of each enrolment (hub.risk.listing): the latest ``risk.flagged`` of
-- the journey with its follow-up while the enrolment is in progress, the JSON ``null`` otherwise,
-- stored beside the journey state. A write of the journey deletes its row (save_journeys,
-- reset_journeys): a row is never older than its journey, and a missing row is computed again.
CREATE TABLE journey_flags (
    learner_id TEXT NOT NULL,
    action TEXT NOT NULL,
    flag TEXT NOT NULL,
    PRIMARY KEY (learner_id, action)
);
CREATE INDEX journey_flags_action ON journey_flags(action);

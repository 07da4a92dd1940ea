-- The per-enrolment figures the manager's list of actions sums (hub.web.figured), stored beside the
-- journey state. ``basis`` says what they were computed for (the date and the configuration); a
-- write of the journey deletes its row (save_journeys, reset_journeys), so a row is never older
-- than its journey.
CREATE TABLE journey_figures (
    learner_id TEXT NOT NULL,
    action TEXT NOT NULL,
    basis TEXT NOT NULL,
    figures TEXT NOT NULL,
    PRIMARY KEY (learner_id, action)
);
CREATE INDEX journey_figures_action ON journey_figures(action);

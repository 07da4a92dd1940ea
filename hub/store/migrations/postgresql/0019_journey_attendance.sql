-- Beside each enrolment's figures (0016), its attendance as the trainer's today page shows it
-- (hub.web.today): the enrolment's status, the learner's name and e-mail, and each scheduled
-- half-day's status, as JSON, computed by the same code and for the same ``basis`` as the figures
-- (one row holds both, written together). The rows stored before have no attendance: they are
-- deleted, to be computed again on demand (or by the daemon's journeys job).
DELETE FROM journey_figures;
ALTER TABLE journey_figures ADD COLUMN attendance TEXT;

ALTER TABLE events ADD COLUMN learner_id text;
CREATE INDEX events_learner ON events(learner_id, action);

CREATE TABLE learners (
    id text PRIMARY KEY,
    name text,
    email text,
    created_at double precision NOT NULL
);
CREATE TABLE learner_keys (
    key text PRIMARY KEY,
    learner_id text NOT NULL,
    origin text NOT NULL,
    created_at double precision NOT NULL
);
CREATE INDEX learner_keys_learner ON learner_keys(learner_id);
CREATE TABLE learner_aliases (
    alias text PRIMARY KEY,
    learner_id text NOT NULL
);
CREATE TABLE learner_separations (
    a text NOT NULL,
    b text NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE TABLE learner_conflicts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text,
    keys text NOT NULL,
    learners text NOT NULL,
    reason text NOT NULL,
    created_at double precision NOT NULL,
    resolved_at double precision,
    resolution text
);

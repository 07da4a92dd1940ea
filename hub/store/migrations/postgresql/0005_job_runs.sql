CREATE TABLE job_runs (
    key text PRIMARY KEY,
    owner text NOT NULL,
    started_at double precision NOT NULL
);

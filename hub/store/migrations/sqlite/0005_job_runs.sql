CREATE TABLE job_runs (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    started_at REAL NOT NULL
);

ALTER TABLE job_runs ADD COLUMN finished_at REAL;  -- a claim without it: the run did not finish

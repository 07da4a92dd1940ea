ALTER TABLE job_runs ADD COLUMN finished_at double precision;  -- a claim without it: the run did not finish

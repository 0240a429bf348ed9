-- The job queue (docs/jobs.md): the claim index and the wake-up signal for workers.

-- Claiming reads the due pending jobs, highest priority first, oldest first.
CREATE INDEX jobs_claim_idx ON jobs (priority DESC, run_at, id) WHERE state = 'pending';

-- Workers LISTEN on `desk_jobs`; NOTIFY is delivered at commit, so a worker never wakes up
-- for a job whose transaction rolled back. One notification per statement is enough.
CREATE FUNCTION desk_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('desk_jobs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION desk_jobs_notify();

DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION desk_jobs_notify();
DROP INDEX jobs_claim_idx;

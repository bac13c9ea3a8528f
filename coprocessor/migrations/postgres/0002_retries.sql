-- Retries with backoff (postgres). Kept in step with ../sqlite/0002_retries.sql.
-- `failures` counts only failures of the job's own work (storage, engine, task): a job answered
-- after too many of them is rejected, while waits for a lagging index or an RPC outage never count.
-- `retry_at` (chain time) is when a released job may be claimed again: each release backs off.
ALTER TABLE cp_jobs ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cp_jobs ADD COLUMN retry_at BIGINT NOT NULL DEFAULT 0;

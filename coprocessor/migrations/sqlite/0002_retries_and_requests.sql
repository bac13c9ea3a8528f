-- Retries with backoff, and the request each row answers (sqlite). Kept in step with ../postgres/0002_retries_and_requests.sql.
-- `failures` counts only failures of the job's own work (storage, engine, task): a job answered
-- after too many of them is rejected, while waits for a lagging index or an RPC outage never count.
-- `retry_at` (chain time) is when a released job may be claimed again: each release backs off.
ALTER TABLE cp_jobs ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cp_jobs ADD COLUMN retry_at BIGINT NOT NULL DEFAULT 0;
-- The request a row answers: block and transaction of its `JobRequested` event. A job id re-mined
-- in another transaction after a reorg is a new request (the row starts again, whatever its
-- state); the same transaction re-mined in another block re-opens a settled row, because the
-- settlement may have been dropped with the old block.
ALTER TABLE cp_jobs ADD COLUMN request_tx TEXT NOT NULL DEFAULT '';
ALTER TABLE cp_jobs ADD COLUMN request_block BIGINT NOT NULL DEFAULT 0;

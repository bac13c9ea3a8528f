-- Operator terms (OperatorTermsSet) and evaluation keys per (owner, hash).
ALTER TABLE operators ADD COLUMN min_fee_per_row TEXT NOT NULL DEFAULT '0';
ALTER TABLE operators ADD COLUMN min_job_deadline BIGINT NOT NULL DEFAULT 60;
ALTER TABLE operators ADD COLUMN max_rows_per_job BIGINT NOT NULL DEFAULT 4294967295;
ALTER TABLE operators ADD COLUMN max_rows_per_hour BIGINT NOT NULL DEFAULT 4294967295;
DROP INDEX keys_current;
CREATE UNIQUE INDEX keys_current ON keys (owner, key_hash) WHERE superseded_at IS NULL;

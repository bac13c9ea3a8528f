-- The coprocessor's durable job queue (SQLite). Kept in step with ../postgres/0001_queue.sql.
-- One row per job addressed to this operator; workers claim rows with a lease, so a crashed
-- worker's job is picked up again once its lease runs out.
CREATE TABLE cp_jobs (
    job_id      BIGINT PRIMARY KEY,
    model_id    BIGINT NOT NULL,
    input_hash  TEXT   NOT NULL,
    key_hash    TEXT   NOT NULL,
    rows_count  BIGINT NOT NULL,
    deadline    BIGINT NOT NULL,
    state       TEXT   NOT NULL,
    attempts    BIGINT NOT NULL,
    worker      TEXT,
    lease_until BIGINT,
    result_hash TEXT,
    reason      BIGINT,
    error       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX cp_jobs_ready ON cp_jobs (state, deadline);

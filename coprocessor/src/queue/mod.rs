//! The durable job queue: jobs addressed to this operator, claimed by workers under a lease.
//!
//! SQLite (one process) or Postgres (several processes sharing the queue: claims use
//! `FOR UPDATE SKIP LOCKED`, so two workers never take the same job). A worker that dies keeps
//! its job only until its lease runs out; a late `finish` from a worker that lost its lease is
//! refused, so a job ends exactly once.

use modelmart_index::{Backend, connect_pool};
use sqlx::{AnyPool, Row, any::AnyRow, migrate::Migrator};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Result alias for queue operations.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// Queue failures.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The database failed.
    #[error("queue database: {0}")]
    Db(#[from] sqlx::Error),
    /// Connecting or migrating failed (includes an unsupported URL).
    #[error("queue: {0}")]
    Connect(#[from] modelmart_index::Error),
}

/// A job as it enters the queue (from the chain's `JobRequested`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// On-chain job id.
    pub job_id: i64,
    /// Listing.
    pub model_id: i64,
    /// SHA-256 of the encrypted input blob (hex).
    pub input_hash: String,
    /// SHA-256 of the evaluation-key blob (hex).
    pub key_hash: String,
    /// Rows in the input.
    pub rows: i64,
    /// Unix time after which the job can no longer be answered.
    pub deadline: i64,
    /// Block of the `JobRequested` event on the branch the index follows.
    pub request_block: i64,
    /// Transaction of that event (`0x…`): what tells a request re-mined after a reorg apart.
    pub request_tx: String,
}

/// A job a worker holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The job.
    pub job: NewJob,
    /// How many times it has been claimed (1 the first time), waits included.
    pub attempts: i64,
    /// Failures of the job's own work so far (storage, engine, task), not counting waits.
    pub failures: i64,
    /// The result blob an earlier attempt stored, if any (posting it is all that is left).
    pub result_hash: Option<String>,
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A result was posted on chain.
    Completed {
        /// SHA-256 of the result blob (hex).
        result_hash: String,
    },
    /// The job was rejected on chain with a reason code.
    Rejected {
        /// Reason code.
        reason: i64,
    },
    /// The job ended without this operator's answer (expired, gone in a reorg, settled before).
    Abandoned {
        /// Why.
        why: String,
    },
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Bind a job's fields as `$1`…`$8` (id, model, input, key, rows, deadline, block, tx).
fn bind_job<'q>(q: AnyQuery<'q>, job: &'q NewJob) -> AnyQuery<'q> {
    q.bind(job.job_id)
        .bind(job.model_id)
        .bind(job.input_hash.as_str())
        .bind(job.key_hash.as_str())
        .bind(job.rows)
        .bind(job.deadline)
        .bind(job.request_block)
        .bind(job.request_tx.as_str())
}

/// How a released job is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Something outside the job was not ready (index, chain): not counted as a failure.
    Wait {
        /// Chain time from which it may be claimed again.
        at: i64,
    },
    /// The job's own work failed (storage, engine, task): counted towards its failures.
    Failure {
        /// Chain time from which it may be claimed again.
        at: i64,
    },
}

/// The queue.
#[derive(Clone, Debug)]
pub struct Queue {
    pool: AnyPool,
    postgres: bool,
}

fn job_of(r: &AnyRow) -> Result<Claimed> {
    Ok(Claimed {
        job: NewJob {
            job_id: r.try_get("job_id")?,
            model_id: r.try_get("model_id")?,
            input_hash: r.try_get("input_hash")?,
            key_hash: r.try_get("key_hash")?,
            rows: r.try_get("rows_count")?,
            deadline: r.try_get("deadline")?,
            request_block: r.try_get("request_block")?,
            request_tx: r.try_get("request_tx")?,
        },
        attempts: r.try_get("attempts")?,
        failures: r.try_get("failures")?,
        result_hash: r.try_get("result_hash")?,
    })
}

impl Queue {
    /// Connect (creating a SQLite file if needed) and migrate; `url` as for the indexer
    /// (`sqlite:PATH` or `postgres://…`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let (pool, backend) = connect_pool(url, max_connections, &SQLITE, &POSTGRES).await?;
        Ok(Self { pool, postgres: backend == Backend::Postgres })
    }

    /// Add a job, or bring its row in step with the request the chain holds now. The request
    /// is identified by its transaction and block:
    /// - a job id requested by another transaction (a reorganization dropped the old request and
    ///   mined another under the same id) starts again from nothing, whatever its state: no
    ///   result or rejection of the old request is ever posted for the new one;
    /// - the same transaction re-mined in another block re-opens a settled row (its settlement
    ///   may have been dropped with the old block); the worker re-posts a stored result, or
    ///   leaves the job if the chain shows it settled;
    /// - the same request seen again leaves the row as it is.
    ///
    /// Returns whether the job is new or has work to do again. Each step is one statement, so a
    /// second process feeding the same queue is harmless.
    pub async fn enqueue(&self, job: &NewJob, now: i64) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO cp_jobs (job_id, model_id, input_hash, key_hash, rows_count, deadline, request_block, \
             request_tx, state, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $9) ON CONFLICT (job_id) DO NOTHING",
        );
        if bind_job(inserted, job).bind(now).execute(&self.pool).await?.rows_affected() == 1 {
            return Ok(true);
        }
        // another request under this id (or, for rows from before requests were recorded, a
        // changed request while still open): start again
        let replaced = sqlx::query(
            "UPDATE cp_jobs SET model_id = $2, input_hash = $3, key_hash = $4, rows_count = $5, deadline = $6, \
             request_block = $7, request_tx = $8, state = 'queued', attempts = 0, failures = 0, retry_at = 0, \
             worker = NULL, lease_until = NULL, result_hash = NULL, reason = NULL, error = NULL, updated_at = $9 \
             WHERE job_id = $1 AND ((request_tx <> '' AND request_tx <> $8) OR (state IN ('queued', 'running') \
             AND (model_id <> $2 OR input_hash <> $3 OR key_hash <> $4 OR rows_count <> $5 OR deadline <> $6)))",
        );
        if bind_job(replaced, job).bind(now).execute(&self.pool).await?.rows_affected() == 1 {
            return Ok(true);
        }
        // the same request in another block: a settlement may have gone with the old one
        let reopened = sqlx::query(
            "UPDATE cp_jobs SET request_block = $1, state = 'queued', worker = NULL, lease_until = NULL, \
             retry_at = 0, reason = NULL, error = NULL, updated_at = $2 WHERE job_id = $3 AND request_tx = $4 \
             AND request_block <> 0 AND request_block <> $1 AND state IN ('completed', 'rejected', 'abandoned')",
        )
        .bind(job.request_block)
        .bind(now)
        .bind(job.job_id)
        .bind(job.request_tx.as_str())
        .execute(&self.pool)
        .await?;
        if reopened.rows_affected() == 1 {
            return Ok(true);
        }
        // an open row follows its request's block; a row from before requests were recorded
        // learns its request
        sqlx::query(
            "UPDATE cp_jobs SET request_block = $1, request_tx = $2 WHERE job_id = $3 AND (request_tx = '' \
             OR (request_tx = $2 AND request_block <> $1 AND state IN ('queued', 'running')))",
        )
        .bind(job.request_block)
        .bind(job.request_tx.as_str())
        .bind(job.job_id)
        .execute(&self.pool)
        .await?;
        Ok(false)
    }

    /// Claim the queued job with the nearest deadline that still leaves `min_remaining` seconds
    /// to answer it and whose backoff has passed (or one whose worker's lease ran out), for
    /// `lease` seconds.
    pub async fn claim(
        &self,
        worker: &str,
        now: i64,
        lease: i64,
        min_remaining: i64,
    ) -> Result<Option<Claimed>> {
        let lock = if self.postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE cp_jobs SET state = 'running', worker = $1, lease_until = $2, attempts = attempts + 1, \
             updated_at = $3 WHERE job_id = (SELECT job_id FROM cp_jobs WHERE ((state = 'queued' AND \
             retry_at <= $3) OR (state = 'running' AND lease_until < $3)) AND deadline >= $4 \
             ORDER BY deadline, job_id LIMIT 1{lock}) \
             RETURNING job_id, model_id, input_hash, key_hash, rows_count, deadline, request_block, request_tx, \
             attempts, failures, result_hash"
        );
        let row = sqlx::query(&sql)
            .bind(worker)
            .bind(now + lease)
            .bind(now)
            .bind(now + min_remaining)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_of).transpose()
    }

    /// Extend a lease; false if the worker no longer holds the job.
    pub async fn heartbeat(&self, job_id: i64, worker: &str, now: i64, lease: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cp_jobs SET lease_until = $1, updated_at = $2 WHERE job_id = $3 AND worker = $4 AND state = 'running'",
        )
        .bind(now + lease)
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Record how a job ended; false (and nothing changes) if `worker` no longer holds it.
    pub async fn finish(
        &self,
        job_id: i64,
        worker: &str,
        outcome: &Outcome,
        now: i64,
    ) -> Result<bool> {
        let (state, result_hash, reason, error) = match outcome {
            Outcome::Completed { result_hash } => {
                ("completed", Some(result_hash.as_str()), None, None)
            }
            Outcome::Rejected { reason } => ("rejected", None, Some(*reason), None),
            Outcome::Abandoned { why } => ("abandoned", None, None, Some(why.as_str())),
        };
        let r = sqlx::query(
            "UPDATE cp_jobs SET state = $1, result_hash = COALESCE($2, result_hash), reason = $3, error = $4, \
             lease_until = NULL, updated_at = $5 WHERE job_id = $6 AND worker = $7 AND state = 'running'",
        )
        .bind(state)
        .bind(result_hash)
        .bind(reason)
        .bind(error)
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Remember the result blob of a job this worker holds, before posting it, so a later
    /// attempt posts the same result instead of computing another. False if the lease was lost.
    pub async fn record_result(
        &self,
        job_id: i64,
        worker: &str,
        result_hash: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cp_jobs SET result_hash = $1 WHERE job_id = $2 AND worker = $3 AND state = 'running'",
        )
        .bind(result_hash)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Hand a job back after a transient failure: it is queued again, claimable from `retry_at`
    /// (chain time), with `error` kept for the operator to see. A [`Retry::Failure`] counts
    /// towards the job's failures; a [`Retry::Wait`] (lagging index, RPC outage) does not.
    pub async fn release(
        &self,
        job_id: i64,
        worker: &str,
        error: &str,
        retry: Retry,
        now: i64,
    ) -> Result<bool> {
        let (failed, retry_at) = match retry {
            Retry::Wait { at } => (0_i64, at),
            Retry::Failure { at } => (1, at),
        };
        let r = sqlx::query(
            "UPDATE cp_jobs SET state = 'queued', worker = NULL, lease_until = NULL, error = $1, updated_at = $2, \
             failures = failures + $3, retry_at = $4 WHERE job_id = $5 AND worker = $6 AND state = 'running'",
        )
        .bind(error)
        .bind(now)
        .bind(failed)
        .bind(retry_at)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Give up on queued jobs that can no longer finish before their deadline (`missed`), so no
    /// worker starts them. Returns their ids.
    pub async fn sweep(&self, now: i64, min_remaining: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "UPDATE cp_jobs SET state = 'missed', updated_at = $1 WHERE state = 'queued' AND deadline < $2 RETURNING job_id",
        )
        .bind(now)
        .bind(now + min_remaining)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| r.try_get::<i64, _>("job_id").map_err(QueueError::from)).collect()
    }

    /// Jobs per state, for metrics and health.
    pub async fn depth(&self) -> Result<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT state, COUNT(*) AS n FROM cp_jobs GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("state")?, r.try_get::<i64, _>("n")?)))
            .collect()
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

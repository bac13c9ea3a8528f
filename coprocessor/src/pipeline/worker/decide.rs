//! The decision of a job's answer, apart from its side effects: [`decide`] reads the world
//! through a [`JobEnv`] (the chain's record of the job, the index, blob storage, the engine) and
//! returns a result to post, a rejection with a reason code, or nothing to do. The real
//! environment is `super::env`; the unit tests below use fakes, one per branch.

use bytes::Bytes;
use modelmart_fhe::Error as FheError;
use modelmart_index::Model as Listing;
use modelmart_primitives::{JobId, JobStatus, ModelId, reasons};

use crate::{Error, Result, blobs::BlobError, pipeline::listings::Refusal, queue::Claimed};

/// What to answer for a job.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Post this result blob's hash (hex).
    Submit(String),
    /// Reject with a reason code.
    Reject(u16, String),
    /// Nothing to do: the job is not pending on chain any more (or never was on this branch).
    Settled(String),
}

/// Failures of a job's own work (storage, engine, task) after which it is rejected instead of
/// tried again. Waits for a lagging index or an RPC outage are not failures and never count;
/// failures back off 1, 2, 4 … 60 s, so the job is given up about three minutes after its first.
pub(super) const MAX_FAILURES: i64 = 8;

fn reject(reason: u16, detail: impl Into<String>) -> Decision {
    Decision::Reject(reason, detail.into())
}

/// The chain's record of a job (`getJob`): what a queued request must agree with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChainJob {
    /// Its status.
    pub(crate) status: JobStatus,
    /// The listing it pays for.
    pub(crate) model_id: u64,
    /// Rows paid for.
    pub(crate) rows: u32,
    /// Unix time after which it can be refunded.
    pub(crate) deadline: u64,
}

/// Why an evaluation produced no result.
#[derive(Debug)]
pub(crate) enum EvalFailure {
    /// The input holds another number of rows than the job paid for.
    RowCount {
        /// Rows in the uploaded input.
        uploaded: usize,
    },
    /// The engine refused the buyer's input or key (malformed, other parameters, too many
    /// rows, missing key material).
    Fhe(FheError),
    /// The engine panicked on this job: answered as a permanent failure, never retried.
    Panicked(String),
    /// The evaluation slot came after the latest time the job could start and still finish.
    Late {
        /// Chain time when the slot came.
        now: i64,
    },
}

/// Everything [`decide`] reads or asks for. Associated types let fakes stand in for opened
/// models and expanded keys.
pub(crate) trait JobEnv {
    /// An opened model.
    type Model: Clone + Send + Sync;
    /// An expanded evaluation key.
    type Key: Clone + Send + Sync;
    /// Work counted as admitted while it lives.
    type Ticket: Send;
    /// Chain time now, Unix seconds.
    fn now(&self) -> i64;
    /// Seconds kept in hand before a deadline to store and post a result.
    fn post_margin_s(&self) -> i64;
    /// This operator's address as the index stores it (lowercase `0x` hex).
    fn operator(&self) -> String;
    /// The chain's record of job `id`.
    async fn chain_job(&self, id: JobId) -> Result<ChainJob>;
    /// Input and key hashes (lowercase `0x` hex) of job `id`'s request as emitted on the chain
    /// the node follows now (`None`: no such request there).
    async fn chain_request(&self, id: JobId) -> Result<Option<(String, String)>>;
    /// Listing `id` as indexed (`None`: not indexed yet).
    async fn listing(&self, id: ModelId) -> Result<Option<Listing>>;
    /// Whether the result blob `hash` is stored.
    async fn has_blob(&self, hash: &str) -> Result<bool>;
    /// Blob `hash`, checked to hash to its address.
    async fn blob(&self, hash: &str) -> Result<Option<Bytes>, BlobError>;
    /// The opened, checked model of `listing`, or why it cannot be served.
    async fn open_model(
        &self,
        listing: &Listing,
    ) -> Result<std::result::Result<Self::Model, Refusal>>;
    /// Seconds an evaluation of `rows` rows is expected to take.
    fn expected_seconds(&self, model: &Self::Model, rows: usize) -> f64;
    /// Seconds until an evaluation slot frees up behind the work already admitted.
    fn backlog_seconds(&self) -> f64;
    /// Count `secs` of evaluation work as admitted until the ticket is dropped.
    fn admit(&self, secs: f64) -> Self::Ticket;
    /// The expanded key `hash` if it is cached.
    fn cached_key(&self, hash: &str) -> Option<Self::Key>;
    /// Expand (and cache) evaluation key `hash` from its bytes.
    async fn expand_key(
        &self,
        hash: &str,
        bytes: Bytes,
    ) -> Result<std::result::Result<Self::Key, FheError>>;
    /// Evaluate `model` on `input` (which must hold `rows` rows, at most `max_rows`), unless
    /// the evaluation slot comes after chain time `latest_start` ([`EvalFailure::Late`]).
    async fn evaluate(
        &self,
        model: Self::Model,
        key: Self::Key,
        input: Bytes,
        rows: usize,
        max_rows: usize,
        latest_start: i64,
    ) -> Result<std::result::Result<Vec<u8>, EvalFailure>>;
    /// Store a result blob and remember its hash with the job; returns the hash (hex).
    async fn store_result(&self, bytes: Vec<u8>) -> Result<String>;
}

/// How an engine error on buyer-supplied data is answered.
pub(crate) fn fhe_reason(e: &FheError) -> u16 {
    match e {
        FheError::Serialization(_) => reasons::MALFORMED,
        FheError::NonConformant { .. } | FheError::SchemaMismatch(_) => reasons::NON_CONFORMANT,
        FheError::TooManyRows { .. } => reasons::TOO_MANY_ROWS,
        // the registered key is not the kind the model needs (bootstrap keys vs public key)
        FheError::MissingEvaluationKey | FheError::MissingPublicKey | FheError::MissingWashKey => {
            reasons::KEY_MISSING
        }
        _ => reasons::MODEL_UNAVAILABLE,
    }
}

/// A buyer blob, or the rejection its absence or corruption calls for. Storage failures are
/// `Err` (transient).
async fn buyer_blob<E: JobEnv>(
    env: &E,
    hash: &str,
    missing: u16,
) -> Result<std::result::Result<Bytes, Decision>> {
    match env.blob(hash).await {
        Ok(Some(b)) => Ok(Ok(b)),
        Ok(None) => Ok(Err(reject(missing, format!("blob {hash} not uploaded")))),
        Err(e @ BlobError::HashMismatch { .. }) => {
            Ok(Err(reject(reasons::HASH_MISMATCH, format!("blob {hash}: {e}"))))
        }
        Err(e) => Err(Error::Blob(e)),
    }
}

/// Decide the answer to claimed job `c`. `Err` is a transient failure (RPC, storage, the index
/// behind the chain): the job is handed back and retried.
pub(crate) async fn decide<E: JobEnv>(env: &E, c: &Claimed) -> Result<Decision> {
    let id = JobId::try_from(c.job.job_id)?;
    let job = env.chain_job(id).await?;
    if job.status == JobStatus::Completed
        && let Some(h) = &c.result_hash
    {
        // an earlier attempt posted it and died before recording the outcome: settling again
        // finds the job completed and records it as such
        return Ok(Decision::Submit(h.clone()));
    }
    if job.status != JobStatus::Requested {
        return Ok(Decision::Settled(format!("job is {} on chain", job.status)));
    }
    // the queued request (from the index) must be the one the chain holds now: a reorganization
    // can re-mine the id with another request, and the feed re-queues it once indexed
    let req = &c.job;
    let (Ok(rows), Ok(deadline)) = (u32::try_from(req.rows), u64::try_from(req.deadline)) else {
        return Err(Error::NotReady(format!("job {id}: queued request out of range")));
    };
    if (u64::try_from(req.model_id).ok(), rows, deadline)
        != (Some(job.model_id), job.rows, job.deadline)
    {
        return Err(Error::NotReady(format!(
            "job {id}: queued request (model {}, {rows} rows, deadline {deadline}) is not the \
             chain's (model {}, {} rows, deadline {}); waiting for the index",
            req.model_id, job.model_id, job.rows, job.deadline
        )));
    }
    // and its input and key must be the ones requested on the chain the node follows now, or
    // a re-mined id could be answered with the result for another request's input
    match env.chain_request(id).await? {
        Some((input, key))
            if input.eq_ignore_ascii_case(&req.input_hash)
                && key.eq_ignore_ascii_case(&req.key_hash) => {}
        Some((input, key)) => {
            return Err(Error::NotReady(format!(
                "job {id}: queued input {} / key {} are not the chain's {input} / {key}; \
                 waiting for the index",
                req.input_hash, req.key_hash
            )));
        }
        None => return Err(Error::NotReady(format!("job {id}: request not found on chain"))),
    }
    // a job that failed transiently attempt after attempt is answered, not retried forever
    if c.failures >= MAX_FAILURES {
        return Ok(reject(
            reasons::ENGINE_FAILURE,
            format!("gave up after {} failures in {} attempts", c.failures, c.attempts - 1),
        ));
    }
    let model_id = ModelId::try_from(req.model_id)?;
    let Some(listing) = env.listing(model_id).await? else {
        return Err(Error::NotReady(format!("model {model_id} not indexed yet")));
    };
    if !listing.operator.eq_ignore_ascii_case(&env.operator()) {
        return Ok(Decision::Settled("addressed to another operator".into()));
    }
    if let Some(h) = &c.result_hash
        && env.has_blob(h).await?
    {
        return Ok(Decision::Submit(h.clone()));
    }
    let model = match env.open_model(&listing).await? {
        Ok(m) => m,
        Err(r) => return Ok(reject(reasons::MODEL_UNAVAILABLE, r.detail)),
    };
    let rows = rows as usize;
    let expected_s = env.expected_seconds(&model, rows);
    // whole seconds, rounded up (estimates are far below i64's range)
    let secs = |s: f64| s.ceil() as i64;
    let expected = secs(expected_s);
    // the work already admitted runs first: a job that cannot finish behind it is rejected now
    // (refunded), never left to expire
    let ahead_s = env.backlog_seconds();
    if env.now() + secs(ahead_s + expected_s) + env.post_margin_s() > req.deadline {
        return Ok(reject(
            reasons::DEADLINE,
            format!(
                "needs ~{expected_s:.1} s behind ~{ahead_s:.1} s of admitted work, deadline \
                 {deadline}"
            ),
        ));
    }
    let _admitted = env.admit(expected_s);
    let latest_start = req.deadline - expected - env.post_margin_s();
    let input = match buyer_blob(env, &req.input_hash, reasons::INPUT_MISSING).await? {
        Ok(b) => b,
        Err(d) => return Ok(d),
    };
    // every model needs the job's key: bootstrap keys, or the public key leveled results are
    // sanitized with
    let key = match env.cached_key(&req.key_hash) {
        Some(k) => k,
        None => {
            let bytes = match buyer_blob(env, &req.key_hash, reasons::KEY_MISSING).await? {
                Ok(b) => b,
                Err(d) => return Ok(d),
            };
            match env.expand_key(&req.key_hash, bytes).await? {
                Ok(k) => k,
                Err(e) => return Ok(reject(fhe_reason(&e), format!("evaluation key: {e}"))),
            }
        }
    };
    let max_rows = usize::try_from(listing.max_rows).unwrap_or(0);
    match env.evaluate(model, key, input, rows, max_rows, latest_start).await? {
        Ok(bytes) => Ok(Decision::Submit(env.store_result(bytes).await?)),
        Err(EvalFailure::Late { now }) => Ok(reject(
            reasons::DEADLINE,
            format!("evaluation could start only at {now}, after the latest start {latest_start}"),
        )),
        Err(EvalFailure::RowCount { uploaded }) => {
            Ok(reject(reasons::ROW_COUNT, format!("{uploaded} rows uploaded, {rows} paid for")))
        }
        Err(EvalFailure::Fhe(e)) => Ok(reject(fhe_reason(&e), e.to_string())),
        Err(EvalFailure::Panicked(why)) => {
            Ok(reject(reasons::ENGINE_FAILURE, format!("the engine panicked: {why}")))
        }
    }
}

#[cfg(test)]
mod tests;

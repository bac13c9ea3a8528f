//! A worker: claims a job, decides its answer (a result, or a rejection with a reason), and
//! settles it on chain exactly once. Evaluation runs on blocking threads (rayon inside), never
//! on the async runtime.

use std::{sync::Arc, time::Instant};

use alloy::primitives::B256;
use bytes::Bytes;
use modelmart_bindings::ModelMarket;
use modelmart_fhe::{CompiledModel, EncryptedInput, EvaluationKey, Evaluator, ServerKey};
use modelmart_sdk::reasons;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::Instrument;

use super::Pipeline;
use crate::{
    BlobKind, Error, Result,
    blobs::BlobError,
    queue::{Claimed, Outcome},
};

const TARGET: &str = "modelmart::coprocessor::exec";
/// Seconds before its deadline below which a job is not even claimed (no time to reject it).
const MIN_TO_REJECT_S: i64 = 2;
/// Blocks before the one the index puts a request in that its on-chain lookup starts from, in
/// case a reorganization moved the request earlier than the index has caught up with.
const REQUEST_LOOKBACK: u64 = 64;

/// What to answer for a job.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Post this result blob's hash (hex).
    Submit(String),
    /// Reject with a reason code.
    Reject(u16, String),
    /// Nothing to do: the job is not pending on chain any more (or never was on this branch).
    Settled(String),
}

fn reject(reason: u16, detail: impl Into<String>) -> Decision {
    Decision::Reject(reason, detail.into())
}

/// How an engine error on buyer-supplied data is answered.
fn fhe_reason(e: &modelmart_fhe::Error) -> u16 {
    use modelmart_fhe::Error as F;
    match e {
        F::Serialization(_) => reasons::MALFORMED,
        F::NonConformant { .. } | F::SchemaMismatch(_) => reasons::NON_CONFORMANT,
        F::TooManyRows { .. } => reasons::TOO_MANY_ROWS,
        // the registered key is not the kind the model needs (bootstrap keys vs public key)
        F::MissingEvaluationKey | F::MissingPublicKey | F::MissingWashKey => reasons::KEY_MISSING,
        _ => reasons::MODEL_UNAVAILABLE,
    }
}

fn b256(hex: &str) -> Result<B256> {
    hex.parse()
        .or_else(|_| format!("0x{hex}").parse())
        .map_err(|_| Error::Blob(BlobError::BadHash(hex.to_owned())))
}

/// What [`Worker::fetch`] gathers for one job.
struct Fetched {
    model: Arc<CompiledModel>,
    input: Bytes,
    server_key: Arc<ServerKey>,
    rows: usize,
    max_rows: usize,
}

/// One worker of the pool.
#[derive(Debug)]
pub struct Worker {
    p: Arc<Pipeline>,
    name: String,
}

impl Worker {
    /// Worker `name` (unique across processes sharing a queue).
    pub fn new(p: Arc<Pipeline>, name: String) -> Self {
        Self { p, name }
    }

    /// Claim and process jobs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let p = &self.p;
            // any job with time left for a rejection is claimed: one that cannot finish is
            // rejected (the buyer is refunded at once) rather than left to expire
            let claimed = p.queue.claim(&self.name, p.now(), p.cfg.lease_s, MIN_TO_REJECT_S).await;
            tracing::trace!(target: TARGET, worker = %self.name, now = p.now(), ?claimed, "claim");
            match claimed {
                Ok(Some(job)) => self.process(job).await,
                Ok(None) => {
                    tokio::select! {
                        () = p.wake.notified() => {}
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::error!(target: TARGET, error = %e, "queue unavailable");
                    p.record(|h| h.last_error = Some(e.to_string()));
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn process(&self, c: Claimed) {
        let job_id = c.job.job_id;
        let span = tracing::info_span!(target: TARGET, "job", job_id, attempt = c.attempts);
        async {
            let started = Instant::now();
            let work = async {
                match self.decide(&c).await {
                    Ok(d) => self.settle(&c, d).await,
                    Err(e) => Err(e),
                }
            };
            // the lease is renewed only while this future runs: dropped with it, never detached
            let outcome = tokio::select! {
                o = work => o,
                never = self.heartbeat(job_id) => match never {},
            };
            let p = &self.p;
            match outcome {
                Ok(o) => {
                    let label = match &o {
                        Outcome::Completed { .. } => "completed",
                        Outcome::Rejected { .. } => "rejected",
                        Outcome::Abandoned { .. } => "abandoned",
                    };
                    metrics::counter!("modelmart_coprocessor_jobs_total", "outcome" => label).increment(1);
                    metrics::histogram!("modelmart_coprocessor_job_seconds").record(started.elapsed().as_secs_f64());
                    match &o {
                        Outcome::Completed { .. } => p.record(|h| h.completed += 1),
                        Outcome::Rejected { .. } => p.record(|h| h.rejected += 1),
                        Outcome::Abandoned { .. } => {}
                    }
                    if let Err(e) = p.queue.finish(job_id, &self.name, &o, p.now()).await {
                        tracing::error!(target: TARGET, error = %e, "could not record the outcome");
                    }
                    tracing::info!(target: TARGET, outcome = label, ms = started.elapsed().as_millis() as u64, "job done");
                }
                Err(e) => {
                    tracing::warn!(target: TARGET, error = %e, "transient failure; job handed back");
                    p.record(|h| h.last_error = Some(e.to_string()));
                    let _ = p.queue.release(job_id, &self.name, &e.to_string(), p.now()).await;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Renew the lease every third of it, forever.
    async fn heartbeat(&self, job_id: i64) -> std::convert::Infallible {
        let p = &self.p;
        let every = std::time::Duration::from_secs((p.cfg.lease_s / 3).max(1) as u64);
        loop {
            tokio::time::sleep(every).await;
            if !matches!(
                p.queue.heartbeat(job_id, &self.name, p.now(), p.cfg.lease_s).await,
                Ok(true)
            ) {
                tracing::warn!(target: TARGET, job_id, "lease lost");
            }
        }
    }

    /// Decide the answer. `Err` is a transient failure (RPC, storage): the job is retried.
    async fn decide(&self, c: &Claimed) -> Result<Decision> {
        let p = &self.p;
        let id = u64::try_from(c.job.job_id).unwrap_or_default();
        let chain = p.operator.chain();
        let status = chain.job_status(id).await?;
        if status == "completed"
            && let Some(h) = &c.result_hash
        {
            // an earlier attempt posted it and died before recording the outcome: settling
            // again finds the job completed and records it as such
            return Ok(Decision::Submit(h.clone()));
        }
        if status != "requested" {
            return Ok(Decision::Settled(format!("job is {status} on chain")));
        }
        // the request is read from the chain, starting where the index saw it (minus a reorg
        // margin), not from block 0
        let seen = p.index.job_requested_block(c.job.job_id).await?;
        let from = seen.map_or(0, |b| b.saturating_sub(REQUEST_LOOKBACK));
        let Some(req) = chain.job_request(id, from).await? else {
            return Ok(Decision::Settled("no request event on this branch".into()));
        };
        if req.operator != p.operator_address() {
            return Ok(Decision::Settled("addressed to another operator".into()));
        }
        if let Some(h) = &c.result_hash
            && p.blobs.size(h).await?.is_some()
        {
            return Ok(Decision::Submit(h.clone()));
        }
        let fetched = match self.fetch(&req).await? {
            Ok(f) => f,
            Err(d) => return Ok(d),
        };
        self.evaluate_and_store(c, fetched).await
    }

    /// Everything the evaluation needs: the opened model (if it can finish before the deadline),
    /// the verified input and, for bootstrapped models, the expanded evaluation key.
    async fn fetch(
        &self,
        req: &ModelMarket::JobRequested,
    ) -> Result<std::result::Result<Fetched, Decision>> {
        let p = &self.p;
        let started = Instant::now();
        let model_id = req.modelId.to::<i64>();
        let Some(listing) = p.index.model(model_id).await? else {
            return Err(Error::NotReady(format!("model {model_id} not indexed yet")));
        };
        let model = match p.open_model(&listing).await? {
            Ok(m) => m,
            Err(r) => return Ok(Err(reject(reasons::MODEL_UNAVAILABLE, r.detail))),
        };
        let rows = req.rows as usize;
        let expected = p.cost.estimate(&model, rows).expected_seconds.ceil() as i64;
        let deadline = req.deadline.to::<i64>();
        if p.now() + expected + p.cfg.post_margin_s > deadline {
            return Ok(Err(reject(
                reasons::DEADLINE,
                format!("needs ~{expected} s, deadline {deadline}"),
            )));
        }
        let input =
            match self.blob(&alloy::hex::encode(req.inputHash), reasons::INPUT_MISSING).await? {
                Ok(b) => b,
                Err(d) => return Ok(Err(d)),
            };
        // every model needs the job's key: bootstrap keys, or the public key leveled results
        // are sanitized with
        let server_key = match self.server_key(&alloy::hex::encode(req.keyHash)).await? {
            Ok(k) => k,
            Err(d) => return Ok(Err(d)),
        };
        metrics::histogram!("modelmart_coprocessor_fetch_seconds")
            .record(started.elapsed().as_secs_f64());
        let max_rows = usize::try_from(listing.max_rows).unwrap_or(0);
        Ok(Ok(Fetched { model, input, server_key, rows, max_rows }))
    }

    /// Evaluate on a blocking thread (behind the evaluation semaphore), store the result blob and
    /// record its hash; a malformed or non-conformant input becomes a rejection.
    async fn evaluate_and_store(&self, c: &Claimed, f: Fetched) -> Result<Decision> {
        let p = &self.p;
        let Fetched { model, input, server_key, rows, max_rows } = f;
        let _slot = p.eval_slots.acquire().await.map_err(|e| Error::Task(e.to_string()))?;
        let eval = Instant::now();
        let evaluated = tokio::task::spawn_blocking(move || {
            let input = EncryptedInput::from_bytes(&input)?;
            if input.rows() != rows {
                return Ok(Err(reject(
                    reasons::ROW_COUNT,
                    format!("{} rows uploaded, {rows} paid for", input.rows()),
                )));
            }
            let (result, stats) =
                Evaluator::new(&model, Some(&server_key))?.evaluate(&input, max_rows)?;
            Ok(Ok((result.to_bytes()?, stats)))
        })
        .await
        .map_err(|e| Error::Task(format!("evaluation thread: {e}")))?;
        let (bytes, stats) = match evaluated {
            Ok(Ok(r)) => r,
            Ok(Err(d)) => return Ok(d),
            Err(e) => return Ok(reject(fhe_reason(&e), e.to_string())),
        };
        metrics::histogram!("modelmart_coprocessor_eval_seconds")
            .record(eval.elapsed().as_secs_f64());
        metrics::counter!("modelmart_coprocessor_bootstraps_total")
            .increment(stats.bootstraps as u64);
        tracing::info!(target: TARGET, rows, bootstraps = stats.bootstraps, ms = stats.elapsed.as_millis() as u64, "evaluated");

        let hash = alloy::hex::encode(Sha256::digest(&bytes));
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bytes))]);
        p.blobs.put(BlobKind::Result, &hash, body).await?;
        p.queue.record_result(c.job.job_id, &self.name, &hash).await?;
        Ok(Decision::Submit(hash))
    }

    /// A buyer blob by hash, verified; a missing or mismatching blob becomes a rejection.
    async fn blob(&self, hash: &str, missing: u16) -> Result<std::result::Result<Bytes, Decision>> {
        match self.p.verified_blob(hash).await {
            Ok(Some(b)) => Ok(Ok(b)),
            Ok(None) => Ok(Err(reject(missing, format!("blob {hash} not uploaded")))),
            Err(e @ BlobError::HashMismatch { .. }) => {
                Ok(Err(reject(reasons::HASH_MISMATCH, format!("blob {hash}: {e}"))))
            }
            Err(e) => Err(Error::Blob(e)),
        }
    }

    /// The expanded evaluation key `hash`, from the cache or its blob.
    async fn server_key(
        &self,
        hash: &str,
    ) -> Result<std::result::Result<Arc<ServerKey>, Decision>> {
        if let Some(k) = self.p.keys.get(&hash.to_owned()) {
            return Ok(Ok(k));
        }
        let bytes = match self.blob(hash, reasons::KEY_MISSING).await? {
            Ok(b) => b,
            Err(d) => return Ok(Err(d)),
        };
        let _slot = self.p.eval_slots.acquire().await.map_err(|e| Error::Task(e.to_string()))?;
        let expanded = tokio::task::spawn_blocking(move || {
            ServerKey::expand(&EvaluationKey::from_bytes(&bytes)?)
        })
        .await
        .map_err(|e| Error::Task(format!("key thread: {e}")))?;
        match expanded {
            Ok(k) => {
                let k = Arc::new(k);
                self.p.keys.insert(hash.to_owned(), k.clone());
                Ok(Ok(k))
            }
            Err(e) => Ok(Err(reject(fhe_reason(&e), format!("evaluation key: {e}")))),
        }
    }

    /// Put the decision on chain. A failed transaction is retried until the chain shows the job
    /// settled (by this or an earlier attempt) or its deadline passes.
    async fn settle(&self, c: &Claimed, d: Decision) -> Result<Outcome> {
        let p = &self.p;
        let id = u64::try_from(c.job.job_id).unwrap_or_default();
        let post = Instant::now();
        loop {
            let sent = match &d {
                Decision::Settled(why) => return Ok(Outcome::Abandoned { why: why.clone() }),
                Decision::Submit(hash) => p.operator.submit_result(id, b256(hash)?).await,
                Decision::Reject(reason, detail) => {
                    tracing::warn!(target: TARGET, reason, detail = %detail, "rejecting");
                    p.operator.reject(id, *reason).await
                }
            };
            let err = match sent {
                Ok(()) => {
                    metrics::histogram!("modelmart_coprocessor_post_seconds")
                        .record(post.elapsed().as_secs_f64());
                    return Ok(outcome(&d));
                }
                Err(e) => e,
            };
            let status = p.operator.chain().job_status(id).await?;
            match (status, &d) {
                ("completed", Decision::Submit(_)) | ("rejected", Decision::Reject(..)) => {
                    return Ok(outcome(&d));
                }
                ("requested", _) if p.now() < c.job.deadline => {
                    tracing::warn!(target: TARGET, error = %err, "settlement failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
                (s, _) => {
                    return Ok(Outcome::Abandoned { why: format!("job is {s} on chain: {err}") });
                }
            }
        }
    }
}

fn outcome(d: &Decision) -> Outcome {
    match d {
        Decision::Submit(h) => Outcome::Completed { result_hash: h.clone() },
        Decision::Reject(r, _) => Outcome::Rejected { reason: i64::from(*r) },
        Decision::Settled(why) => Outcome::Abandoned { why: why.clone() },
    }
}

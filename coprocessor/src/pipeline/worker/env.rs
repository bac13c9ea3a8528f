//! The real [`JobEnv`]: the chain through the operator's connection, the embedded index, blob
//! storage, the key and model caches, and the engine on blocking threads behind the evaluation
//! slots.

use std::{sync::Arc, time::Instant};

use bytes::Bytes;
use modelmart_fhe::{
    CompiledModel, EncryptedInput, Error as FheError, EvaluationKey, Evaluator, ServerKey,
};
use modelmart_index::Model as Listing;
use modelmart_primitives::{BlobKind, JobId, JobStatus, ModelId};
use sha2::{Digest, Sha256};

use super::{
    TARGET,
    decide::{ChainJob, EvalFailure, JobEnv},
};
use crate::{Error, Result, blobs::BlobError, pipeline::Pipeline, pipeline::listings::Refusal};

/// Blocks before the indexed request block searched for its log (a re-mined request lands
/// near where the index saw it).
const REORG_MARGIN_BLOCKS: u64 = 64;

/// One worker's view of the pipeline while it decides a job.
pub(crate) struct Env<'a> {
    pub(crate) p: &'a Arc<Pipeline>,
    pub(crate) worker: &'a str,
    pub(crate) job_id: i64,
}

impl JobEnv for Env<'_> {
    type Model = Arc<CompiledModel>;
    type Key = Arc<ServerKey>;
    type Ticket = crate::pipeline::admission::Ticket;

    fn now(&self) -> i64 {
        self.p.now()
    }

    fn post_margin_s(&self) -> i64 {
        self.p.post_margin_s()
    }

    fn operator(&self) -> String {
        format!("{:#x}", self.p.operator_address())
    }

    async fn chain_job(&self, id: JobId) -> Result<ChainJob> {
        let j = self.p.operator.chain().job(id).await?;
        Ok(ChainJob {
            status: JobStatus::from_code(j.status)?,
            model_id: j.modelId.to::<u64>(),
            rows: j.rows,
            deadline: j.deadline.to::<u64>(),
        })
    }

    async fn chain_request(&self, id: JobId) -> Result<Option<(String, String)>> {
        // search from a little before the block the index puts the request in (a re-mined
        // request lands near it); RPC nodes refuse log scans from block 0
        let Some(block) = self.p.index.job_requested_block(id.to_i64()).await? else {
            return Ok(None);
        };
        let from = block.saturating_sub(REORG_MARGIN_BLOCKS);
        let r = self.p.operator.chain().job_request(id, from).await?;
        Ok(r.map(|e| (format!("{:#x}", e.inputHash), format!("{:#x}", e.keyHash))))
    }

    async fn listing(&self, id: ModelId) -> Result<Option<Listing>> {
        Ok(self.p.index.model(id.to_i64()).await?)
    }

    async fn has_blob(&self, hash: &str) -> Result<bool> {
        Ok(self.p.blobs.size(hash).await?.is_some())
    }

    async fn blob(&self, hash: &str) -> Result<Option<Bytes>, BlobError> {
        let started = Instant::now();
        let blob = self.p.verified_blob(hash).await;
        metrics::histogram!("modelmart_coprocessor_fetch_seconds")
            .record(started.elapsed().as_secs_f64());
        blob
    }

    async fn open_model(
        &self,
        listing: &Listing,
    ) -> Result<std::result::Result<Self::Model, Refusal>> {
        self.p.open_model(listing).await
    }

    fn expected_seconds(&self, model: &Self::Model, rows: usize) -> f64 {
        self.p.admission.expected_seconds(self.p.cost.estimate(model, rows).expected_seconds)
    }

    fn backlog_seconds(&self) -> f64 {
        self.p.admission.backlog_seconds()
    }

    fn admit(&self, secs: f64) -> Self::Ticket {
        self.p.admission.admit(secs)
    }

    fn cached_key(&self, hash: &str) -> Option<Self::Key> {
        self.p.keys.get(&hash.to_owned())
    }

    async fn expand_key(
        &self,
        hash: &str,
        bytes: Bytes,
    ) -> Result<std::result::Result<Self::Key, FheError>> {
        let _slot = self.p.eval_slots.acquire().await.map_err(|e| Error::Task(e.to_string()))?;
        let expanded = tokio::task::spawn_blocking(move || {
            ServerKey::expand(&EvaluationKey::from_bytes(&bytes)?)
        })
        .await
        .map_err(|e| Error::Task(format!("key thread: {e}")))?;
        Ok(expanded.map(|k| {
            let k = Arc::new(k);
            self.p.keys.insert(hash.to_owned(), k.clone());
            k
        }))
    }

    async fn evaluate(
        &self,
        model: Self::Model,
        key: Self::Key,
        input: Bytes,
        rows: usize,
        max_rows: usize,
        latest_start: i64,
    ) -> Result<std::result::Result<Vec<u8>, EvalFailure>> {
        let _slot = self.p.eval_slots.acquire().await.map_err(|e| Error::Task(e.to_string()))?;
        // the deadline is checked again once the slot is ours: waiting for it may have used up
        // the time the job had
        let now = self.p.now();
        if now > latest_start {
            return Ok(Err(EvalFailure::Late { now }));
        }
        let estimate = self.p.cost.estimate(&model, rows).expected_seconds;
        let started = Instant::now();
        let evaluated = tokio::task::spawn_blocking(move || {
            let input = EncryptedInput::from_bytes(&input).map_err(EvalFailure::Fhe)?;
            if input.rows() != rows {
                return Err(EvalFailure::RowCount { uploaded: input.rows() });
            }
            let (result, stats) = Evaluator::new(&model, Some(&key))
                .and_then(|e| e.evaluate(&input, max_rows))
                .map_err(EvalFailure::Fhe)?;
            Ok((result.to_bytes().map_err(EvalFailure::Fhe)?, stats))
        })
        .await;
        let evaluated = match evaluated {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(EvalFailure::Panicked(e.to_string())),
            Err(e) => return Err(Error::Task(format!("evaluation thread: {e}"))),
        };
        Ok(evaluated.map(|(bytes, stats)| {
            let took = started.elapsed().as_secs_f64();
            self.p.admission.observe(estimate, took);
            metrics::histogram!("modelmart_coprocessor_eval_seconds").record(took);
            metrics::counter!("modelmart_coprocessor_bootstraps_total")
                .increment(stats.bootstraps as u64);
            tracing::info!(target: TARGET, rows, bootstraps = stats.bootstraps, ms = stats.elapsed.as_millis() as u64, "evaluated");
            bytes
        }))
    }

    async fn store_result(&self, bytes: Vec<u8>) -> Result<String> {
        let hash = alloy::hex::encode(Sha256::digest(&bytes));
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bytes))]);
        self.p.blobs.put(BlobKind::Result, &hash, body).await?;
        self.p.queue.record_result(self.job_id, self.worker, &hash).await?;
        Ok(hash)
    }
}

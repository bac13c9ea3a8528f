//! The job pipeline: listings sealed to this operator are opened, checked and accepted (or
//! declined); jobs addressed to it are fed from the embedded index into the durable [`Queue`],
//! and workers claim them, fetch and verify blobs, evaluate on CPU threads, store the result and
//! settle the job on chain exactly once.

pub(crate) mod admission;
mod cache;
mod feed;
mod listings;
mod worker;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::primitives::Address;
use modelmart_fhe::{CompiledModel, ServerKey, cost::CostModel};
use modelmart_index::Db;
use modelmart_primitives::ModelId;
use modelmart_sdk::{Operator, seal::OperatorKey};
use serde::Serialize;
use tokio::sync::Notify;

pub use cache::Lru;
pub use feed::Feed;
pub use worker::Worker;

use crate::{BlobStore, queue::Queue};

/// Settings of the pipeline.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Concurrent jobs: fetching, posting and waiting for receipts overlap across them.
    pub workers: usize,
    /// Concurrent FHE evaluations (each already uses every core).
    pub evaluations: usize,
    /// Seconds a worker holds a job before another may take it over.
    pub lease_s: i64,
    /// A job is started only if this many seconds remain before its deadline, beyond the
    /// expected evaluation time (room to store the result and post it).
    pub post_margin_s: i64,
    /// Expanded evaluation keys kept in memory.
    pub key_cache: usize,
    /// Opened models kept in memory.
    pub model_cache: usize,
    /// Pause between scans of the index when nothing announces a change.
    pub scan_interval: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            workers: 8,
            evaluations: 1,
            lease_s: 60,
            post_margin_s: 15,
            key_cache: 4,
            model_cache: 64,
            scan_interval: Duration::from_secs(1),
        }
    }
}

/// What `/healthz` shows of the pipeline.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PipelineHealth {
    /// Listings accepted since start.
    pub accepted: u64,
    /// Listings declined since start.
    pub declined: u64,
    /// Jobs completed since start.
    pub completed: u64,
    /// Jobs rejected since start.
    pub rejected: u64,
    /// Last pipeline error, if the latest attempt failed.
    pub last_error: Option<String>,
}

/// Everything the feed and the workers share.
pub struct Pipeline {
    /// Settings.
    pub cfg: PipelineConfig,
    /// This operator's chain actions.
    pub operator: Operator,
    /// Its X25519 key (opens sealed models).
    pub(crate) key: OperatorKey,
    /// Blob storage (the endpoint's).
    pub blobs: Arc<BlobStore>,
    /// The durable job queue.
    pub queue: Queue,
    /// The embedded index (jobs and listings addressed to this operator).
    pub index: Db,
    /// Opened models by listing id.
    pub(crate) models: Lru<ModelId, CompiledModel>,
    /// Expanded evaluation keys by key hash.
    pub(crate) keys: Lru<String, ServerKey>,
    /// Evaluation-time estimates.
    pub(crate) cost: CostModel,
    /// Work admitted and measured speed.
    pub(crate) admission: admission::Admission,
    /// Woken when jobs are queued.
    pub(crate) wake: Notify,
    /// Permits for FHE evaluation and key expansion.
    pub(crate) eval_slots: tokio::sync::Semaphore,
    /// Chain time at a local instant (the queue's clock is the chain's).
    clock: Mutex<(u64, Instant)>,
    /// Counters and the last error.
    pub health: Mutex<PipelineHealth>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("operator", &self.operator_address())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Assemble a pipeline.
    pub fn new(
        cfg: PipelineConfig,
        operator: Operator,
        key: OperatorKey,
        blobs: Arc<BlobStore>,
        queue: Queue,
        index: Db,
    ) -> Arc<Self> {
        Arc::new(Self {
            eval_slots: tokio::sync::Semaphore::new(cfg.evaluations.max(1)),
            admission: admission::Admission::new(cfg.evaluations),
            models: Lru::new(cfg.model_cache),
            keys: Lru::new(cfg.key_cache),
            cfg,
            operator,
            key,
            blobs,
            queue,
            index,
            cost: CostModel::default(),
            wake: Notify::new(),
            clock: Mutex::new((0, Instant::now())),
            health: Mutex::new(PipelineHealth::default()),
        })
    }

    /// The operator's address.
    pub fn operator_address(&self) -> Address {
        self.operator.chain().account()
    }

    /// The X25519 public key sealed models must be made for.
    pub fn x25519_public(&self) -> [u8; 32] {
        self.key.public_bytes()
    }

    /// Re-anchor the clock on the latest block, when a newer one exists. Between blocks (an
    /// idle automining dev chain makes none) the clock runs on from the last anchor.
    pub(crate) async fn sync_clock(&self) -> modelmart_sdk::Result<()> {
        let t = self.operator.chain().chain_time().await?;
        if let Ok(mut c) = self.clock.lock()
            && t > c.0
        {
            *c = (t, Instant::now());
        }
        Ok(())
    }

    /// Whether the clock has read the chain at least once. Until then it reads 0, and nothing
    /// may be claimed or judged against a deadline by it.
    pub(crate) fn clock_synced(&self) -> bool {
        self.clock.lock().map(|c| c.0 > 0).unwrap_or(false)
    }

    /// Chain time now (last block's timestamp plus the time since it was read).
    pub(crate) fn now(&self) -> i64 {
        let (t, at) = self.clock.lock().map(|c| *c).unwrap_or((0, Instant::now()));
        i64::try_from(t + at.elapsed().as_secs()).unwrap_or(i64::MAX)
    }

    pub(crate) fn record(&self, f: impl FnOnce(&mut PipelineHealth)) {
        if let Ok(mut h) = self.health.lock() {
            f(&mut h);
        }
    }
}

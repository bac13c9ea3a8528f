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
pub use listings::ListingIntake;
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

/// Heads kept to measure the block time.
const HEADS_KEPT: usize = 9;

/// Median seconds per block over consecutive `(number, timestamp)` heads (0 with fewer than two).
fn median_block_time(heads: impl Iterator<Item = (u64, u64)> + Clone) -> i64 {
    let mut per_block: Vec<i64> = heads
        .clone()
        .zip(heads.skip(1))
        .filter_map(|((n0, t0), (n1, t1))| {
            let dn = i64::try_from(n1.checked_sub(n0)?).ok()?;
            let dt = i64::try_from(t1.checked_sub(t0)?).ok()?;
            (dn > 0).then(|| (dt + dn - 1) / dn)
        })
        .collect();
    per_block.sort_unstable();
    per_block.get(per_block.len() / 2).copied().unwrap_or(0)
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
    /// Permits to claim a job: two per evaluation slot (one evaluating, one fetching its
    /// blobs), so a process holds only the jobs it can start soon and the rest of the queue
    /// stays with processes that have idle slots, however many workers it runs.
    pub(crate) claim_slots: tokio::sync::Semaphore,
    /// Chain time at a local instant (the queue's clock is the chain's).
    clock: Mutex<(u64, Instant)>,
    /// The last heads seen (number, timestamp), to measure the chain's block time.
    heads: Mutex<std::collections::VecDeque<(u64, u64)>>,
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
            claim_slots: tokio::sync::Semaphore::new(2 * cfg.evaluations.max(1)),
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
            heads: Mutex::new(std::collections::VecDeque::new()),
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
        let (n, t) = self.operator.chain().head().await?;
        if let Ok(mut c) = self.clock.lock()
            && t > c.0
        {
            *c = (t, Instant::now());
        }
        if let Ok(mut h) = self.heads.lock()
            && h.back().is_none_or(|&(last, _)| n > last)
        {
            h.push_back((n, t));
            if h.len() > HEADS_KEPT {
                h.pop_front();
            }
        }
        Ok(())
    }

    /// The chain's block time, seconds: the median over the last heads seen (robust to one
    /// jump of the clock), 0 until two were seen.
    pub(crate) fn block_time_s(&self) -> i64 {
        self.heads.lock().map(|h| median_block_time(h.iter().copied())).unwrap_or(0)
    }

    /// Seconds kept in hand before a deadline to post a result: the configured margin, and at
    /// least two blocks of this chain (the transaction must be mined before the deadline).
    pub(crate) fn post_margin_s(&self) -> i64 {
        self.cfg.post_margin_s.max(2 * self.block_time_s())
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

#[cfg(test)]
mod tests {
    use super::median_block_time;

    #[test]
    fn block_time_is_the_median_and_ignores_one_clock_jump() {
        assert_eq!(median_block_time([].into_iter()), 0);
        assert_eq!(median_block_time([(1, 100)].into_iter()), 0);
        let twelve = [(1, 100), (2, 112), (3, 124), (5, 148)];
        assert_eq!(median_block_time(twelve.into_iter()), 12);
        // a test warping the clock by 600 s in one block does not make the chain look slow
        let warped = [(1, 100), (2, 101), (3, 701), (4, 702), (5, 703)];
        assert_eq!(median_block_time(warped.into_iter()), 1);
    }
}

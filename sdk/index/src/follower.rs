//! The chain follower: pulls marketplace logs in adaptive block ranges, detects reorgs by parent
//! hash, and commits each range atomically with its cursor.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    transports::TransportError,
};
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::{
    Error, Result,
    apply::{Decoded, Update, addr, decode},
    db::{Batch, Db, Skipped, table::Meta},
};

const TARGET: &str = "modelmart::indexer::follower";

/// Default pause between polls once caught up, in milliseconds.
pub const DEFAULT_POLL_MS: u64 = 250;
/// Default largest `eth_getLogs` block range.
pub const DEFAULT_MAX_RANGE: u64 = 2_000;
/// How often, during a backoff, what failed is asked whether it answers again.
const RECOVERY_PROBE: Duration = Duration::from_millis(250);

/// How often a standby tries the writer lock, and a writer checks it still holds it.
const STANDBY_POLL: Duration = Duration::from_secs(1);

/// Default number of blocks of hashes kept for reorg detection.
pub const DEFAULT_REORG_WINDOW: u64 = 1_024;

/// How the follower reads the chain.
#[derive(Clone, Debug)]
pub struct FollowerConfig {
    /// The ModelMarket contract.
    pub contract: Address,
    /// First block to index when the database is empty (the deployment block).
    pub start_block: u64,
    /// Blocks below the head that must exist before a block is indexed.
    pub confirmations: u64,
    /// Pause between polls once caught up.
    pub poll_interval: Duration,
    /// Largest block range asked of `eth_getLogs`; halved when the node refuses, doubled back.
    pub max_range: u64,
    /// How many blocks of hashes to keep for reorg detection.
    pub reorg_window: u64,
    /// Longest pause between retries after errors.
    pub max_backoff: Duration,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            contract: Address::ZERO,
            start_block: 0,
            confirmations: 0,
            poll_interval: Duration::from_millis(DEFAULT_POLL_MS),
            max_range: DEFAULT_MAX_RANGE,
            reorg_window: DEFAULT_REORG_WINDOW,
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// What the follower is doing, for `/healthz` and metrics.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Status {
    /// What this process does with the database.
    pub role: Role,
    /// Latest head seen on the node.
    pub head: Option<u64>,
    /// Last block indexed.
    pub indexed: Option<u64>,
    /// Blocks between the confirmed head and the last indexed block.
    pub lag: Option<u64>,
    /// Current `eth_getLogs` range.
    pub range: u64,
    /// Reorgs handled since start.
    pub reorgs: u64,
    /// Last error, if the latest attempt failed.
    pub last_error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: u64,
    /// Events the database refused for good since start (recorded in `skipped_events`).
    pub skipped: u64,
}

/// What a process does with the index database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// It follows the chain into the database (it holds the writer lock).
    #[default]
    Writer,
    /// Another process writes; this one serves reads and takes over when that one stops.
    Standby,
    /// It only serves reads (`--read-only`).
    ReadOnly,
}

/// Shared handle on the follower's [`Status`].
pub type SharedStatus = Arc<Mutex<Status>>;

/// Follows the chain into the database.
pub struct Follower {
    provider: DynProvider,
    db: Db,
    cfg: FollowerConfig,
    range: u64,
    status: SharedStatus,
    updates: broadcast::Sender<Update>,
    chain_id: Option<u64>,
    /// Events written since the planner statistics were last refreshed.
    unanalyzed: usize,
}

/// Events after which the planner statistics are refreshed (once caught up, or every ten times
/// as many during a long catch-up): a bulk-loaded Postgres table without statistics gets
/// sequential-scan plans for multi-key lookups until autovacuum gets to it.
const ANALYZE_AFTER: usize = 10_000;

fn rpc(e: TransportError) -> Error {
    Error::Rpc(e.to_string())
}

impl Follower {
    /// A follower writing to `db`; changes are announced on `updates`.
    pub fn new(
        provider: DynProvider,
        db: Db,
        cfg: FollowerConfig,
        updates: broadcast::Sender<Update>,
    ) -> Self {
        let range = cfg.max_range.max(1);
        Self {
            provider,
            db,
            cfg,
            range,
            status: SharedStatus::default(),
            updates,
            chain_id: None,
            unanalyzed: 0,
        }
    }

    /// The live status handle.
    pub fn status(&self) -> SharedStatus {
        self.status.clone()
    }

    /// Say what this process does with the database (a read-only replica never follows).
    pub fn set_role(&self, role: Role) {
        self.set_status(|s| s.role = role);
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// Follow until `shutdown` resolves. Transient errors are retried with backoff forever;
    /// only a misconfiguration (wrong database, bad URL) ends the loop with an error.
    pub async fn run(&mut self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let step = tokio::select! {
                () = &mut shutdown => return Ok(()),
                r = self.step() => r,
            };
            let (pause, failed) = match step {
                Ok(more) => {
                    backoff = Duration::from_millis(100);
                    self.set_status(|s| {
                        s.last_error = None;
                        s.failures = 0;
                    });
                    (if more { Duration::ZERO } else { self.cfg.poll_interval }, None)
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(target: TARGET, error = %e, retry_in = ?backoff, "indexing step failed; retrying");
                    metrics::counter!("modelmart_indexer_errors_total").increment(1);
                    self.set_status(|s| {
                        s.last_error = Some(modelmart_primitives::redact::urls(&e.to_string()));
                        s.failures += 1;
                    });
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.cfg.max_backoff);
                    (pause, Some(e))
                }
                Err(e) => return Err(e),
            };
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = self.pause_after(failed.as_ref(), pause) => {}
            }
        }
    }

    /// Sleep `pause`, or less after a failure: what failed (the database or the node) is asked
    /// every [`RECOVERY_PROBE`], and once it has been seen down and answers again the pause
    /// ends, so indexing resumes within moments of its return instead of at the end of a long
    /// backoff. Something that answers throughout (a full disk, a refused range) gets the
    /// whole pause, so a persistent error is not retried in a tight loop.
    async fn pause_after(&self, failed: Option<&Error>, pause: Duration) {
        let until = tokio::time::Instant::now() + pause;
        let probe_db = match failed {
            Some(Error::Db(_)) => true,
            Some(Error::Rpc(_) | Error::MissingBlock(_)) => false,
            _ => return tokio::time::sleep_until(until).await,
        };
        let mut seen_down = false;
        loop {
            let now = tokio::time::Instant::now();
            if now >= until {
                return;
            }
            tokio::time::sleep((until - now).min(RECOVERY_PROBE)).await;
            let probe = async {
                if probe_db {
                    self.db.ping().await.is_ok()
                } else {
                    self.provider.get_block_number().await.is_ok()
                }
            };
            match tokio::time::timeout_at(until, probe).await {
                Ok(true) if seen_down => {
                    tracing::info!(target: TARGET, database = probe_db, "answering again; resuming");
                    return;
                }
                Ok(answers) => seen_down |= !answers,
                Err(_) => return,
            }
        }
    }

    /// Follow as the database's only writer: wait as a standby (status [`Role::Standby`]; the
    /// API keeps serving what is indexed) until no other process holds the writer lock, follow
    /// while this one holds it, and go back to standby if it is lost. Ends when `shutdown`
    /// resolves, or with a misconfiguration error.
    pub async fn run_exclusive(
        &mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        tokio::pin!(shutdown);
        loop {
            let mut lock = loop {
                match self.db.try_writer_lock().await {
                    Ok(Some(lock)) => break lock,
                    Ok(None) => {
                        if self.status.lock().is_ok_and(|s| s.role != Role::Standby) {
                            tracing::info!(target: TARGET, "another process writes this index; standing by");
                        }
                        self.set_status(|s| s.role = Role::Standby);
                    }
                    Err(e) => {
                        tracing::warn!(target: TARGET, error = %e, "writer lock unavailable");
                        self.set_status(|s| {
                            s.last_error = Some(modelmart_primitives::redact::urls(&e.to_string()))
                        });
                    }
                }
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(STANDBY_POLL) => {}
                }
            };
            tracing::info!(target: TARGET, "writer lock taken; following the chain");
            self.set_status(|s| s.role = Role::Writer);
            tokio::select! {
                r = self.run(&mut shutdown) => return r,
                () = lock.lost(STANDBY_POLL) => {
                    tracing::warn!(target: TARGET, "writer lock lost; standing by");
                    self.set_status(|s| s.role = Role::Standby);
                }
            }
        }
    }

    /// One block's batch the database refused for good: find each event it will not store (the
    /// first whose prefix a dry run refuses), leave it out and record it with the database's
    /// words, until the rest is accepted. Transient failures are returned as they are.
    async fn skip_refused(&self, mut batch: Batch, mut refused: Error) -> Result<Batch> {
        loop {
            let mut bad = None;
            for n in 0..=batch.events.len() {
                let trial = Batch { events: batch.events[..n].to_vec(), ..batch.clone() };
                match self.db.dry_run(&trial).await {
                    Ok(()) => {}
                    Err(e) if e.is_refused_data() => {
                        bad = n.checked_sub(1);
                        refused = e;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            // nothing refused on its own (or the refusal is not an event's): give up loudly
            let Some(bad) = bad else { return Err(refused) };
            let ev = batch.events.remove(bad);
            let m = &ev.meta;
            tracing::error!(target: TARGET, block = m.block_number, tx = %m.tx_hash, log_index = m.log_index,
                kind = m.event, error = %refused, "event refused by the database; recorded and skipped");
            metrics::counter!("modelmart_indexer_events_skipped_total").increment(1);
            self.set_status(|s| s.skipped += 1);
            batch.skipped.push(Skipped { meta: ev.meta, error: refused.to_string() });
            match self.db.dry_run(&batch).await {
                Ok(()) => return Ok(batch),
                Err(e) if e.is_refused_data() => refused = e,
                Err(e) => return Err(e),
            }
        }
    }

    async fn header(&self, n: u64) -> Result<(B256, B256, i64)> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .await
            .map_err(rpc)?
            .ok_or(Error::MissingBlock(n))?;
        let h = &block.header;
        Ok((h.hash, h.parent_hash, i64::try_from(h.timestamp).unwrap_or(i64::MAX)))
    }

    /// Index until the confirmed head is reached, without pausing (tools, tests, benchmarks).
    pub async fn catch_up(&mut self) -> Result<()> {
        while self.step().await? {}
        Ok(())
    }

    /// One unit of work. Returns whether there is more to do right away.
    pub async fn step(&mut self) -> Result<bool> {
        let chain_id = match self.chain_id {
            Some(c) => c,
            None => {
                let c = self.provider.get_chain_id().await.map_err(rpc)?;
                if let Some(cur) = self.db.cursor().await? {
                    let contract = addr(self.cfg.contract);
                    if cur.chain_id != c || cur.contract != contract {
                        return Err(Error::WrongDeployment {
                            db_chain: cur.chain_id,
                            db_contract: cur.contract,
                            chain: c,
                            contract,
                        });
                    }
                }
                self.chain_id = Some(c);
                c
            }
        };
        let cursor = self.db.cursor().await?;
        let head = self.provider.get_block_number().await.map_err(rpc)?;
        let target = head.saturating_sub(self.cfg.confirmations);
        let parent = cursor
            .as_ref()
            .map(|c| (c.block_number, c.block_hash.parse::<B256>().unwrap_or_default()));
        self.set_status(|s| {
            s.head = Some(head);
            s.indexed = parent.map(|p| p.0);
            s.lag = Some(target.saturating_sub(parent.map_or(self.cfg.start_block, |p| p.0)));
            s.range = self.range;
        });
        metrics::gauge!("modelmart_indexer_head").set(head as f64);
        metrics::gauge!("modelmart_indexer_lag_blocks")
            .set(target.saturating_sub(parent.map_or(self.cfg.start_block, |p| p.0)) as f64);

        // Is the block we stand on still canonical?
        if let Some((p, hash)) = parent
            && (p > head || self.header(p).await?.0 != hash)
        {
            self.handle_reorg(p.min(head)).await?;
            return Ok(true);
        }
        let from = parent.map_or(self.cfg.start_block, |(p, _)| p + 1);
        if from > target {
            return Ok(false);
        }
        let to = target.min(from + self.range - 1);
        let started = Instant::now();

        // Order matters: the head of the range first, then the logs, then the link to our cursor.
        let (to_hash, to_parent, to_time) = self.header(to).await?;
        let filter = Filter::new().address(self.cfg.contract).from_block(from).to_block(to);
        let logs = match self.provider.get_logs(&filter).await {
            Ok(logs) => logs,
            Err(e) if e.as_error_resp().is_some() && self.range > 1 => {
                self.range = (to - from).div_ceil(2).max(1);
                tracing::info!(target: TARGET, from, to, range = self.range, error = %e, "node refused the range; shrinking");
                return Ok(true);
            }
            Err(e) => return Err(rpc(e)),
        };
        if let Some((_, hash)) = parent {
            let from_parent = if from == to { to_parent } else { self.header(from).await?.1 };
            if from_parent != hash {
                self.handle_reorg(from - 1).await?;
                return Ok(true);
            }
        }
        let Some((blocks, events)) = self.decode_logs(&logs, to, to_hash).await? else {
            tracing::debug!(target: TARGET, from, to, "logs straddle a reorg; retrying the range");
            return Ok(true);
        };
        let n_events = events.len();
        let batch = Batch {
            chain_id,
            contract: addr(self.cfg.contract),
            parent: parent.map(|p| p.0),
            to: (to, to_hash, to_time),
            blocks,
            events,
            prune_below: to.saturating_sub(self.cfg.reorg_window),
            skipped: Vec::new(),
        };
        let updates = match self.db.commit(&batch).await {
            Ok(u) => u,
            // data the database refuses for good: narrow down to the block, then the event
            Err(e) if e.is_refused_data() && from < to => {
                tracing::warn!(target: TARGET, from, to, error = %e, "the database refused data in this range; narrowing to one block");
                self.range = 1;
                return Ok(true);
            }
            Err(e) if e.is_refused_data() => {
                let batch = self.skip_refused(batch, e).await?;
                self.db.commit(&batch).await?
            }
            Err(e) => return Err(e),
        };
        self.range = (self.range * 2).min(self.cfg.max_range.max(1));
        self.unanalyzed += n_events;
        if self.unanalyzed >= ANALYZE_AFTER
            && (to >= target || self.unanalyzed >= 10 * ANALYZE_AFTER)
        {
            let t = Instant::now();
            match self.db.analyze().await {
                Ok(()) => {
                    tracing::debug!(target: TARGET, events = self.unanalyzed, ms = t.elapsed().as_millis() as u64, "planner statistics refreshed");
                    self.unanalyzed = 0;
                }
                Err(e) => {
                    tracing::warn!(target: TARGET, error = %e, "refreshing planner statistics failed")
                }
            }
        }
        metrics::counter!("modelmart_indexer_events_total").increment(n_events as u64);
        metrics::histogram!("modelmart_indexer_batch_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("modelmart_indexer_indexed_block").set(to as f64);
        tracing::debug!(target: TARGET, from, to, events = n_events, ms = started.elapsed().as_millis() as u64, "indexed");
        self.set_status(|s| {
            s.indexed = Some(to);
            s.lag = Some(target - to);
        });
        metrics::gauge!("modelmart_indexer_lag_blocks").set((target - to) as f64);
        for u in updates {
            let _ = self.updates.send(u);
        }
        Ok(to < target)
    }

    /// Decode a range's logs. `None` when they do not all belong to one branch.
    #[allow(clippy::type_complexity)]
    async fn decode_logs(
        &self,
        logs: &[Log],
        to: u64,
        to_hash: B256,
    ) -> Result<Option<(Vec<(u64, B256, i64)>, Vec<Decoded>)>> {
        let mut blocks: BTreeMap<u64, (B256, Option<i64>)> = BTreeMap::new();
        for log in logs {
            let (Some(n), Some(h)) = (log.block_number, log.block_hash) else { return Ok(None) };
            if log.removed || (n == to && h != to_hash) {
                return Ok(None);
            }
            match blocks.get(&n) {
                Some((known, _)) if *known != h => return Ok(None),
                _ => {
                    let t = log.block_timestamp.and_then(|t| i64::try_from(t).ok());
                    blocks.insert(n, (h, t));
                }
            }
        }
        // Nodes that do not put timestamps on logs: read them from the headers.
        let mut stamped = Vec::with_capacity(blocks.len() + 1);
        for (n, (h, t)) in blocks {
            let t = match t {
                Some(t) => t,
                None => {
                    let (hash, _, t) = self.header(n).await?;
                    if hash != h {
                        return Ok(None);
                    }
                    t
                }
            };
            stamped.push((n, h, t));
        }
        let times: std::collections::HashMap<u64, i64> =
            stamped.iter().map(|b| (b.0, b.2)).collect();
        let mut events = Vec::with_capacity(logs.len());
        for log in logs {
            let n = log.block_number.unwrap_or_default();
            let meta = Meta {
                event: "",
                block_number: i64::try_from(n).unwrap_or(i64::MAX),
                block_time: times.get(&n).copied().unwrap_or_default(),
                tx_hash: format!("{:#x}", log.transaction_hash.unwrap_or_default()),
                log_index: i64::try_from(log.log_index.unwrap_or_default()).unwrap_or(i64::MAX),
            };
            match decode(log.topics(), &log.data().data, meta) {
                Some(d) => events.push(d),
                None => {
                    tracing::debug!(target: TARGET, block = n, "skipped a log that is not a marketplace event")
                }
            }
        }
        if stamped.last().is_none_or(|b| b.0 != to) {
            let t = self.header(to).await?.2;
            stamped.push((to, to_hash, t));
        }
        Ok(Some((stamped, events)))
    }

    /// Find the newest stored block that is still canonical and roll back to it.
    async fn handle_reorg(&mut self, at: u64) -> Result<()> {
        let window = i64::try_from(self.cfg.reorg_window).unwrap_or(i64::MAX);
        let mut ancestor = None;
        for (n, hash) in self.db.stored_blocks(at, window).await? {
            if self.header(n).await?.0 == hash {
                ancestor = Some((n, hash));
                break;
            }
        }
        let removed = self.db.rollback(ancestor).await?;
        let kept = ancestor.map_or(-1, |(n, _)| i64::try_from(n).unwrap_or(i64::MAX));
        tracing::warn!(target: TARGET, detected_at = at, ancestor = kept, events_removed = removed, "reorg: rolled back");
        metrics::counter!("modelmart_indexer_reorgs_total").increment(1);
        self.set_status(|s| s.reorgs += 1);
        let _ = self.updates.send(Update::Rollback { block_number: kept });
        Ok(())
    }
}

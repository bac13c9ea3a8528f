//! Feeds the queue from the embedded index: on every index update (and every scan interval)
//! requested jobs are enqueued (idempotently) and queued jobs whose deadline passed are swept.
//! Listings are handled by their own task ([`super::ListingIntake`]): however many a stranger
//! proposes, job intake never waits for them.

use std::sync::Arc;

use modelmart_index::Update;
use tokio::sync::{broadcast, watch};

use super::Pipeline;
use crate::{Result, queue::NewJob};

const TARGET: &str = "modelmart::coprocessor::feed";
const PAGE: i64 = 500;

/// Wait for the next reason to scan: an index update (pending ones drained with it), the scan
/// `interval`, or `stop`. False once `stop` is true.
pub(super) async fn next_pass(
    interval: std::time::Duration,
    updates: &mut broadcast::Receiver<Update>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        r = updates.recv() => {
            if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                tokio::time::sleep(interval).await;
            }
            while updates.try_recv().is_ok() {}
        }
        () = tokio::time::sleep(interval) => {}
        _ = stop.changed() => {}
    }
    !*stop.borrow()
}

/// The task that keeps the queue in step with the chain.
#[derive(Debug)]
pub struct Feed {
    p: Arc<Pipeline>,
    updates: broadcast::Receiver<Update>,
}

impl Feed {
    /// A feed reading index `updates`.
    pub fn new(p: Arc<Pipeline>, updates: broadcast::Receiver<Update>) -> Self {
        Self { p, updates }
    }

    /// Scan until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.scan().await {
                Ok(()) => self.p.record(|h| h.last_error = None),
                Err(e) => {
                    tracing::warn!(target: TARGET, error = %e, "scan failed; retrying");
                    self.p.record(|h| {
                        h.last_error = Some(modelmart_primitives::redact::urls(&e.to_string()))
                    });
                }
            }
            if !next_pass(self.p.cfg.scan_interval, &mut self.updates, &mut stop).await {
                break;
            }
        }
    }

    /// One pass: new jobs, sweep, gauges.
    pub async fn scan(&self) -> Result<()> {
        let p = &self.p;
        p.sync_clock().await?;
        let op = p.operator_address();
        let now = p.now();
        let mut after = None;
        let mut queued = 0;
        loop {
            let jobs = p.index.requests_for_operator(op, after, PAGE).await?;
            for r in &jobs {
                let j = &r.job;
                let job = NewJob {
                    job_id: j.job_id,
                    model_id: j.model_id,
                    input_hash: j.input_hash.clone(),
                    key_hash: j.key_hash.clone(),
                    rows: j.rows,
                    deadline: j.deadline,
                    request_block: r.block_number,
                    request_tx: r.tx_hash.clone(),
                };
                if p.queue.enqueue(&job, now).await? {
                    queued += 1;
                    tracing::info!(target: TARGET, job_id = j.job_id, model_id = j.model_id, rows = j.rows, block = r.block_number, "job queued");
                }
            }
            if jobs.len() < PAGE as usize {
                break;
            }
            after = jobs.last().map(|r| r.job.job_id);
        }
        if queued > 0 {
            p.wake.notify_waiters();
        }
        for id in p.queue.sweep(now, 0).await? {
            tracing::warn!(target: TARGET, job_id = id, "deadline passed before the job was started");
        }
        let depth = p.queue.depth().await?;
        tracing::trace!(target: TARGET, now, ?depth, "scanned");
        for (state, n) in depth {
            metrics::gauge!("modelmart_coprocessor_queue_depth", "state" => state).set(n as f64);
        }
        Ok(())
    }
}

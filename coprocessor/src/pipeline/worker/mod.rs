//! A worker: claims a job, decides its answer ([`decide`]: a result, or a rejection with a
//! reason), and settles it on chain exactly once. Evaluation runs on blocking threads (rayon
//! inside), never on the async runtime.

mod decide;
mod env;

use std::{sync::Arc, time::Instant};

use alloy::primitives::B256;
use modelmart_primitives::{BlobHash, JobId, JobStatus};
use modelmart_sdk::JobEnd;
use tokio::{sync::watch, task::JoinSet};
use tracing::Instrument;

use super::Pipeline;
use crate::{
    Result,
    queue::{Claimed, Outcome, Retry},
};
use decide::{Decision, decide};

const TARGET: &str = "modelmart::coprocessor::exec";
/// Seconds before its deadline below which a job is not even claimed (no time to reject it).
const MIN_TO_REJECT_S: i64 = 2;
/// Settlements one worker keeps in flight (each waits for its block) while it decides more.
const MAX_POSTING: usize = 64;

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
        let mut posting = JoinSet::new();
        while !*stop.borrow() {
            // reap finished settlements as we go
            while posting.try_join_next().is_some() {}
            let p = &self.p;
            // a clock that has not read the chain says 0: every deadline would look far away
            // and every lease written with it would already be expired
            if !p.clock_synced() {
                if let Err(e) = p.sync_clock().await {
                    tracing::warn!(target: TARGET, error = %e, "chain clock unavailable");
                }
                if !p.clock_synced() {
                    tokio::select! {
                        () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                        _ = stop.changed() => {}
                    }
                }
                continue;
            }
            // claim only what this process can start soon (pull by capacity): the rest stays
            // in the queue for processes with idle evaluation slots
            let ticket = tokio::select! {
                t = p.claim_slots.acquire() => t,
                _ = stop.changed() => continue,
            };
            let Ok(ticket) = ticket else { break };
            // any job with time left for a rejection is claimed: one that cannot finish is
            // rejected (the buyer is refunded at once) rather than left to expire
            let claimed = p.queue.claim(&self.name, p.now(), p.cfg.lease_s, MIN_TO_REJECT_S).await;
            tracing::trace!(target: TARGET, worker = %self.name, now = p.now(), ?claimed, "claim");
            match claimed {
                Ok(Some(job)) => self.process(job, ticket, &mut posting).await,
                Ok(None) => {
                    drop(ticket);
                    tokio::select! {
                        () = p.wake.notified() => {}
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(e) => {
                    drop(ticket);
                    tracing::error!(target: TARGET, error = %e, "queue unavailable");
                    p.record(|h| {
                        h.last_error = Some(modelmart_primitives::redact::urls(&e.to_string()))
                    });
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
        // settlements already sent finish (or hand their job back) before the worker stops
        while posting.join_next().await.is_some() {}
    }

    /// Decide a job's answer (holding its lease), then hand the answer to a posting task so
    /// that this worker takes the next job while the transaction waits for its block.
    async fn process(
        &self,
        c: Claimed,
        ticket: tokio::sync::SemaphorePermit<'_>,
        posting: &mut JoinSet<()>,
    ) {
        let job_id = c.job.job_id;
        let span = tracing::info_span!(target: TARGET, "job", job_id, attempt = c.attempts);
        let started = Instant::now();
        let decided = async {
            let env = env::Env { p: &self.p, worker: &self.name, job_id };
            // the lease is renewed only while this future runs: dropped with it, never detached;
            // a lost lease stops the work (another worker may be on the job)
            tokio::select! {
                d = decide(&env, &c) => d,
                lost = heartbeat(&self.p, &self.name, job_id) => Err(lost),
            }
        }
        .instrument(span.clone())
        .await;
        // decided: the claim slot goes to the next job while this one's answer is posted
        drop(ticket);
        match decided {
            Ok(d) => {
                while posting.len() >= MAX_POSTING {
                    posting.join_next().await;
                }
                let (p, name) = (self.p.clone(), self.name.clone());
                posting.spawn(post(p, name, c, d, started).instrument(span));
            }
            Err(e) => {
                let _g = span.enter();
                transient(&self.p, &self.name, &c, &e).await;
            }
        }
    }
}

/// Seconds a job handed back waits before it is claimed again. Waits for the index or the
/// chain grow by a second per claim up to 4 s (a lagging index catches up within a block or
/// two); failures of the job's own work double from 1 s up to a minute, and after
/// `decide::MAX_FAILURES` of them the job is rejected.
fn backoff_s(c: &Claimed, failure: bool) -> i64 {
    if failure { (1_i64 << c.failures.clamp(0, 6)).min(60) } else { c.attempts.clamp(1, 4) }
}

/// Hand a job back after a transient failure, to be claimed again after its backoff (a lost
/// lease: it is not ours to hand back).
async fn transient(p: &Pipeline, name: &str, c: &Claimed, e: &crate::Error) {
    let job_id = c.job.job_id;
    if matches!(e, crate::Error::LeaseLost(_)) {
        tracing::warn!(target: TARGET, "lease lost; another worker has the job, this one stops");
        metrics::counter!("modelmart_coprocessor_leases_lost_total").increment(1);
        return;
    }
    let failure = e.is_job_failure();
    let at = p.now() + backoff_s(c, failure);
    let retry = if failure { Retry::Failure { at } } else { Retry::Wait { at } };
    tracing::warn!(target: TARGET, error = %e, failure, retry_at = at, "transient failure; job handed back");
    metrics::counter!("modelmart_coprocessor_retries_total", "kind" => if failure { "failure" } else { "wait" })
        .increment(1);
    p.record(|h| h.last_error = Some(modelmart_primitives::redact::urls(&e.to_string())));
    if let Err(qe) = p.queue.release(job_id, name, &e.to_string(), retry, p.now()).await {
        // the lease runs out instead; keep the worker from spinning on a failing queue
        tracing::error!(target: TARGET, error = %qe, "could not hand the job back");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Settle a decided job on chain (holding its lease) and record the outcome.
async fn post(p: Arc<Pipeline>, name: String, c: Claimed, d: Decision, started: Instant) {
    let job_id = c.job.job_id;
    let outcome = tokio::select! {
        o = settle(&p, &c, d) => o,
        lost = heartbeat(&p, &name, job_id) => Err(lost),
    };
    match outcome {
        Ok(o) => {
            let label = match &o {
                Outcome::Completed { .. } => "completed",
                Outcome::Rejected { .. } => "rejected",
                Outcome::Abandoned { .. } => "abandoned",
            };
            metrics::counter!("modelmart_coprocessor_jobs_total", "outcome" => label).increment(1);
            metrics::histogram!("modelmart_coprocessor_job_seconds")
                .record(started.elapsed().as_secs_f64());
            match &o {
                Outcome::Completed { .. } => p.record(|h| h.completed += 1),
                Outcome::Rejected { .. } => p.record(|h| h.rejected += 1),
                Outcome::Abandoned { .. } => {}
            }
            if let Err(e) = p.queue.finish(job_id, &name, &o, p.now()).await {
                tracing::error!(target: TARGET, error = %e, "could not record the outcome");
            }
            tracing::info!(target: TARGET, outcome = label, ms = started.elapsed().as_millis() as u64, "job done");
        }
        Err(e) => transient(&p, &name, &c, &e).await,
    }
}

/// Renew the lease every third of it; returns once the queue says another worker holds the job
/// (a failed renewal, the queue unreachable, is tried again until the lease would have run out).
async fn heartbeat(p: &Pipeline, name: &str, job_id: i64) -> crate::Error {
    let every = std::time::Duration::from_secs((p.cfg.lease_s / 3).max(1) as u64);
    loop {
        tokio::time::sleep(every).await;
        match p.queue.heartbeat(job_id, name, p.now(), p.cfg.lease_s).await {
            Ok(true) => {}
            Ok(false) => return crate::Error::LeaseLost(job_id),
            Err(e) => tracing::warn!(target: TARGET, job_id, error = %e, "lease not renewed"),
        }
    }
}

/// Put the decision on chain. A failed transaction is retried until the chain shows the job
/// settled (by this or an earlier attempt) or its deadline passes.
async fn settle(p: &Pipeline, c: &Claimed, d: Decision) -> Result<Outcome> {
    let id = JobId::try_from(c.job.job_id)?;
    let post = Instant::now();
    loop {
        let sent = match &d {
            Decision::Settled(why) => return Ok(Outcome::Abandoned { why: why.clone() }),
            Decision::Submit(hash) => {
                let hash: B256 = hash.parse::<BlobHash>()?.into();
                p.operator.submit_result(id, hash).await
            }
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
            (JobStatus::Completed, Decision::Submit(mine)) => {
                // ours, or another worker's? Only ours counts as this worker's completion.
                let from = p.index.job_requested_block(c.job.job_id).await?.unwrap_or(0);
                let end = p.operator.chain().job_end(id, from.saturating_sub(64)).await?;
                let ours = matches!(end, Some(JobEnd::Completed { result_hash })
                    if format!("{result_hash:x}").eq_ignore_ascii_case(mine.trim_start_matches("0x")));
                return Ok(if ours {
                    outcome(&d)
                } else {
                    Outcome::Abandoned { why: "another worker's result is on chain".into() }
                });
            }
            (JobStatus::Rejected, Decision::Reject(..)) => {
                return Ok(outcome(&d));
            }
            (JobStatus::Requested, _) if p.now() < c.job.deadline => {
                tracing::warn!(target: TARGET, error = %err, "settlement failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            (s, _) => {
                return Ok(Outcome::Abandoned { why: format!("job is {s} on chain: {err}") });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::NewJob;

    fn claimed(attempts: i64, failures: i64) -> Claimed {
        let job = NewJob {
            job_id: 1,
            model_id: 1,
            input_hash: String::new(),
            key_hash: String::new(),
            rows: 1,
            deadline: 0,
            request_block: 1,
            request_tx: String::new(),
        };
        Claimed { job, attempts, failures, result_hash: None }
    }

    #[test]
    fn failures_back_off_to_a_minute_and_waits_to_four_seconds() {
        let fails: Vec<i64> = (0..9).map(|f| backoff_s(&claimed(f + 1, f), true)).collect();
        assert_eq!(fails, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        let total: i64 = fails[..decide::MAX_FAILURES as usize].iter().sum();
        assert_eq!(total, 183, "a failing job is given up about three minutes after its first");
        let waits: Vec<i64> = (1..7).map(|a| backoff_s(&claimed(a, 0), false)).collect();
        assert_eq!(waits, [1, 2, 3, 4, 4, 4]);
    }
}

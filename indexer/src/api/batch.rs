//! Coalesced job lookups. Under load, `GET /v1/jobs/{id}` requests that arrive while earlier
//! lookups are in the database are answered together by one query (`job_id IN (…)`), so the
//! database sees a few statements per round instead of one per request. An idle server answers a
//! lookup at once, alone: batching adds no wait, it only takes what has queued up meanwhile.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{Db, Job, Result, db::Change};

/// Most lookups answered by one query (well under SQLite's 300-parameter statements).
const MAX_BATCH: usize = 64;

/// A job now and every version it went through (see [`Db::versions`]).
pub(crate) type Found = (Option<Job>, Vec<Change>);

/// One waiting lookup.
struct Ask {
    id: i64,
    reply: oneshot::Sender<Result<Found>>,
}

/// Hands job lookups to a dispatcher task that batches them; cheap to clone.
#[derive(Clone)]
pub(crate) struct JobLoader {
    db: Db,
    queue: Arc<OnceLock<mpsc::UnboundedSender<Ask>>>,
}

impl JobLoader {
    /// A loader over `db`; its dispatcher starts on the first lookup (on the serving runtime).
    pub(crate) fn new(db: Db) -> Self {
        Self { db, queue: Arc::default() }
    }

    /// Job `id` with its history, batched with whatever other lookups are waiting.
    pub(crate) async fn get(&self, id: i64) -> Result<Found> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            // Leave half the pool to the follower and the other endpoints.
            let parallel = (self.db.pool().options().get_max_connections() as usize / 2).max(1);
            tokio::spawn(dispatch(self.db.clone(), rx, parallel));
            tx
        });
        let (reply, answer) = oneshot::channel();
        if queue.send(Ask { id, reply }).is_ok()
            && let Ok(found) = answer.await
        {
            return found;
        }
        // The dispatcher is gone (its runtime shut down): ask the database directly.
        self.db.versions::<Job>("job_id", id).await
    }
}

/// Take the next batch whenever one of `parallel` query slots is free; a batch is everything
/// queued by then (up to [`MAX_BATCH`]).
async fn dispatch(db: Db, mut rx: mpsc::UnboundedReceiver<Ask>, parallel: usize) {
    let slots = Arc::new(Semaphore::new(parallel));
    while let Ok(slot) = slots.clone().acquire_owned().await {
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH
            && let Ok(ask) = rx.try_recv()
        {
            batch.push(ask);
        }
        metrics::histogram!("modelmart_indexer_job_lookup_batch").record(batch.len() as f64);
        let db = db.clone();
        tokio::spawn(async move {
            answer(&db, batch).await;
            drop(slot);
        });
    }
}

/// Answer a batch with one query; if it fails, each lookup is retried alone so that every caller
/// gets its own error.
async fn answer(db: &Db, batch: Vec<Ask>) {
    let mut by_id: HashMap<i64, Vec<oneshot::Sender<Result<Found>>>> = HashMap::new();
    for ask in batch {
        by_id.entry(ask.id).or_default().push(ask.reply);
    }
    let mut ids: Vec<i64> = by_id.keys().copied().collect();
    ids.sort_unstable();
    // Pad to a power of two by repeating an id, so a connection prepares at most 7 shapes.
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    match db.versions_of::<Job>("job_id", &ids).await {
        Ok(mut found) => {
            for (id, replies) in by_id {
                let one = found.remove(&id).unwrap_or_default();
                for reply in replies {
                    let _ = reply.send(Ok(one.clone()));
                }
            }
        }
        Err(_) => {
            for (id, replies) in by_id {
                for reply in replies {
                    let _ = reply.send(db.versions::<Job>("job_id", id).await);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lookups_of_missing_and_repeated_jobs_resolve_each_caller()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = Db::connect(&format!("sqlite:{}", dir.path().join("t.db").display()), 4).await?;
        let loader = JobLoader::new(db);
        let asks = (0..200).map(|i| {
            let loader = loader.clone();
            async move { loader.get(i % 7).await }
        });
        for found in futures_util::future::join_all(asks).await {
            let (job, history) = found?;
            assert!(job.is_none() && history.is_empty());
        }
        Ok(())
    }
}

//! Blobs nothing on chain names expire: a stranger's uploads (inputs and keys never used in a
//! job, cards and sealed models never listed) and results of abandoned evaluations are removed
//! once older than the time to live, so disk filled by uploads comes back by itself.

use std::{collections::HashSet, sync::Arc, time::Duration};

use modelmart_index::{Db, SharedStatus};
use tokio::sync::watch;

use super::{BlobStore, Result};

const TARGET: &str = "modelmart::coprocessor::blobs";

/// Remove the blobs written before `cutoff` that `referenced` does not name; returns how many
/// and their bytes.
pub async fn sweep(
    store: &BlobStore,
    referenced: &HashSet<String>,
    cutoff: std::time::SystemTime,
) -> Result<(usize, u64)> {
    let (mut n, mut bytes) = (0, 0);
    for (hash, size) in store.older_than(cutoff).await? {
        if !referenced.contains(&hash) {
            store.delete(&hash).await?;
            n += 1;
            bytes += size;
        }
    }
    Ok((n, bytes))
}

/// Sweep every `every` the blobs older than `ttl` that the index (`index`, followed with
/// `status`) does not name, until `stop` turns true. A pass is skipped while the index lags
/// the chain: a blob named by a request it has not read yet is not unreferenced.
pub async fn run(
    store: Arc<BlobStore>,
    index: Db,
    status: SharedStatus,
    ttl: Duration,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let caught_up = status.lock().is_ok_and(|s| s.lag == Some(0) && s.failures == 0);
        if !caught_up {
            tracing::debug!(target: TARGET, "index behind the chain; blob expiry skipped");
            continue;
        }
        let cutoff = std::time::SystemTime::now() - ttl;
        let pass = async {
            let referenced = index.referenced_blobs().await.map_err(|e| e.to_string())?;
            sweep(&store, &referenced, cutoff).await.map_err(|e| e.to_string())
        };
        match pass.await {
            Ok((0, _)) => {}
            Ok((n, bytes)) => {
                metrics::counter!("modelmart_coprocessor_blobs_expired_total").increment(n as u64);
                tracing::info!(target: TARGET, blobs = n, bytes, "unreferenced blobs expired");
            }
            Err(e) => tracing::warn!(target: TARGET, error = %e, "blob expiry failed"),
        }
    }
}

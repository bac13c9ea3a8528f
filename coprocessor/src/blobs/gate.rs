//! What keeps strangers' uploads from taking the operator down: a cap on concurrent uploads
//! (503 beyond it, never queued), an idle timeout on upload bodies (a slow upload is cut, its
//! staging file removed), and a free-disk floor below which uploads get 507, so the operator's
//! own results always have room.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Limits on uploads to the blob endpoint.
#[derive(Clone, Debug)]
pub struct UploadPolicy {
    /// Uploads in progress at once; more are answered 503 at once.
    pub max_concurrent: usize,
    /// Longest wait for the next bytes of an upload before it is cut (408).
    pub idle_timeout: Duration,
    /// Free bytes kept for the operator's own results: an upload that would leave less (with
    /// the uploads in progress counted at their declared or largest size) is answered 507.
    pub min_free_bytes: u64,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        UploadArgs::default().policy()
    }
}

/// The upload limits as flags (`MODELMART_*` environment, TOML keys).
#[derive(Clone, Debug, clap::Args)]
pub struct UploadArgs {
    /// Uploads in progress at once (1 to 4096); more are answered 503 with `Retry-After`.
    #[arg(long, env = "MODELMART_MAX_UPLOADS", default_value_t = 32,
          value_parser = clap::builder::RangedI64ValueParser::<usize>::new().range(1..=4_096))]
    pub max_uploads: usize,
    /// Seconds an upload may send nothing before it is cut (1 to 600).
    #[arg(long, env = "MODELMART_UPLOAD_IDLE_S", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub upload_idle_s: u64,
    /// MiB of disk kept free for results: uploads that would leave less get 507.
    #[arg(long, env = "MODELMART_MIN_FREE_DISK_MB", default_value_t = 512)]
    pub min_free_disk_mb: u64,
    /// Hours after which a blob nothing on chain names (an upload never used, a result never
    /// posted) is removed; 0 keeps everything.
    #[arg(long, env = "MODELMART_BLOB_TTL_H", default_value_t = 24)]
    pub blob_ttl_h: u64,
}

impl Default for UploadArgs {
    fn default() -> Self {
        Self { max_uploads: 32, upload_idle_s: 15, min_free_disk_mb: 512, blob_ttl_h: 24 }
    }
}

impl UploadArgs {
    /// The policy these flags describe.
    pub fn policy(&self) -> UploadPolicy {
        UploadPolicy {
            max_concurrent: self.max_uploads,
            idle_timeout: Duration::from_secs(self.upload_idle_s),
            min_free_bytes: self.min_free_disk_mb.saturating_mul(1 << 20),
        }
    }
}

/// Why an upload was turned away before its first byte.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turned {
    /// Every upload slot is taken.
    Busy,
    /// Storing it would leave less than the floor free.
    DiskFloor {
        /// Bytes free now.
        free: u64,
    },
}

/// The shared state behind [`UploadPolicy`].
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) policy: UploadPolicy,
    slots: Arc<Semaphore>,
    reserved: Arc<AtomicU64>,
    /// Local folders uploads fill (staging, and the store when it is a folder).
    dirs: Vec<PathBuf>,
}

/// An admitted upload: holds its slot and its share of the disk until dropped.
#[derive(Debug)]
pub(crate) struct Admitted {
    _slot: OwnedSemaphorePermit,
    reserved: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.reserved.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Bytes available to unprivileged writers on the file system holding `dir`.
fn available(dir: &std::path::Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

impl Gate {
    pub(crate) fn new(policy: UploadPolicy, dirs: Vec<PathBuf>) -> Self {
        let slots = Arc::new(Semaphore::new(policy.max_concurrent.max(1)));
        Self { policy, slots, reserved: Arc::default(), dirs }
    }

    /// Admit an upload of at most `bytes`, or say why not.
    pub(crate) fn admit(&self, bytes: u64) -> Result<Admitted, Turned> {
        let slot = self.slots.clone().try_acquire_owned().map_err(|_| Turned::Busy)?;
        let reserved = self.reserved.fetch_add(bytes, Ordering::SeqCst);
        let admitted = Admitted { _slot: slot, reserved: self.reserved.clone(), bytes };
        if let Some(free) = self.dirs.iter().filter_map(|d| available(d)).min() {
            let needed = self.policy.min_free_bytes.saturating_add(reserved).saturating_add(bytes);
            if free < needed {
                return Err(Turned::DiskFloor { free });
            }
        }
        Ok(admitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_the_disk_floor_turn_uploads_away_and_free_up_when_done() {
        let dir = std::env::temp_dir();
        let free = available(&dir).unwrap_or(0);
        assert!(free > 0, "statvfs works here");
        let policy = UploadPolicy { max_concurrent: 2, ..UploadPolicy::default() };
        let gate = Gate::new(policy.clone(), vec![dir.clone()]);
        let a = gate.admit(1);
        let b = gate.admit(1);
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(gate.admit(1).err(), Some(Turned::Busy));
        drop(a);
        assert!(gate.admit(1).is_ok(), "a finished upload frees its slot");
        // a floor above what is free turns every upload away, and releases its reservation
        let floor = UploadPolicy { min_free_bytes: free + (1 << 30), ..policy };
        let gate = Gate::new(floor, vec![dir]);
        assert!(matches!(gate.admit(1), Err(Turned::DiskFloor { .. })));
        assert_eq!(gate.reserved.load(Ordering::SeqCst), 0);
    }
}

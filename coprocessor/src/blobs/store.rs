//! The store: blobs live under `blobs/{sha256}` in an `object_store` (a local folder, S3 or
//! memory). Uploads stream through a temporary file while being hashed and counted, and reach
//! the store only once their hash and size are right.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    ObjectStore, WriteMultipart, aws::AmazonS3Builder, local::LocalFileSystem, memory::InMemory,
    path::Path as Key,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BlobError, BlobKind, Limits, Result, parse_hash};

/// The outcome of an upload (the body of a successful `PUT`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Stored {
    /// The blob's address (lowercase hex, no `0x`).
    pub hash: String,
    /// Its size in bytes.
    pub size: u64,
    /// False when the blob was already there (uploads are idempotent).
    pub created: bool,
}

/// Content-addressed blob storage.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    tmp: PathBuf,
    limits: Limits,
    /// The store's folder, when it is one.
    root: Option<PathBuf>,
}

/// Deletes a temporary file when dropped (also when an upload fails or is cancelled).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

static UPLOADS: AtomicU64 = AtomicU64::new(0);

fn key(hash: &str) -> Key {
    Key::from(format!("blobs/{hash}"))
}

/// A staging file untouched this long belongs to an upload that died with its process.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Remove staging files in `tmp` last modified more than `age` ago (left by a crash: an upload
/// in progress keeps writing to its file); returns how many went.
pub(crate) fn sweep_staging(tmp: &std::path::Path, age: std::time::Duration) -> Result<usize> {
    let mut swept = 0;
    for entry in std::fs::read_dir(tmp)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let stale = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|e| e >= age);
        if meta.is_file() && stale {
            std::fs::remove_file(entry.path())?;
            swept += 1;
        }
    }
    Ok(swept)
}

/// An S3 store for `s3://bucket[/prefix]` from `builder` (endpoint, region, credentials): blobs
/// go under the prefix, so one bucket can hold several operators' or environments' stores.
fn s3(builder: AmazonS3Builder, url: &str) -> Result<Arc<dyn ObjectStore>> {
    let rest = url.strip_prefix("s3://").unwrap_or(url);
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let store = builder.with_url(format!("s3://{bucket}")).build()?;
    let prefix = prefix.trim_matches('/');
    Ok(if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
    })
}

impl BlobStore {
    /// Open a store: a folder path or `file:///path` (created if missing), `s3://bucket/prefix`
    /// (credentials and endpoint from the usual `AWS_*` environment), or `memory:`. Uploads are
    /// staged in `tmp`.
    pub fn open(url: &str, tmp: impl Into<PathBuf>, limits: Limits) -> Result<Self> {
        let store: Arc<dyn ObjectStore> = if url == "memory:" {
            Arc::new(InMemory::new())
        } else if url.starts_with("s3://") {
            s3(AmazonS3Builder::from_env(), url)?
        } else if url.contains("://") && !url.starts_with("file://") {
            return Err(BlobError::BadUrl(url.to_owned()));
        } else {
            let path = url.strip_prefix("file://").unwrap_or(url);
            std::fs::create_dir_all(path)?;
            Arc::new(LocalFileSystem::new_with_prefix(path)?)
        };
        let tmp = tmp.into();
        std::fs::create_dir_all(&tmp)?;
        let swept = sweep_staging(&tmp, STALE_STAGING)?;
        if swept > 0 {
            tracing::info!(target: "modelmart::coprocessor::blobs", swept, "stale staging files removed");
        }
        let root = (url != "memory:" && !url.starts_with("s3://"))
            .then(|| PathBuf::from(url.strip_prefix("file://").unwrap_or(url)));
        Ok(Self { store, tmp, limits, root })
    }

    /// The local folders uploads fill: staging, and the store when it is a folder.
    pub fn local_dirs(&self) -> Vec<PathBuf> {
        std::iter::once(self.tmp.clone()).chain(self.root.clone()).collect()
    }

    /// The size limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The size of a stored blob, or `None`.
    pub async fn size(&self, hash: &str) -> Result<Option<u64>> {
        let hash = parse_hash(hash)?;
        match self.store.head(&key(&hash)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Store the bytes of `body` under `hash` if they hash to it and fit `kind`'s limit. Nothing
    /// is stored otherwise. Re-uploading a stored blob is a no-op (`created: false`).
    pub async fn put<S, E>(&self, kind: BlobKind, hash: &str, mut body: S) -> Result<Stored>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let hash = parse_hash(hash)?;
        if let Some(size) = self.size(&hash).await? {
            return Ok(Stored { hash, size, created: false });
        }
        let limit = self.limits.of(kind);
        let n = UPLOADS.fetch_add(1, Ordering::Relaxed);
        let staged = TempFile(self.tmp.join(format!("{hash}.{}.{n}.part", std::process::id())));
        let mut file = tokio::fs::File::create(&staged.0).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BlobError::Interrupted(e.to_string()))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(BlobError::TooLarge { kind, limit });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        drop(file);
        let actual = format!("{:x}", hasher.finalize());
        if actual != hash {
            return Err(BlobError::HashMismatch { expected: hash, actual });
        }

        // Verified: copy it into the store in parts (never the whole blob in memory).
        let mut writer = WriteMultipart::new(self.store.put_multipart(&key(&hash)).await?);
        let mut file = tokio::fs::File::open(&staged.0).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        metrics::counter!("modelmart_coprocessor_blob_bytes_in_total", "kind" => kind.as_str())
            .increment(size);
        tracing::debug!(target: "modelmart::coprocessor::blobs", %hash, size, kind = kind.as_str(), "blob stored");
        Ok(Stored { hash, size, created: true })
    }

    /// Stored blobs last written before `cutoff`, as (hash, size).
    pub async fn older_than(&self, cutoff: std::time::SystemTime) -> Result<Vec<(String, u64)>> {
        let cutoff = cutoff
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&Key::from("blobs")));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let Some(name) = meta.location.filename() else { continue };
            if meta.last_modified.timestamp() < cutoff && parse_hash(name).is_ok() {
                out.push((name.to_owned(), meta.size));
            }
        }
        Ok(out)
    }

    /// Remove a stored blob (nothing if it is not there).
    pub async fn delete(&self, hash: &str) -> Result<()> {
        let hash = parse_hash(hash)?;
        match self.store.delete(&key(&hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A stored blob's size and a stream of its bytes, or `None`.
    pub async fn get(
        &self,
        hash: &str,
    ) -> Result<Option<(u64, BoxStream<'static, Result<Bytes>>)>> {
        let hash = parse_hash(hash)?;
        match self.store.get(&key(&hash)).await {
            Ok(r) => {
                let size = r.meta.size;
                Ok(Some((size, r.into_stream().map_err(BlobError::from).boxed())))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A stored blob's bytes in memory (for blobs that are parsed whole anyway, such as keys).
    pub async fn read(&self, hash: &str) -> Result<Option<Bytes>> {
        let hash = parse_hash(hash)?;
        match self.store.get(&key(&hash)).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, BufReader};

    use super::*;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    /// The path of the first request an S3 store for `url` sends (to a listener that never
    /// answers: only the path matters).
    async fn first_path(url: &str) -> TestResult<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let builder = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test");
        let store = s3(builder, url)?;
        let put =
            tokio::spawn(async move { store.put(&Key::from("k"), Bytes::from("x").into()).await });
        let (sock, _) = listener.accept().await?;
        let mut line = String::new();
        BufReader::new(sock).read_line(&mut line).await?;
        put.abort();
        Ok(line.split_whitespace().nth(1).unwrap_or_default().to_owned())
    }

    #[tokio::test]
    async fn the_s3_prefix_is_honoured() -> TestResult {
        assert_eq!(first_path("s3://bucket/ops/eu-1/").await?, "/bucket/ops/eu-1/k");
        assert_eq!(first_path("s3://bucket").await?, "/bucket/k");
        Ok(())
    }
}

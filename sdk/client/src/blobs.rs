//! A client for operators' content-addressed blob endpoints (`PUT`/`GET /v1/blobs/{sha256}`).
//! Everything fetched is hashed and compared with the address before it is returned.

use std::time::Duration;

use alloy::primitives::B256;
use sha2::{Digest, Sha256};

use modelmart_primitives::BlobKind;

use crate::{Error, Result};

/// SHA-256 of `bytes`, the address of a blob.
pub fn sha256(bytes: &[u8]) -> B256 {
    B256::from(<[u8; 32]>::from(Sha256::digest(bytes)))
}

/// HTTP client for blob endpoints.
#[derive(Clone, Debug)]
pub struct BlobClient {
    http: reqwest::Client,
}

fn hex(hash: B256) -> String {
    alloy::hex::encode(hash)
}

impl BlobClient {
    /// A client with connect and read timeouts suited to multi-megabyte keys.
    pub fn new() -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Invalid(format!("http client: {e}")))?;
        Ok(Self { http })
    }

    fn url(endpoint: &str, hash: B256) -> String {
        format!("{}/v1/blobs/{}", endpoint.trim_end_matches('/'), hex(hash))
    }

    /// Whether `endpoint` already holds `hash`.
    pub async fn exists(&self, endpoint: &str, hash: B256) -> Result<bool> {
        let r = self
            .http
            .head(Self::url(endpoint, hash))
            .send()
            .await
            .map_err(|e| Error::Blob { hash: hex(hash), detail: e.to_string() })?;
        Ok(r.status().is_success())
    }

    /// Upload `bytes` as a blob of `kind` (skipped when the endpoint has it); returns its hash.
    pub async fn put(&self, endpoint: &str, kind: BlobKind, bytes: Vec<u8>) -> Result<B256> {
        let hash = sha256(&bytes);
        if self.exists(endpoint, hash).await? {
            return Ok(hash);
        }
        let fail = |detail: String| Error::Blob { hash: hex(hash), detail };
        let r = self
            .http
            .put(Self::url(endpoint, hash))
            .query(&[("kind", kind.as_str())])
            .body(bytes)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !r.status().is_success() {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            // the operator answers problem details (RFC 9457); show their `detail`
            let detail = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
                .unwrap_or(body);
            return Err(fail(format!("upload refused ({status}): {detail}")));
        }
        Ok(hash)
    }

    /// Download blob `hash` of `kind` (at most the kind's size limit) and check that it hashes
    /// to `hash`.
    pub async fn get(&self, endpoint: &str, hash: B256, kind: BlobKind) -> Result<Vec<u8>> {
        let max_bytes = kind.max_bytes();
        let fail = |detail: String| Error::Blob { hash: hex(hash), detail };
        let mut r = self
            .http
            .get(Self::url(endpoint, hash))
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(Error::NotFound(format!("blob {} on {endpoint}", hex(hash))));
        }
        if !r.status().is_success() {
            return Err(fail(format!("download refused ({})", r.status())));
        }
        if r.content_length().is_some_and(|n| n > max_bytes) {
            return Err(fail(format!("larger than {max_bytes} bytes")));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| fail(e.to_string()))? {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(fail(format!("larger than {max_bytes} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        let actual = sha256(&bytes);
        if actual != hash {
            return Err(Error::HashMismatch { expected: hex(hash), actual: hex(actual) });
        }
        Ok(bytes)
    }
}

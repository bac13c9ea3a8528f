//! Off-chain facts the API adds to the chain's: whether each operator's endpoint answers, and the
//! public model cards, fetched from the operator's blob endpoint (`GET {endpoint}/v1/blobs/{sha256}`)
//! and kept only when their SHA-256 matches the hash listed on chain.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::primitives::B256;
use futures_util::future::join_all;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use modelmart_primitives::BlobKind;

use crate::{Db, Model, Operator, Result, db::sql::Sql, egress::AddressPolicy};

const TARGET: &str = "modelmart::indexer::probe";

/// The last check of an operator's endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct EndpointHealth {
    /// Whether `GET {endpoint}/healthz` answered 2xx.
    pub reachable: bool,
    /// Round-trip time of that request.
    pub latency_ms: Option<f64>,
    /// When it was checked (Unix seconds).
    pub checked_at: i64,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// Endpoint health and card fetch errors, shared with the API.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    policy: AddressPolicy,
    health: Arc<RwLock<HashMap<String, EndpointHealth>>>,
    card_errors: Arc<RwLock<HashMap<String, String>>>,
    version: Arc<AtomicU64>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Download `url` (at most `max` bytes) and check its SHA-256.
pub async fn fetch_verified(
    client: &reqwest::Client,
    url: &str,
    expected: B256,
    max: usize,
) -> std::result::Result<Vec<u8>, String> {
    let mut res = client.get(url).send().await.map_err(|e| format!("fetch failed: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("fetch answered {}", res.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("read failed: {e}"))? {
        if body.len() + chunk.len() > max {
            return Err(format!("larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let got = B256::from_slice(&Sha256::digest(&body));
    if got != expected {
        return Err(format!("hash mismatch: got {got:#x}"));
    }
    Ok(body)
}

impl Probe {
    /// A probe that contacts only the destinations `policy` allows.
    pub fn with_policy(policy: AddressPolicy) -> Self {
        Self { policy, ..Self::default() }
    }

    /// The last check of each operator endpoint, by operator address.
    pub fn health(&self) -> HashMap<String, EndpointHealth> {
        self.health.read().map(|h| h.clone()).unwrap_or_default()
    }

    /// Why a card could not be fetched or verified, if it could not.
    pub fn card_error(&self, card_hash: &str) -> Option<String> {
        self.card_errors.read().ok().and_then(|e| e.get(card_hash).cloned())
    }

    /// Bumped whenever a check changed something the API shows.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Check every operator that has not exited, concurrently.
    pub async fn check_operators(&self, db: &Db, client: &reqwest::Client) -> Result<()> {
        let operators: Vec<Operator> = db.all_current(&[]).await?;
        let checks = operators.iter().filter(|o| o.status != "exited").map(|o| async move {
            let url = format!("{}/healthz", o.endpoint.trim_end_matches('/'));
            let t = Instant::now();
            let (reachable, error) = match self.policy.check_url(&url).await {
                Err(refused) => (false, Some(refused)),
                Ok(()) => match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => (true, None),
                    Ok(r) => (false, Some(format!("healthz answered {}", r.status()))),
                    Err(e) => (false, Some(format!("unreachable: {e}"))),
                },
            };
            let latency_ms = reachable.then(|| t.elapsed().as_secs_f64() * 1e3);
            (o.address.clone(), EndpointHealth { reachable, latency_ms, checked_at: now(), error })
        });
        let results = join_all(checks).await;
        if let Ok(mut h) = self.health.write() {
            h.clear();
            h.extend(results);
        }
        self.version.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Fetch, verify and store the cards of listed models that do not have theirs yet.
    pub async fn fetch_cards(&self, db: &Db, client: &reqwest::Client) -> Result<usize> {
        let models: Vec<Model> = db.all_current(&[]).await?;
        let have = db.card_hashes().await?;
        let operators: HashMap<String, String> = db
            .all_current::<Operator>(&[])
            .await?
            .into_iter()
            .map(|o| (o.address, o.endpoint))
            .collect();
        let mut stored = 0;
        for m in models.iter().filter(|m| !have.contains(&m.card_hash)) {
            let Some(endpoint) = operators.get(&m.operator) else { continue };
            let url = format!("{}/v1/blobs/{}", endpoint.trim_end_matches('/'), m.card_hash);
            let expected: B256 = m.card_hash.parse().unwrap_or_default();
            let fetched = match self.policy.check_url(&url).await {
                Err(refused) => Err(refused),
                Ok(()) => {
                    fetch_verified(client, &url, expected, BlobKind::Card.max_bytes() as usize)
                        .await
                }
            };
            let outcome = fetched.and_then(|body| {
                let json: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| format!("not a JSON card: {e}"))?;
                if json.is_object() { Ok(body) } else { Err("a card must be a JSON object".into()) }
            });
            match outcome {
                Ok(body) => {
                    Sql::new("INSERT INTO cards (card_hash, body, fetched_at) VALUES (")
                        .bind_list([
                            m.card_hash.clone().into(),
                            String::from_utf8_lossy(&body).into_owned().into(),
                            crate::db::sql::Val::Int(now()),
                        ])
                        .push(") ON CONFLICT (card_hash) DO NOTHING")
                        .query()
                        .execute(db.pool())
                        .await?;
                    if let Ok(mut e) = self.card_errors.write() {
                        e.remove(&m.card_hash);
                    }
                    stored += 1;
                }
                Err(e) => {
                    tracing::debug!(target: TARGET, model = m.model_id, %url, error = %e, "card not stored");
                    if let Ok(mut errors) = self.card_errors.write() {
                        errors.insert(m.card_hash.clone(), e);
                    }
                }
            }
        }
        if stored > 0 {
            self.version.fetch_add(1, Ordering::Relaxed);
        }
        Ok(stored)
    }

    /// Check endpoints and fetch missing cards every `every`, until the process ends.
    pub fn spawn(&self, db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
        let probe = self.clone();
        tokio::spawn(async move {
            let client = match probe.policy.client(Duration::from_secs(3)) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(target: TARGET, error = %e, "no HTTP client; endpoint checks disabled");
                    return;
                }
            };
            loop {
                if let Err(e) = probe.fetch_cards(&db, &client).await {
                    tracing::warn!(target: TARGET, error = %e, "card fetch failed");
                }
                if let Err(e) = probe.check_operators(&db, &client).await {
                    tracing::warn!(target: TARGET, error = %e, "endpoint checks failed");
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}

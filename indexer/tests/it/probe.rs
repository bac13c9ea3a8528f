//! Operator endpoint checks and model cards: fetched from the operator's blob endpoint, kept
//! only when their SHA-256 matches the listing, shown in the model list and detail.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256, keccak256};
use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{Path, State},
    http::{Request, StatusCode},
    routing::get,
};
use modelmart_indexer::{
    api::{self, ApiConfig, ApiState},
    egress::AddressPolicy,
    probe::Probe,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use tower::ServiceExt;

use crate::{chain::Market, db::TestDb, ingest::follower};

type Blobs = std::sync::Arc<HashMap<String, Vec<u8>>>;

async fn blob(State(blobs): State<Blobs>, Path(hash): Path<String>) -> Result<Vec<u8>, StatusCode> {
    blobs.get(&hash).cloned().ok_or(StatusCode::NOT_FOUND)
}

fn sha(bytes: &[u8]) -> B256 {
    B256::from_slice(&Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread")]
async fn cards_are_verified_and_endpoints_checked() -> eyre::Result<()> {
    // A fake operator endpoint: /healthz and two blobs, one of them not matching its hash.
    let good = br#"{"name":"Breast cancer screen","task":"classification","description":"logistic regression"}"#;
    let bad_hash = keccak256("the card the seller listed");
    let blobs: Blobs = std::sync::Arc::new(HashMap::from([
        (format!("{:#x}", sha(good)), good.to_vec()),
        (format!("{bad_hash:#x}"), b"{\"name\":\"swapped\"}".to_vec()),
    ]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/blobs/{hash}", get(blob))
        .with_state(blobs);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let m = Market::deploy(&[]).await?;
    m.market
        .registerOperator(endpoint, keccak256("x25519"))
        .from(m.operator)
        .value(U256::from(2 * crate::chain::ETH))
        .send()
        .await?
        .get_receipt()
        .await?;
    let mut good_listing = m.listing(Address::ZERO, 1_000);
    good_listing.cardHash = sha(good);
    let mut bad_listing = m.listing(Address::ZERO, 2_000);
    bad_listing.cardHash = bad_hash;
    let a = m.list(good_listing).await?;
    let b = m.list(bad_listing).await?;

    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    follower(&m, db.clone(), 100).0.catch_up().await?;
    // the fake endpoint is on loopback, as in a dev stack
    let policy = AddressPolicy { allow_loopback: true };
    let probe = Probe::with_policy(policy);
    let client = policy.client(std::time::Duration::from_secs(3))?;
    assert_eq!(
        probe.fetch_cards(&db, &client).await?,
        1,
        "only the card matching its hash is kept"
    );
    probe.check_operators(&db, &client).await?;

    let (tx, _) = broadcast::channel(4);
    let state = ApiState::new(db.clone(), None, tx).with_probe(probe);
    state.refresh_stats().await?;
    let app = api::router(state, &ApiConfig::default());
    let get = |uri: String| {
        let app = app.clone();
        async move {
            let res = app.oneshot(Request::get(uri).body(Body::empty())?).await?;
            let bytes = to_bytes(res.into_body(), 1 << 20).await?;
            Ok::<Value, eyre::Report>(serde_json::from_slice(&bytes)?)
        }
    };

    let detail = get(format!("/v1/models/{a}")).await?;
    assert_eq!(detail["card"]["name"], "Breast cancer screen");
    assert_eq!(detail["name"], "Breast cancer screen");
    assert_eq!(detail["operator_health"]["reachable"], true);
    let detail = get(format!("/v1/models/{b}")).await?;
    assert!(detail["card"].is_null());
    assert!(
        detail["card_error"].as_str().unwrap_or_default().contains("hash mismatch"),
        "{detail}"
    );

    let found = get("/v1/models?q=CANCER".into()).await?;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(found["items"][0]["task"], "classification");
    let operators = get("/v1/operators".into()).await?;
    assert_eq!(operators[0]["health"]["reachable"], true);
    assert!(operators[0]["health"]["latency_ms"].as_f64().is_some());
    db.close().await;
    Ok(())
}

/// Request forgery: operators register endpoints pointing at the indexer's own network
/// (loopback, the cloud metadata address, private ranges, a redirect to loopback). A local
/// listener proves the probe never connects; the endpoints are reported as refused.
#[tokio::test(flavor = "multi_thread")]
async fn endpoint_probes_never_reach_non_public_addresses() -> eyre::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let m = Market::deploy(&[]).await?;
    let targets = [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        "http://169.254.169.254".to_owned(),
        "http://10.0.0.1".to_owned(),
    ];
    m.register_operator().await?;
    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    let strict = AddressPolicy::default();
    let client = strict.client(std::time::Duration::from_secs(2))?;
    for endpoint in targets.iter().rev() {
        m.market
            .updateOperator(endpoint.clone(), keccak256("x25519"))
            .from(m.operator)
            .send()
            .await?
            .get_receipt()
            .await?;
        follower(&m, db.clone(), 100).0.catch_up().await?;
        let probe = Probe::with_policy(strict);
        probe.check_operators(&db, &client).await?;
        let health = probe.health();
        let h = health.values().next().ok_or_else(|| eyre::eyre!("no health"))?;
        assert!(!h.reachable);
        assert!(h.error.as_deref().unwrap_or_default().starts_with("refused"), "{endpoint}: {h:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a probe connected to loopback");

    // the control: the same probe allowed to reach loopback does connect
    let dev = AddressPolicy { allow_loopback: true };
    Probe::with_policy(dev)
        .check_operators(&db, &dev.client(std::time::Duration::from_secs(2))?)
        .await?;
    assert!(hits.load(Ordering::SeqCst) > 0, "the listener saw nothing even when allowed");
    db.close().await;
    Ok(())
}

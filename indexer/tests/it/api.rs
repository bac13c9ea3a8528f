//! The HTTP API through `Router::oneshot`, over an index of the every-event scenario; the
//! OpenAPI document checked for drift against the committed `indexer/openapi.json`.

use alloy::primitives::keccak256;
use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode},
};
use modelmart_indexer::api::{self, ApiConfig, ApiDoc, ApiState};
use serde_json::Value;
use tokio::sync::broadcast;
use tower::ServiceExt;
use utoipa::OpenApi;

use crate::{
    chain::Market,
    db::TestDb,
    ingest::{every_event, follower},
};

pub(crate) async fn get(app: &Router, uri: &str) -> eyre::Result<(StatusCode, Value)> {
    let res = app.clone().oneshot(Request::get(uri).body(Body::empty())?).await?;
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 1 << 22).await?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok((status, body))
}

/// The every-event scenario indexed on SQLite and served by the API router.
pub(crate) struct Served {
    /// The chain.
    pub(crate) m: Market,
    /// The scenario's three job ids.
    pub(crate) jobs: (u64, u64, u64),
    /// The index.
    pub(crate) db: modelmart_indexer::Db,
    /// The router's change feed (send to it to reach live streams).
    pub(crate) updates: broadcast::Sender<modelmart_indexer::Update>,
    /// The API.
    pub(crate) app: Router,
    /// The database's folder (kept as long as this is bound).
    pub(crate) tdb: TestDb,
}

/// Deploy, run every event, index it and serve it.
pub(crate) async fn served() -> eyre::Result<Served> {
    let m = Market::deploy(&[]).await?;
    let jobs = every_event(&m).await?;
    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    let (mut f, _) = follower(&m, db.clone(), 1000);
    f.catch_up().await?;
    let (updates, _) = broadcast::channel(16);
    let state = ApiState::new(db.clone(), Some(f.status()), updates.clone());
    state.refresh_stats().await?;
    let app = api::router(state, &ApiConfig::default());
    Ok(Served { m, jobs, db, updates, app, tdb })
}

#[tokio::test(flavor = "multi_thread")]
async fn api_serves_the_index() -> eyre::Result<()> {
    let Served { m, jobs: (j1, j2, _), db, app, tdb: _tdb, .. } = served().await?;
    let seller = format!("{:#x}", m.seller);
    let buyer = format!("{:#x}", m.buyer);

    // models: newest first, with stats on model 1 (3 jobs: completed, rejected, expired)
    let (s, body) = get(&app, "/v1/models").await?;
    assert_eq!(s, StatusCode::OK);
    let items = body["items"].as_array().ok_or_else(|| eyre::eyre!("no items: {body}"))?;
    assert_eq!(
        items.iter().map(|m| m["model_id"].as_i64()).collect::<Vec<_>>(),
        [Some(3), Some(2), Some(1)]
    );
    let m1 = &items[2];
    assert_eq!(m1["status"], "delisted");
    assert_eq!(m1["stats"]["jobs_total"], 3);
    assert_eq!(m1["stats"]["jobs_completed"], 1);
    assert!((m1["stats"]["success_rate"].as_f64().unwrap_or_default() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(m1["stats"]["earnings"]["0x0000000000000000000000000000000000000000"], "19600");
    assert_eq!(m1["operator_status"], "exited");

    // filters, sort and pagination
    let (_, body) = get(&app, "/v1/models?status=delisted").await?;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(2), "delisted and retired");
    let (_, body) = get(&app, "/v1/models?status=declined").await?;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    let (_, body) = get(&app, "/v1/models?sort=oldest&limit=2").await?;
    assert_eq!(body["items"][0]["model_id"], 1);
    assert_eq!(body["next_cursor"], "2");
    let (_, body) = get(&app, "/v1/models?sort=oldest&limit=2&cursor=2").await?;
    assert_eq!(body["items"][0]["model_id"], 3);
    assert!(body["next_cursor"].is_null());
    let (_, body) =
        get(&app, &format!("/v1/models?seller={}", seller.to_uppercase().replace("0X", "0x")))
            .await?;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(3), "addresses are case-insensitive");

    // model detail: card location and history
    let (s, body) = get(&app, "/v1/models/1").await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body["card_url"],
        format!("https://op.example/v1/blobs/{:#x}", keccak256("card 1000"))
    );
    let events: Vec<_> =
        body["history"].as_array().into_iter().flatten().map(|h| h["event"].clone()).collect();
    assert_eq!(events, ["ModelListed", "ModelAccepted", "ModelRepriced", "ModelDelisted"]);

    // jobs by buyer, newest first, keyset pages
    let (_, body) = get(&app, &format!("/v1/jobs?buyer={buyer}&limit=2")).await?;
    assert_eq!(body["items"][0]["job_id"], 3);
    assert_eq!(body["items"][1]["job_id"], 2);
    let next = body["next_cursor"].as_str().ok_or_else(|| eyre::eyre!("no cursor"))?.to_owned();
    let (_, body) = get(&app, &format!("/v1/jobs?buyer={buyer}&limit=2&cursor={next}")).await?;
    assert_eq!(body["items"][0]["job_id"], 1);
    assert!(body["next_cursor"].is_null());
    let (_, body) = get(&app, &format!("/v1/jobs?seller={seller}&status=rejected")).await?;
    assert_eq!(body["items"][0]["job_id"], j2);

    // job detail with status history
    let (_, body) = get(&app, &format!("/v1/jobs/{j1}")).await?;
    assert_eq!(body["status"], "completed");
    let statuses: Vec<_> =
        body["history"].as_array().into_iter().flatten().map(|h| h["status"].clone()).collect();
    assert_eq!(statuses, ["requested", "completed"]);
    // the coprocessor's lookup of where a request is on chain
    let requested = body["history"][0]["block_number"].as_u64();
    assert!(requested.is_some_and(|b| b > 0), "{body}");
    assert_eq!(db.job_requested_block(i64::try_from(j1)?).await?, requested);
    assert_eq!(db.job_requested_block(999).await?, None);

    // operators, keys, balances
    let (_, body) = get(&app, "/v1/operators").await?;
    assert_eq!(body[0]["status"], "exited");
    assert_eq!(body[0]["stats"]["jobs_expired"], 1);
    let (_, body) = get(&app, &format!("/v1/keys?owner={buyer}&status=active")).await?;
    assert_eq!(body["items"][0]["key_hash"], format!("{:#x}", keccak256("key 1")));
    let (_, body) = get(&app, &format!("/v1/balances?account={seller}")).await?;
    assert_eq!(body["items"][0]["balance"], "0");
    assert_eq!(body["items"][0]["withdrawn_total"], "19600");

    // errors are clear, and nothing panics on junk
    let (s, body) = get(&app, "/v1/jobs?buyer=0x123").await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap_or_default().contains("address"), "{body}");
    assert_eq!(get(&app, "/v1/jobs?limit=100000").await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/v1/jobs?cursor=abc").await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/v1/jobs/999").await?.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/v1/models/x").await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/v1/operators/nope").await?.0, StatusCode::BAD_REQUEST);

    // health, CORS and the request body limit
    let (s, body) = get(&app, "/healthz").await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(body["cursor"]["block_number"].as_u64().is_some());
    let res = app
        .clone()
        .oneshot(
            Request::get("/v1/models")
                .header("origin", "http://localhost:5173")
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(
        res.headers().get("access-control-allow-origin").map(|v| v.as_bytes()),
        Some(&b"*"[..])
    );
    let big = Request::post("/v1/models")
        .header("content-length", "100000")
        .body(Body::from(vec![0u8; 100_000]))?;
    assert_eq!(app.clone().oneshot(big).await?.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // the served OpenAPI document is the committed one
    let (_, served) = get(&app, "/openapi.json").await?;
    assert_eq!(served["paths"].as_object().map(|p| p.len()), Some(10));
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json"),
    )?)?;
    assert_eq!(served, committed);

    // a database that does not answer is `down` and 503, never an `ok` with no cursor
    db.close().await;
    let (s, body) = get(&app, "/healthz").await?;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "down");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_sends_matching_updates() -> eyre::Result<()> {
    use futures_util::StreamExt;
    use modelmart_indexer::Update;

    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    let (updates, _) = broadcast::channel(16);
    let app = api::router(ApiState::new(db, None, updates.clone()), &ApiConfig::default());
    let buyer = "0x00000000000000000000000000000000000000bb";
    let res = app
        .clone()
        .oneshot(Request::get(format!("/v1/stream?buyer={buyer}")).body(Body::empty())?)
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/event-stream"[..])
    );
    let mut body = res.into_body().into_data_stream();
    let job = |id: i64, buyer: &str| Update::Job {
        job_id: id,
        model_id: 1,
        buyer: buyer.into(),
        operator: "0x00000000000000000000000000000000000000cc".into(),
        status: "completed".into(),
        block_number: 7,
    };
    updates.send(job(1, "0x00000000000000000000000000000000000000aa"))?; // another buyer's: filtered out
    updates.send(Update::Model { model_id: 1, status: "active".into(), block_number: 7 })?; // not a job: filtered
    updates.send(job(2, buyer))?;
    updates.send(Update::Rollback { block_number: 5 })?; // everyone hears about rollbacks
    let mut text = String::new();
    while !text.contains("rollback") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
            .await?
            .ok_or_else(|| eyre::eyre!("stream ended"))??;
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: job") && text.contains("\"job_id\":2"), "{text}");
    assert!(!text.contains("\"job_id\":1") && !text.contains("event: model"), "{text}");
    assert_eq!(get(&app, "/v1/stream?buyer=nope").await?.0, StatusCode::BAD_REQUEST);
    Ok(())
}

/// Live streams are capped: past the cap a new stream gets 503 while the API keeps answering,
/// and a stream that closes frees its place; an over-long search is refused, not scanned.
#[tokio::test(flavor = "multi_thread")]
async fn live_streams_are_capped_and_search_is_bounded() -> eyre::Result<()> {
    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    let (updates, _) = broadcast::channel(16);
    let state = ApiState::new(db, None, updates).with_max_streams(2);
    let app = api::router(state, &ApiConfig::default());
    let open = || {
        let app = app.clone();
        async move {
            app.oneshot(Request::get("/v1/stream").body(Body::empty())?)
                .await
                .map_err(eyre::Report::from)
        }
    };
    let (a, b) = (open().await?, open().await?);
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let third = open().await?;
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&app, "/v1/models").await?.0, StatusCode::OK, "the API still answers");
    drop(a);
    assert_eq!(open().await?.status(), StatusCode::OK, "a closed stream frees its place");
    drop(b);

    let long = "x".repeat(101);
    assert_eq!(get(&app, &format!("/v1/models?q={long}")).await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, &format!("/v1/models?q={}", &long[..100])).await?.0, StatusCode::OK);
    Ok(())
}

#[test]
fn openapi_document_has_not_drifted() -> eyre::Result<()> {
    let fresh = ApiDoc::openapi().to_pretty_json()? + "\n";
    modelmart_testkit::assert_spec_current("indexer/openapi.json", &fresh)
}

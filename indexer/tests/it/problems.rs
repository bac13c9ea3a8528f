//! One error shape: every error the API gives — a handler's, a parameter the framework cannot
//! parse, an unknown route or method, a body too large — is an RFC 9457 problem
//! (`application/problem+json`) with the right status and a stable `code`, and every answer
//! carries the API version.

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Method, Request, StatusCode, header},
};
use modelmart_indexer::api::{
    self, API_VERSION, API_VERSION_HEADER, ApiConfig, ApiState, PROBLEM_JSON,
};
use serde_json::Value;
use tokio::sync::broadcast;
use tower::ServiceExt;

use crate::db::TestDb;

async fn send(app: &Router, req: Request<Body>) -> eyre::Result<(StatusCode, String, Value)> {
    let res = app.clone().oneshot(req).await?;
    let status = res.status();
    let version = res.headers().get(API_VERSION_HEADER).and_then(|v| v.to_str().ok());
    eyre::ensure!(version == Some(API_VERSION), "no version header on {status}");
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = to_bytes(res.into_body(), 1 << 20).await?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok((status, kind, body))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_is_a_problem_with_a_stable_code() -> eyre::Result<()> {
    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    let (updates, _) = broadcast::channel(16);
    let app = api::router(ApiState::new(db.clone(), None, updates), &ApiConfig::default());
    let get = |uri: &str| Request::get(uri).body(Body::empty());
    let cases: Vec<(Request<Body>, StatusCode, &str, &str)> = vec![
        // the framework's own rejections (were text/plain)
        (
            get("/v1/models/9223372036854775808")?,
            StatusCode::BAD_REQUEST,
            "bad_request",
            "9223372036854775808",
        ),
        (get("/v1/jobs/abc")?, StatusCode::BAD_REQUEST, "bad_request", "abc"),
        (get("/v1/jobs?limit=true")?, StatusCode::BAD_REQUEST, "bad_request", "limit"),
        (get("/v1/stream?model_id=abc")?, StatusCode::BAD_REQUEST, "bad_request", "model_id"),
        // unknown enum values name the allowed ones (were a silent empty list)
        (get("/v1/models?sort=bogus")?, StatusCode::BAD_REQUEST, "bad_request", "success_rate"),
        (get("/v1/jobs?status=done")?, StatusCode::BAD_REQUEST, "bad_request", "completed"),
        (get("/v1/models?status=live")?, StatusCode::BAD_REQUEST, "bad_request", "delisted"),
        (get("/v1/keys?status=gone")?, StatusCode::BAD_REQUEST, "bad_request", "revoked"),
        (get("/v1/operators?status=up")?, StatusCode::BAD_REQUEST, "bad_request", "unbonding"),
        // ids below the range the spec gives
        (get("/v1/jobs/-1")?, StatusCode::BAD_REQUEST, "bad_request", "`id` must be 0 or more"),
        (get("/v1/jobs?model_id=-4")?, StatusCode::BAD_REQUEST, "bad_request", "model_id"),
        // the handlers' own
        (get("/v1/jobs/7")?, StatusCode::NOT_FOUND, "not_found", "no job 7"),
        (get("/v1/keys?key_hash=0x12")?, StatusCode::BAD_REQUEST, "bad_request", "key_hash"),
        // routes and methods
        (get("/v2/models")?, StatusCode::NOT_FOUND, "not_found", "/v2/models"),
        (
            Request::builder().method(Method::DELETE).uri("/v1/models").body(Body::empty())?,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "DELETE",
        ),
        (
            Request::get("/v1/models")
                .header("content-length", "100000")
                .body(Body::from(vec![0u8; 100_000]))?,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "",
        ),
    ];
    for (req, status, code, mentions) in cases {
        let uri = req.uri().to_string();
        let (s, kind, body) = send(&app, req).await?;
        assert_eq!((s, kind.as_str()), (status, PROBLEM_JSON), "{uri}: {body}");
        assert_eq!(body["code"], code, "{uri}: {body}");
        assert_eq!(body["status"], status.as_u16(), "{uri}: {body}");
        assert_eq!(body["type"], format!("urn:modelmart:problem:{code}"), "{uri}: {body}");
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()), "{uri}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty() && detail.contains(mentions), "{uri}: {body}");
    }
    // answers that are not errors keep their type, and carry the version too
    let (s, kind, _) = send(&app, get("/v1/models?status=active&sort=price")?).await?;
    assert_eq!((s, kind.as_str()), (StatusCode::OK, "application/json"));
    // a database that does not answer: a problem too, 503 `unavailable`
    db.close().await;
    let (s, kind, body) = send(&app, get("/v1/jobs")?).await?;
    assert_eq!(
        (s, kind.as_str(), &body["code"]),
        (StatusCode::SERVICE_UNAVAILABLE, PROBLEM_JSON, &Value::from("unavailable"))
    );
    Ok(())
}

//! The blob endpoint: `PUT /v1/blobs/{sha256}?kind=…`, `GET` and `HEAD /v1/blobs/{sha256}`.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tower_http::cors::{Any, CorsLayer};

use super::{
    BlobError, BlobKind, BlobStore,
    gate::{Gate, Turned, UploadPolicy},
};

/// What the handlers share.
#[derive(Clone, Debug)]
struct Blobs {
    store: Arc<BlobStore>,
    gate: Arc<Gate>,
}

/// The blob routes over `store` with the default [`UploadPolicy`].
pub fn router(store: Arc<BlobStore>) -> Router {
    router_with(store, UploadPolicy::default())
}

/// The blob routes over `store`. Request bodies are limited per kind by the store, not by axum;
/// uploads by `policy` (concurrency, idle timeout, free-disk floor). Any origin may call them
/// (the web dApp uploads keys and inputs and downloads results from the page): blobs are
/// content-addressed, hash-checked on the way in and carry no credentials.
pub fn router_with(store: Arc<BlobStore>, policy: UploadPolicy) -> Router {
    let gate = Arc::new(Gate::new(policy, store.local_dirs()));
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::PUT])
        .allow_headers([header::CONTENT_TYPE, header::CONTENT_LENGTH])
        .expose_headers([header::CONTENT_LENGTH]);
    Router::new()
        .route("/v1/blobs/{hash}", get(get_blob).head(head_blob).put(put_blob))
        .layer(DefaultBodyLimit::disable())
        .layer(cors)
        .layer(axum::middleware::map_response(nosniff))
        .with_state(Blobs { store, gate })
}

/// Blobs are bytes, never documents: browsers must not guess a type and render one.
async fn nosniff(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    res
}

fn error(e: &BlobError) -> Response {
    let status = match e {
        BlobError::BadHash(_) | BlobError::BadKind(_) | BlobError::Interrupted(_) => {
            StatusCode::BAD_REQUEST
        }
        BlobError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BlobError::NotUploadable(_) => StatusCode::FORBIDDEN,
        BlobError::HashMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        BlobError::Store(_) | BlobError::Io(_) | BlobError::BadUrl(_) => {
            tracing::error!(target: "modelmart::coprocessor::blobs", error = %e, "blob storage failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

#[derive(Deserialize)]
struct PutQuery {
    kind: Option<String>,
}

async fn put_blob(
    State(b): State<Blobs>,
    Path(hash): Path<String>,
    Query(q): Query<PutQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let kind: BlobKind = match super::parse_kind(q.kind.as_deref().unwrap_or_default()) {
        Ok(k) => k,
        Err(e) => return error(&e),
    };
    if !kind.client_uploads() {
        return error(&BlobError::NotUploadable(kind));
    }
    let limit = b.store.limits().of(kind);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return error(&BlobError::TooLarge { kind, limit });
    }
    let _admitted = match b.gate.admit(declared.unwrap_or(limit)) {
        Ok(a) => a,
        Err(Turned::Busy) => {
            metrics::counter!("modelmart_coprocessor_uploads_refused_total", "why" => "busy")
                .increment(1);
            let msg = json!({ "error": "too many uploads in progress; try again shortly" });
            return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], Json(msg))
                .into_response();
        }
        Err(Turned::DiskFloor { free }) => {
            metrics::counter!("modelmart_coprocessor_uploads_refused_total", "why" => "disk")
                .increment(1);
            tracing::warn!(target: "modelmart::coprocessor::blobs", free, floor = b.gate.policy.min_free_bytes, "upload refused: disk floor");
            let msg = json!({ "error": "the operator's storage is full; try again later" });
            return (StatusCode::INSUFFICIENT_STORAGE, Json(msg)).into_response();
        }
    };
    // an upload that stops sending is cut after the idle timeout (its staging file goes)
    let idle = b.gate.policy.idle_timeout;
    let timed_out = Arc::new(AtomicBool::new(false));
    let flag = timed_out.clone();
    let stream = futures_util::stream::unfold(body.into_data_stream(), move |mut s| {
        let flag = flag.clone();
        async move {
            match tokio::time::timeout(idle, s.next()).await {
                Ok(Some(chunk)) => Some((chunk.map_err(|e| e.to_string()), s)),
                Ok(None) => None,
                Err(_) => {
                    flag.store(true, Ordering::SeqCst);
                    Some((Err(format!("no data for {} s", idle.as_secs())), s))
                }
            }
        }
    });
    match b.store.put(kind, &hash, Box::pin(stream)).await {
        Ok(s) => {
            let status = if s.created { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(json!({ "hash": s.hash, "size": s.size, "created": s.created })))
                .into_response()
        }
        Err(e) if timed_out.load(Ordering::SeqCst) => {
            (StatusCode::REQUEST_TIMEOUT, Json(json!({ "error": e.to_string() }))).into_response()
        }
        Err(e) => error(&e),
    }
}

async fn get_blob(State(b): State<Blobs>, Path(hash): Path<String>) -> Response {
    match b.store.get(&hash).await {
        Ok(Some((size, stream))) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (header::CONTENT_LENGTH, size.to_string()),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable".to_owned()),
            ],
            Body::from_stream(stream),
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Json(json!({ "error": format!("no blob {hash}") })))
            .into_response(),
        Err(e) => error(&e),
    }
}

async fn head_blob(State(b): State<Blobs>, Path(hash): Path<String>) -> Response {
    match b.store.size(&hash).await {
        Ok(Some(size)) => {
            ([(header::CONTENT_LENGTH, size.to_string())], StatusCode::OK).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => error(&e),
    }
}

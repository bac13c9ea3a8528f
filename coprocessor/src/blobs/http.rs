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
use modelmart_service::Problem;
use serde::Deserialize;
use tower_http::cors::{Any, CorsLayer};

use super::{
    BlobError, BlobKind, BlobStore, Stored,
    gate::{Gate, Turned, UploadPolicy},
};

/// What the handlers share.
#[derive(Clone, Debug)]
pub(crate) struct Blobs {
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
        .layer(axum::middleware::from_fn(modelmart_service::problem::problems))
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
    Problem::new(status, e.to_string()).into_response()
}

/// The upload's parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PutQuery {
    /// What the bytes are: `eval_key` (a buyer's evaluation key), `input` (encrypted rows),
    /// `card` (a model card), `sealed_model` (a model sealed to this operator). `result` blobs
    /// are the operator's own (403).
    #[param(value_type = String, pattern = "^(card|sealed_model|eval_key|input|result)$")]
    kind: Option<String>,
}

/// Store a blob under its SHA-256. The bytes must hash to `hash` and stay within their kind's
/// limit; uploads stop after `--upload-idle-s` without data; when too many are in progress or
/// the disk is at its floor they are refused at once.
#[utoipa::path(put, path = "/v1/blobs/{hash}",
    params(("hash" = String, Path, pattern = "^(0x)?[0-9a-fA-F]{64}$", description = "SHA-256 of the bytes"), PutQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "stored", body = Stored),
        (status = 200, description = "already stored", body = Stored),
        (status = 400, description = "a malformed hash or kind, or an interrupted upload", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "a kind only the operator writes", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "the upload stopped sending", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "larger than the kind's limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "the bytes do not hash to `hash`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many uploads in progress (Retry-After), or storage failing", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "the operator's disk is at its floor", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn put_blob(
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
            let busy = Problem::unavailable("too many uploads in progress; try again shortly");
            return ([(header::RETRY_AFTER, "1")], busy).into_response();
        }
        Err(Turned::DiskFloor { free }) => {
            metrics::counter!("modelmart_coprocessor_uploads_refused_total", "why" => "disk")
                .increment(1);
            tracing::warn!(target: "modelmart::coprocessor::blobs", free, floor = b.gate.policy.min_free_bytes, "upload refused: disk floor");
            let full = "the operator's storage is full; try again later";
            return Problem::new(StatusCode::INSUFFICIENT_STORAGE, full).into_response();
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
            (status, Json(s)).into_response()
        }
        Err(e) if timed_out.load(Ordering::SeqCst) => {
            Problem::new(StatusCode::REQUEST_TIMEOUT, e.to_string()).into_response()
        }
        Err(e) => error(&e),
    }
}

/// A stored blob's bytes (content-addressed: immutable, cacheable for a year).
#[utoipa::path(get, path = "/v1/blobs/{hash}",
    params(("hash" = String, Path, pattern = "^(0x)?[0-9a-fA-F]{64}$", description = "SHA-256 of the bytes")),
    responses(
        (status = 200, description = "the bytes", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "a malformed hash", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such blob", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "storage failing", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_blob(State(b): State<Blobs>, Path(hash): Path<String>) -> Response {
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
        Ok(None) => Problem::not_found(format!("no blob {hash}")).into_response(),
        Err(e) => error(&e),
    }
}

/// Whether a blob is stored, and its size (`Content-Length`).
#[utoipa::path(head, path = "/v1/blobs/{hash}",
    params(("hash" = String, Path, pattern = "^(0x)?[0-9a-fA-F]{64}$", description = "SHA-256 of the bytes")),
    responses(
        (status = 200, description = "stored"),
        (status = 400, description = "a malformed hash"),
        (status = 404, description = "not stored"),
        (status = 503, description = "storage failing"),
    ))]
pub(crate) async fn head_blob(State(b): State<Blobs>, Path(hash): Path<String>) -> Response {
    match b.store.size(&hash).await {
        Ok(Some(size)) => {
            ([(header::CONTENT_LENGTH, size.to_string())], StatusCode::OK).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => error(&e),
    }
}

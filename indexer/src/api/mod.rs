//! The HTTP API (axum): models, operators, jobs, keys and balances from the index, an OpenAPI
//! document, a live stream of updates, `/healthz` and Prometheus metrics.

mod batch;
mod doc;
mod error;
mod market;
mod query;
mod stream;

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use tokio::sync::broadcast;
use tower_http::{
    cors::{Any as AnyOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    timeout::TimeoutLayer,
};
use utoipa::OpenApi;

pub use doc::ApiDoc;
pub use error::{API_VERSION, API_VERSION_HEADER, ApiError, PROBLEM_JSON, ProblemCode};
pub use market::{ModelDetail, ModelQuery, ModelSummary, OperatorQuery, OperatorSummary};
pub use modelmart_primitives::ModelSort;
pub use query::{BalanceQuery, JobDetail, JobQuery, KeyQuery};
pub use stream::{HealthDoc, IndexHealth, StreamQuery};

use crate::{Db, SharedStatus, Update, probe::Probe, stats::Stats};

const TARGET: &str = "modelmart::indexer::api";

/// Everything the handlers share.
#[derive(Clone)]
pub struct ApiState {
    db: Db,
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    probe: Probe,
    status: Option<SharedStatus>,
    updates: broadcast::Sender<Update>,
    jobs: batch::JobLoader,
    /// One permit per open live stream ([`ApiState::with_max_streams`]).
    streams: Arc<tokio::sync::Semaphore>,
}

/// Live streams open at once by default; more are answered 503.
pub const DEFAULT_MAX_STREAMS: usize = 1_024;

impl ApiState {
    /// State over `db`; `status` is the follower's (if it runs in this process), `updates` its
    /// change feed. (`/metrics` is the service shell's: `ListenArgs::serve` adds it.)
    pub fn new(db: Db, status: Option<SharedStatus>, updates: broadcast::Sender<Update>) -> Self {
        let jobs = batch::JobLoader::new(db.clone());
        Self {
            db,
            snapshot: Arc::default(),
            probe: Probe::default(),
            status,
            updates,
            jobs,
            streams: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_STREAMS)),
        }
    }

    /// Allow at most `n` live streams at once (each holds a connection and a subscription);
    /// more are answered 503 until one closes.
    pub fn with_max_streams(mut self, n: usize) -> Self {
        self.streams = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    /// Show the endpoint health and verified cards this [`Probe`] collects.
    pub fn with_probe(mut self, probe: Probe) -> Self {
        self.probe = probe;
        self
    }

    /// Recompute the statistics and the model and operator lists now.
    pub async fn refresh_stats(&self) -> crate::Result<()> {
        let fresh = Arc::new(Snapshot::compute(&self.db, &self.probe).await?);
        if let Ok(mut s) = self.snapshot.write() {
            *s = fresh;
        }
        Ok(())
    }

    /// Keep the snapshot fresh: recompute whenever the indexed block moved, checking every
    /// `every`. Runs until the process ends.
    pub fn spawn_stats_refresher(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            loop {
                let (seen, seen_probe) = {
                    let s = state.snapshot();
                    (s.stats.block, s.probe_version)
                };
                match state.db.cursor().await {
                    Ok(c)
                        if c.as_ref().map(|c| c.block_number) != seen
                            || state.probe.version() != seen_probe =>
                    {
                        if let Err(e) = state.refresh_stats().await {
                            tracing::warn!(target: TARGET, error = %e, "statistics refresh failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(target: TARGET, error = %e, "cursor read failed"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().map(|s| s.clone()).unwrap_or_default()
    }
}

/// What the list endpoints serve from memory: statistics plus every current model and operator
/// with them, recomputed when the index moves (listings are few; jobs are queried live).
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    stats: Stats,
    models: Vec<ModelSummary>,
    operators: Vec<OperatorSummary>,
    /// `GET /v1/models` without parameters, serialized.
    default_models: axum::body::Bytes,
    /// The probe version this snapshot includes.
    probe_version: u64,
}

impl Snapshot {
    async fn compute(db: &Db, probe: &Probe) -> crate::Result<Self> {
        let probe_version = probe.version();
        let stats = Stats::compute(db).await?;
        let (models, operators) = market::summaries(db, &stats, probe).await?;
        let mut snapshot =
            Self { stats, models, operators, default_models: Default::default(), probe_version };
        let page = market::model_page(&snapshot, &ModelQuery::default())
            .map_err(|e| crate::Error::CorruptRow { table: "models", detail: e.detail })?;
        snapshot.default_models = serde_json::to_vec(&page).unwrap_or_default().into();
        Ok(snapshot)
    }
}

/// Limits and cross-origin policy of the router.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Longest a request may take before it gets 408.
    pub request_timeout: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Allowed CORS origins; empty allows any origin (the API is public and read-only).
    pub cors_origins: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 16 * 1024,
            cors_origins: Vec::new(),
        }
    }
}

/// The API router.
pub fn router(state: ApiState, cfg: &ApiConfig) -> Router {
    let cors = if cfg.cors_origins.is_empty() {
        CorsLayer::new().allow_origin(AnyOrigin).allow_methods(AnyOrigin).allow_headers(AnyOrigin)
    } else {
        let origins = cfg.cors_origins.iter().filter_map(|o| o.parse().ok()).collect::<Vec<_>>();
        CorsLayer::new().allow_origin(origins).allow_methods(AnyOrigin).allow_headers(AnyOrigin)
    };
    let api = Router::new()
        .route("/v1/models", get(market::list_models))
        .route("/v1/models/{id}", get(market::get_model))
        .route("/v1/operators", get(market::list_operators))
        .route("/v1/operators/{address}", get(market::get_operator))
        .route("/v1/jobs", get(query::list_jobs))
        .route("/v1/jobs/{id}", get(query::get_job))
        .route("/v1/keys", get(query::list_keys))
        .route("/v1/balances", get(query::list_balances))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(stream::healthz))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            cfg.request_timeout,
        ));
    // The stream is long-lived: no request timeout on it.
    Router::new()
        .route("/v1/stream", get(stream::stream))
        .merge(api)
        .layer(middleware::from_fn(observe))
        .layer(RequestBodyLimitLayer::new(cfg.max_body_bytes))
        .layer(middleware::from_fn(error::problems))
        .layer(cors)
        .with_state(state)
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// Request latency and count per route, for Prometheus.
async fn observe(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("modelmart_indexer_api_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("modelmart_indexer_api_requests_total", "route" => route, "status" => status)
        .increment(1);
    response
}

/// Shorthand for handler state.
type St = State<ApiState>;

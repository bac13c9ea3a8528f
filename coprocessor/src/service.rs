//! The coprocessor process: configuration (flags, `MODELMART_*` environment) and `run`, which
//! serves the blob endpoint, `/healthz` and `/metrics`, follows the chain into an embedded index,
//! and runs the feed and the workers until shutdown.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use alloy::{
    primitives::Address,
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use axum::{Json, Router, extract::State, response::IntoResponse, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use modelmart_indexer::{Db, Follower, FollowerConfig, SharedStatus};
use modelmart_sdk::{Chain, Operator, seal::OperatorKey};
use serde_json::json;
use tokio::sync::{broadcast, watch};

use crate::{
    BlobStore, Error, Limits, Result,
    pipeline::{Feed, Pipeline, PipelineConfig, Worker},
    queue::Queue,
};

const TARGET: &str = "modelmart::coprocessor";

/// A secret given on the command line or in the environment; never printed.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Coprocessor settings. Every flag also reads `MODELMART_<NAME>` from the environment.
#[derive(Clone, Debug, clap::Args)]
pub struct CoprocessorArgs {
    /// JSON-RPC URL of the chain.
    #[arg(long, env = "MODELMART_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc_url: String,
    /// ModelMarket contract address.
    #[arg(long, env = "MODELMART_CONTRACT")]
    pub contract: Address,
    /// Block the contract was deployed in.
    #[arg(long, env = "MODELMART_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
    /// The operator's wallet private key (hex).
    #[arg(long, env = "MODELMART_OPERATOR_KEY", hide_env_values = true)]
    pub operator_key: Secret,
    /// The operator's X25519 secret (hex); by default read from (or created in)
    /// `<data-dir>/x25519.key`.
    #[arg(long, env = "MODELMART_X25519_KEY", hide_env_values = true)]
    pub x25519_key: Option<Secret>,
    /// Folder for the default blob store, queue and index.
    #[arg(long, env = "MODELMART_DATA_DIR", default_value = ".modelmart/coprocessor")]
    pub data_dir: PathBuf,
    /// Blob storage: a folder, `file:///…`, `s3://bucket/prefix` or `memory:` (default
    /// `<data-dir>/blobs`).
    #[arg(long, env = "MODELMART_BLOB_STORE")]
    pub blob_store: Option<String>,
    /// Queue database: `sqlite:PATH` or `postgres://…` (shared by several processes); default
    /// `sqlite:<data-dir>/queue.db`.
    #[arg(long, env = "MODELMART_QUEUE_URL")]
    pub queue_url: Option<String>,
    /// Embedded index database (default `sqlite:<data-dir>/index.db`).
    #[arg(long, env = "MODELMART_INDEX_URL")]
    pub index_url: Option<String>,
    /// Address the blob endpoint, `/healthz` and `/metrics` listen on.
    #[arg(long, env = "MODELMART_COPROCESSOR_LISTEN", default_value = "127.0.0.1:8700")]
    pub listen: SocketAddr,
    /// Blocks a block must be buried under before its jobs are taken.
    #[arg(long, env = "MODELMART_CONFIRMATIONS", default_value_t = 0)]
    pub confirmations: u64,
    /// Milliseconds between chain polls.
    #[arg(long, env = "MODELMART_POLL_MS", default_value_t = 250)]
    pub poll_ms: u64,
    /// Concurrent jobs in this process (fetching, posting and receipt waits overlap).
    #[arg(long, env = "MODELMART_WORKERS", default_value_t = 8)]
    pub workers: usize,
    /// Concurrent FHE evaluations in this process (each uses every core).
    #[arg(long, env = "MODELMART_EVALUATIONS", default_value_t = 1)]
    pub evaluations: usize,
    /// Seconds a claimed job is leased to a worker.
    #[arg(long, env = "MODELMART_LEASE_S", default_value_t = 60)]
    pub lease_s: i64,
    /// Seconds kept in hand before a deadline to store and post a result.
    #[arg(long, env = "MODELMART_POST_MARGIN_S", default_value_t = 15)]
    pub post_margin_s: i64,
    /// Expanded evaluation keys kept in memory.
    #[arg(long, env = "MODELMART_KEY_CACHE", default_value_t = 4)]
    pub key_cache: usize,
    /// Seconds to wait for a transaction's receipt before checking the chain and resending.
    #[arg(long, env = "MODELMART_RECEIPT_TIMEOUT_S", default_value_t = 60)]
    pub receipt_timeout_s: u64,
    /// Worker name prefix (unique per process when several share a queue).
    #[arg(long, env = "MODELMART_WORKER_NAME")]
    pub worker_name: Option<String>,
}

fn config(e: impl std::fmt::Display) -> Error {
    Error::Config(e.to_string())
}

/// The X25519 key: given, or stored in `dir/x25519.key` (created on first run, mode 0600).
pub fn load_x25519(given: Option<&Secret>, dir: &std::path::Path) -> Result<OperatorKey> {
    let parse = |hex: &str| -> Result<OperatorKey> {
        let mut b = [0u8; 32];
        alloy::hex::decode_to_slice(hex.trim().trim_start_matches("0x"), &mut b)
            .map_err(|e| config(format!("x25519 key: {e}")))?;
        OperatorKey::from_secret(&b).map_err(config)
    };
    if let Some(s) = given {
        return parse(&s.0);
    }
    let path = dir.join("x25519.key");
    if let Ok(hex) = std::fs::read_to_string(&path) {
        return parse(&hex);
    }
    let key = OperatorKey::generate();
    std::fs::create_dir_all(dir).map_err(config)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    use std::io::Write;
    opts.open(&path)
        .and_then(|mut f| f.write_all(alloy::hex::encode(key.secret_bytes()).as_bytes()))
        .map_err(|e| config(format!("{}: {e}", path.display())))?;
    Ok(key)
}

#[derive(Clone)]
struct HealthState {
    pipeline: Arc<Pipeline>,
    follower: SharedStatus,
    metrics: Option<PrometheusHandle>,
}

async fn healthz(State(s): State<HealthState>) -> impl IntoResponse {
    let follower = s.follower.lock().map(|f| f.clone()).unwrap_or_default();
    let pipeline = s.pipeline.health.lock().map(|h| h.clone()).unwrap_or_default();
    let queue: serde_json::Map<String, serde_json::Value> = s
        .pipeline
        .queue
        .depth()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(k, n)| (k, n.into()))
        .collect();
    let ok = follower.failures == 0 && pipeline.last_error.is_none();
    Json(json!({
        "status": if ok { "ok" } else { "degraded" },
        "operator": format!("{:#x}", s.pipeline.operator_address()),
        "x25519_key": alloy::hex::encode(s.pipeline.x25519_public()),
        "follower": follower,
        "pipeline": pipeline,
        "queue": queue,
        "models_loaded": s.pipeline.models.len(),
        "keys_cached": s.pipeline.keys.len(),
    }))
}

async fn render_metrics(State(s): State<HealthState>) -> impl IntoResponse {
    match &s.metrics {
        Some(h) => h.render().into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

/// Run until `shutdown` resolves. Returns once the workers finished their current jobs (at most
/// 30 s after the signal).
pub async fn run(
    args: CoprocessorArgs,
    metrics: Option<PrometheusHandle>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir).map_err(config)?;
    let store_url =
        args.blob_store.clone().unwrap_or_else(|| dir.join("blobs").display().to_string());
    let blobs =
        Arc::new(BlobStore::open(&store_url, dir.join("tmp"), Limits::default()).map_err(config)?);
    let sqlite = |name: &str| format!("sqlite:{}", dir.join(name).display());
    let queue =
        Queue::connect(&args.queue_url.clone().unwrap_or_else(|| sqlite("queue.db")), 8).await?;
    let index =
        Db::connect(&args.index_url.clone().unwrap_or_else(|| sqlite("index.db")), 4).await?;
    let signer: PrivateKeySigner = args
        .operator_key
        .0
        .trim()
        .parse()
        .map_err(|_| config("operator key is not a private key"))?;
    let x25519 = load_x25519(args.x25519_key.as_ref(), dir)?;
    let chain = Chain::connect(&args.rpc_url, signer, args.contract).await?.with_timing(
        Duration::from_secs(args.receipt_timeout_s.max(1)),
        Duration::from_millis(args.poll_ms.max(10)),
    );
    let provider = ProviderBuilder::new()
        .connect(&args.rpc_url)
        .await
        .map_err(|e| config(format!("{}: {e}", args.rpc_url)))?
        .erased();
    let (updates, _) = broadcast::channel(1_024);
    let follower = Follower::new(
        provider,
        index.clone(),
        FollowerConfig {
            contract: args.contract,
            start_block: args.start_block,
            confirmations: args.confirmations,
            poll_interval: Duration::from_millis(args.poll_ms),
            ..FollowerConfig::default()
        },
        updates.clone(),
    );
    let pipeline = Pipeline::new(
        PipelineConfig {
            workers: args.workers.max(1),
            evaluations: args.evaluations.max(1),
            lease_s: args.lease_s.max(5),
            post_margin_s: args.post_margin_s.max(0),
            key_cache: args.key_cache,
            ..PipelineConfig::default()
        },
        Operator::new(chain),
        x25519,
        blobs.clone(),
        queue.clone(),
        index.clone(),
    );
    let health = HealthState { pipeline: pipeline.clone(), follower: follower.status(), metrics };
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .with_state(health)
        .merge(crate::blobs::http::router(blobs));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| config(format!("listen on {}: {e}", args.listen)))?;
    tracing::info!(target: TARGET, listen = %args.listen, operator = %pipeline.operator_address(), "coprocessor up");

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut stop = stop_rx.clone();
    tasks.spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            })
            .await;
    });
    let mut stop = stop_rx.clone();
    tasks.spawn(async move {
        if let Err(e) = follower
            .run(async move {
                let _ = stop.changed().await;
            })
            .await
        {
            tracing::error!(target: TARGET, error = %e, "chain follower stopped");
        }
    });
    tasks.spawn(Feed::new(pipeline.clone(), updates.subscribe()).run(stop_rx.clone()));
    let prefix = args.worker_name.clone().unwrap_or_else(|| format!("cp-{}", std::process::id()));
    for i in 0..pipeline.cfg.workers {
        tasks.spawn(Worker::new(pipeline.clone(), format!("{prefix}-{i}")).run(stop_rx.clone()));
    }
    shutdown.await;
    tracing::info!(target: TARGET, "stopping: finishing current jobs");
    let _ = stop_tx.send(true);
    pipeline.wake.notify_waiters();
    if tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tasks.abort_all();
    }
    queue.close().await;
    index.close().await;
    tracing::info!(target: TARGET, "coprocessor stopped");
    Ok(())
}

//! The coprocessor process: configuration (flags, `MODELMART_*` environment) and `run`, which
//! serves the blob endpoint, `/healthz` and `/metrics`, follows the chain into an embedded index,
//! and runs the feed and the workers until shutdown.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use alloy::{
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use axum::{Router, extract::State, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use modelmart_index::{Db, Follower, SharedStatus};
use modelmart_sdk::{Chain, Operator, seal::OperatorKey};
use modelmart_service::{ChainArgs, FollowArgs, Health, HealthStatus, ListenArgs, ServicePort};
use serde_json::json;
use tokio::sync::{broadcast, watch};
use utoipa::OpenApi;

use crate::{
    BlobStore, Error, Limits, Result,
    pipeline::{Feed, ListingIntake, Pipeline, PipelineConfig, Worker},
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

const DEFAULT_WORKERS: usize = 8;
const DEFAULT_EVALUATIONS: usize = 1;
const DEFAULT_LEASE_S: i64 = 60;
const DEFAULT_POST_MARGIN_S: i64 = 15;
const DEFAULT_KEY_CACHE: usize = 4;
const DEFAULT_DB_CONNECTIONS: u32 = 8;
/// Connections of the embedded index's pool.
const INDEX_CONNECTIONS: u32 = 4;
const DEFAULT_RECEIPT_TIMEOUT_S: u64 = 60;

/// The coprocessor's listening defaults: `MODELMART_COPROCESSOR_LISTEN`, port 8700.
#[derive(Clone, Debug)]
pub struct CoprocessorPort;

impl ServicePort for CoprocessorPort {
    const ENV: &'static str = "MODELMART_COPROCESSOR_LISTEN";
    const DEFAULT: &'static str = "127.0.0.1:8700";
}

/// Coprocessor settings. Every flag also reads `MODELMART_<NAME>` from the environment, and any
/// key of the TOML file given by `--config` (same names, snake_case) when neither is set.
#[derive(Clone, Debug, clap::Args)]
pub struct CoprocessorArgs {
    /// TOML file with any of these settings (flags and environment win over it).
    #[arg(long, env = "MODELMART_CONFIG")]
    pub config: Option<PathBuf>,
    /// The chain and market.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// How the chain is followed (`--confirmations`: blocks a request must be buried under
    /// before its job is taken).
    #[command(flatten)]
    pub follow: FollowArgs,
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
    /// Connections to the job queue's database (1 to 256). With the embedded index's 4, a
    /// process holds at most this + 4 connections: size a shared Postgres for the fleet.
    #[arg(long, env = "MODELMART_DB_CONNECTIONS", default_value_t = DEFAULT_DB_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub db_connections: u32,
    /// Where the blob endpoint, `/healthz` and the metrics listen.
    #[command(flatten)]
    pub listen: ListenArgs<CoprocessorPort>,
    /// Limits on uploads to the blob endpoint.
    #[command(flatten)]
    pub uploads: crate::blobs::UploadArgs,
    /// Concurrent jobs in this process (fetching, posting and receipt waits overlap; 1 to 256).
    #[arg(long, env = "MODELMART_WORKERS", default_value_t = DEFAULT_WORKERS,
          value_parser = clap::builder::RangedI64ValueParser::<usize>::new().range(1..=256))]
    pub workers: usize,
    /// Concurrent FHE evaluations in this process (each uses every core; 1 to 64).
    #[arg(long, env = "MODELMART_EVALUATIONS", default_value_t = DEFAULT_EVALUATIONS,
          value_parser = clap::builder::RangedI64ValueParser::<usize>::new().range(1..=64))]
    pub evaluations: usize,
    /// Seconds a claimed job is leased to a worker (5 to 3600).
    #[arg(long, env = "MODELMART_LEASE_S", default_value_t = DEFAULT_LEASE_S,
          value_parser = clap::value_parser!(i64).range(5..=3_600))]
    pub lease_s: i64,
    /// Seconds kept in hand before a deadline to store and post a result (0 to 3600).
    #[arg(long, env = "MODELMART_POST_MARGIN_S", default_value_t = DEFAULT_POST_MARGIN_S,
          value_parser = clap::value_parser!(i64).range(0..=3_600))]
    pub post_margin_s: i64,
    /// Expanded evaluation keys kept in memory.
    #[arg(long, env = "MODELMART_KEY_CACHE", default_value_t = DEFAULT_KEY_CACHE)]
    pub key_cache: usize,
    /// Seconds to wait for a transaction's receipt before checking the chain and resending
    /// (1 to 3600).
    #[arg(long, env = "MODELMART_RECEIPT_TIMEOUT_S", default_value_t = DEFAULT_RECEIPT_TIMEOUT_S,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub receipt_timeout_s: u64,
    /// Replace the X25519 key registered on chain with this process's (after the old secret was
    /// lost: listings sealed to the old key can no longer be opened and must be sealed again).
    /// Without it the coprocessor refuses to start when the keys differ.
    #[arg(long, env = "MODELMART_ROTATE_X25519")]
    pub rotate_x25519: bool,
    /// Worker name prefix (unique per process when several share a queue).
    #[arg(long, env = "MODELMART_WORKER_NAME")]
    pub worker_name: Option<String>,
}

impl CoprocessorArgs {
    /// Settings for serving `chain` as the operator of `operator_key`, keeping state in
    /// `data_dir` and listening on `listen`; everything else at its default.
    pub fn new(
        chain: ChainArgs,
        operator_key: Secret,
        data_dir: impl Into<PathBuf>,
        listen: SocketAddr,
    ) -> Self {
        Self {
            config: None,
            chain,
            follow: FollowArgs::default(),
            operator_key,
            x25519_key: None,
            data_dir: data_dir.into(),
            blob_store: None,
            queue_url: None,
            index_url: None,
            db_connections: DEFAULT_DB_CONNECTIONS,
            listen: ListenArgs::new(listen),
            uploads: crate::blobs::UploadArgs::default(),
            workers: DEFAULT_WORKERS,
            evaluations: DEFAULT_EVALUATIONS,
            lease_s: DEFAULT_LEASE_S,
            post_margin_s: DEFAULT_POST_MARGIN_S,
            key_cache: DEFAULT_KEY_CACHE,
            receipt_timeout_s: DEFAULT_RECEIPT_TIMEOUT_S,
            worker_name: None,
            rotate_x25519: false,
        }
    }
}

/// Compare this process's X25519 key with the one the operator registered: a lost data folder
/// silently makes a new key, and every sealed model would then fail to open. Refuse to start on
/// a mismatch, unless told to rotate (then the chain gets the new key, endpoint unchanged).
async fn check_x25519(op: &Operator, key: &OperatorKey, rotate: bool) -> Result<()> {
    let me = op.chain().account();
    let info = op.info(me).await?;
    if info.status == modelmart_primitives::OperatorStatus::None {
        tracing::warn!(target: TARGET, operator = %me, "not registered yet: `modelmart operator register` announces this key");
        return Ok(());
    }
    let local = key.public_bytes();
    if info.x25519_key.0 == local {
        return Ok(());
    }
    if rotate {
        op.update(&info.endpoint, local).await?;
        tracing::warn!(target: TARGET, "X25519 key rotated on chain; listings sealed to the old key must be sealed again");
        return Ok(());
    }
    Err(config(format!(
        "this process's X25519 key {} is not the one registered on chain ({}): was the data \
         folder lost? Restore its x25519.key (or pass --x25519-key), or start with \
         --rotate-x25519 to register the new key (listings sealed to the old one stop opening)",
        alloy::hex::encode(local),
        info.x25519_key
    )))
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
pub(crate) struct HealthState {
    pipeline: Arc<Pipeline>,
    follower: SharedStatus,
}

/// The operator's health: `ok`, `degraded` (its node or a job is failing) or `down` (503: its
/// queue database does not answer), with the follower, queue depth per state, counters and
/// admission figures.
#[utoipa::path(get, path = "/healthz",
    responses((status = 200, description = "`ok` or `degraded`", body = Object),
              (status = 503, description = "`down`, with `error`", body = Object)))]
pub(crate) async fn healthz(State(s): State<HealthState>) -> Health<serde_json::Value> {
    let follower = s.follower.lock().map(|f| f.clone()).unwrap_or_default();
    let pipeline = s.pipeline.health.lock().map(|h| h.clone()).unwrap_or_default();
    let (status, queue, error) = match s.pipeline.queue.depth().await {
        Ok(depth) => {
            let queue: serde_json::Map<String, serde_json::Value> =
                depth.into_iter().map(|(k, n)| (k, n.into())).collect();
            let failing = follower.failures > 0 || pipeline.last_error.is_some();
            (HealthStatus::degraded_if(failing), queue.into(), None)
        }
        // No queue, no work: say so rather than show an empty queue as a healthy one.
        Err(e) => (
            HealthStatus::Down,
            serde_json::Value::Null,
            Some(modelmart_primitives::redact::urls(&e.to_string())),
        ),
    };
    let mut detail = json!({
        "operator": format!("{:#x}", s.pipeline.operator_address()),
        "x25519_key": alloy::hex::encode(s.pipeline.x25519_public()),
        "follower": follower,
        "pipeline": pipeline,
        "queue": queue,
        "models_loaded": s.pipeline.models.len(),
        "keys_cached": s.pipeline.keys.len(),
        "admission": {
            "backlog_s": s.pipeline.admission.backlog_seconds(),
            "speed_factor": s.pipeline.admission.speed_factor(),
        },
    });
    if let (Some(e), Some(map)) = (error, detail.as_object_mut()) {
        map.insert("error".into(), e.into());
    }
    Health { status, detail }
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
    let queue_url = args.queue_url.clone().unwrap_or_else(|| sqlite("queue.db"));
    let queue = Queue::connect(&queue_url, args.db_connections).await?;
    let index_url = args.index_url.clone().unwrap_or_else(|| sqlite("index.db"));
    let index = Db::connect(&index_url, INDEX_CONNECTIONS).await?;
    let signer: PrivateKeySigner = args
        .operator_key
        .0
        .trim()
        .parse()
        .map_err(|_| config("operator key is not a private key"))?;
    let x25519 = load_x25519(args.x25519_key.as_ref(), dir)?;
    let chain = Chain::connect(&args.chain.rpc_url, signer, args.chain.contract)
        .await?
        .with_timing(Duration::from_secs(args.receipt_timeout_s), args.follow.poll_interval());
    check_x25519(&Operator::new(chain.clone()), &x25519, args.rotate_x25519).await?;
    let provider = ProviderBuilder::new()
        .connect(&args.chain.rpc_url)
        .await
        .map_err(|e| config(format!("{}: {e}", args.chain.rpc_url)))?
        .erased();
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| config(format!("{}: {e}", args.chain.rpc_url)))?;
    let (updates, _) = broadcast::channel(1_024);
    let mut follower = Follower::new(
        provider,
        index.clone(),
        args.follow.follower_config(&args.chain, chain_id),
        updates.clone(),
    );
    let pipeline = Pipeline::new(
        PipelineConfig {
            workers: args.workers,
            evaluations: args.evaluations,
            lease_s: args.lease_s,
            post_margin_s: args.post_margin_s,
            key_cache: args.key_cache,
            ..PipelineConfig::default()
        },
        Operator::new(chain),
        x25519,
        blobs.clone(),
        queue.clone(),
        index.clone(),
    );
    let health = HealthState { pipeline: pipeline.clone(), follower: follower.status() };
    let (blobs_for_expiry, follower_status) = (blobs.clone(), follower.status());
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(|| async { axum::Json(crate::blobs::BlobApi::openapi()) }))
        .with_state(health)
        .merge(crate::blobs::http::router_with(blobs, args.uploads.policy()))
        .layer(axum::middleware::from_fn(modelmart_service::problem::problems));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (bound, server) = args
        .listen
        .serve(app, metrics, stop_rx.clone())
        .await
        .map_err(|e| config(e.to_string()))?;
    tracing::info!(target: TARGET, listen = %bound.addr, operator = %pipeline.operator_address(), "coprocessor up");
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(async move {
        let _ = server.await;
    });
    let mut stop = stop_rx.clone();
    tasks.spawn(async move {
        // one writer per index database: processes of a fleet sharing one stand by
        if let Err(e) = follower
            .run_exclusive(async move {
                let _ = stop.changed().await;
            })
            .await
        {
            tracing::error!(target: TARGET, error = %e, "chain follower stopped");
        }
    });
    if args.uploads.blob_ttl_h > 0 {
        tasks.spawn(crate::blobs::expiry::run(
            blobs_for_expiry,
            index.clone(),
            follower_status,
            Duration::from_secs(args.uploads.blob_ttl_h.saturating_mul(3_600)),
            Duration::from_secs(600),
            stop_rx.clone(),
        ));
    }
    tasks.spawn(Feed::new(pipeline.clone(), updates.subscribe()).run(stop_rx.clone()));
    tasks.spawn(ListingIntake::new(pipeline.clone(), updates.subscribe()).run(stop_rx.clone()));
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

#[cfg(test)]
mod tests {
    use modelmart_service::{ServiceCli, parse_from_with_config};

    use super::*;

    #[test]
    fn the_example_config_file_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/coprocessor.example.toml");
        let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
        let argv = ["modelmart-coprocessor", "--config", path, "--operator-key", key]
            .map(String::from)
            .to_vec();
        let cli: ServiceCli<CoprocessorArgs> =
            parse_from_with_config(argv).unwrap_or_else(|e| panic!("{e}"));
        let a = cli.args;
        assert_eq!(a.chain.contract.to_string(), "0x5FbDB2315678afecb367f032d93F642f64180aa3");
        assert_eq!((a.workers, a.lease_s, a.listen.addr.port()), (8, 60, 8700));
        assert_eq!(a.operator_key.0, key);
    }
}

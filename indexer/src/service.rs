//! The indexer service: configuration (flags, `MODELMART_*` environment, TOML file) and the
//! process that runs the follower and the API together until shutdown.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{
    primitives::Address,
    providers::{Provider, ProviderBuilder},
};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::broadcast;

use crate::{
    Db, Follower, FollowerConfig, Result,
    api::{self, ApiConfig, ApiState},
    probe::Probe,
};

const TARGET: &str = "modelmart::indexer";

/// Indexer settings. Every flag also reads `MODELMART_<NAME>` from the environment, and any key
/// of the TOML file given by `--config` (same names, snake_case) when neither is set.
#[derive(Clone, Debug, clap::Args)]
pub struct IndexerArgs {
    /// TOML file with any of these settings (flags and environment win over it).
    #[arg(long, env = "MODELMART_CONFIG")]
    pub config: Option<PathBuf>,
    /// JSON-RPC URL of the node to follow.
    #[arg(long, env = "MODELMART_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc_url: String,
    /// ModelMarket contract address.
    #[arg(long, env = "MODELMART_CONTRACT")]
    pub contract: Address,
    /// Block the contract was deployed in (indexing starts there on an empty database).
    #[arg(long, env = "MODELMART_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
    /// Index database: `sqlite:PATH` or `postgres://…`.
    #[arg(long, env = "MODELMART_DATABASE_URL", default_value = "sqlite:modelmart-index.db")]
    pub database_url: String,
    /// Address the API listens on.
    #[arg(long, env = "MODELMART_INDEXER_LISTEN", default_value = "127.0.0.1:8600")]
    pub listen: SocketAddr,
    /// Blocks a block must be buried under before it is indexed.
    #[arg(long, env = "MODELMART_CONFIRMATIONS", default_value_t = 0)]
    pub confirmations: u64,
    /// Milliseconds between polls once caught up.
    #[arg(long, env = "MODELMART_POLL_MS", default_value_t = 250)]
    pub poll_ms: u64,
    /// Largest `eth_getLogs` block range (shrinks when the node refuses, grows back).
    #[arg(long, env = "MODELMART_MAX_RANGE", default_value_t = 2_000)]
    pub max_range: u64,
    /// Blocks of hashes kept for reorg detection.
    #[arg(long, env = "MODELMART_REORG_WINDOW", default_value_t = 1_024)]
    pub reorg_window: u64,
    /// Database connections.
    #[arg(long, env = "MODELMART_DB_CONNECTIONS", default_value_t = 8)]
    pub db_connections: u32,
    /// Allowed CORS origin (repeat); none allows any origin.
    #[arg(long = "cors-origin", env = "MODELMART_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds between checks of operator endpoints (and fetches of missing model cards).
    #[arg(long, env = "MODELMART_PROBE_INTERVAL_S", default_value_t = 30)]
    pub probe_interval_s: u64,
    /// Seconds before a request is answered 408.
    #[arg(long, env = "MODELMART_REQUEST_TIMEOUT_S", default_value_t = 10)]
    pub request_timeout_s: u64,
}

/// Run the follower and the API until `shutdown` resolves.
pub async fn run(
    args: IndexerArgs,
    metrics: Option<PrometheusHandle>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let db = Db::connect(&args.database_url, args.db_connections).await?;
    let provider = ProviderBuilder::new()
        .connect(&args.rpc_url)
        .await
        .map_err(|e| crate::Error::Rpc(format!("{}: {e}", args.rpc_url)))?
        .erased();
    let (updates, _) = broadcast::channel(4_096);
    let follower = Follower::new(
        provider,
        db.clone(),
        FollowerConfig {
            contract: args.contract,
            start_block: args.start_block,
            confirmations: args.confirmations,
            poll_interval: Duration::from_millis(args.poll_ms),
            max_range: args.max_range,
            reorg_window: args.reorg_window,
            ..FollowerConfig::default()
        },
        updates.clone(),
    );
    let probe = Probe::default();
    let probing = probe.spawn(db.clone(), Duration::from_secs(args.probe_interval_s.max(1)));
    let state =
        ApiState::new(db.clone(), Some(follower.status()), updates, metrics).with_probe(probe);
    let stats = state.spawn_stats_refresher(Duration::from_millis(200));
    let app = api::router(
        state,
        &ApiConfig {
            request_timeout: Duration::from_secs(args.request_timeout_s),
            cors_origins: args.cors_origins.clone(),
            ..ApiConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| crate::Error::Listen { addr: args.listen, source })?;
    tracing::info!(target: TARGET, listen = %args.listen, contract = %args.contract, db = ?db.backend(), "indexer API up");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stop_api = stop_rx.clone();
    let server = tokio::spawn(async move {
        api::serve(listener, app, async move {
            let _ = stop_api.changed().await;
        })
        .await
    });
    let mut stop_follow = stop_rx;
    let following = follower.run(async move {
        let _ = stop_follow.changed().await;
    });
    tokio::pin!(following);
    tokio::pin!(shutdown);
    let result = tokio::select! {
        r = &mut following => r,
        () = &mut shutdown => Ok(()),
    };
    let _ = stop_tx.send(true);
    let _ = server.await;
    stats.abort();
    probing.abort();
    db.close().await;
    tracing::info!(target: TARGET, "indexer stopped");
    result
}

//! The indexer service: configuration (flags, `MODELMART_*` environment, TOML file) and the
//! process that runs the follower and the API together until shutdown.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::providers::{Provider, ProviderBuilder};
use metrics_exporter_prometheus::PrometheusHandle;
use modelmart_service::{ChainArgs, FollowArgs, ListenArgs, ServicePort};
use tokio::sync::broadcast;

use crate::{
    Db, Follower, Result,
    api::{self, ApiConfig, ApiState},
    egress::AddressPolicy,
    probe::Probe,
};

const TARGET: &str = "modelmart::indexer";

/// The indexer's listening defaults: `MODELMART_INDEXER_LISTEN`, port 8600.
#[derive(Clone, Debug)]
pub struct IndexerPort;

impl ServicePort for IndexerPort {
    const ENV: &'static str = "MODELMART_INDEXER_LISTEN";
    const DEFAULT: &'static str = "127.0.0.1:8600";
}

const DEFAULT_DB_CONNECTIONS: u32 = 8;
const DEFAULT_PROBE_INTERVAL_S: u64 = 30;
const DEFAULT_REQUEST_TIMEOUT_S: u64 = 10;

/// Indexer settings. Every flag also reads `MODELMART_<NAME>` from the environment, and any key
/// of the TOML file given by `--config` (same names, snake_case) when neither is set.
#[derive(Clone, Debug, clap::Args)]
pub struct IndexerArgs {
    /// TOML file with any of these settings (flags and environment win over it).
    #[arg(long, env = "MODELMART_CONFIG")]
    pub config: Option<PathBuf>,
    /// The chain and market to follow.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// How the chain is followed.
    #[command(flatten)]
    pub follow: FollowArgs,
    /// Index database: `sqlite:PATH` or `postgres://…`.
    #[arg(long, env = "MODELMART_DATABASE_URL", default_value = "sqlite:modelmart-index.db")]
    pub database_url: String,
    /// Where the API and its metrics listen.
    #[command(flatten)]
    pub listen: ListenArgs<IndexerPort>,
    /// Database connections (1 to 256).
    #[arg(long, env = "MODELMART_DB_CONNECTIONS", default_value_t = DEFAULT_DB_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub db_connections: u32,
    /// Allowed CORS origin (repeat); none allows any origin.
    #[arg(long = "cors-origin", env = "MODELMART_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds between checks of operator endpoints (and fetches of missing model cards).
    #[arg(long, env = "MODELMART_PROBE_INTERVAL_S", default_value_t = DEFAULT_PROBE_INTERVAL_S,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub probe_interval_s: u64,
    /// Let endpoint probes reach loopback addresses (a local dev stack, whose operators listen
    /// on 127.0.0.1). Private, link-local and other non-public addresses stay refused.
    #[arg(long, env = "MODELMART_PROBE_LOOPBACK")]
    pub probe_loopback: bool,
    /// Serve the API from the database without following the chain (a replica beside the one
    /// writer; without it a second process waits as a hot standby and takes over when the
    /// writer stops). No endpoint probes either: the writer does those.
    #[arg(long, env = "MODELMART_READ_ONLY")]
    pub read_only: bool,
    /// Live streams (`/v1/stream`) open at once (1 to 65536); more are answered 503.
    #[arg(long, env = "MODELMART_MAX_STREAMS", default_value_t = api::DEFAULT_MAX_STREAMS,
          value_parser = clap::builder::RangedI64ValueParser::<usize>::new().range(1..=65_536))]
    pub max_streams: usize,
    /// Seconds before a request is answered 408.
    #[arg(long, env = "MODELMART_REQUEST_TIMEOUT_S", default_value_t = DEFAULT_REQUEST_TIMEOUT_S,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout_s: u64,
}

impl IndexerArgs {
    /// Settings for following `chain` into `database_url` and serving on `listen`, everything
    /// else at its default.
    pub fn new(chain: ChainArgs, database_url: impl Into<String>, listen: SocketAddr) -> Self {
        Self {
            config: None,
            chain,
            follow: FollowArgs::default(),
            database_url: database_url.into(),
            listen: ListenArgs::new(listen),
            db_connections: DEFAULT_DB_CONNECTIONS,
            cors_origins: Vec::new(),
            probe_interval_s: DEFAULT_PROBE_INTERVAL_S,
            probe_loopback: false,
            read_only: false,
            max_streams: api::DEFAULT_MAX_STREAMS,
            request_timeout_s: DEFAULT_REQUEST_TIMEOUT_S,
        }
    }
}

/// Connect to the database, waiting for it with backoff (0.5 s doubling to 8 s) while it is
/// unreachable: a database that starts after the indexer (a compose stack, a restart) is not a
/// reason to exit. A URL that can never work (another scheme) fails at once.
async fn connect_with_backoff(url: &str, connections: u32) -> Result<Db> {
    let mut wait = Duration::from_millis(500);
    loop {
        match Db::connect(url, connections).await {
            Ok(db) => return Ok(db),
            Err(e @ modelmart_index::Error::UnsupportedDatabase(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(target: TARGET, error = %e, retry_in_ms = wait.as_millis() as u64, "database unavailable; waiting");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(8));
            }
        }
    }
}

/// Run the follower and the API until `shutdown` resolves.
pub async fn run(
    args: IndexerArgs,
    metrics: Option<PrometheusHandle>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let mut shutdown = Box::pin(shutdown);
    let connected = tokio::select! {
        db = connect_with_backoff(&args.database_url, args.db_connections) => Some(db?),
        () = &mut shutdown => None,
    };
    let Some(db) = connected else {
        tracing::info!(target: TARGET, "indexer stopped before the database answered");
        return Ok(());
    };
    let provider = ProviderBuilder::new()
        .connect(&args.chain.rpc_url)
        .await
        .map_err(|e| crate::Error::Rpc(format!("{}: {e}", args.chain.rpc_url)))?
        .erased();
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| crate::Error::Rpc(format!("{}: {e}", args.chain.rpc_url)))?;
    let (updates, _) = broadcast::channel(4_096);
    let mut follower = Follower::new(
        provider,
        db.clone(),
        args.follow.follower_config(&args.chain, chain_id),
        updates.clone(),
    );
    let probe = Probe::with_policy(AddressPolicy { allow_loopback: args.probe_loopback });
    let probing = (!args.read_only)
        .then(|| probe.spawn(db.clone(), Duration::from_secs(args.probe_interval_s)));
    if args.read_only {
        follower.set_role(modelmart_index::Role::ReadOnly);
    }
    let state = ApiState::new(db.clone(), Some(follower.status()), updates)
        .with_probe(probe)
        .with_max_streams(args.max_streams);
    let stats = state.spawn_stats_refresher(Duration::from_millis(200));
    let app = api::router(
        state,
        &ApiConfig {
            request_timeout: Duration::from_secs(args.request_timeout_s),
            cors_origins: args.cors_origins.clone(),
            ..ApiConfig::default()
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (bound, server) = args
        .listen
        .serve(app, metrics, stop_rx.clone())
        .await
        .map_err(|source| crate::Error::Listen { addr: args.listen.addr, source })?;
    tracing::info!(target: TARGET, listen = %bound.addr, contract = %args.chain.contract, db = ?db.backend(), "indexer API up");
    let mut stop_follow = stop_rx;
    let read_only = args.read_only;
    let following = async move {
        let stopped = async move {
            let _ = stop_follow.changed().await;
        };
        if read_only {
            stopped.await;
            Ok(())
        } else {
            follower.run_exclusive(stopped).await
        }
    };
    tokio::pin!(following);
    let result = tokio::select! {
        r = &mut following => r,
        () = &mut shutdown => Ok(()),
    };
    let _ = stop_tx.send(true);
    let _ = server.await;
    stats.abort();
    if let Some(p) = probing {
        p.abort();
    }
    db.close().await;
    tracing::info!(target: TARGET, "indexer stopped");
    result
}

#[cfg(test)]
mod tests {
    use modelmart_service::{ServiceCli, parse_from_with_config};

    use super::*;

    #[test]
    fn the_example_config_file_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/indexer.example.toml");
        let argv = ["modelmart-indexer", "--config", path].map(String::from).to_vec();
        let cli: ServiceCli<IndexerArgs> =
            parse_from_with_config(argv).unwrap_or_else(|e| panic!("{e}"));
        let a = cli.args;
        assert_eq!(a.chain.contract.to_string(), "0x5FbDB2315678afecb367f032d93F642f64180aa3");
        assert_eq!((a.follow.poll_ms, a.listen.addr.port()), (250, 8600));
        assert_eq!(a.cors_origins, ["http://127.0.0.1:8800"]);
    }
}

//! Indexer benchmark (BENCHMARKS.md): ingestion of ~100,000 pre-generated marketplace events
//! of all 26 kinds from a local anvil into SQLite and into Postgres, live lag (event mined → visible in the API),
//! and API latency (model list, job lookup) at 200 concurrent requests on the loaded database.
//!
//! `make bench-indexer` (needs `forge build` for the EventFlood helper contract and Postgres on
//! 127.0.0.1:5432). Prints one JSON line per figure.

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolValue,
};
use modelmart_bindings::ModelMarket;
use modelmart_indexer::{
    Db, Follower, FollowerConfig,
    api::{self, ApiConfig, ApiState},
    service::{self, IndexerArgs},
};
use serde_json::json;
use sqlx::{Connection, Executor};
use tokio::sync::broadcast;

sol! {
    #[sol(rpc)]
    interface IEventFlood {
        function setup(uint256 n) external payable;
        function flood(uint256 n) external payable;
        function varied() external payable;
        function requestOnly(uint256 n) external payable returns (uint256 first);
        function expire(uint256 first, uint256 n) external;
        function leave() external;
        function exit() external;
    }
}

const JOBS_PER_TX: u64 = 10;
const MODELS: u64 = 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

async fn fresh_postgres(admin: &str) -> eyre::Result<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin).await?;
    let name = format!("mm_bench_{:x}", std::process::id());
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    Ok(with_database(admin, &name))
}

/// `url` with its database name replaced (keeping a `?host=/socket/dir` query, if any).
fn with_database(url: &str, name: &str) -> String {
    let (path, query) = url.split_once('?').map_or((url, None), |(p, q)| (p, Some(q)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// `concurrency` keep-alive clients, each sending its fixed share of `total` requests back to
/// back (so all stay busy to the end); latencies in ms, sorted.
async fn load(
    base: &str,
    concurrency: usize,
    total: usize,
    path: PathFn,
) -> eyre::Result<Vec<f64>> {
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(concurrency).tcp_nodelay(true).build()?;
    let share = total.div_ceil(concurrency);
    let mut tasks = Vec::new();
    for task in 0..concurrency {
        let (client, base) = (client.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(share);
            for i in task * share..(task + 1) * share {
                let t = Instant::now();
                let res = client.get(format!("{base}{}", path(i))).send().await?;
                let ok = res.status().is_success();
                let _ = res.bytes().await?;
                eyre::ensure!(ok, "request {} failed", path(i));
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, eyre::Report>(lat)
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

/// Wait for a receipt by polling every 2 ms (alloy's watcher polls every 250 ms) and check it.
async fn mined_ok(provider: &DynProvider, tx: alloy::primitives::B256) -> eyre::Result<()> {
    let t = Instant::now();
    loop {
        if let Some(r) = provider.get_transaction_receipt(tx).await? {
            eyre::ensure!(r.status(), "transaction {tx} reverted");
            return Ok(());
        }
        eyre::ensure!(t.elapsed() < Duration::from_secs(30), "transaction {tx} not mined");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The events only owner settings and time bring: protocol fee, stake parameters and token
/// allow-list (as the owner), three jobs left to expire (the operator slashed), and a second
/// operator that unbonds and exits.
async fn every_other_kind(
    provider: &DynProvider,
    market: &ModelMarket::ModelMarketInstance<DynProvider>,
    flood: &IEventFlood::IEventFloodInstance<DynProvider>,
    leaving: IEventFlood::IEventFloodInstance<DynProvider>,
) -> eyre::Result<()> {
    use modelmart_sdk::dev::{FEE_BPS, MIN_STAKE, SLASH_PENALTY};
    let me = provider.get_accounts().await?.first().copied().unwrap_or_default();
    let owner_calls = [
        market.setProtocolFee(FEE_BPS, me).send().await?,
        market
            .setStakeParams(
                alloy::primitives::aliases::U96::from(MIN_STAKE),
                alloy::primitives::aliases::U96::from(SLASH_PENALTY),
            )
            .send()
            .await?,
        market.setTokenAllowed(Address::repeat_byte(0x42), true).send().await?,
    ];
    for pending in owner_calls {
        mined_ok(provider, *pending.tx_hash()).await?;
    }
    let jobs = U256::from(3);
    let first = flood.requestOnly(jobs).value(U256::from(3 * 2_000)).call().await?;
    let pending = flood.requestOnly(jobs).value(U256::from(3 * 2_000)).send().await?;
    mined_ok(provider, *pending.tx_hash()).await?;
    let pending = leaving.leave().send().await?;
    mined_ok(provider, *pending.tx_hash()).await?;
    // past every job deadline, then past the unbonding delay
    for secs in [3_601u64, 8 * 86_400 + 1] {
        provider.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), [secs]).await?;
        provider.raw_request::<_, serde_json::Value>("evm_mine".into(), json!([])).await?;
        if secs == 3_601 {
            let pending = flood.expire(first, jobs).send().await?;
            mined_ok(provider, *pending.tx_hash()).await?;
        }
    }
    let pending = leaving.exit().send().await?;
    mined_ok(provider, *pending.tx_hash()).await?;
    Ok(())
}

/// Request path of the i-th request.
type PathFn = fn(usize) -> String;

static JOBS: AtomicUsize = AtomicUsize::new(1);

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this file without it, as a
    // smoke test of the benchmark itself on a small chain.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let target_events: u64 = arg("--events", if smoke { "500" } else { "100000" }).parse()?;
    let concurrency: usize = arg("--concurrency", if smoke { "20" } else { "200" }).parse()?;
    let requests: usize = arg("--requests", if smoke { "400" } else { "20000" }).parse()?;
    let lag_samples = if smoke { 3 } else { 20 };
    let pg_admin = arg("--pg", "postgres://postgres@127.0.0.1:5432/test");

    let anvil = modelmart_testkit::spawn_anvil(&[])?;
    let key: PrivateKeySigner = anvil.keys()[0].clone().into();
    let me = key.address();
    let provider: DynProvider = ProviderBuilder::new()
        .wallet(EthereumWallet::new(key))
        .connect_http(anvil.endpoint_url())
        .erased();
    let d = modelmart_sdk::dev::deploy(&provider, me, me).await?;
    let (market, start_block) = (ModelMarket::new(d.market, provider.clone()), d.block);
    let deploy_flood = async || -> eyre::Result<_> {
        let artifact: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            root().join("contracts/out/EventFlood.sol/EventFlood.json"),
        )?)?;
        let code: Bytes = artifact["bytecode"]["object"].as_str().unwrap_or_default().parse()?;
        let deploy = [code.to_vec(), market.address().abi_encode()].concat();
        let receipt = provider
            .send_transaction(TransactionRequest::default().with_deploy_code(deploy))
            .await?
            .get_receipt()
            .await?;
        let flood =
            IEventFlood::new(receipt.contract_address.unwrap_or(Address::ZERO), provider.clone());
        flood
            .setup(U256::from(MODELS))
            .value(U256::from(2 * 10u128.pow(18)))
            .send()
            .await?
            .get_receipt()
            .await?;
        Ok(flood)
    };
    let flood = deploy_flood().await?;

    // 10 jobs per transaction: 9 completed (5 events each) + 1 rejected (3 events) = 48 events.
    let txs = target_events.div_ceil(48);
    let t0 = Instant::now();
    for i in 0..txs {
        // anvil automines on submission: poll for the receipt quickly.
        let pending = flood
            .flood(U256::from(JOBS_PER_TX))
            .value(U256::from(JOBS_PER_TX * 2_000))
            .send()
            .await?;
        mined_ok(&provider, *pending.tx_hash()).await?;
        // every kind of event, not only the job path: the rest every 50 transactions
        if i % 50 == 0 {
            let pending = flood.varied().value(U256::from(1_000)).send().await?;
            mined_ok(&provider, *pending.tx_hash()).await?;
        }
    }
    every_other_kind(&provider, &market, &flood, deploy_flood().await?).await?;
    let jobs = (txs * JOBS_PER_TX) as usize;
    JOBS.store(jobs, Ordering::Relaxed);
    let head = provider.get_block_number().await?;
    println!(
        "{}",
        json!({"figure": "generate", "transactions": txs, "jobs": jobs, "blocks": head - start_block, "seconds": t0.elapsed().as_secs_f64()})
    );

    let dir = tempfile::tempdir()?;
    let urls = [
        ("sqlite", format!("sqlite:{}", dir.path().join("bench.db").display())),
        ("postgres", fresh_postgres(&pg_admin).await?),
    ];
    for (backend, url) in &urls {
        let db = Db::connect(url, arg("--connections", "8").parse()?).await?;
        let reader = ProviderBuilder::new().connect_http(anvil.endpoint_url()).erased();
        let cfg = FollowerConfig {
            contract: *market.address(),
            start_block,
            ..FollowerConfig::default()
        };
        let (tx, _) = broadcast::channel(16);
        let mut follower = Follower::new(reader, db.clone(), cfg.clone(), tx.clone());
        let t = Instant::now();
        follower.catch_up().await?;
        let secs = t.elapsed().as_secs_f64();
        let events = db.event_count().await?;
        let kinds: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT kind) FROM events")
            .fetch_one(db.pool())
            .await?;
        println!(
            "{}",
            json!({"figure": "ingest", "backend": backend, "events": events, "kinds": kinds,
                   "blocks": head - start_block, "max_range": cfg.max_range, "seconds": secs,
                   "events_per_s": events as f64 / secs})
        );
        eyre::ensure!(
            kinds == 26,
            "the generated chain has {kinds} of the market's 26 event kinds"
        );

        // API latency on the loaded database.
        let state = ApiState::new(db.clone(), None, tx);
        state.refresh_stats().await?;
        let app = api::router(state, &ApiConfig::default());
        // The server gets its own runtime (as in its own process), so client tasks do not queue
        // in front of it on the same scheduler; both still share the machine's cores.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let base = format!("http://{}", std_listener.local_addr()?);
        let (stop_server, server_stopped) = tokio::sync::watch::channel(false);
        let server = std::thread::spawn(move || -> eyre::Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("api-server")
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)?;
                modelmart_service::serve_until(listener, app, server_stopped).await?;
                Ok(())
            })
        });
        let cases: [(&str, PathFn); 2] = [
            ("model_list", |_| "/v1/models".to_owned()),
            ("job_lookup", |i| {
                format!("/v1/jobs/{}", 1 + (i * 7919) % JOBS.load(Ordering::Relaxed))
            }),
        ];
        for (name, path) in cases {
            load(&base, concurrency, concurrency * 2, path).await?; // warm up
            let t = Instant::now();
            let lat = load(&base, concurrency, requests, path).await?;
            let secs = t.elapsed().as_secs_f64();
            let rate = lat.len() as f64 / secs;
            let mean_ms = lat.iter().sum::<f64>() / lat.len().max(1) as f64;
            // Little's law: how many requests were really in flight on average (a starved load
            // generator would measure fewer than `concurrency`).
            println!(
                "{}",
                json!({"figure": "api", "backend": backend, "endpoint": name, "concurrency": concurrency,
                       "requests": lat.len(), "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99),
                       "max_ms": pct(&lat, 1.0), "req_per_s": rate, "in_flight": rate * mean_ms / 1e3})
            );
        }
        let _ = stop_server.send(true);
        server.join().map_err(|_| eyre::eyre!("server thread panicked"))??;
        db.close().await;
    }

    // Live lag: the real service (follower + API, default 250 ms poll, 0 confirmations) on SQLite.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let chain = modelmart_service::ChainArgs::new(anvil.endpoint(), *market.address(), start_block);
    let args = IndexerArgs::new(chain, urls[0].1.clone(), listen);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = tokio::spawn(service::run(args, None, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lags = Vec::new();
    for next_job in jobs + 1..=jobs + lag_samples {
        // anvil mines right after the submission: measure from before it (an upper bound).
        let mined = Instant::now();
        let pending = flood.flood(U256::from(1)).value(U256::from(2_000)).send().await?;
        mined_ok(&provider, *pending.tx_hash()).await?;
        loop {
            let res = client.get(format!("{base}/v1/jobs/{next_job}")).send().await?;
            if res.status().is_success() {
                break;
            }
            eyre::ensure!(
                mined.elapsed() < Duration::from_secs(10),
                "job {next_job} never showed up"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(mined.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(137)).await; // de-phase from the poll interval
    }
    lags.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"figure": "live_lag", "backend": "sqlite", "samples": lags.len(), "poll_ms": 250,
               "p50_ms": pct(&lags, 0.5), "max_ms": pct(&lags, 1.0)})
    );
    let _ = stop.send(());
    svc.await??;
    let name = format!("mm_bench_{:x}", std::process::id());
    let mut conn = sqlx::AnyConnection::connect(&pg_admin).await?;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    Ok(())
}

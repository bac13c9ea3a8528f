//! Crashes and RPC failures: kill -9 the indexer binary at random points, and put a faulty proxy
//! between the follower and the node; the final index must equal one built without faults.

use std::{
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    primitives::keccak256,
    providers::{Provider, ProviderBuilder},
};
use axum::{Json, Router, extract::State, routing::post};
use modelmart_indexer::{Db, Follower, FollowerConfig};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::{
    chain::Market,
    db::TestDb,
    dump::{assert_same, dump},
    ingest::follower,
};

pub(crate) async fn reference(m: &Market) -> eyre::Result<Vec<String>> {
    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    follower(m, db.clone(), 1000).0.catch_up().await?;
    let d = dump(&db).await?;
    db.close().await;
    Ok(d)
}

/// The indexer binary following `m` into `url`, quiet, polling every 20 ms, logs ranges of at
/// most `max_range` blocks; killed when dropped.
fn spawn_indexer(m: &Market, url: &str, max_range: u64) -> std::io::Result<tokio::process::Child> {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_modelmart-indexer"))
        .args(["-q", "--listen", "127.0.0.1:0", "--poll-ms", "20"])
        .args(["--max-range", &max_range.to_string()])
        .args(["--rpc-url", m.node.endpoint().as_str()])
        .args(["--contract", &m.market.address().to_string()])
        .args(["--start-block", &m.deploy_block.to_string()])
        .args(["--database-url", url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

pub(crate) async fn wait_caught_up(db: &Db, head: u64, limit: Duration) -> eyre::Result<()> {
    let t0 = Instant::now();
    while db.cursor().await?.map(|c| c.block_number) != Some(head) {
        eyre::ensure!(t0.elapsed() < limit, "indexer did not reach block {head} in {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_random_points_loses_and_duplicates_nothing() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    // Events spread over ~1,500 blocks, so that a run at one block per batch takes long enough
    // for random kills to land in the middle.
    let model = m.workload(60).await?;
    m.mine(600).await?;
    m.more_jobs(model, keccak256("workload key"), 60, 60).await?;
    m.mine(600).await?;
    let head = m.provider.get_block_number().await?;
    let expected = reference(&m).await?;
    let mut rng = rand::rng();
    for tdb in TestDb::both().await? {
        let spawn = || spawn_indexer(&m, &tdb.url, 1);
        let db = tdb.connect().await?;
        let mut kills = Vec::new();
        // Kill until at least four kills landed mid-run (startup time varies with machine load).
        while kills.len() < 40 && kills.iter().filter(|&&b| b > 0 && b < head).count() < 4 {
            let mut child = spawn()?;
            tokio::time::sleep(Duration::from_millis(rng.random_range(20..250))).await;
            child.start_kill()?; // SIGKILL: no chance to finish a transaction
            child.wait().await?;
            kills.push(db.cursor().await?.map_or(0, |c| c.block_number));
        }
        let mid_run = kills.iter().filter(|&&b| b > 0 && b < head).count();
        let mut child = spawn()?;
        wait_caught_up(&db, head, Duration::from_secs(120)).await?;
        child.start_kill()?;
        child.wait().await?;
        assert!(
            mid_run >= 3,
            "kills must land mid-run: cursor after each kill {kills:?}, head {head}"
        );
        assert_same(
            &dump(&db).await?,
            &expected,
            &format!("{:?} after kills at blocks {kills:?}", db.backend()),
        );
        db.close().await;
        tdb.cleanup().await?;
    }
    Ok(())
}

/// Two (then three) indexer processes writing one database — a rolling deploy, a forgotten
/// instance: every event is applied once, the final index equals a clean run, on both backends
/// (on a fresh SQLite file the processes also race on the migrations).
#[tokio::test(flavor = "multi_thread")]
async fn several_writers_on_one_database_apply_every_event_once() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    let model = m.workload(40).await?;
    m.mine(200).await?;
    m.more_jobs(model, keccak256("workload key"), 40, 40).await?;
    let head = m.provider.get_block_number().await?;
    let expected = reference(&m).await?;
    for tdb in TestDb::both().await? {
        let spawn = || spawn_indexer(&m, &tdb.url, 2);
        // two started together, a third staggered
        let mut children = vec![spawn()?, spawn()?];
        tokio::time::sleep(Duration::from_millis(300)).await;
        children.push(spawn()?);
        let db = tdb.connect().await?;
        wait_caught_up(&db, head, Duration::from_secs(120)).await?;
        // every process is still running: none gave up on the race
        for c in &mut children {
            assert!(c.try_wait()?.is_none(), "a writer exited: {:?}", c.try_wait()?);
        }
        for mut c in children {
            c.start_kill()?;
            c.wait().await?;
        }
        assert_same(
            &dump(&db).await?,
            &expected,
            &format!("{:?} with three writers", db.backend()),
        );
        db.close().await;
        tdb.cleanup().await?;
    }
    Ok(())
}

/// The indexer binary on `port`, with `extra` flags; killed when dropped.
fn spawn_serving(
    m: &Market,
    url: &str,
    port: u16,
    extra: &[&str],
) -> std::io::Result<tokio::process::Child> {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_modelmart-indexer"))
        .args(["-q", "--poll-ms", "20", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--rpc-url", m.node.endpoint().as_str()])
        .args(["--contract", &m.market.address().to_string()])
        .args(["--start-block", &m.deploy_block.to_string()])
        .args(["--database-url", url])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

/// Wait until `/healthz` on `port` reports `role` (and the cursor at `head`, if given).
async fn wait_role(port: u16, role: &str, head: Option<u64>, limit: Duration) -> eyre::Result<()> {
    let t0 = Instant::now();
    let client = reqwest::Client::new();
    let mut last = Value::Null;
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await {
            last = r.json().await.unwrap_or_default();
            if last["follower"]["role"] == role
                && head.is_none_or(|h| last["cursor"]["block_number"] == h)
            {
                return Ok(());
            }
        }
        eyre::ensure!(
            t0.elapsed() < limit,
            "port {port} not {role} at {head:?} in {limit:?}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One writer, many readers: a second process on the same database stands by (serving reads and
/// saying so on `/healthz`) and takes over within seconds when the writer is killed; a
/// `--read-only` replica serves the API and never writes. Both backends.
#[tokio::test(flavor = "multi_thread")]
async fn a_standby_takes_over_when_the_writer_dies() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    m.workload(5).await?;
    for tdb in TestDb::both().await? {
        let (pa, pb, pr) = (free_port()?, free_port()?, free_port()?);
        let mut writer = spawn_serving(&m, &tdb.url, pa, &[])?;
        let head = m.provider.get_block_number().await?;
        wait_role(pa, "writer", Some(head), Duration::from_secs(60)).await?;
        let _standby = spawn_serving(&m, &tdb.url, pb, &[])?;
        let _replica = spawn_serving(&m, &tdb.url, pr, &["--read-only"])?;
        wait_role(pb, "standby", Some(head), Duration::from_secs(30)).await?;
        wait_role(pr, "read-only", Some(head), Duration::from_secs(30)).await?;

        writer.start_kill()?; // SIGKILL: its lock goes with the process (or its session)
        writer.wait().await?;
        let killed = Instant::now();
        m.mine(5).await?;
        let head = m.provider.get_block_number().await?;
        wait_role(pb, "writer", Some(head), Duration::from_secs(20)).await?;
        println!(
            "{}: standby took over and caught up {:?} after the kill",
            tdb.url,
            killed.elapsed()
        );
        // the replica sees what the new writer indexed, and still never writes
        wait_role(pr, "read-only", Some(head), Duration::from_secs(10)).await?;
        tdb.cleanup().await?;
    }
    Ok(())
}

/// The database does not exist yet when the indexer starts (a compose stack, a restore): the
/// indexer waits for it instead of exiting, and catches up once it appears.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_comes_up_late_is_waited_for() -> eyre::Result<()> {
    use sqlx::{Connection, Executor};
    let m = Market::deploy(&[]).await?;
    m.workload(5).await?;
    let head = m.provider.get_block_number().await?;
    let admin = std::env::var("MODELMART_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = format!("mm_late_{:016x}", rand::random::<u64>());
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let mut child = spawn_indexer(&m, &url, 2_000)?;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(child.try_wait()?.is_none(), "the indexer exited while the database was missing");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let created = Instant::now();
    let db = Db::connect(&url, 2).await?;
    wait_caught_up(&db, head, Duration::from_secs(30)).await?;
    println!("caught up {:?} after the database appeared", created.elapsed());
    child.start_kill()?;
    child.wait().await?;
    db.close().await;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    Ok(())
}

/// A JSON-RPC proxy that can fail everything (mode 1) or refuse `eth_getLogs` ranges wider than
/// `MAX_RANGE` blocks (mode 2).
#[derive(Clone)]
struct Proxy {
    upstream: String,
    mode: Arc<AtomicU8>,
    refused: Arc<AtomicU64>,
    widest_served: Arc<AtomicU64>,
    client: reqwest::Client,
}

const MAX_RANGE: u64 = 5;

fn hex_u64(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

async fn forward(
    State(p): State<Proxy>,
    Json(req): Json<Value>,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let mode = p.mode.load(Ordering::SeqCst);
    if mode == 1 {
        return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
    if req["method"] == "eth_getLogs" {
        let f = &req["params"][0];
        let width = match (hex_u64(&f["fromBlock"]), hex_u64(&f["toBlock"])) {
            (Some(a), Some(b)) => b.saturating_sub(a) + 1,
            _ => u64::MAX,
        };
        if mode == 2 && width > MAX_RANGE {
            p.refused.fetch_add(1, Ordering::SeqCst);
            let msg = format!("query exceeds max block range {MAX_RANGE}");
            return Ok(Json(
                json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32005, "message": msg}}),
            ));
        }
        p.widest_served.fetch_max(width, Ordering::SeqCst);
    }
    let res = p
        .client
        .post(&p.upstream)
        .json(&req)
        .send()
        .await
        .map_err(|_| axum::http::StatusCode::BAD_GATEWAY)?;
    Ok(Json(res.json().await.map_err(|_| axum::http::StatusCode::BAD_GATEWAY)?))
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_refusals_and_outages_skip_nothing() -> eyre::Result<()> {
    crate::init_logs();
    let m = Market::deploy(&[]).await?;
    let proxy = Proxy {
        upstream: m.node.endpoint(),
        mode: Arc::new(AtomicU8::new(2)),
        refused: Arc::default(),
        widest_served: Arc::default(),
        client: reqwest::Client::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = Router::new().route("/", post(forward)).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let tdb = TestDb::postgres().await?;
    let db = tdb.connect().await?;
    let provider = ProviderBuilder::new().connect_http(url.parse()?).erased();
    let cfg = FollowerConfig {
        contract: *m.market.address(),
        start_block: m.deploy_block,
        max_range: 1_000,
        poll_interval: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..FollowerConfig::default()
    };
    let (tx, _) = broadcast::channel(16);
    let f = Follower::new(provider, db.clone(), cfg, tx);
    let status = f.status();
    let (stop, task) = crate::ingest::run_in_background(f);

    // The node refuses wide ranges: the follower shrinks to what it accepts.
    let model = m.workload(30).await?;
    wait_caught_up(&db, m.provider.get_block_number().await?, Duration::from_secs(60)).await?;
    assert!(proxy.refused.load(Ordering::SeqCst) > 0, "the proxy refused some ranges");
    assert!(proxy.widest_served.load(Ordering::SeqCst) <= MAX_RANGE);

    // An outage while events keep coming: errors are reported, retried, and nothing is skipped.
    proxy.mode.store(1, Ordering::SeqCst);
    m.more_jobs(model, keccak256("workload key"), 30, 20).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let during = status.lock().map(|s| s.clone()).map_err(|_| eyre::eyre!("poisoned"))?;
    assert!(
        during.failures > 0 && during.last_error.is_some(),
        "outage visible in status: {during:?}"
    );
    proxy.mode.store(0, Ordering::SeqCst);
    wait_caught_up(&db, m.provider.get_block_number().await?, Duration::from_secs(60)).await?;
    assert!(!task.is_finished(), "the follower never exits on transient errors");
    let _ = stop.send(());
    task.await??;

    assert_same(&dump(&db).await?, &reference(&m).await?, "after refusals and an outage");
    let after = status.lock().map(|s| s.clone()).map_err(|_| eyre::eyre!("poisoned"))?;
    assert_eq!(after.failures, 0);
    assert!(after.last_error.is_none());
    db.close().await;
    tdb.cleanup().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_reads_a_toml_config_and_serves_health() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    m.workload(3).await?;
    let tdb = TestDb::sqlite()?;
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let metrics_port = free_port()?;
    let config = dir.path().join("indexer.toml");
    std::fs::write(
        &config,
        format!(
            "rpc_url = \"{}\"\ncontract = \"{}\"\nstart_block = {}\ndatabase_url = \"{}\"\n\
             listen = \"127.0.0.1:{port}\"\ncors_origins = [\"http://localhost:5173\"]\n",
            m.node.endpoint(),
            m.market.address(),
            m.deploy_block,
            tdb.url
        ),
    )?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelmart-indexer"))
        .args(["-q", "--config"])
        .arg(&config)
        .args(["--poll-ms", "50"]) // a flag wins over the file
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .kill_on_drop(true)
        .spawn()?;
    let client = reqwest::Client::new();
    let head = m.provider.get_block_number().await?;
    let t0 = Instant::now();
    let health = loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await {
            let h: Value = r.json().await?;
            if h["cursor"]["block_number"] == head {
                break h;
            }
        }
        eyre::ensure!(t0.elapsed() < Duration::from_secs(60), "indexer never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health["status"], "ok");
    assert_eq!(health["follower"]["lag"], 0);
    // metrics on their own address, not on the API port
    let metrics =
        client.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await?.text().await?;
    assert!(metrics.contains("modelmart_indexer_events_total"), "{metrics}");
    let on_api = client.get(format!("http://127.0.0.1:{port}/metrics")).send().await?.status();
    assert_eq!(on_api, reqwest::StatusCode::NOT_FOUND);
    // SIGTERM (docker stop, systemd, Kubernetes) stops it cleanly: exit 0, not killed by it
    let pid = child.id().ok_or_else(|| eyre::eyre!("the indexer already exited"))?;
    let sent = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
    eyre::ensure!(sent.success(), "kill -TERM {pid} failed");
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await??;
    assert!(status.success(), "after SIGTERM: {status}");

    // An unknown setting is an error that names it.
    std::fs::write(
        &config,
        "contract = \"0x0000000000000000000000000000000000000001\"\nbogus = 1\n",
    )?;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelmart-indexer"))
        .arg("--config")
        .arg(&config)
        .output()
        .await?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `bogus`"));
    Ok(())
}

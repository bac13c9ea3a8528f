//! The database goes away under a running follower: a Postgres server that stops answering (a
//! TCP proxy switched off), a SQLite disk that fills up. Writes stall only while it lasts; the
//! follower resumes by itself within moments of its return, and nothing uncommitted is shown.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::providers::Provider;
use modelmart_indexer::Db;
use tokio::{net::TcpListener, sync::watch};

use crate::{
    chain::Market,
    db::TestDb,
    dump::{assert_same, dump},
    faults::{reference, wait_caught_up},
    ingest::follower,
};

/// A TCP forwarder to `upstream` that can be switched off: open connections are cut and new
/// ones refused until it is switched on again.
struct Switch {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Switch {
    async fn start(upstream: String) -> eyre::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (flag, cuts) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let upstream = upstream.clone();
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Ok(Self { port, up, cut })
    }

    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// Postgres stops answering for 14 s (long enough for the follower's backoff to reach 12.8 s)
/// and comes back: the follower is indexing again within a second or two of its return, not
/// at the end of a long backoff.
#[tokio::test(flavor = "multi_thread")]
async fn the_follower_resumes_within_moments_of_the_database_returning() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    let model = m.workload(3).await?;
    let tdb = TestDb::postgres().await?;
    let (host, rest) = tdb
        .url
        .strip_prefix("postgres://")
        .and_then(|u| u.split_once('@'))
        .and_then(|(_, r)| r.split_once('/'))
        .ok_or_else(|| eyre::eyre!("unexpected test URL {}", tdb.url))?;
    let switch = Switch::start(host.to_owned()).await?;
    let url = tdb.url.replace(host, &format!("127.0.0.1:{}", switch.port));
    assert!(url.ends_with(rest));
    let db = Db::connect(&url, 4).await?;
    let direct = tdb.connect().await?;
    let (f, _rx) = follower(&m, db.clone(), 1000);
    let (stop, task) = crate::ingest::run_in_background(f);
    wait_caught_up(&direct, m.provider.get_block_number().await?, Duration::from_secs(60)).await?;

    switch.set(false);
    m.more_jobs(model, alloy::primitives::keccak256("workload key"), 3, 3).await?;
    let head = m.provider.get_block_number().await?;
    tokio::time::sleep(Duration::from_secs(14)).await;
    assert_ne!(direct.cursor().await?.map(|c| c.block_number), Some(head), "indexed while down");
    switch.set(true);
    let back = Instant::now();
    wait_caught_up(&direct, head, Duration::from_secs(60)).await?;
    let took = back.elapsed();
    println!("caught up {took:?} after the database returned");
    assert!(took < Duration::from_secs(3), "resumed only {took:?} after the database returned");
    let _ = stop.send(());
    task.await??;
    assert_same(&dump(&direct).await?, &reference(&m).await?, "after the outage");
    db.close().await;
    direct.close().await;
    tdb.cleanup().await
}

/// Mount a tmpfs of `size` on `dir`; false where that is not possible (not Linux, not root).
fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Unmounts when dropped.
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0).status();
    }
}

/// Fill the file system holding `path` until a write fails.
fn fill(path: &Path) -> std::io::Result<u64> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut n = 0;
    while f.write_all(&chunk).is_ok() {
        n += chunk.len() as u64;
    }
    let _ = f.sync_all();
    Ok(n)
}

/// The SQLite disk fills up: writes stall (nothing half-written is ever shown: every
/// connection reads the last committed cursor), and the follower catches up by itself within
/// seconds once space returns, with the index equal to a clean build.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_stalls_writes_only_until_space_returns() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    if !mount_tmpfs(dir.path(), "24m") {
        println!("skipped: mounting a tmpfs needs root on Linux");
        return Ok(());
    }
    let _mounted = Mounted(dir.path());
    let m = Market::deploy(&[]).await?;
    let model = m.workload(3).await?;
    let path = dir.path().join("index.db");
    let db = Db::connect(&format!("sqlite:{}", path.display()), 4).await?;
    let (f, _rx) = follower(&m, db.clone(), 1000);
    let status = f.status();
    let (stop, task) = crate::ingest::run_in_background(f);
    wait_caught_up(&db, m.provider.get_block_number().await?, Duration::from_secs(60)).await?;
    let committed = db.cursor().await?.map(|c| c.block_number);

    let filler = dir.path().join("filler");
    let filled = fill(&filler)?;
    m.more_jobs(model, alloy::primitives::keccak256("workload key"), 3, 80).await?;
    let head = m.provider.get_block_number().await?;
    let t0 = Instant::now();
    while status.lock().map(|s| s.failures).unwrap_or_default() < 3 {
        if t0.elapsed() > Duration::from_secs(30) {
            let df = std::process::Command::new("df").arg(dir.path()).output()?;
            let ls = std::process::Command::new("ls").arg("-la").arg(dir.path()).output()?;
            eyre::bail!(
                "the follower stalled on the full disk (fewer than 3 failed writes in 30 s): cursor {:?}, head {head}, filled {filled}, status {:?}\n{}\n{}",
                db.cursor().await?,
                status.lock().map(|s| s.clone()).ok(),
                String::from_utf8_lossy(&df.stdout),
                String::from_utf8_lossy(&ls.stdout)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // every connection of the pool shows what is committed, nothing more
    for _ in 0..8 {
        assert_eq!(db.cursor().await?.map(|c| c.block_number), committed, "uncommitted cursor");
    }
    std::fs::remove_file(&filler)?;
    let back = Instant::now();
    wait_caught_up(&db, head, Duration::from_secs(60)).await?;
    let took = back.elapsed();
    println!("{filled} bytes filled the disk; caught up {took:?} after space returned");
    assert!(took < Duration::from_secs(10), "resumed only {took:?} after space returned");
    let _ = stop.send(());
    task.await??;
    assert_same(&dump(&db).await?, &reference(&m).await?, "after the full disk");
    db.close().await;
    Ok(())
}

/// An RPC URL carries its provider's API key in the path (or user-info): the key never reaches
/// the follower's status, which `/healthz` serves to anyone.
#[tokio::test(flavor = "multi_thread")]
async fn an_rpc_key_never_reaches_the_health_status() -> eyre::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // then closed
    let url: reqwest::Url = format!("http://user:hunter2@127.0.0.1:{port}/v3/SECRETKEY").parse()?;
    let provider = alloy::providers::ProviderBuilder::new().connect_http(url).erased();
    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    let (tx, _) = tokio::sync::broadcast::channel(4);
    let mut f = modelmart_indexer::Follower::new(provider, db, Default::default(), tx);
    let status = f.status();
    let _ = tokio::time::timeout(Duration::from_millis(800), f.run(std::future::pending())).await;
    let shown = status.lock().map(|s| s.last_error.clone()).ok().flatten().unwrap_or_default();
    assert!(!shown.is_empty(), "the follower reported no error");
    assert!(!shown.contains("SECRETKEY") && !shown.contains("hunter2"), "{shown}");
    println!("shown: {shown}");
    Ok(())
}

//! The blob endpoint under a stranger's uploads: slow uploads are capped and cut, the service
//! keeps answering, and a full disk turns uploads away while the operator's results still fit.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Request, StatusCode},
    routing::get,
};
use modelmart_coprocessor::{
    BlobKind, BlobStore, Limits,
    blobs::{UploadPolicy, router_with},
};
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tower::ServiceExt;

fn staged(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// What the server answered on `s` within `wait`, if anything.
async fn answer(s: &mut TcpStream, wait: Duration) -> String {
    let mut buf = vec![0u8; 512];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        _ => String::new(),
    }
}

/// 300 uploads that send their headers and 10 bytes of 1,000, then nothing: at most the cap
/// (32) are taken (the rest answered 503 at once), `/healthz` answers in well under 200 ms
/// meanwhile, and after the idle timeout every slow upload is cut with its staging file gone.
#[tokio::test(flavor = "multi_thread")]
async fn slow_uploads_are_capped_and_cut_and_the_service_keeps_answering() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let tmp = dir.path().join("t");
    let store = Arc::new(BlobStore::open(
        &dir.path().join("b").display().to_string(),
        &tmp,
        Limits::default(),
    )?);
    let policy = UploadPolicy {
        max_concurrent: 32,
        idle_timeout: Duration::from_secs(1),
        min_free_bytes: 0,
    };
    let app = router_with(store, policy).route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut conns = Vec::new();
    for i in 0..300u32 {
        let mut s = TcpStream::connect(addr).await?;
        let hash = format!("{:x}", Sha256::digest(i.to_be_bytes()));
        let head = format!(
            "PUT /v1/blobs/{hash}?kind=input HTTP/1.1\r\nHost: op\r\nContent-Length: 1000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(&[7u8; 10]).await?;
        conns.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut h = TcpStream::connect(addr).await?;
    h.write_all(b"GET /healthz HTTP/1.1\r\nHost: op\r\nConnection: close\r\n\r\n").await?;
    let health = answer(&mut h, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    println!("/healthz answered in {took:?} with 300 slow uploads open");
    assert!(took < Duration::from_millis(200), "/healthz took {took:?}");
    let held = staged(&tmp);
    assert!(held <= 32, "{held} uploads staged at once, over the cap of 32");
    let mut busy = 0;
    for s in &mut conns {
        if answer(s, Duration::from_millis(5)).await.starts_with("HTTP/1.1 503") {
            busy += 1;
        }
    }
    assert!(busy >= 300 - 32, "only {busy} uploads were turned away");

    // the idle timeout cuts every slow upload, and nothing of them stays on disk
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(staged(&tmp), 0, "slow uploads still staged after the idle timeout");
    Ok(())
}

/// Below the free-disk floor uploads get 507 and nothing is read or stored, while the
/// operator's own results are still written; with room, the same upload is stored.
#[tokio::test]
async fn below_the_disk_floor_uploads_get_507_and_results_still_fit() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(BlobStore::open(
        &dir.path().join("b").display().to_string(),
        dir.path().join("t"),
        Limits::default(),
    )?);
    let body = vec![1u8; 4096];
    let hash = format!("{:x}", Sha256::digest(&body));
    let put = || {
        Request::put(format!("/v1/blobs/{hash}?kind=input"))
            .header("content-length", body.len())
            .body(Body::from(body.clone()))
    };
    // a floor no disk can meet stands in for a full one
    let full = UploadPolicy { min_free_bytes: u64::MAX / 2, ..UploadPolicy::default() };
    let res = router_with(store.clone(), full).oneshot(put()?).await?;
    assert_eq!(res.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(store.size(&hash).await?, None, "nothing stored");
    // a running job's result is still stored
    let result = vec![2u8; 4096];
    let result_hash = format!("{:x}", Sha256::digest(&result));
    let chunk = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(result))]);
    assert!(store.put(BlobKind::Result, &result_hash, chunk).await?.created);
    // and with room the same upload goes through
    let res = router_with(store.clone(), UploadPolicy::default()).oneshot(put()?).await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    Ok(())
}

/// Blobs nothing on chain names expire once older than the time to live: a stranger's
/// uploads go, what a job or listing names stays, and young blobs stay whatever they are.
#[tokio::test]
async fn unreferenced_blobs_expire_and_referenced_ones_stay() -> eyre::Result<()> {
    use modelmart_coprocessor::blobs::expiry::sweep;
    let dir = tempfile::tempdir()?;
    let store = BlobStore::open(
        &dir.path().join("b").display().to_string(),
        dir.path().join("t"),
        Limits::default(),
    )?;
    let mut hashes = Vec::new();
    for i in 0..3u8 {
        let body = vec![i; 1000];
        let hash = format!("{:x}", Sha256::digest(&body));
        let chunk = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]);
        store.put(BlobKind::Input, &hash, chunk).await?;
        hashes.push(hash);
    }
    let referenced: std::collections::HashSet<String> = [hashes[0].clone()].into();
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3_600);
    assert_eq!(sweep(&store, &referenced, hour_ago).await?, (0, 0), "young blobs stay");
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    assert_eq!(sweep(&store, &referenced, later).await?, (2, 2_000));
    assert_eq!(store.size(&hashes[0]).await?, Some(1_000), "a referenced blob stays");
    for h in &hashes[1..] {
        assert_eq!(store.size(h).await?, None, "an unreferenced blob went");
    }
    Ok(())
}

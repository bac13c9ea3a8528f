//! The job queue on SQLite and on Postgres: idempotent enqueue, deadline order, leases, lost
//! leases, missed deadlines, and (Postgres) concurrent workers never sharing a job.

use std::collections::HashSet;

use modelmart_coprocessor::queue::{NewJob, Outcome, Queue, Retry};
use sqlx::{Connection, Executor};

/// A fresh SQLite file or Postgres database; returns its URL and what keeps it alive.
async fn databases() -> eyre::Result<(tempfile::TempDir, Vec<String>)> {
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite:{}", dir.path().join("queue.db").display());
    let admin = std::env::var("MODELMART_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin).await?;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("mm_cp_{:x}_{n}", std::process::id());
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Ok((dir, vec![sqlite, format!("{base}/{name}")]))
}

/// Drop a test database made by [`databases`] (SQLite files go with the temp dir).
async fn drop_postgres(url: &str) -> eyre::Result<()> {
    let (base, name) = url.rsplit_once('/').ok_or_else(|| eyre::eyre!("bad url {url}"))?;
    let mut conn = sqlx::AnyConnection::connect(&format!("{base}/test")).await?;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    Ok(())
}

fn job(id: i64, deadline: i64) -> NewJob {
    NewJob {
        job_id: id,
        model_id: 1,
        input_hash: format!("{id:064x}"),
        key_hash: "k".repeat(64),
        rows: 1,
        deadline,
        request_block: 10,
        request_tx: format!("0x{id:064x}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_deadlines_and_exactly_one_finish() -> eyre::Result<()> {
    let (_dir, urls) = databases().await?;
    for url in urls.clone() {
        let q = Queue::connect(&url, 8).await?;
        let now = 1_000;
        for (id, deadline) in [(1, 5_000), (2, 3_000), (3, 1_100)] {
            assert!(q.enqueue(&job(id, deadline), now).await?);
        }
        assert!(!q.enqueue(&job(2, 3_000), now).await?, "enqueue is idempotent");
        // a request re-mined in a reorganization (another transaction) replaces the queued one
        let remined = NewJob {
            input_hash: "e".repeat(64),
            request_tx: "0xre".into(),
            request_block: 11,
            ..job(1, 5_000)
        };
        assert!(q.enqueue(&remined, now).await?, "a changed request is queued again");
        assert!(!q.enqueue(&remined, now).await?);

        // Job 3 cannot finish within 200 s: never started, swept as missed.
        assert_eq!(q.sweep(now, 200).await?, vec![3]);
        let a = q.claim("a", now, 60, 200).await?.ok_or_else(|| eyre::eyre!("nothing to claim"))?;
        assert_eq!((a.job.job_id, a.attempts), (2, 1), "nearest deadline first");
        let b = q.claim("b", now, 60, 200).await?.ok_or_else(|| eyre::eyre!("nothing to claim"))?;
        assert_eq!(b.job.job_id, 1);
        assert_eq!(b.job.input_hash, "e".repeat(64), "the claim carries the re-mined request");
        assert!(q.claim("c", now, 60, 200).await?.is_none(), "held jobs are not handed out twice");

        // Worker a dies; after its lease another worker takes job 2; a's late finish is refused.
        assert!(q.heartbeat(1, "b", now + 30, 60).await?);
        let c = q
            .claim("c", now + 61, 60, 200)
            .await?
            .ok_or_else(|| eyre::eyre!("lease did not expire"))?;
        assert_eq!((c.job.job_id, c.attempts), (2, 2));
        let done = Outcome::Completed { result_hash: "r".repeat(64) };
        assert!(!q.finish(2, "a", &done, now + 70).await?, "a lost its lease");
        assert!(q.finish(2, "c", &done, now + 70).await?);
        assert!(!q.finish(2, "c", &done, now + 71).await?, "a job ends once");
        assert!(q.finish(1, "b", &Outcome::Rejected { reason: 3 }, now + 72).await?);
        assert!(!q.enqueue(&job(2, 3_000), now + 73).await?, "a finished job stays finished");
        let depth = q.depth().await?;
        assert_eq!(
            depth,
            vec![("completed".into(), 1), ("missed".into(), 1), ("rejected".into(), 1)]
        );
        q.close().await;
    }
    drop_postgres(&urls[1]).await
}

/// A job handed back is not claimed again before its backoff; only failures of its own count
/// (positive control: a wait leaves `failures` at 0, a failure raises it), and a re-mined
/// request starts with a clean slate.
#[tokio::test(flavor = "multi_thread")]
async fn released_jobs_back_off_and_only_failures_count() -> eyre::Result<()> {
    let (_dir, urls) = databases().await?;
    for url in urls.clone() {
        let q = Queue::connect(&url, 4).await?;
        let now = 1_000;
        q.enqueue(&job(1, 5_000), now).await?;
        let claim = |t: i64| {
            let q = q.clone();
            async move { q.claim("w", t, 60, 10).await }
        };
        let c = claim(now).await?.ok_or_else(|| eyre::eyre!("nothing to claim"))?;
        assert_eq!((c.attempts, c.failures), (1, 0));
        assert!(q.release(1, "w", "index lags", Retry::Wait { at: now + 2 }, now).await?);
        assert!(claim(now + 1).await?.is_none(), "claimed before its backoff");
        let c = claim(now + 2).await?.ok_or_else(|| eyre::eyre!("backoff never ended"))?;
        assert_eq!((c.attempts, c.failures), (2, 0), "a wait is not a failure");
        assert!(q.release(1, "w", "storage", Retry::Failure { at: now + 10 }, now + 2).await?);
        assert!(claim(now + 9).await?.is_none());
        let c = claim(now + 10).await?.ok_or_else(|| eyre::eyre!("backoff never ended"))?;
        assert_eq!((c.attempts, c.failures), (3, 1), "a failure counts");
        assert!(!q.release(1, "other", "x", Retry::Failure { at: 0 }, now).await?, "not its job");
        assert!(q.release(1, "w", "storage", Retry::Failure { at: now + 99 }, now + 10).await?);
        let remined = NewJob { request_tx: "0xre".into(), ..job(1, 5_000) };
        assert!(q.enqueue(&remined, now + 11).await?);
        let c = claim(now + 11).await?.ok_or_else(|| eyre::eyre!("re-mined job waits"))?;
        assert_eq!(c.failures, 0, "a re-mined request starts again");
        q.close().await;
    }
    drop_postgres(&urls[1]).await
}

/// Reorgs: the same request seen again changes nothing; the same transaction re-mined in another
/// block re-opens a settled job with its stored result; another transaction under the id starts
/// the job again from nothing (even while a worker holds it: that worker's lease is gone).
#[tokio::test(flavor = "multi_thread")]
async fn reorged_requests_start_again_and_re_mined_blocks_reopen() -> eyre::Result<()> {
    let (_dir, urls) = databases().await?;
    for url in urls.clone() {
        let q = Queue::connect(&url, 4).await?;
        let now = 1_000;
        let first = job(1, 5_000);
        assert!(q.enqueue(&first, now).await?);
        let c = q.claim("w", now, 60, 10).await?.ok_or_else(|| eyre::eyre!("no claim"))?;
        assert!(q.record_result(1, "w", &"a".repeat(64)).await?);
        let done = Outcome::Completed { result_hash: "a".repeat(64) };
        assert!(q.finish(1, "w", &done, now).await?);
        assert_eq!(c.job.request_tx, first.request_tx);
        assert!(!q.enqueue(&first, now + 1).await?, "the same request changes nothing");
        assert!(q.claim("w", now + 1, 60, 10).await?.is_none());

        // the same transaction in another block: re-opened, its result kept for re-posting
        let moved = NewJob { request_block: 12, ..first.clone() };
        assert!(q.enqueue(&moved, now + 2).await?, "a settled job whose block changed re-opens");
        let c = q.claim("w", now + 2, 60, 10).await?.ok_or_else(|| eyre::eyre!("no claim"))?;
        assert_eq!(c.result_hash.as_deref(), Some("a".repeat(64).as_str()));
        assert!(q.finish(1, "w", &done, now + 3).await?);

        // another transaction under the same id: a new request, nothing of the old one kept
        let other = NewJob {
            input_hash: "b".repeat(64),
            request_tx: "0xother".into(),
            request_block: 13,
            ..first.clone()
        };
        assert!(q.enqueue(&other, now + 4).await?, "a re-mined id is a new request");
        let c = q.claim("w", now + 4, 60, 10).await?.ok_or_else(|| eyre::eyre!("no claim"))?;
        assert_eq!((c.attempts, c.failures, c.result_hash.clone()), (1, 0, None));
        assert_eq!(c.job.input_hash, "b".repeat(64));

        // and while a worker holds it: the worker loses the job, a fresh claim carries the new one
        let third = NewJob { request_tx: "0xthird".into(), request_block: 14, ..other.clone() };
        assert!(q.enqueue(&third, now + 5).await?);
        assert!(!q.heartbeat(1, "w", now + 5, 60).await?, "the old worker's lease is gone");
        assert!(!q.finish(1, "w", &done, now + 5).await?, "its answer is refused");
        let c = q.claim("v", now + 5, 60, 10).await?.ok_or_else(|| eyre::eyre!("no claim"))?;
        assert_eq!(c.job.request_tx, "0xthird");
        q.close().await;
    }
    drop_postgres(&urls[1]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_workers_never_share_a_job() -> eyre::Result<()> {
    let (_dir, urls) = databases().await?;
    for url in urls.clone() {
        let q = Queue::connect(&url, 8).await?;
        for id in 1..=200 {
            q.enqueue(&job(id, 10_000 + id), 1_000).await?;
        }
        let mut workers = Vec::new();
        for w in 0..6 {
            let q = q.clone();
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(c) = q.claim(&format!("w{w}"), 1_000, 600, 0).await? {
                    mine.push(c.job.job_id);
                }
                Ok::<_, eyre::Report>(mine)
            }));
        }
        let mut seen = HashSet::new();
        let mut per_worker = Vec::new();
        for w in workers {
            let mine = w.await??;
            per_worker.push(mine.len());
            for id in mine {
                assert!(seen.insert(id), "job {id} claimed twice on {url}");
            }
        }
        assert_eq!(seen.len(), 200, "every job claimed exactly once on {url}");
        if url.starts_with("postgres") {
            assert!(
                per_worker.iter().filter(|&&n| n > 0).count() > 1,
                "work is split: {per_worker:?}"
            );
        }
        q.close().await;
    }
    drop_postgres(&urls[1]).await
}

#[test]
fn queue_migrations_are_kept_in_step() -> eyre::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let body = |backend: &str, file: &str| -> eyre::Result<String> {
        let text = std::fs::read_to_string(dir.join(backend).join(file))?;
        Ok(text.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n"))
    };
    let mut files: Vec<String> = std::fs::read_dir(dir.join("sqlite"))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in &files {
        assert_eq!(body("sqlite", f)?, body("postgres", f)?, "{f} differs between backends");
    }
    Ok(())
}

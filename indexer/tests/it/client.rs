//! The SDK's typed indexer client (`modelmart_sdk::indexer`) against the real API over HTTP, on
//! the every-event index: whatever the API serves, the client reads into the protocol's types —
//! so a change of the API that breaks Rust clients fails here.

use modelmart_sdk::{
    Error, JobId, JobStatus, ModelId, ModelStatus,
    indexer::{Indexer, JobQuery, ModelQuery, ModelSort, StreamFilter, Update},
};

use crate::api::{Served, served};

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_client_reads_everything_the_api_serves() -> eyre::Result<()> {
    let Served { m, jobs: (j1, _, _), db, updates, app, tdb: _tdb } = served().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(modelmart_service::serve_until(listener, app, stopped));
    let index = Indexer::new(&base);

    let models = index.models(&ModelQuery::default()).await?;
    let ids: Vec<u64> = models.items.iter().map(|m| m.listing.model_id.get()).collect();
    assert_eq!(ids, [3, 2, 1]);
    let m1 = &models.items[2];
    assert_eq!((m1.listing.status, m1.listing.seller), (ModelStatus::Delisted, m.seller));
    assert_eq!((m1.stats.jobs_total, m1.stats.jobs_completed), (3, 1));
    let oldest = index
        .models(&ModelQuery { sort: ModelSort::Oldest, limit: Some(1), ..Default::default() })
        .await?;
    assert_eq!((oldest.items[0].listing.model_id.get(), oldest.next_cursor.is_some()), (1, true));
    let detail = index.model(ModelId::new(1)?).await?;
    assert_eq!(detail.summary.listing.card_hash, m1.listing.card_hash);

    let jobs = index.jobs(&JobQuery { buyer: Some(m.buyer), ..Default::default() }).await?;
    assert!(!jobs.items.is_empty() && jobs.items.iter().all(|j| j.buyer == m.buyer));
    let done =
        index.jobs(&JobQuery { status: Some(JobStatus::Completed), ..Default::default() }).await?;
    assert!(done.items.iter().all(|j| j.status == JobStatus::Completed && j.result_hash.is_some()));
    let job = index.job(JobId::new(j1)?).await?;
    assert_eq!(
        (job.job.job_id.get(), job.history.first().map(|c| c.event.as_str())),
        (j1, Some("JobRequested"))
    );
    assert!(!index.operators(None).await?.is_empty());
    let balances = index.balances(m.seller).await?;
    assert!(balances.items.iter().all(|b| b.account == m.seller));

    // a missing job is NotFound; a refused request says the problem's code and detail
    assert!(
        matches!(index.job(JobId::new(9_999)?).await, Err(Error::NotFound(d)) if d.contains("9999"))
    );
    let bad = Indexer::new(format!("{base}/v1/models/x?")).models(&ModelQuery::default()).await;
    assert!(
        matches!(&bad, Err(Error::Indexer(e)) if e.contains("400") && e.contains("bad_request")),
        "{bad:?}"
    );

    // the live stream, filtered to one job, as a Stream of typed updates
    use futures_util::StreamExt;
    let mut live = Box::pin(
        index.stream(&StreamFilter { job_id: Some(JobId::new(j1)?), ..Default::default() }).await?,
    );
    let (buyer, operator) = (format!("{:#x}", m.buyer), format!("{:#x}", m.operator));
    for (job_id, status) in [(j1 + 1, "completed"), (j1, "completed")] {
        let job = modelmart_indexer::Update::Job {
            job_id: job_id as i64,
            model_id: 1,
            buyer: buyer.clone(),
            operator: operator.clone(),
            status: status.into(),
            block_number: 77,
        };
        updates.send(job).map_err(|_| eyre::eyre!("no stream subscribed"))?;
    }
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), live.next()).await?;
    match first {
        Some(Ok(Update::Job { job_id, status, buyer, block_number, .. })) => {
            assert_eq!(
                (job_id.get(), status, buyer, block_number),
                (j1, JobStatus::Completed, m.buyer, 77)
            );
        }
        other => eyre::bail!("expected job {j1}'s update, got {other:?}"),
    }

    let _ = stop.send(true);
    drop(live);
    server.await??;
    db.close().await;
    Ok(())
}

//! Reorgs made with anvil's snapshot/revert: depth 1 and deeper, including a job that only ever
//! existed on the orphaned branch.

use alloy::{
    primitives::{U256, keccak256},
    providers::Provider,
};
use modelmart_indexer::{Db, Update};
use sqlx::Row;

use crate::{chain::Market, db::TestDb, ingest::follower};

async fn snapshot(m: &Market) -> eyre::Result<U256> {
    Ok(m.provider.raw_request::<_, U256>("evm_snapshot".into(), ()).await?)
}

async fn revert(m: &mut Market, id: U256) -> eyre::Result<()> {
    let ok = m.provider.raw_request::<_, bool>("evm_revert".into(), (id,)).await?;
    eyre::ensure!(ok, "evm_revert failed");
    m.reconnect();
    Ok(())
}

async fn job_row(db: &Db, job: u64) -> eyre::Result<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT status, input_hash FROM jobs WHERE superseded_at IS NULL AND job_id = $1",
    )
    .bind(job as i64)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| (r.get("status"), r.get("input_hash"))))
}

async fn mentions(db: &Db, hash: &str) -> eyre::Result<i64> {
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE data LIKE $1")
        .bind(format!("%{}%", hash.trim_start_matches("0x")))
        .fetch_one(db.pool())
        .await?;
    let jobs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE input_hash = $1 OR result_hash = $1")
            .bind(hash)
            .fetch_one(db.pool())
            .await?;
    Ok(events + jobs)
}

#[tokio::test(flavor = "multi_thread")]
async fn reorgs_roll_back_orphaned_blocks() -> eyre::Result<()> {
    crate::init_logs();
    for tdb in TestDb::both().await? {
        let mut m = Market::deploy(&[]).await?;
        m.register_operator().await?;
        let model = m.list(m.listing(alloy::primitives::Address::ZERO, 1_000)).await?;
        m.accept(model).await?;
        let key = keccak256("key");
        m.register_key(key).await?;
        let db = tdb.connect().await?;
        let (mut f, mut updates) = follower(&m, db.clone(), 100);
        f.catch_up().await?;

        // Deep reorg: a job requested only on the branch that is dropped, 4 blocks deep.
        let snap = snapshot(&m).await?;
        let orphan = m.request_native(model, key, 2, "orphan input").await?;
        m.mine(3).await?;
        f.catch_up().await?;
        let orphan_hash = format!("{:#x}", keccak256("orphan input"));
        assert_eq!(job_row(&db, orphan).await?, Some(("requested".into(), orphan_hash.clone())));

        revert(&mut m, snap).await?;
        m.warp(10).await?; // a different block at the old height
        let canonical = m.request_native(model, key, 2, "canonical input").await?;
        assert_eq!(canonical, orphan, "same id on the new branch");
        m.mine(4).await?;
        f.catch_up().await?;
        let canonical_hash = format!("{:#x}", keccak256("canonical input"));
        assert_eq!(job_row(&db, canonical).await?, Some(("requested".into(), canonical_hash)));
        assert_eq!(
            mentions(&db, &orphan_hash).await?,
            0,
            "nothing of the orphaned branch is left ({:?})",
            db.backend()
        );
        let rolled_back = std::iter::from_fn(|| updates.try_recv().ok())
            .filter(|u| matches!(u, Update::Rollback { .. }))
            .count();
        assert_eq!(rolled_back, 1);

        // Depth 1: the result lands, then its block is replaced by an empty one.
        let snap = snapshot(&m).await?;
        m.submit(canonical, "orphan result").await?;
        f.catch_up().await?;
        assert_eq!(job_row(&db, canonical).await?.map(|j| j.0).as_deref(), Some("completed"));
        revert(&mut m, snap).await?;
        m.warp(5).await?;
        f.catch_up().await?;
        assert_eq!(job_row(&db, canonical).await?.map(|j| j.0).as_deref(), Some("requested"));
        assert_eq!(mentions(&db, &format!("{:#x}", keccak256("orphan result"))).await?, 0);
        let credits: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM balances").fetch_one(db.pool()).await?;
        assert_eq!(credits, 0, "the orphaned payout is gone from balances");

        // The canonical result then settles it for good.
        m.submit(canonical, "final result").await?;
        f.catch_up().await?;
        assert_eq!(job_row(&db, canonical).await?.map(|j| j.0).as_deref(), Some("completed"));
        let history: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE job_id = $1")
            .bind(canonical as i64)
            .fetch_one(db.pool())
            .await?;
        assert_eq!(history, 2, "requested + completed, no orphaned versions");
        let cursor = db.cursor().await?.ok_or_else(|| eyre::eyre!("no cursor"))?;
        let head = m
            .provider
            .get_block_by_number(cursor.block_number.into())
            .await?
            .ok_or_else(|| eyre::eyre!("no head"))?;
        assert_eq!(cursor.block_hash, format!("{:#x}", head.header.hash));
        db.close().await;
        tdb.cleanup().await?;
    }
    Ok(())
}

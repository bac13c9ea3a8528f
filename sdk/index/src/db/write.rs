//! The write path: one transaction per batch of blocks, and reorg rollbacks.

use alloy::primitives::B256;
use sqlx::{Connection, pool::PoolConnection};

use super::{
    Db,
    sql::{Sql, Val},
    table::rollback_table,
};
use crate::{
    Error, Result,
    apply::{Decoded, Update, Working},
};

/// The state tables, in the order rollbacks visit them.
const STATE_TABLES: [&str; 5] = ["operators", "models", "keys", "jobs", "balances"];

/// An event the database refused for good, left out of the index and recorded as such.
#[derive(Clone, Debug)]
pub struct Skipped {
    /// Where it happened.
    pub meta: crate::db::table::Meta,
    /// The database's words.
    pub error: String,
}

/// Everything the follower learned about a range of blocks.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Chain id of the node.
    pub chain_id: u64,
    /// Contract being followed (lowercase hex).
    pub contract: String,
    /// The block the range builds on (`None` for the very first batch).
    pub parent: Option<u64>,
    /// Last block of the range; becomes the cursor.
    pub to: (u64, B256, i64),
    /// Blocks whose hashes must be kept (every block with an event, plus `to`).
    pub blocks: Vec<(u64, B256, i64)>,
    /// Decoded events, in chain order.
    pub events: Vec<Decoded>,
    /// Forget stored block hashes below this block (outside the reorg window).
    pub prune_below: u64,
    /// Events of the range the database refused, recorded instead of applied.
    pub skipped: Vec<Skipped>,
}

fn num(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Key of the Postgres advisory lock every index write transaction holds ("mmix").
const WRITER_LOCK: i64 = 0x6d6d_6978;

impl Db {
    /// A write transaction on `conn` that excludes every other writer of this database until it
    /// ends, so the cursor it reads cannot move under it: on SQLite `BEGIN IMMEDIATE` (the write
    /// lock from the start), on Postgres a transaction-scoped advisory lock.
    async fn begin_write<'c>(
        &self,
        conn: &'c mut PoolConnection<sqlx::Any>,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>> {
        match self.backend {
            super::Backend::Sqlite => Ok((**conn).begin_with("BEGIN IMMEDIATE").await?),
            super::Backend::Postgres => {
                let mut tx = (**conn).begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITER_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Run one write transaction on a connection of its own. A connection whose write failed
    /// is closed, never handed back to the pool: a failed `COMMIT` (a full disk) can leave it
    /// inside its transaction, holding SQLite's write lock and showing its own uncommitted rows
    /// to whoever reads through it next.
    async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&mut PoolConnection<sqlx::Any>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.pool.acquire().await?;
        let done = work(&mut conn).await;
        if done.is_err() {
            conn.close_on_drop();
        }
        done
    }

    /// Write a batch atomically: events, state versions, block hashes and the cursor.
    pub async fn commit(&self, batch: &Batch) -> Result<Vec<Update>> {
        self.write(async |conn| self.commit_on(conn, batch, true).await).await
    }

    /// Write a batch and roll it back: whether the database would take it.
    pub async fn dry_run(&self, batch: &Batch) -> Result<()> {
        self.write(async |conn| self.commit_on(conn, batch, false).await.map(drop)).await
    }

    async fn commit_on(
        &self,
        conn: &mut PoolConnection<sqlx::Any>,
        batch: &Batch,
        keep: bool,
    ) -> Result<Vec<Update>> {
        let started = std::time::Instant::now();
        let mut tx = self.begin_write(conn).await?;
        let found = sqlx::query_scalar::<_, i64>("SELECT block_number FROM cursor WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        let expected = batch.parent.map(num);
        if found != expected {
            return Err(Error::CursorMoved {
                expected: expected.unwrap_or(-1),
                found: found.unwrap_or(-1),
            });
        }

        for chunk in batch.events.chunks((self.max_params() / 6).max(1)) {
            let mut q = Sql::new(
                "INSERT INTO events (block_number, block_time, tx_hash, log_index, kind, data) VALUES ",
            );
            for (i, d) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                let m = &d.meta;
                let vals: [Val; 6] = [
                    m.block_number.into(),
                    m.block_time.into(),
                    m.tx_hash.clone().into(),
                    m.log_index.into(),
                    m.event.into(),
                    d.data.to_string().into(),
                ];
                q.bind_list(vals).push(")");
            }
            q.push(" ON CONFLICT (tx_hash, log_index) DO NOTHING");
            q.query().execute(&mut *tx).await?;
        }

        let t_events = started.elapsed();
        let max_params = self.max_params();
        let mut working = Working::load(&mut tx, &batch.events, max_params).await?;
        let t_load = started.elapsed();
        let mut updates = Vec::new();
        for d in &batch.events {
            updates.extend(working.apply(d)?);
        }
        working.write(&mut tx, max_params).await?;
        let t_state = started.elapsed();

        for chunk in batch.blocks.chunks((self.max_params() / 3).max(1)) {
            let mut q = Sql::new("INSERT INTO blocks (number, hash, timestamp) VALUES ");
            for (i, (n, h, t)) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.bind_list([Val::Int(num(*n)), Val::Text(format!("{h:#x}")), Val::Int(*t)])
                    .push(")");
            }
            q.push(" ON CONFLICT (number) DO UPDATE SET hash = excluded.hash, timestamp = excluded.timestamp");
            q.query().execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM blocks WHERE number < $1")
            .bind(num(batch.prune_below))
            .execute(&mut *tx)
            .await?;

        let (to, hash, _) = batch.to;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| num(d.as_secs()))
            .unwrap_or_default();
        Sql::new("INSERT INTO cursor (id, chain_id, contract, block_number, block_hash, updated_at) VALUES (1, ")
            .bind_list([
                Val::Int(num(batch.chain_id)),
                Val::Text(batch.contract.clone()),
                Val::Int(num(to)),
                Val::Text(format!("{hash:#x}")),
                Val::Int(now),
            ])
            .push(
                ") ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, \
                 block_hash = excluded.block_hash, updated_at = excluded.updated_at",
            )
            .query()
            .execute(&mut *tx)
            .await?;
        for s in &batch.skipped {
            let m = &s.meta;
            sqlx::query(
                "INSERT INTO skipped_events (block_number, tx_hash, log_index, kind, error) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tx_hash, log_index) DO NOTHING",
            )
            .bind(m.block_number)
            .bind(m.tx_hash.as_str())
            .bind(m.log_index)
            .bind(m.event)
            .bind(crate::apply::stored_text(&s.error))
            .execute(&mut *tx)
            .await?;
        }
        if !keep {
            tx.rollback().await?;
            return Ok(updates);
        }
        tx.commit().await?;
        tracing::debug!(target: "modelmart::indexer::db", events = batch.events.len(), ?t_events, ?t_load, ?t_state,
            total = ?started.elapsed(), "batch committed");
        Ok(updates)
    }

    /// Roll everything above `ancestor` back in one transaction and move the cursor there.
    /// `None` forgets everything (re-index from the start block).
    pub async fn rollback(&self, ancestor: Option<(u64, B256)>) -> Result<u64> {
        self.write(async |conn| self.rollback_on(conn, ancestor).await).await
    }

    async fn rollback_on(
        &self,
        conn: &mut PoolConnection<sqlx::Any>,
        ancestor: Option<(u64, B256)>,
    ) -> Result<u64> {
        let keep = ancestor.map_or(-1, |(n, _)| num(n));
        let mut tx = self.begin_write(conn).await?;
        let events = sqlx::query("DELETE FROM events WHERE block_number > $1")
            .bind(keep)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for table in STATE_TABLES {
            rollback_table(&mut tx, table, keep).await?;
        }
        sqlx::query("DELETE FROM blocks WHERE number > $1").bind(keep).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM skipped_events WHERE block_number > $1")
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        match ancestor {
            Some((n, hash)) => {
                sqlx::query("UPDATE cursor SET block_number = $1, block_hash = $2 WHERE id = 1")
                    .bind(num(n))
                    .bind(format!("{hash:#x}"))
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM cursor").execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(events)
    }
}

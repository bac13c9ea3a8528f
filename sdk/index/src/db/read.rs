//! The read path: the cursor, stored block hashes, and the queries behind the API.

use std::collections::HashMap;

use alloy::primitives::B256;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{
    Db,
    sql::{Sql, Val},
    table::{Entity, int, text},
};
use crate::{Error, Result};

/// Where the index stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Cursor {
    /// Chain id the index follows.
    pub chain_id: u64,
    /// Contract the index follows.
    pub contract: String,
    /// Last block fully indexed.
    pub block_number: u64,
    /// Its hash.
    pub block_hash: String,
}

/// A job waiting for its operator, with the request that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    /// The job as it is now.
    pub job: crate::Job,
    /// Block of its `JobRequested` event on the indexed branch.
    pub block_number: i64,
    /// Transaction of that event.
    pub tx_hash: String,
}

/// A page of results with the cursor for the next page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, in the requested order.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn parse_hash(table: &'static str, s: &str) -> Result<B256> {
    s.parse().map_err(|e| Error::CorruptRow { table, detail: format!("hash {s}: {e}") })
}

impl Db {
    /// The cursor, if anything has been indexed.
    pub async fn cursor(&self) -> Result<Option<Cursor>> {
        let row = sqlx::query(
            "SELECT chain_id, contract, block_number, block_hash FROM cursor WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Cursor {
                chain_id: u64::try_from(int(&r, "cursor", "chain_id")?).unwrap_or_default(),
                contract: text(&r, "cursor", "contract")?,
                block_number: u64::try_from(int(&r, "cursor", "block_number")?).unwrap_or_default(),
                block_hash: text(&r, "cursor", "block_hash")?,
            })
        })
        .transpose()
    }

    /// Stored block hashes at or below `at`, newest first.
    pub async fn stored_blocks(&self, at: u64, limit: i64) -> Result<Vec<(u64, B256)>> {
        let rows = sqlx::query(
            "SELECT number, hash FROM blocks WHERE number <= $1 ORDER BY number DESC LIMIT $2",
        )
        .bind(i64::try_from(at).unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let n = u64::try_from(int(r, "blocks", "number")?).unwrap_or_default();
                Ok((n, parse_hash("blocks", &text(r, "blocks", "hash")?)?))
            })
            .collect()
    }

    /// Number of raw events stored.
    pub async fn event_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Current rows of an entity table whose columns equal the `filters`, keyset-paginated on the
    /// unique integer column `page_col` (an entity column or `vid`).
    pub async fn current<T: Entity>(
        &self,
        filters: &[(&str, Val)],
        page_col: &str,
        after: Option<i64>,
        descending: bool,
        limit: i64,
    ) -> Result<Page<T>> {
        let mut q = Sql::new(format!(
            "SELECT vid, {} FROM {} WHERE superseded_at IS NULL",
            T::COLUMNS.join(", "),
            T::TABLE
        ));
        for (col, v) in filters {
            q.push(&format!(" AND {col} = ")).bind(v.clone());
        }
        if let Some(after) = after {
            q.push(&format!(" AND {page_col} {} ", if descending { "<" } else { ">" })).bind(after);
        }
        q.push(&format!(" ORDER BY {page_col} {} LIMIT ", if descending { "DESC" } else { "ASC" }))
            .bind(limit + 1);
        let rows = q.query().fetch_all(&self.pool).await?;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for r in rows.iter().take(usize::try_from(limit).unwrap_or(0)) {
            last = Some(r.try_get::<i64, _>(page_col)?);
            items.push(T::from_row(r)?);
        }
        let next_cursor = if rows.len() > items.len() { last.map(|v| v.to_string()) } else { None };
        Ok(Page { items, next_cursor })
    }
}

/// One version of an entity: what changed it and when.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Change {
    /// The event that produced this version.
    pub event: String,
    /// Status after the event.
    pub status: String,
    /// Block of the event.
    pub block_number: i64,
    /// Its timestamp.
    pub block_time: i64,
    /// Transaction hash.
    pub tx_hash: String,
}

impl Db {
    /// One entity now and every version it went through, oldest first, in one query (`T` has a
    /// `status` column).
    pub async fn versions<T: Entity>(
        &self,
        key_col: &str,
        key: i64,
    ) -> Result<(Option<T>, Vec<Change>)> {
        Ok(self.versions_of::<T>(key_col, &[key]).await?.remove(&key).unwrap_or_default())
    }

    /// [`Db::versions`] of several entities in one query, by key (absent keys are missing from
    /// the map). Repeated keys are allowed (callers pad batches to a few statement shapes).
    pub async fn versions_of<T: Entity>(
        &self,
        key_col: &str,
        keys: &[i64],
    ) -> Result<HashMap<i64, (Option<T>, Vec<Change>)>> {
        let mut found: HashMap<i64, (Option<T>, Vec<Change>)> = HashMap::new();
        if keys.is_empty() {
            return Ok(found);
        }
        let mut q = Sql::new(format!(
            "SELECT {}, event, block_number, block_time, tx_hash, superseded_at FROM {} WHERE {key_col} IN (",
            T::COLUMNS.join(", "),
            T::TABLE
        ));
        q.bind_list(keys.iter().copied()).push(") ORDER BY vid");
        for r in &q.query().fetch_all(&self.pool).await? {
            let (current, history) = found.entry(int(r, T::TABLE, key_col)?).or_default();
            history.push(Change {
                event: text(r, T::TABLE, "event")?,
                status: text(r, T::TABLE, "status")?,
                block_number: int(r, T::TABLE, "block_number")?,
                block_time: int(r, T::TABLE, "block_time")?,
                tx_hash: text(r, T::TABLE, "tx_hash")?,
            });
            if r.try_get::<Option<i64>, _>("superseded_at")?.is_none() {
                *current = Some(T::from_row(r)?);
            }
        }
        Ok(found)
    }

    /// Every current row of an entity table whose columns equal the `filters` (small tables).
    pub async fn all_current<T: Entity>(&self, filters: &[(&str, Val)]) -> Result<Vec<T>> {
        let mut q = Sql::new(format!(
            "SELECT {} FROM {} WHERE superseded_at IS NULL",
            T::COLUMNS.join(", "),
            T::TABLE
        ));
        for (col, v) in filters {
            q.push(&format!(" AND {col} = ")).bind(v.clone());
        }
        let rows = q.query().fetch_all(&self.pool).await?;
        rows.iter().map(T::from_row).collect()
    }
}

impl Db {
    /// Hashes of the verified model cards stored.
    pub async fn card_hashes(&self) -> Result<std::collections::HashSet<String>> {
        Ok(sqlx::query_scalar::<_, String>("SELECT card_hash FROM cards")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect())
    }

    /// Every verified card, by hash.
    pub async fn cards(&self) -> Result<std::collections::HashMap<String, serde_json::Value>> {
        let rows = sqlx::query("SELECT card_hash, body FROM cards").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let body = text(r, "cards", "body")?;
                let json = serde_json::from_str(&body)
                    .map_err(|e| Error::CorruptRow { table: "cards", detail: e.to_string() })?;
                Ok((text(r, "cards", "card_hash")?, json))
            })
            .collect()
    }

    /// One verified card.
    pub async fn card(&self, card_hash: &str) -> Result<Option<serde_json::Value>> {
        let body = sqlx::query_scalar::<_, String>("SELECT body FROM cards WHERE card_hash = $1")
            .bind(card_hash)
            .fetch_optional(&self.pool)
            .await?;
        body.map(|b| {
            serde_json::from_str(&b)
                .map_err(|e| Error::CorruptRow { table: "cards", detail: e.to_string() })
        })
        .transpose()
    }
}

/// Lookups for services embedding the index (the coprocessor follows its own jobs this way).
impl Db {
    /// Every blob hash something on chain names (lowercase hex, no `0x`): jobs' inputs, keys
    /// and results, listings' cards and sealed models, registered keys. What is not in it is
    /// no one's business to keep.
    pub async fn referenced_blobs(&self) -> Result<std::collections::HashSet<String>> {
        let rows = sqlx::query(
            "SELECT input_hash AS h FROM jobs UNION SELECT key_hash FROM jobs \
             UNION SELECT result_hash FROM jobs WHERE result_hash IS NOT NULL \
             UNION SELECT card_hash FROM models UNION SELECT sealed_model_hash FROM models \
             UNION SELECT key_hash FROM keys",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let h: String = r.try_get("h")?;
                Ok(h.trim_start_matches("0x").to_ascii_lowercase())
            })
            .collect()
    }

    /// Events the database refused for good and the index left out (`skipped_events`).
    pub async fn skipped_events(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM skipped_events")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Jobs addressed to `operator` that wait for an answer (`requested`), with ids above
    /// `after`, lowest id first, at most `limit`; each with the block and transaction of its
    /// `JobRequested` event on the indexed branch, which tell a request re-mined after a reorg
    /// from the one it replaced.
    pub async fn requests_for_operator(
        &self,
        operator: alloy::primitives::Address,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Requested>> {
        use crate::Job;
        let mut q = Sql::new(format!(
            "SELECT vid, {}, block_number, tx_hash FROM {} WHERE superseded_at IS NULL \
             AND status = 'requested' AND event = 'JobRequested' AND operator = ",
            Job::COLUMNS.join(", "),
            Job::TABLE
        ));
        q.bind(Val::Text(crate::apply::addr(operator)));
        if let Some(after) = after {
            q.push(" AND job_id > ").bind(after);
        }
        q.push(" ORDER BY job_id ASC LIMIT ").bind(limit);
        let rows = q.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Requested {
                    job: Job::from_row(r)?,
                    block_number: r.try_get("block_number")?,
                    tx_hash: r.try_get("tx_hash")?,
                })
            })
            .collect()
    }

    /// Current listings hosted by `operator` in `status` with ids above `after`, lowest id
    /// first, at most `limit`.
    pub async fn models_for_operator(
        &self,
        operator: alloy::primitives::Address,
        status: &str,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<crate::Model>> {
        let filters = [
            ("operator", Val::Text(crate::apply::addr(operator))),
            ("status", Val::Text(status.to_owned())),
        ];
        Ok(self.current::<crate::Model>(&filters, "model_id", after, false, limit).await?.items)
    }

    /// Block of job `job_id`'s `JobRequested` event on the indexed branch (`None` if the index
    /// does not hold that job): where to look the request up on chain without scanning from
    /// block 0, which RPC nodes that cap log ranges refuse.
    pub async fn job_requested_block(&self, job_id: i64) -> Result<Option<u64>> {
        let (_, history) = self.versions::<crate::Job>("job_id", job_id).await?;
        Ok(history
            .iter()
            .find(|c| c.event == "JobRequested")
            .and_then(|c| u64::try_from(c.block_number).ok()))
    }

    /// Listing `model_id` as it is now.
    pub async fn model(&self, model_id: i64) -> Result<Option<crate::Model>> {
        let filters = [("model_id", Val::Int(model_id))];
        Ok(self.current::<crate::Model>(&filters, "model_id", None, false, 1).await?.items.pop())
    }
}

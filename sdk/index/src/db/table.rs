//! Temporal tables: the generic machinery every state table shares.
//!
//! A state table holds one row per version of an entity. [`Entity`] says how an entity maps to
//! columns; [`Table`] holds, for one batch, the current rows loaded from the database and the new
//! versions the batch's events produced, and writes them back with a handful of statements.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row, any::AnyRow};

use super::sql::{Sql, Val};
use crate::{Error, Result};

/// Where a version came from: the event that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Event kind, e.g. `JobCompleted`.
    pub event: &'static str,
    /// Block number of the event.
    pub block_number: i64,
    /// Block timestamp (seconds).
    pub block_time: i64,
    /// Transaction hash.
    pub tx_hash: String,
    /// Log index in the block.
    pub log_index: i64,
}

/// Metadata columns every state table has after its entity columns.
pub const META_COLUMNS: [&str; 6] =
    ["event", "block_number", "block_time", "tx_hash", "log_index", "superseded_at"];

/// An entity kept in a temporal table.
pub trait Entity: Clone + Send + Sync + Sized + 'static {
    /// Table name.
    const TABLE: &'static str;
    /// Key columns (a prefix of [`Entity::COLUMNS`]).
    const KEY: &'static [&'static str];
    /// Entity columns, key first, in the order of [`Entity::values`].
    const COLUMNS: &'static [&'static str];
    /// The entity's key values, in [`Entity::KEY`] order.
    fn key(&self) -> Vec<Val>;
    /// All column values, in [`Entity::COLUMNS`] order.
    fn values(&self) -> Vec<Val>;
    /// Decode from a row that has (at least) the entity columns.
    fn from_row(row: &AnyRow) -> Result<Self>;
}

/// One batch's view of a state table: current rows loaded from the database plus new versions.
pub struct Table<T: Entity> {
    /// Current rows in the database before this batch, by key: (vid, entity).
    base: HashMap<Vec<Val>, (i64, T)>,
    /// New versions, by key, in event order.
    new: HashMap<Vec<Val>, Vec<(T, Meta)>>,
    /// Keys in first-change order, so writes are deterministic.
    order: Vec<Vec<Val>>,
}

impl<T: Entity> Default for Table<T> {
    fn default() -> Self {
        Self { base: HashMap::new(), new: HashMap::new(), order: Vec::new() }
    }
}

impl<T: Entity> Table<T> {
    /// Load the current rows of the given keys.
    pub async fn load(
        conn: &mut AnyConnection,
        keys: &[Vec<Val>],
        max_params: usize,
    ) -> Result<Self> {
        let mut table = Self::default();
        let cols = T::COLUMNS.join(", ");
        let key_cols = T::KEY.join(", ");
        for chunk in keys.chunks((max_params / T::KEY.len()).max(1)) {
            let mut q = Sql::new(format!(
                "SELECT vid, {cols} FROM {} WHERE superseded_at IS NULL AND ({key_cols}) IN (",
                T::TABLE
            ));
            for (i, key) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.bind_list(key.iter().cloned());
                q.push(")");
            }
            q.push(")");
            for row in q.query().fetch_all(&mut *conn).await? {
                let vid = int(&row, T::TABLE, "vid")?;
                let entity = T::from_row(&row)?;
                table.base.insert(entity.key(), (vid, entity));
            }
        }
        Ok(table)
    }

    /// The latest version of an entity: this batch's last, else the database's current row.
    pub fn get(&self, key: &[Val]) -> Option<&T> {
        self.new
            .get(key)
            .and_then(|v| v.last().map(|(e, _)| e))
            .or_else(|| self.base.get(key).map(|(_, e)| e))
    }

    /// Record a new version of an entity.
    pub fn put(&mut self, entity: T, meta: Meta) {
        let key = entity.key();
        let versions = self.new.entry(key.clone()).or_default();
        if versions.is_empty() {
            self.order.push(key);
        }
        versions.push((entity, meta));
    }

    /// Write the batch's versions: supersede the database's current rows, insert the new ones.
    pub async fn write(self, conn: &mut AnyConnection, max_params: usize) -> Result<usize> {
        // Supersede the previous current rows, grouped by the block of their first new version.
        let mut by_block: HashMap<i64, Vec<i64>> = HashMap::new();
        for key in &self.order {
            if let (Some((vid, _)), Some(first)) =
                (self.base.get(key), self.new.get(key).and_then(|v| v.first()))
            {
                by_block.entry(first.1.block_number).or_default().push(*vid);
            }
        }
        for (block, vids) in by_block {
            for chunk in vids.chunks(max_params) {
                let mut q = Sql::new(format!("UPDATE {} SET superseded_at = ", T::TABLE));
                q.bind(block).push(" WHERE vid IN (").bind_list(chunk.iter().copied()).push(")");
                q.query().execute(&mut *conn).await?;
            }
        }
        // Insert every new version; all but the last of each entity are superseded already.
        let mut rows = Vec::new();
        for key in &self.order {
            let versions = self.new.get(key).map(Vec::as_slice).unwrap_or_default();
            for (i, (entity, meta)) in versions.iter().enumerate() {
                let superseded = versions.get(i + 1).map(|(_, m)| m.block_number);
                rows.push((entity, meta, superseded));
            }
        }
        let n = rows.len();
        let width = T::COLUMNS.len() + META_COLUMNS.len();
        let columns =
            T::COLUMNS.iter().chain(META_COLUMNS.iter()).copied().collect::<Vec<_>>().join(", ");
        for chunk in rows.chunks((max_params / width).max(1)) {
            let mut q = Sql::new(format!("INSERT INTO {} ({columns}) VALUES ", T::TABLE));
            for (i, (entity, meta, superseded)) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                let meta_vals: [Val; 6] = [
                    meta.event.into(),
                    meta.block_number.into(),
                    meta.block_time.into(),
                    meta.tx_hash.clone().into(),
                    meta.log_index.into(),
                    (*superseded).into(),
                ];
                q.bind_list(entity.values().into_iter().chain(meta_vals)).push(")");
            }
            q.query().execute(&mut *conn).await?;
        }
        Ok(n)
    }
}

/// Undo every version written above `block` in one table (inside the caller's transaction).
pub async fn rollback_table(conn: &mut AnyConnection, table: &str, block: i64) -> Result<u64> {
    let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE block_number > $1"))
        .bind(block)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query(&format!("UPDATE {table} SET superseded_at = NULL WHERE superseded_at > $1"))
        .bind(block)
        .execute(&mut *conn)
        .await?;
    Ok(deleted)
}

/// Read a text column.
pub fn text(row: &AnyRow, table: &'static str, col: &str) -> Result<String> {
    row.try_get::<String, _>(col)
        .map_err(|e| Error::CorruptRow { table, detail: format!("{col}: {e}") })
}

/// Read a nullable text column.
pub fn opt_text(row: &AnyRow, table: &'static str, col: &str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(col)
        .map_err(|e| Error::CorruptRow { table, detail: format!("{col}: {e}") })
}

/// Read an integer column.
pub fn int(row: &AnyRow, table: &'static str, col: &str) -> Result<i64> {
    row.try_get::<i64, _>(col)
        .map_err(|e| Error::CorruptRow { table, detail: format!("{col}: {e}") })
}

/// Read a nullable integer column.
pub fn opt_int(row: &AnyRow, table: &'static str, col: &str) -> Result<Option<i64>> {
    row.try_get::<Option<i64>, _>(col)
        .map_err(|e| Error::CorruptRow { table, detail: format!("{col}: {e}") })
}

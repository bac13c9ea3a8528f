//! The writer lock: at most one process follows the chain into a database at a time. Others
//! wait as hot standbys (serving reads) and take over when the writer's lock goes with it.
//!
//! Postgres: a session-level advisory lock on a connection of its own, released by the server
//! when the writer's session ends (a killed process, a lost network). SQLite: an exclusive lock
//! on a file beside the database, released by the kernel when the process ends. Every write
//! transaction is also serialized and checks the cursor ([`super::Db::commit`]), so even two
//! writers would not corrupt the index; the lock makes the second one wait instead of race.

use std::path::PathBuf;

use sqlx::{Connection, Row};

use super::{Backend, Db};
use crate::Result;

/// Key of the session-level advisory lock the writer holds ("mmiw").
const WRITER_SESSION_LOCK: i64 = 0x6d6d_6977;

/// The right to write an index database, held until dropped.
#[derive(Debug)]
pub struct WriterLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// The session holding the advisory lock.
    Postgres(sqlx::AnyConnection),
    /// The locked file (`None` for an in-memory database: nobody else can open it).
    Sqlite {
        /// Kept open: closing it releases the lock.
        _file: Option<std::fs::File>,
    },
}

/// The lock file of the SQLite database at `url` (`sqlite:PATH[?…]`), if it is a file.
pub(super) fn sqlite_lock_path(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.writer-lock")))
}

impl Db {
    /// Take the writer lock if no other process holds it; `None` if one does.
    pub async fn try_writer_lock(&self) -> Result<Option<WriterLock>> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = self.pool.acquire().await?.detach();
                let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
                    .bind(WRITER_SESSION_LOCK)
                    .fetch_one(&mut conn)
                    .await?
                    .try_get("got")?;
                if got {
                    Ok(Some(WriterLock { held: Held::Postgres(conn) }))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
            Backend::Sqlite => {
                let Some(path) = &self.lock_path else {
                    return Ok(Some(WriterLock { held: Held::Sqlite { _file: None } }));
                };
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(path)
                    .map_err(|e| crate::Error::Lock(format!("{}: {e}", path.display())))?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(WriterLock { held: Held::Sqlite { _file: Some(file) } })),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => {
                        Err(crate::Error::Lock(format!("{}: {e}", path.display())))
                    }
                }
            }
        }
    }
}

impl WriterLock {
    /// Whether the lock is still held: a Postgres session that no longer answers has lost it
    /// (the server releases a dead session's locks, so another process may hold it now).
    pub async fn held(&mut self) -> bool {
        match &mut self.held {
            Held::Postgres(conn) => conn.ping().await.is_ok(),
            Held::Sqlite { .. } => true,
        }
    }

    /// Resolves once the lock is lost (checked every `every`); never for a file lock.
    pub async fn lost(&mut self, every: std::time::Duration) {
        loop {
            tokio::time::sleep(every).await;
            if !self.held().await {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_have_a_lock_file_and_memory_databases_none() {
        let p = |u: &str| sqlite_lock_path(u).map(|p| p.display().to_string());
        assert_eq!(p("sqlite:/x/index.db").as_deref(), Some("/x/index.db.writer-lock"));
        assert_eq!(p("sqlite:///x/i.db?mode=rwc").as_deref(), Some("/x/i.db.writer-lock"));
        assert_eq!(p("sqlite::memory:"), None);
        assert_eq!(p("postgres://h/db"), None);
    }
}

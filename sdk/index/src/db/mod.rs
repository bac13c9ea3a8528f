//! Storage: one schema, two backends (SQLite by default, Postgres by URL) behind `sqlx::Any`.
//!
//! Every query is written once, in the SQL both backends accept, with `$N` placeholders.

pub mod read;
pub mod sql;
pub mod table;
mod write;
mod writer;

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

pub use read::{Change, Cursor, Page, Requested};
pub use write::{Batch, Skipped};
pub use writer::WriterLock;

use crate::{Error, Result};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the zero-setup default).
    Sqlite,
    /// A Postgres server.
    Postgres,
}

/// A connection pool to the index database, with the schema migrated.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite: the file whose lock is the writer lock ([`WriterLock`]).
    lock_path: Option<std::path::PathBuf>,
}

/// Open a pool on `url` (`sqlite:PATH`, `sqlite://PATH` or `postgres://…`; a SQLite file is
/// created if missing and runs in WAL mode) and apply the backend's migrations. Shared by every
/// ModelMart service that keeps state in SQL, so they accept the same URLs and settings.
pub async fn connect_pool(
    url: &str,
    max_connections: u32,
    sqlite: &Migrator,
    postgres: &Migrator,
) -> Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    let (backend, url) =
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let sep = if path.contains('?') { '&' } else { '?' };
            (Backend::Sqlite, format!("sqlite://{path}{sep}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(Error::UnsupportedDatabase(url.to_owned()));
        };
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                         PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(AnyConnectOptions::from_str(&url)?)
        .await?;
    match backend {
        Backend::Sqlite => migrate_sqlite(&pool, sqlite).await?,
        // sqlx holds an advisory lock while it migrates Postgres: concurrent starts wait
        Backend::Postgres => postgres.run(&pool).await?,
    }
    Ok((pool, backend))
}

/// Migrate a SQLite file. SQLite has no lock sqlx could hold across the migrations, so two
/// processes starting on a fresh file race: the loser finds tables the winner just made. It
/// tries again (the applied migrations are then recorded and skipped) instead of exiting.
async fn migrate_sqlite(pool: &AnyPool, migrator: &Migrator) -> Result<()> {
    let mut attempt = 0;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 20 => {
                attempt += 1;
                tracing::debug!(target: "modelmart::index::db", error = %e, attempt, "migration raced; retrying");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl Db {
    /// Connect (creating a SQLite file if needed) and apply pending migrations.
    ///
    /// `url` is `sqlite:PATH` (or `sqlite://PATH`) or `postgres://…`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let (pool, backend) = connect_pool(url, max_connections, &SQLITE, &POSTGRES).await?;
        Ok(Self { pool, backend, lock_path: writer::sqlite_lock_path(url) })
    }

    /// Whether the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The engine behind this pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Most bound parameters per statement. sqlx's SQLite driver slows down sharply on
    /// statements with thousands of parameters (measured on 3,069 events: 3.9 s with 30,000
    /// parameters per statement, 0.15 s with 60, 0.10 s with 300, 0.15 s with 1,000), so SQLite
    /// gets short statements; Postgres gets large ones (one round trip each).
    pub fn max_params(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 300,
            Backend::Postgres => 30_000,
        }
    }

    /// The underlying pool (for callers that add their own tables, such as the coprocessor).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Refresh the query planner's statistics (Postgres `ANALYZE`; SQLite `PRAGMA optimize`,
    /// which analyzes only where its planner would gain).
    pub async fn analyze(&self) -> Result<()> {
        let sql = match self.backend {
            Backend::Sqlite => "PRAGMA optimize",
            Backend::Postgres => "ANALYZE",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Close every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    /// Both backends' migrations hold the same statements, once type spellings are normalized.
    #[test]
    fn migrations_are_kept_in_step() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let names = |b: &str| -> std::io::Result<Vec<String>> {
            let mut v: Vec<String> = std::fs::read_dir(dir.join(b))?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            v.sort();
            Ok(v)
        };
        let (sqlite, postgres) = (names("sqlite")?, names("postgres")?);
        assert_eq!(sqlite, postgres, "same migration files for both backends");
        // Same statements once the type spellings are normalized.
        let normalize = |s: String| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
                .replace(
                    "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                    "INTEGER PRIMARY KEY AUTOINCREMENT",
                )
                .replace("BIGINT  PRIMARY KEY CHECK", "INTEGER PRIMARY KEY CHECK")
        };
        for f in &sqlite {
            let a = normalize(std::fs::read_to_string(dir.join("sqlite").join(f))?);
            let b = normalize(std::fs::read_to_string(dir.join("postgres").join(f))?);
            assert_eq!(a, b, "{f} differs between sqlite and postgres beyond type names");
        }
        Ok(())
    }
}

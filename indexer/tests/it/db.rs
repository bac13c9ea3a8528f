//! Fresh databases for tests: a SQLite file in a temp dir, or a new Postgres database.

use modelmart_indexer::Db;
use sqlx::{Connection, Executor};

/// A database that lives as long as this value.
pub(crate) struct TestDb {
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new, empty SQLite file.
    pub(crate) fn sqlite() -> eyre::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("index.db").display());
        Ok(Self { url, _dir: Some(dir) })
    }

    /// A new, empty Postgres database on the test server.
    pub(crate) async fn postgres() -> eyre::Result<Self> {
        let admin = std::env::var("MODELMART_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&admin).await?;
        let name = format!("mm_it_{:016x}", rand::random::<u64>());
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Ok(Self { url: format!("{base}/{name}"), _dir: None })
    }

    /// Both backends.
    pub(crate) async fn both() -> eyre::Result<Vec<Self>> {
        Ok(vec![Self::sqlite()?, Self::postgres().await?])
    }

    /// Drop a Postgres test database (after its pools are closed); SQLite files go with the
    /// temp dir.
    pub(crate) async fn cleanup(self) -> eyre::Result<()> {
        if self._dir.is_none() {
            let (base, name) = self.url.rsplit_once('/').ok_or_else(|| eyre::eyre!("bad url"))?;
            let admin =
                std::env::var("MODELMART_TEST_PG").unwrap_or_else(|_| format!("{base}/test"));
            let mut conn = sqlx::AnyConnection::connect(&admin).await?;
            conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
        }
        Ok(())
    }

    /// Connect (and migrate).
    pub(crate) async fn connect(&self) -> eyre::Result<Db> {
        Ok(Db::connect(&self.url, 4).await?)
    }
}

//! The index's error type.

/// Result alias for the index library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while indexing or serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused a query or could not be reached.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL `{0}` (use sqlite:PATH or postgres://…)")]
    UnsupportedDatabase(String),
    /// The JSON-RPC node refused or failed a request (transient: retried with backoff).
    #[error("rpc: {0}")]
    Rpc(String),
    /// The API could not bind its listening address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A block the indexer needs is missing on the node (it is behind, or pruned).
    #[error("block {0} not found on the node")]
    MissingBlock(u64),
    /// The database was written by an indexer following another chain or contract.
    #[error(
        "database follows chain {db_chain} contract {db_contract}, not chain {chain} contract {contract}"
    )]
    WrongDeployment {
        /// Chain id recorded in the database.
        db_chain: u64,
        /// Contract recorded in the database.
        db_contract: String,
        /// Chain id of the node.
        chain: u64,
        /// Contract being followed.
        contract: String,
    },
    /// Another writer moved the cursor while this batch was being written.
    #[error(
        "cursor moved concurrently (expected {expected}, found {found}); is a second indexer writing this database?"
    )]
    CursorMoved {
        /// The block this batch builds on.
        expected: i64,
        /// The block found in the database.
        found: i64,
    },
    /// A stored row could not be decoded (the database was edited by hand or is corrupt).
    #[error("corrupt row in {table}: {detail}")]
    CorruptRow {
        /// Table of the row.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The writer lock file could not be opened or locked.
    #[error("writer lock: {0}")]
    Lock(String),
    /// A value from the chain is not one of the protocol's terms (an id that does not fit the
    /// database's 63 bits).
    #[error(transparent)]
    Protocol(#[from] modelmart_primitives::Error),
}

impl Error {
    /// Whether retrying later can succeed (RPC and connection trouble), as opposed to a bug or a
    /// misconfiguration.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rpc(_) | Self::MissingBlock(_) | Self::CursorMoved { .. } => true,
            Self::Db(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Database(_)
            ),
            _ => false,
        }
    }
}

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
    /// Whether retrying later can succeed (RPC and connection trouble, a busy or full
    /// database), as opposed to a bug, a misconfiguration or data the database refuses.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rpc(_) | Self::MissingBlock(_) | Self::CursorMoved { .. } => true,
            Self::Db(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(d) => !refused_code(d.code().as_deref()),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether the database refused the data itself, for good: a value it cannot store or a
    /// broken constraint (Postgres SQLSTATE classes 22 and 23; SQLite `TOOBIG`, `CONSTRAINT`,
    /// `MISMATCH`, `RANGE`). Retrying the same write can never succeed; the follower records
    /// the event it cannot store and moves on.
    pub fn is_refused_data(&self) -> bool {
        matches!(self, Self::Db(sqlx::Error::Database(d)) if refused_code(d.code().as_deref()))
    }
}

/// See [`Error::is_refused_data`]: a five-character SQLSTATE of class 22 or 23, or a SQLite
/// (extended) result code whose primary code is 18, 19, 20 or 25.
fn refused_code(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    if code.len() == 5 {
        return code.starts_with("22") || code.starts_with("23");
    }
    code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 18 | 19 | 20 | 25))
}

#[cfg(test)]
mod tests {
    use super::refused_code;

    #[test]
    fn data_and_constraint_errors_are_refusals_and_the_rest_is_not() {
        // Postgres: untranslatable character (NUL), numeric out of range, check violation,
        // unique violation; then connection and lock trouble
        for c in ["22P05", "22003", "23514", "23505"] {
            assert!(refused_code(Some(c)), "{c}");
        }
        for c in ["08006", "40P01", "57P01", "53100"] {
            assert!(!refused_code(Some(c)), "{c}");
        }
        // SQLite: constraint (trigger, unique), too big, mismatch; then busy, locked, full, I/O
        for c in ["1811", "2067", "19", "18", "20", "25"] {
            assert!(refused_code(Some(c)), "{c}");
        }
        for c in ["5", "6", "13", "10", "3850", "1"] {
            assert!(!refused_code(Some(c)), "{c}");
        }
        assert!(!refused_code(None));
    }
}

//! The one error type of the protocol's terms.

/// Result alias for conversions into the protocol's terms.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A value that is not one of the protocol's terms.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An id is negative or does not fit the 63 bits every database stores.
    #[error("{what} {value} is out of range (0 to 2^63 - 1)")]
    IdOutOfRange {
        /// Which id (`job id`, `model id`).
        what: &'static str,
        /// The value as given.
        value: String,
    },
    /// A blob address is not 64 hex digits (optionally `0x`-prefixed).
    #[error("`{0}` is not a SHA-256 (64 hex digits)")]
    BadHash(String),
    /// A name or code that none of a term's values has.
    #[error("unknown {what} `{value}` (one of: {expected})")]
    Unknown {
        /// Which term (`blob kind`, `output mode`, `job status`, ...).
        what: &'static str,
        /// The value as given.
        value: String,
        /// The values it may take.
        expected: &'static str,
    },
}

//! Errors of the FHE engine.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in import, compilation, key handling, encryption and evaluation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model file could not be parsed (malformed protobuf or JSON).
    #[error("malformed model file: {0}")]
    MalformedModel(String),
    /// The model uses an operator, attribute value or shape this engine does not support.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A model's structure is inconsistent (dangling node ids, wrong coefficient counts, ...).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// A data file (CSV) could not be read or parsed.
    #[error("bad data: {0}")]
    BadData(String),
    /// An input row does not match the model's input schema.
    #[error("input does not match the schema: {0}")]
    SchemaMismatch(String),
    /// The model cannot be quantized within the engine's limits (accumulator would overflow).
    #[error("quantization failed: {0}")]
    Quantization(String),
    /// A key, ciphertext or compiled model could not be (de)serialized, or exceeded its size limit.
    #[error("serialization: {0}")]
    Serialization(String),
    /// A key or ciphertext was made for other FHE parameters, or has the wrong shape.
    #[error("non-conformant {what}: {why}")]
    NonConformant {
        /// What was checked (evaluation key, input, result, ...).
        what: &'static str,
        /// Why it was refused.
        why: String,
    },
    /// The encrypted input holds more rows than allowed.
    #[error("too many rows: {rows} > {max}")]
    TooManyRows {
        /// Rows in the input.
        rows: usize,
        /// Maximum accepted.
        max: usize,
    },
    /// The operation needs an evaluation key (the model bootstraps) and none was given.
    #[error("this model needs an evaluation key")]
    MissingEvaluationKey,
    /// The model's results are sanitized with the buyer's public key and none was given.
    #[error("this model's results are sanitized with the buyer's public key; none was given")]
    MissingPublicKey,
    /// The model's label-only results are washed with a public key the given evaluation key,
    /// made before label-only output existed, does not hold.
    #[error(
        "this model's label-only results are washed with a public key this evaluation key \
         predates: register a new evaluation key"
    )]
    MissingWashKey,
}

impl Error {
    pub(crate) fn nonconformant(what: &'static str, why: impl Into<String>) -> Self {
        Self::NonConformant { what, why: why.into() }
    }
}

//! TFHE keys, encrypted inputs/results, and evaluation.

pub mod codec;
mod decrypt;
mod encrypt;
mod eval;
mod keys;
mod sanitize;

pub use codec::{EncryptedInput, EncryptedResult, EvaluationKey, InputChunk};
pub use eval::{EvalStats, Evaluator};
pub use keys::{ClientKey, MAX_CLIENT_KEY_BYTES, ServerKey};

/// Run `n` sign bootstraps of a fresh encryption on one thread (cost-model calibration).
pub fn bench_bootstraps(client: &ClientKey, server: &ServerKey, n: usize) -> crate::Result<usize> {
    eval::bench_bootstraps(client, server, n)
}

/// Time one result sanitization on one thread (what it adds to each leveled result), averaged
/// over `n` runs; `server` must hold a public key.
pub fn bench_sanitize(server: &ServerKey, n: usize) -> crate::Result<std::time::Duration> {
    let key = server.public.as_ref().ok_or(crate::Error::MissingPublicKey)?;
    Ok(sanitize::bench(key, n))
}

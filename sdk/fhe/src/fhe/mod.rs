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

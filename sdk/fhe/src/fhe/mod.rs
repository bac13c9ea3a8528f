//! TFHE keys, encrypted inputs/results, and evaluation.

pub(crate) mod codec;
mod decrypt;
mod encrypt;
mod eval;
mod keys;
mod sanitize;

pub use crate::params::WASH_BOOTSTRAPS;
pub use codec::{EncryptedInput, EncryptedResult, EvaluationKey, InputChunk};
pub use eval::{EvalStats, Evaluator};
pub use keys::{ClientKey, MAX_CLIENT_KEY_BYTES, ServerKey};

/// Seeds for keys, masks and noise, drawn from the operating system's secure randomness (in a
/// browser, WebCrypto's `getRandomValues`, through `getrandom`): one source on every target,
/// where tfhe's own `new_seeder` has none on `wasm32-unknown-unknown` without its JS API.
pub(crate) fn os_seeder() -> Box<dyn tfhe_csprng::seeders::Seeder> {
    Box::new(OsSeeder)
}

/// [`os_seeder`]'s seeder: `rand`'s thread-local generator, a ChaCha12 stream reseeded from the
/// operating system.
struct OsSeeder;

impl tfhe_csprng::seeders::Seeder for OsSeeder {
    fn seed(&mut self) -> tfhe_csprng::seeders::Seed {
        tfhe_csprng::seeders::Seed(rand::random())
    }

    fn is_available() -> bool {
        true
    }
}

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

/// log2 of the statistical distance between a washed label and a ciphertext that depends only
/// on the label, given everything the buyer knows (the noise part; see `eval/wash.rs`).
pub fn wash_distance_log() -> f64 {
    eval::wash::distance_log()
}

/// Time one wash of a bootstrapped one-bit result (`WASH_BOOTSTRAPS` bootstraps and one more
/// re-randomization) on one thread, or with each bootstrap `split` over two (what a single
/// row's label waits for), averaged over `n` runs; also returns the size of the seeded public
/// key washing needs, in bytes.
pub fn bench_wash(
    client: &ClientKey,
    server: &ServerKey,
    n: usize,
    split: bool,
) -> crate::Result<(std::time::Duration, usize)> {
    eval::wash::bench(client, server, n, split)
}

//! Coprocessor side: evaluate a compiled model on an encrypted input.
//!
//! Linear models run in the 128-bit domain: linear algebra directly on the LWE samples extracted
//! from the input's GLWE chunks (no bootstrapping), then every result is sanitized
//! (`eval/wide.rs`). Tree models bootstrap every distinct comparison and every leaf test (key
//! switch, centered modulus switch, blind rotation, sample extraction) on rayon's worker
//! threads, each with its own FFT scratch; networks bootstrap an exact floor of every hidden
//! pre-activation and a table lookup per (neuron, output) (`eval/mlp.rs`). Washed outputs
//! (labels, rounded scores) floor every family's window values and wash each bit
//! (`eval/washed.rs`, `eval/wash.rs`); stages with fewer bootstraps than cores run each one over
//! two threads (`eval/split.rs`). Call it from a blocking thread, never from an async runtime's
//! worker.

mod argmax;
#[cfg(test)]
mod attack;
mod floor;
mod mlp;
mod split;
mod trees;
pub(crate) mod wash;
mod washed;
mod wide;

use std::time::{Duration, Instant};

use rayon::prelude::*;
use tfhe::core_crypto::entities::packed_integers::PackedIntegers;
use tfhe::core_crypto::fft_impl::fft64::math::fft::Fft;
use tfhe::core_crypto::prelude::*;
use tfhe_csprng::seeders::Seed;

use super::codec::{EncryptedInput, EncryptedResult};
use super::keys::{BootstrapKeys, ServerKey};
use crate::compiled::{CompiledModel, QProgram};
use crate::params::Params;
use crate::{Error, Result};

/// Value of a comparison bootstrap's output (`±2^59`).
const CMP_OUT_LOG: u32 = 59;

/// What an evaluation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalStats {
    /// Rows evaluated.
    pub rows: usize,
    /// Programmable bootstraps performed.
    pub bootstraps: usize,
    /// Wall time of the evaluation (zero on wasm32-unknown-unknown, which has no clock).
    pub elapsed: Duration,
}

/// Evaluates one compiled model; holds nothing secret.
#[derive(Debug)]
pub struct Evaluator<'a> {
    model: &'a CompiledModel,
    params: Params,
    server_key: Option<&'a ServerKey>,
    /// Sanitize leveled results (always, except in the test that shows what it prevents).
    sanitize: bool,
}

impl<'a> Evaluator<'a> {
    /// Prepare to evaluate `model`; `server_key` is required when the model bootstraps.
    pub fn new(model: &'a CompiledModel, server_key: Option<&'a ServerKey>) -> Result<Self> {
        let params = Params::get(model.param_set)?;
        if model.needs_evaluation_key() && !server_key.is_some_and(ServerKey::has_bootstrap_keys) {
            return Err(Error::MissingEvaluationKey);
        }
        if model.encoding.washed_bits() > 0 && !server_key.is_some_and(ServerKey::has_wash_key) {
            return Err(Error::MissingWashKey);
        }
        model.check_domain()?;
        if model.encoding.wide() && !server_key.is_some_and(ServerKey::has_public_key) {
            return Err(Error::MissingPublicKey);
        }
        if let Some(sk) = server_key
            && sk.params.id != params.id
        {
            return Err(Error::nonconformant(
                "evaluation key",
                "parameter set differs from the model's",
            ));
        }
        Ok(Self { model, params, server_key, sanitize: true })
    }

    /// Skip sanitization: only for the test that runs the weight-extraction attack.
    #[cfg(test)]
    pub(crate) fn without_sanitization(mut self) -> Self {
        self.sanitize = false;
        self
    }

    /// Evaluate every row of `input` (at most `max_rows`).
    pub fn evaluate(
        &self,
        input: &EncryptedInput,
        max_rows: usize,
    ) -> Result<(EncryptedResult, EvalStats)> {
        // std has no clock on wasm32-unknown-unknown (`Instant::now` panics there): the browser
        // evaluates only to check a listing's card, and reports no time
        let start = (!cfg!(target_arch = "wasm32")).then(Instant::now);
        input.check(&self.params)?;
        let per_row = self.model.schema.len() * self.model.encoding.values_per_feature();
        if input.features() != per_row {
            return Err(Error::nonconformant(
                "encrypted input",
                format!("{} values per row, model takes {per_row}", input.features()),
            ));
        }
        if input.rows() > max_rows {
            return Err(Error::TooManyRows { rows: input.rows(), max: max_rows });
        }
        if input.wide != self.model.encoding.wide() {
            return Err(Error::nonconformant(
                "encrypted input",
                "encrypted for the other domain (64- vs 128-bit) than the model's",
            ));
        }
        let ell = CiphertextModulusLog(usize::from(self.model.encoding.output_log_modulus));
        let bk = || {
            self.server_key.and_then(|k| k.bootstrap.as_ref()).ok_or(Error::MissingEvaluationKey)
        };
        let rows = input.rows();
        let pbs = rows * self.model.bootstraps_per_row();
        let (cts, bootstraps) = if let (QProgram::Linear(l), true) =
            (&self.model.program, self.model.encoding.wide())
        {
            let pk = self.server_key.and_then(|k| k.public.as_ref()).filter(|_| self.sanitize);
            (switch_and_pack(&self.linear_wide(l, pk, input), ell), 0)
        } else {
            let glwes = expand_input(&self.params, input);
            let s = Samples { glwes: &glwes, features: input.features(), params: &self.params };
            let sk = bk()?;
            let outputs = if self.model.encoding.washed_bits() > 0 {
                let wash = self.server_key.and_then(|k| k.wash.as_ref());
                self.washed(sk, wash.ok_or(Error::MissingWashKey)?, &s, rows)
            } else {
                match &self.model.program {
                    // `new` admits linear models only in the 128-bit domain or washed
                    QProgram::Linear(_) => return Err(Error::MissingPublicKey),
                    QProgram::Trees(t) => self.trees(t, sk, &s, rows),
                    QProgram::Mlp(m) => self.mlp(m, sk, &s, rows),
                }
            };
            (switch_and_pack(&outputs, ell), pbs)
        };
        let result = EncryptedResult {
            param_set: self.params.id.0,
            rows: input.rows() as u32,
            // a washed output is its bits' ciphertexts
            outputs: (self.model.n_outputs() * self.model.encoding.washed_bits().max(1)) as u32,
            log_modulus: self.model.encoding.output_log_modulus,
            wide: self.model.encoding.wide(),
            cts,
        };
        Ok((
            result,
            EvalStats {
                rows: input.rows(),
                bootstraps,
                elapsed: start.map(|s| s.elapsed()).unwrap_or_default(),
            },
        ))
    }
}

/// Regenerate each chunk's GLWE mask from its seed (64-bit domain).
fn expand_input(params: &Params, input: &EncryptedInput) -> Vec<GlweCiphertextOwned<u64>> {
    expand_chunks(input, params.polynomial_size, params.glwe_dimension.to_glwe_size(), |w| w[0])
}

/// Regenerate each chunk's seeded GLWE ciphertext of polynomial size `n`; a body coefficient
/// is `size_of::<S>() / 8` wire words, read by `coefficient`.
fn expand_chunks<S: UnsignedTorus + Send + Sync>(
    input: &EncryptedInput,
    n: PolynomialSize,
    glwe_size: GlweSize,
    coefficient: impl Fn(&[u64]) -> S + Sync,
) -> Vec<GlweCiphertextOwned<S>> {
    let words = std::mem::size_of::<S>() / 8;
    input
        .chunks
        .par_iter()
        .map(|c| {
            let mut body = vec![S::ZERO; n.0];
            for (b, w) in body.iter_mut().zip(c.bodies.chunks_exact(words)) {
                *b = coefficient(w);
            }
            SeededGlweCiphertext::from_container(
                body,
                glwe_size,
                Seed(c.seed).into(),
                CiphertextModulus::new_native(),
            )
            .decompress_into_glwe_ciphertext()
        })
        .collect()
}

/// Modulus-switch every result to `2^ell` and bit-pack it.
fn switch_and_pack<S: UnsignedInteger + CastInto<u64> + Send + Sync>(
    outputs: &[LweCiphertextOwned<S>],
    ell: CiphertextModulusLog,
) -> Vec<PackedIntegers<u64>> {
    outputs
        .par_iter()
        .map(|ct| {
            let ms = lwe_ciphertext_modulus_switch::<S, u64, _>(ct.as_view(), ell);
            let words: Vec<u64> = ms.mask().chain(std::iter::once(ms.body())).collect();
            PackedIntegers::pack(&words, ell)
        })
        .collect()
}

/// Access to the input's LWE samples (value `row * features + slot`; a slot is a feature, or
/// one of its digits when the encoding splits features).
struct Samples<'a> {
    glwes: &'a [GlweCiphertextOwned<u64>],
    features: usize,
    params: &'a Params,
}

impl Samples<'_> {
    fn zero(&self) -> LweCiphertextOwned<u64> {
        LweCiphertext::new(
            0u64,
            self.params.big_lwe_dimension().to_lwe_size(),
            self.params.modulus(),
        )
    }

    fn extract(&self, row: usize, feature: usize, out: &mut LweCiphertextOwned<u64>) {
        let n = self.params.polynomial_size.0;
        let v = row * self.features + feature;
        extract_lwe_sample_from_glwe_ciphertext(&self.glwes[v / n], out, MonomialDegree(v % n));
    }
}

/// Add `value` to a ciphertext's body (a plaintext added to the phase).
fn add_to_body(ct: &mut LweCiphertextOwned<u64>, value: u64) {
    let body = ct.get_mut_body().data;
    *body = body.wrapping_add(value);
}

/// `L * 2^(delta_log - 1)` on the torus (two's complement for negative `L`).
fn half_value(l: i64, delta_log: u8) -> u64 {
    (l as u64).wrapping_shl(u32::from(delta_log) - 1)
}

/// A trivial GLWE whose every coefficient is `value`: the negacyclic sign test.
fn constant_lut(p: &Params, value: u64) -> GlweCiphertextOwned<u64> {
    let mut lut =
        GlweCiphertext::new(0u64, p.glwe_dimension.to_glwe_size(), p.polynomial_size, p.modulus());
    lut.get_mut_body().as_mut().fill(value);
    lut
}

/// A lookup table over the positive half of the torus: coefficient `i` holds
/// `value(i >> width_log)`, so entry `e` answers phases in `[e, e + 1) * 2^(width_log + 64 - log2(2N))`.
fn table_lut(
    p: &Params,
    width_log: usize,
    value: impl Fn(usize) -> u64,
) -> GlweCiphertextOwned<u64> {
    let mut lut =
        GlweCiphertext::new(0u64, p.glwe_dimension.to_glwe_size(), p.polynomial_size, p.modulus());
    for (i, c) in lut.get_mut_body().as_mut().iter_mut().enumerate() {
        *c = value(i >> width_log);
    }
    lut
}

std::thread_local! {
    /// A scratch per thread for bootstraps run beside a stage's own (`rayon::join`).
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

/// Run `f` with this thread's spare bootstrap scratch (made on first use).
fn with_scratch<R>(p: &Params, f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        f(slot.get_or_insert_with(|| Scratch::new(p)))
    })
}

/// Per-thread bootstrap scratch; a split scratch runs each bootstrap over this thread and one
/// more (`eval/split.rs`), for stages with fewer bootstraps at a time than cores.
struct Scratch {
    fft: Fft,
    buffers: ComputationBuffers,
    split: Option<split::SplitScratch>,
}

impl Scratch {
    /// A scratch for `tasks` bootstraps run side by side: split when they leave a core idle.
    fn for_tasks(p: &Params, tasks: usize) -> Self {
        let mut s = Self::new(p);
        if tasks < rayon::current_num_threads() && !cfg!(target_arch = "wasm32") {
            s.split = Some(split::SplitScratch::new(p));
        }
        s
    }

    /// Whether bootstraps run over two threads.
    fn is_split(&self) -> bool {
        self.split.is_some()
    }

    fn new(p: &Params) -> Self {
        let fft = Fft::new(p.polynomial_size);
        let mut buffers = ComputationBuffers::new();
        buffers.resize(
            blind_rotate_assign_mem_optimized_requirement::<u64>(
                p.glwe_dimension.to_glwe_size(),
                p.polynomial_size,
                fft.as_view(),
            )
            .unaligned_bytes_required(),
        );
        Self { fft, buffers, split: None }
    }

    /// Key switch, centered modulus switch, blind rotation of `lut`, sample extraction.
    fn bootstrap(
        &mut self,
        sk: &BootstrapKeys,
        input: &LweCiphertextOwned<u64>,
        lut: &GlweCiphertextOwned<u64>,
    ) -> LweCiphertextOwned<u64> {
        if let Some(split) = &mut self.split {
            return split.bootstrap(sk, input, lut);
        }
        let p = &sk.params;
        let mut small = LweCiphertext::new(0u64, p.lwe_dimension.to_lwe_size(), p.modulus());
        keyswitch_lwe_ciphertext(&sk.ksk, input, &mut small);
        let log_2n = CiphertextModulusLog(p.polynomial_size.log2().0 + 1);
        let msed =
            lwe_ciphertext_centered_binary_modulus_switch::<u64, usize, _>(small.as_view(), log_2n);
        let mut acc = lut.clone();
        blind_rotate_assign_mem_optimized(
            &msed,
            &mut acc,
            &sk.bsk,
            self.fft.as_view(),
            self.buffers.stack(),
        );
        let mut out = LweCiphertext::new(0u64, p.big_lwe_dimension().to_lwe_size(), p.modulus());
        extract_lwe_sample_from_glwe_ciphertext(&acc, &mut out, MonomialDegree(0));
        out
    }
}

/// A fresh client key and its expanded server key (unit tests).
#[cfg(test)]
pub(crate) fn test_keys() -> (super::keys::ClientKey, ServerKey) {
    let client =
        super::keys::ClientKey::generate(Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let server = client.evaluation_key().and_then(|k| ServerKey::expand(&k));
    (client, server.unwrap_or_else(|e| panic!("{e}")))
}

/// Encrypts phases under `client`'s GLWE key with fresh noise (unit tests).
#[cfg(test)]
pub(crate) fn encryptor(
    client: &super::keys::ClientKey,
) -> impl FnMut(u64) -> LweCiphertextOwned<u64> + '_ {
    let p = Params::get(client.param_set()).unwrap_or_else(|e| panic!("{e}"));
    let mut seeder = super::os_seeder();
    let mut enc =
        EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder.as_mut());
    let key = client.glwe.as_lwe_secret_key();
    move |phase| {
        allocate_and_encrypt_new_lwe_ciphertext(
            &key,
            Plaintext(phase),
            p.glwe_noise,
            p.modulus(),
            &mut enc,
        )
    }
}

pub(crate) fn bench_bootstraps(
    client: &super::keys::ClientKey,
    server: &ServerKey,
    n: usize,
) -> Result<usize> {
    let server = server.bootstrap.as_ref().ok_or(Error::MissingEvaluationKey)?;
    let p = server.params;
    let mut seeder = super::os_seeder();
    let mut enc =
        EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder.as_mut());
    let x = allocate_and_encrypt_new_lwe_ciphertext(
        &client.glwe.as_lwe_secret_key(),
        Plaintext(1u64 << 62),
        p.glwe_noise,
        p.modulus(),
        &mut enc,
    );
    let lut = constant_lut(&p, 1 << CMP_OUT_LOG);
    let mut scratch = Scratch::new(&p);
    for _ in 0..n {
        let _ = scratch.bootstrap(server, &x, &lut);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use tfhe::core_crypto::algorithms::slice_algorithms::{
        slice_wrapping_add_assign, slice_wrapping_sub_assign,
    };

    use super::*;

    /// Sign bootstraps: `(2(q - T) - 1) 2^58` decrypts to `+v` iff `q > T`, with noise far below
    /// the bound the encodings assume; leaf tests combine them exactly.
    #[test]
    fn sign_bootstrap_and_leaf_test() {
        let (client, server) = test_keys();
        let server = server.bootstrap.unwrap();
        let p = server.params;
        let key = client.glwe.as_lwe_secret_key();
        let mut encrypt = encryptor(&client);
        let v = 1u64 << CMP_OUT_LOG;
        let lut = constant_lut(&p, v);
        let mut scratch = Scratch::new(&p);
        // encrypt a phase and bootstrap it through the sign test
        let mut sign = |phase: u64| scratch.bootstrap(&server, &encrypt(phase), &lut);
        let mut worst = 0i64;
        let mut outs = Vec::new();
        for (q, t) in [(0u64, 0i64), (1, 0), (15, 14), (14, 14), (7, 3), (3, 7), (0, 14), (15, 0)] {
            let phase = (q << 59).wrapping_sub(((2 * t + 1) as u64) << 58);
            let out = sign(phase);
            let dec = decrypt_lwe_ciphertext(&key, &out).0;
            let expect = if q as i64 > t { v } else { v.wrapping_neg() };
            let err = dec.wrapping_sub(expect) as i64;
            assert!(err.unsigned_abs() < 1 << 56, "q={q} t={t}: {dec:#x} vs {expect:#x}");
            worst = worst.max(err.abs());
            outs.push((out, q as i64 > t));
        }
        // output noise: std over fresh bootstraps must sit below the std the encodings assume.
        // The measured std is ~2^49.2 against an assumed 2^49.5; with 48 samples the estimate's
        // spread (~0.15 bits) made this fail about once in 30 runs, with 256 (~0.06 bits, the
        // margin is ~5 of them) it does not.
        let mut sq = 0f64;
        let n = 256;
        for i in 0..n {
            let phase = (((i % 16) as u64) << 59).wrapping_sub(15u64 << 58);
            let out = sign(phase);
            let expect = if (i % 16) as i64 > 7 { v } else { v.wrapping_neg() };
            let e = decrypt_lwe_ciphertext(&key, &out).0.wrapping_sub(expect) as i64 as f64;
            sq += e * e;
        }
        let std_log = (sq / n as f64).sqrt().log2();
        eprintln!(
            "bootstrap output noise: std 2^{std_log:.2}, worst of the first 8: 2^{:.2}",
            (worst as f64).log2()
        );
        assert!(std_log < PBS_NOISE_STD_LOG_TEST, "bootstrap noise std 2^{std_log}");
        // leaf over the first three comparisons with directions (right, left, right)
        for dirs in [[true, false, true], [false, true, false], [true, true, true]] {
            let mut acc =
                LweCiphertext::new(0u64, p.big_lwe_dimension().to_lwe_size(), p.modulus());
            for (j, d) in dirs.iter().enumerate() {
                if *d {
                    slice_wrapping_add_assign(acc.as_mut(), outs[j].0.as_ref());
                } else {
                    slice_wrapping_sub_assign(acc.as_mut(), outs[j].0.as_ref());
                }
            }
            let body = acc.get_mut_body().data;
            *body = body.wrapping_sub(2 * v);
            let leaf = scratch.bootstrap(&server, &acc, &constant_lut(&p, v));
            let dec = decrypt_lwe_ciphertext(&key, &leaf).0 as i64;
            let active = dirs.iter().zip(&outs).all(|(d, (_, right))| d == right);
            assert_eq!(dec > 0, active, "dirs {dirs:?}: {dec}");
        }
    }

    const PBS_NOISE_STD_LOG_TEST: f64 = crate::params::PBS_NOISE_STD_LOG;
}

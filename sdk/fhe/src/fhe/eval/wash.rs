//! Sanitization of one-bit bootstrapped results by washing: Ducas and Stehlé, "Sanitization of
//! FHE Ciphertexts" (EUROCRYPT 2016), section 4's soak-spin-repeat, on this engine's own
//! bootstrap.
//!
//! Why: a bootstrapped result's noise (std `2^PBS_NOISE_STD_LOG` on the 2^64 torus) is a
//! deterministic function of the blind rotation's inputs, and the buyer made every key. One
//! flood cannot hide it to `2^-40` inside 64 bits, but a flood hides it to a constant factor,
//! and bootstrapping cannot undo that. One cycle:
//! 1. re-randomize: add a fresh encryption of zero under the buyer's 64-bit compact public key
//!    (its mask is pseudorandom under RLWE with the server's secret `r`) and a flood `u` uniform
//!    on `[-F, F]` to the body;
//! 2. bootstrap with a fixed sign table (never the model's), which maps `±2^62` to itself.
//!
//! A bit `m` travels as the phase `+2^62` (0) or `-2^62` (1), so the negacyclic sign table
//! needs no padding bit and the flood can use almost the whole half-torus: `F = 7 * 2^59`.
//!
//! The bound (their Lemma 4.2, coupling): if two inputs carry the same bit and noises `e`, `e'`
//! with `|e|, |e'| <= B`, one re-randomization leaves their noise terms at statistical distance
//! `<= |e - e'| / (2F + 1) <= delta = 2B / (2F + 1)`; a bootstrap is a fixed function of its
//! input, so it cannot increase that distance, and every later re-randomization multiplies it
//! by `delta` again. With `B = 2^53` (eight standard deviations of a bootstrap output are
//! `2^52.5`; the encryption of zero adds below `2^29`) `delta = 2^-8.81`, and
//! [`WASH_BOOTSTRAPS`] + 1 = 5 re-randomizations give `2^-44.0`; the chance that one of the
//! five noises exceeds `B` (11 standard deviations) is below `2^-90`. The masks are the
//! computational part of the argument: each is a fresh RLWE sample the buyer cannot tell from
//! uniform, except through the encryption of zero's own noise (`<= 2^29`), which the flood
//! hides to within `2^29 / 2F = 2^-33.8` per cycle.
//!
//! Correctness: after a flood the phase is at least `2^62 - F - B ~ 2^58.98` from the sign
//! table's boundaries, more than the `2^58` margin parameter set 1 keeps for key switching and
//! modulus switching (failure probability `2^-129.6`); the final flood leaves the bit's sign
//! exact.

use rand::{Rng, SeedableRng};
use tfhe::core_crypto::commons::generators::NoiseRandomGenerator;
use tfhe::core_crypto::prelude::*;

use super::{Scratch, constant_lut};
use crate::fhe::keys::{BootstrapKeys, WashKey};
use crate::params::{Params, WASH_BOOTSTRAPS};

/// A washed bit is `±2^BIT_LOG` (`+` for 0).
pub(crate) const BIT_LOG: u32 = 62;
/// The flood's bound `F`: `u` is uniform on `[-F, F]`.
pub(crate) const FLOOD: u64 = 7 << 59;
/// log2 of the bound `B` on a re-randomized ciphertext's noise before its flood.
pub(crate) const INPUT_NOISE_BOUND_LOG: u32 = 53;

/// log2 of the statistical distance one re-randomization leaves between two inputs of the
/// same bit: `log2(2B / (2F + 1))`.
pub(crate) fn delta_log() -> f64 {
    f64::from(INPUT_NOISE_BOUND_LOG + 1) - (2.0 * FLOOD as f64 + 1.0).log2()
}

/// log2 of the statistical distance a washed bit keeps from a ciphertext that depends only on
/// the bit: one re-randomization's [`delta_log`] per re-randomization.
pub(crate) fn distance_log() -> f64 {
    delta_log() * (WASH_BOOTSTRAPS + 1) as f64
}

/// Per-thread washing state: bootstrap scratch, the sign table and secure randomness.
pub(crate) struct Washer {
    scratch: Scratch,
    lut: GlweCiphertextOwned<u64>,
    noise: NoiseRandomGenerator<DefaultRandomGenerator>,
    rng: rand::rngs::StdRng,
    zero: LweCiphertextOwned<u64>,
}

impl Washer {
    /// Fresh state seeded from the operating system, for a stage of `tasks` washes side by
    /// side (fewer than the cores: each bootstrap runs over two threads).
    pub(crate) fn new(params: &Params, tasks: usize) -> Self {
        let mut seeder = crate::fhe::os_seeder();
        Self {
            scratch: Scratch::for_tasks(params, tasks),
            lut: constant_lut(params, 1 << BIT_LOG),
            noise: NoiseRandomGenerator::new(seeder.as_mut()),
            rng: rand::rngs::StdRng::from_os_rng(),
            zero: LweCiphertext::new(
                0u64,
                params.big_lwe_dimension().to_lwe_size(),
                params.modulus(),
            ),
        }
    }

    /// Add a fresh encryption of zero and a flood uniform on `[-F, F]`.
    fn rerandomize(&mut self, key: &WashKey, ct: &mut LweCiphertextOwned<u64>) {
        encrypt_lwe_ciphertext_with_compact_public_key(
            &key.pk,
            &mut self.zero,
            Plaintext(0),
            key.noise,
            key.noise,
            &mut self.noise,
        );
        lwe_ciphertext_add_assign(ct, &self.zero);
        let u = self.rng.random_range(0..=2 * FLOOD).wrapping_sub(FLOOD);
        let body = ct.get_mut_body().data;
        *body = body.wrapping_add(u);
    }

    /// Wash a bit (`±2^62` with at most one bootstrap's noise) in place.
    pub(crate) fn wash(
        &mut self,
        sk: &BootstrapKeys,
        key: &WashKey,
        ct: &mut LweCiphertextOwned<u64>,
    ) {
        for _ in 0..WASH_BOOTSTRAPS {
            self.rerandomize(key, ct);
            *ct = self.scratch.bootstrap(sk, ct, &self.lut);
        }
        self.rerandomize(key, ct);
    }

    /// The bootstrap scratch, for the stages before the wash.
    pub(super) fn scratch(&mut self) -> &mut Scratch {
        &mut self.scratch
    }

    /// A bootstrap of `ct` through the sign table: `+2^62` for a phase in `(0, 2^63)`, else
    /// `-2^62`. Alone, a fixed function of its input: not sanitized.
    pub(crate) fn sign(
        &mut self,
        sk: &BootstrapKeys,
        ct: &LweCiphertextOwned<u64>,
    ) -> LweCiphertextOwned<u64> {
        self.scratch.bootstrap(sk, ct, &self.lut)
    }
}

/// Time `n` washes of a bit, each bootstrap on one thread or `split` over two; also returns the
/// seeded public key's size in bytes.
pub(crate) fn bench(
    client: &crate::fhe::ClientKey,
    server: &crate::fhe::ServerKey,
    n: usize,
    split: bool,
) -> crate::Result<(std::time::Duration, usize)> {
    let sk = server.bootstrap.as_ref().ok_or(crate::Error::MissingEvaluationKey)?;
    let key = server.wash.as_ref().ok_or(crate::Error::MissingWashKey)?;
    let bytes = client.wash_key()?.as_ref().len() * 8;
    let mut washer = Washer::new(&sk.params, if split { 1 } else { usize::MAX });
    let mut ct = washer.sign(sk, &encrypt_bit(client, false, &sk.params));
    let start = std::time::Instant::now();
    for _ in 0..n {
        washer.wash(sk, key, &mut ct);
    }
    Ok((start.elapsed() / n.max(1) as u32, bytes))
}

/// A fresh encryption of a bit as `±2^62` under the client's GLWE key (what a label bootstrap
/// would hand to [`Washer::wash`]; tests and benches start from it).
fn encrypt_bit(
    client: &crate::fhe::ClientKey,
    bit: bool,
    params: &Params,
) -> LweCiphertextOwned<u64> {
    let mut seeder = crate::fhe::os_seeder();
    let mut enc =
        EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder.as_mut());
    allocate_and_encrypt_new_lwe_ciphertext(
        &client.glwe.as_lwe_secret_key(),
        Plaintext(bit_phase(bit)),
        params.glwe_noise,
        params.modulus(),
        &mut enc,
    )
}

/// The phase a bit is encoded at.
pub(crate) fn bit_phase(bit: bool) -> u64 {
    if bit { (1u64 << BIT_LOG).wrapping_neg() } else { 1 << BIT_LOG }
}

/// Decode a (washed) bit from its decrypted phase: the sign of `±2^62 + noise`.
#[cfg(test)]
fn decode_bit(phase: u64) -> bool {
    phase >= 1 << 63
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhe::{ClientKey, ServerKey};
    use crate::params::{ParamSetId, SANITIZE_SD_LOG};

    /// The parameters give the stated bound and keep the bit's decision margin.
    #[test]
    fn wash_parameters_give_the_bound() {
        let d = delta_log();
        assert!((-8.82..-8.80).contains(&d), "delta 2^{d}");
        let total = d * (WASH_BOOTSTRAPS + 1) as f64;
        assert!(total <= -f64::from(SANITIZE_SD_LOG), "2^{total}");
        // one bootstrap fewer would not do
        assert!(d * WASH_BOOTSTRAPS as f64 > -f64::from(SANITIZE_SD_LOG));
        let margin = (1u64 << BIT_LOG) - FLOOD - (1 << INPUT_NOISE_BOUND_LOG);
        assert!(margin > 1 << 58, "margin 2^{}", (margin as f64).log2());
    }

    /// Washing keeps the bit exact, floods its noise over `[-F, F]` and re-randomizes its
    /// mask, whatever noise the input had; a plain bootstrap is a fixed function of its input.
    #[test]
    fn wash_keeps_the_bit_and_forgets_the_input() {
        let client = ClientKey::generate(ParamSetId::default()).unwrap();
        let server = ServerKey::expand(&client.evaluation_key().unwrap()).unwrap();
        let sk = server.bootstrap.as_ref().unwrap();
        let p = sk.params;
        let key = WashKey::new(&client.wash_key().unwrap(), &p);
        let secret = client.glwe.as_lwe_secret_key();
        let noise = |ct: &LweCiphertextOwned<u64>, bit: bool| {
            decrypt_lwe_ciphertext(&secret, ct).0.wrapping_sub(bit_phase(bit)) as i64 as f64
        };
        let mut washer = Washer::new(&p, usize::MAX);
        let runs = 32;
        for bit in [false, true] {
            // two inputs of the same bit: a label bootstrap's output, and the same shifted by
            // 2^52 (standing for another model's noise)
            let a = washer.sign(sk, &encrypt_bit(&client, bit, &p));
            let mut b = a.clone();
            let body = b.get_mut_body().data;
            *body = body.wrapping_add(1 << 52);
            // without washing, the output is a fixed function of the input: the buyer can
            // recompute it, and the shift shows exactly
            assert_eq!(washer.sign(sk, &a), washer.sign(sk, &a));
            assert_eq!(noise(&b, bit) - noise(&a, bit), 2f64.powi(52));
            let mut means = Vec::new();
            let mut masks = Vec::new();
            for input in [&a, &b] {
                let (mut sum, mut sq) = (0f64, 0f64);
                for _ in 0..runs {
                    let mut ct = input.clone();
                    washer.wash(sk, &key, &mut ct);
                    let phase = decrypt_lwe_ciphertext(&secret, &ct).0;
                    assert_eq!(decode_bit(phase), bit);
                    let e = noise(&ct, bit);
                    assert!(e.abs() <= FLOOD as f64 + 2f64.powi(54), "noise 2^{}", e.abs().log2());
                    sum += e;
                    sq += e * e;
                    masks.push(ct.get_mask().as_ref()[..8].to_vec());
                }
                // the flood is uniform on [-F, F]: standard deviation F / sqrt(3)
                let std = (sq / f64::from(runs)).sqrt() / (FLOOD as f64 / 3f64.sqrt());
                assert!((0.7..1.3).contains(&std), "noise std {std} of the flood's");
                means.push(sum / f64::from(runs));
            }
            // the two inputs' noise means agree within 5 standard deviations of the difference
            let sd = FLOOD as f64 / 3f64.sqrt() * (2.0 / f64::from(runs)).sqrt();
            assert!((means[0] - means[1]).abs() < 5.0 * sd, "means {means:?}");
            // every washed copy has its own mask
            masks.sort();
            masks.dedup();
            assert_eq!(masks.len(), 2 * runs as usize);
        }
    }
}

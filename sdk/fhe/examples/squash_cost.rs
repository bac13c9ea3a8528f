//! What sanitizing a bootstrapped result (tree or network) would cost with a 128-bit "noise
//! squashing" bootstrap, the construction the model-IP issue needs for those models: a bootstrap
//! output carries ~2^49.5 of noise on the 2^64 torus, which cannot be flooded by 2^40 there, so
//! the result must first be bootstrapped into a 128-bit domain (then re-randomized and flooded
//! as leveled results are). This times one such bootstrap from this engine's small key
//! (n = 918) and sizes its key, for tfhe's own noise-squashing parameters and for an output
//! under the 128-bit leveled domain's N = 4096 key.
//!
//! `cargo run --release -p modelmart-fhe --example squash_cost` (a few minutes; ~2 GB of memory).

#![allow(clippy::print_stdout)] // an example: its output is the measurement

use std::time::Instant;

use tfhe::core_crypto::prelude::*;

fn main() {
    let n = LweDimension(918);
    // (name, k, N, base log, levels, TUniform bound of the key noise)
    let sets = [
        ("tfhe 1.8 NOISE_SQUASHING_PARAM_MESSAGE_2_CARRY_2 (k=2, N=2048)", 2, 2048, 24, 3, 30),
        ("into the leveled domain's key (k=1, N=4096)", 1, 4096, 24, 3, 24),
    ];
    let mut boxed = new_seeder();
    let seeder = boxed.as_mut();
    let mut secret = SecretRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed());
    let mut enc = EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder);
    let small = LweSecretKey::<Vec<u128>>::generate_new_binary(n, &mut secret);
    let modulus = CiphertextModulus::<u128>::new_native();
    for (name, k, size, base, levels, bound) in sets {
        let (k, size) = (GlweDimension(k), PolynomialSize(size));
        let glwe = GlweSecretKey::<Vec<u128>>::generate_new_binary(k, size, &mut secret);
        let start = Instant::now();
        let seeded = par_allocate_and_generate_new_seeded_lwe_bootstrap_key(
            &small,
            &glwe,
            DecompositionBaseLog(base),
            DecompositionLevelCount(levels),
            DynamicDistribution::new_t_uniform(bound),
            modulus,
            seeder,
        );
        let keygen = start.elapsed();
        let seeded_bytes = seeded.as_ref().len() * 16;
        let standard = seeded.decompress_into_lwe_bootstrap_key();
        let mut fourier = Fourier128LweBootstrapKey::new(
            standard.input_lwe_dimension(),
            standard.glwe_size(),
            standard.polynomial_size(),
            standard.decomposition_base_log(),
            standard.decomposition_level_count(),
        );
        par_convert_standard_lwe_bootstrap_key_to_fourier_128(&standard, &mut fourier);
        drop(standard);
        let lut = GlweCiphertext::new(1u128 << 100, k.to_glwe_size(), size, modulus);
        let input: LweCiphertextOwned<u128> = allocate_and_encrypt_new_lwe_ciphertext(
            &small,
            Plaintext(1u128 << 120),
            DynamicDistribution::new_t_uniform(46),
            modulus,
            &mut enc,
        );
        let mut out = LweCiphertext::new(
            0u128,
            glwe.as_lwe_secret_key().lwe_dimension().to_lwe_size(),
            modulus,
        );
        let runs = 5;
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                programmable_bootstrap_f128_lwe_ciphertext(&input, &mut out, &lut, &fourier);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "{{\"set\":\"{name}\",\"pbs_ms_median_one_core\":{:.1},\"runs\":{runs},\"seeded_key_mb\":{:.1},\"keygen_s\":{:.1}}}",
            times[runs / 2],
            seeded_bytes as f64 / 1e6,
            keygen.as_secs_f64()
        );
    }
}

//! One bootstrap over two threads, for the stages where a single row waits on a chain of
//! bootstraps (a washed bit's floor, sign and wash) and the other core would idle.
//!
//! The key switch splits by input coefficient: each thread switches half of the mask (the
//! first half with the body) against its half of the key-switching key, and the two outputs
//! add up to the whole switch. The blind rotation splits by GLWE component (k = 1, one
//! decomposition level): in every step thread `j` rotates its accumulator polynomial,
//! decomposes it and takes its FFT; after one barrier it multiplies both FFTs by its column of
//! the bootstrapping key's GGSW and adds the inverse FFT to its polynomial. Thread `j` only
//! ever needs its own polynomial, so one barrier per step suffices, with the FFTs double
//! buffered by step parity (a thread cannot start writing a buffer before the other has
//! passed the barrier after its last read of it).
//!
//! The arithmetic is the same external product as tfhe's (balanced digits of the top
//! `base_log` bits, products in the Fourier domain); the test compares decryptions and noise
//! with the one-thread bootstrap.

use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tfhe::core_crypto::algorithms::polynomial_algorithms::polynomial_wrapping_monic_monomial_div;
use tfhe::core_crypto::commons::computation_buffers::ComputationBuffers;
use tfhe::core_crypto::fft_impl::fft64::math::fft::{Fft, FftView};
use tfhe::core_crypto::fft_impl::fft64::math::polynomial::FourierPolynomial;
use tfhe::core_crypto::prelude::*;
use tfhe_fft::c64;

use crate::fhe::keys::BootstrapKeys;

/// Rounds before a waiting thread yields its core instead of spinning.
const SPINS: u32 = 1 << 12;

/// A reusable barrier for two threads that spin (a step is ~20 µs; sleeping would cost more).
struct SpinBarrier {
    arrived: AtomicUsize,
}

impl SpinBarrier {
    /// Wait until both threads have arrived at step `step` (0, 1, 2, ... in order).
    fn wait(&self, step: usize) {
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let target = 2 * (step + 1);
        let mut spins = 0u32;
        while self.arrived.load(Ordering::Acquire) < target {
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// What the two threads share: each one's FFT for the current and the next step.
struct Shared {
    barrier: SpinBarrier,
    /// `fourier[j][parity]`: thread `j`'s decomposed polynomial in the Fourier domain.
    fourier: [[RwLock<Vec<c64>>; 2]; 2],
}

/// Per-thread FFT plan and scratch.
pub(super) struct SplitScratch {
    fft: Fft,
    buffers: [ComputationBuffers; 2],
}

impl SplitScratch {
    /// Scratch for parameter set `p`'s polynomial size.
    pub(super) fn new(p: &crate::params::Params) -> Self {
        let fft = Fft::new(p.polynomial_size);
        let req = fft.as_view().forward_scratch().and(fft.as_view().backward_scratch());
        let buffers = [(); 2].map(|()| {
            let mut b = ComputationBuffers::new();
            b.resize(req.unaligned_bytes_required());
            b
        });
        Self { fft, buffers }
    }

    /// Key switch, centered modulus switch, blind rotation of `lut` and sample extraction,
    /// each split over this thread and one more.
    pub(super) fn bootstrap(
        &mut self,
        sk: &BootstrapKeys,
        input: &LweCiphertextOwned<u64>,
        lut: &GlweCiphertextOwned<u64>,
    ) -> LweCiphertextOwned<u64> {
        let p = &sk.params;
        let small = keyswitch(sk, input);
        let log_2n = CiphertextModulusLog(p.polynomial_size.log2().0 + 1);
        let msed =
            lwe_ciphertext_centered_binary_modulus_switch::<u64, usize, _>(small.as_view(), log_2n);
        let mask: Vec<usize> = msed.mask().collect();
        let n = p.polynomial_size.0;
        let mut acc = lut.clone();
        let half = n / 2;
        let zero = c64::new(0.0, 0.0);
        let shared = Shared {
            barrier: SpinBarrier { arrived: AtomicUsize::new(0) },
            fourier: [(); 2].map(|()| [(); 2].map(|()| RwLock::new(vec![zero; half]))),
        };
        let fft = self.fft.as_view();
        let (poly0, poly1) = acc.as_mut().split_at_mut(n);
        let [b0, b1] = &mut self.buffers;
        let body = msed.body();
        let (shared, mask) = (&shared, &mask[..]);
        std::thread::scope(|s| {
            s.spawn(move || rotate(1, poly1, body, mask, sk, fft, shared, b1));
            rotate(0, poly0, body, mask, sk, fft, shared, b0);
        });
        let mut out = LweCiphertext::new(0u64, p.big_lwe_dimension().to_lwe_size(), p.modulus());
        extract_lwe_sample_from_glwe_ciphertext(&acc, &mut out, MonomialDegree(0));
        out
    }
}

/// The key switch as two halves of the input mask (the body with the first), added up.
fn keyswitch(sk: &BootstrapKeys, input: &LweCiphertextOwned<u64>) -> LweCiphertextOwned<u64> {
    let ksk = &sk.ksk;
    let (dim, levels) = (ksk.input_key_lwe_dimension().0, ksk.decomposition_level_count().0);
    let out_size = ksk.output_lwe_size();
    let mid = dim / 2;
    let row = levels * out_size.0;
    let half = |from: usize, to: usize, body: u64| {
        let part = LweKeyswitchKey::from_container(
            &ksk.as_ref()[from * row..to * row],
            ksk.decomposition_base_log(),
            ksk.decomposition_level_count(),
            out_size,
            ksk.ciphertext_modulus(),
        );
        let mut data = input.as_ref()[from..to].to_vec();
        data.push(body);
        let part_in = LweCiphertext::from_container(data, input.ciphertext_modulus());
        let mut out = LweCiphertext::new(0u64, out_size, input.ciphertext_modulus());
        keyswitch_lwe_ciphertext(&part, &part_in, &mut out);
        out
    };
    let body = *input.get_body().data;
    let (mut first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| half(mid, dim, 0));
        (half(0, mid, body), second.join())
    });
    if let Ok(second) = second {
        lwe_ciphertext_add_assign(&mut first, &second);
    } else {
        // the helper thread cannot fail short of a panic in tfhe; switch its half here
        lwe_ciphertext_add_assign(&mut first, &half(mid, dim, 0));
    }
    first
}

/// Thread `j`'s half of the blind rotation: its accumulator polynomial `poly`, first divided by
/// `X^body`, then one CMux step per non-zero mask coefficient.
#[allow(clippy::too_many_arguments)] // one thread's share of a bootstrap's state
fn rotate(
    j: usize,
    poly: &mut [u64],
    body: usize,
    mask: &[usize],
    sk: &BootstrapKeys,
    fft: FftView<'_>,
    shared: &Shared,
    buffers: &mut ComputationBuffers,
) {
    let n = poly.len();
    let half = n / 2;
    let rotated: Vec<u64> = poly.to_vec();
    let mut p = Polynomial::from_container(&mut *poly);
    polynomial_wrapping_monic_monomial_div(
        &mut p,
        &Polynomial::from_container(&rotated[..]),
        MonomialDegree(body),
    );
    let base_log = sk.params.pbs_base_log.0 as u32;
    let mut digits = vec![0u64; n];
    let mut out = vec![c64::new(0.0, 0.0); half];
    let ggsws = sk.bsk.as_view().into_ggsw_iter();
    let mut step = 0usize;
    for (a, ggsw) in mask.iter().zip(ggsws) {
        if *a == 0 {
            continue;
        }
        // digits of poly * X^a - poly: balanced, of its top `base_log` bits
        rotate_subtract_decompose(poly, *a, base_log, &mut digits);
        let parity = step % 2;
        if let Ok(mut f) = shared.fourier[j][parity].write() {
            fft.forward_as_integer(
                FourierPolynomial { data: &mut f[..] },
                Polynomial::from_container(&digits[..]),
                buffers.stack(),
            );
        }
        shared.barrier.wait(step);
        // out_j = F_0 G[0][j] + F_1 G[1][j] (rows: input components; columns: output ones)
        let g = ggsw.data();
        if let (Ok(f0), Ok(f1)) =
            (shared.fourier[0][parity].read(), shared.fourier[1][parity].read())
        {
            let (g0, g1) = (&g[j * half..][..half], &g[(2 + j) * half..][..half]);
            let (f0, f1) = (&f0[..half], &f1[..half]);
            for k in 0..half {
                out[k] = f0[k] * g0[k] + f1[k] * g1[k];
            }
        }
        fft.add_backward_in_place_as_torus(
            Polynomial::from_container(&mut *poly),
            FourierPolynomial { data: &mut out[..] },
            buffers.stack(),
        );
        step += 1;
    }
}

/// `digits = decompose(poly * X^a - poly)` in `Z[X]/(X^N + 1)`, `a < 2N`: each coefficient
/// rounded to its top `base_log` bits, as a balanced digit (one decomposition level).
fn rotate_subtract_decompose(poly: &[u64], a: usize, base_log: u32, digits: &mut [u64]) {
    let n = poly.len();
    let (shift, negate) = if a >= n { (a - n, true) } else { (a, false) };
    let low = 64 - base_log;
    let round = 1u64 << (low - 1);
    let digit = |v: u64, p: u64| {
        let diff = v.wrapping_sub(p);
        // round to the nearest multiple of 2^low, keep the digit signed in [-2^(b-1), 2^(b-1))
        let top = diff.wrapping_add(round) >> low;
        (((top << low) as i64) >> low) as u64
    };
    // coefficient k of poly * X^shift is poly[k - shift], negated when it wrapped around
    let (head, tail) = digits.split_at_mut(shift);
    let (wrapped, kept) = (&poly[n - shift..], &poly[..n - shift]);
    for ((d, w), p) in head.iter_mut().zip(wrapped).zip(&poly[..shift]) {
        *d = digit(if negate { *w } else { w.wrapping_neg() }, *p);
    }
    for ((d, v), p) in tail.iter_mut().zip(kept).zip(&poly[shift..]) {
        *d = digit(if negate { v.wrapping_neg() } else { *v }, *p);
    }
}

/// Run `f` on every item: side by side on rayon's threads, or, with fewer items than cores,
/// in turn on this thread, whose split bootstraps then take the cores (outside rayon, whose idle
/// workers would otherwise spin beside their helper threads).
pub(super) fn stage<T: Send, R: Send, S>(
    items: Vec<T>,
    init: impl Fn() -> S + Send + Sync,
    f: impl Fn(&mut S, T) -> R + Send + Sync,
) -> Vec<R> {
    if items.len() < rayon::current_num_threads() {
        let mut state = init();
        items.into_iter().map(|item| f(&mut state, item)).collect()
    } else {
        use rayon::prelude::*;
        items.into_par_iter().map_init(init, f).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhe::eval::{Scratch, constant_lut, encryptor, test_keys};

    /// The two-thread bootstrap decrypts to what the one-thread bootstrap does, with noise of
    /// the same size, on both sides of the sign test.
    #[test]
    fn a_split_bootstrap_equals_the_one_thread_bootstrap() {
        let (client, server) = test_keys();
        let sk = server.bootstrap.as_ref().unwrap();
        let p = sk.params;
        let key = client.glwe.as_lwe_secret_key();
        let mut encrypt = encryptor(&client);
        let v = 1u64 << 62;
        let lut = constant_lut(&p, v);
        let (mut one, mut two) = (Scratch::new(&p), SplitScratch::new(&p));
        let (mut worst_one, mut worst_two) = (0u64, 0u64);
        for i in 0..24u64 {
            let phase = ((i % 16) << 59).wrapping_sub(15 << 58);
            let ct = encrypt(phase);
            let expect = if i % 16 > 7 { v } else { v.wrapping_neg() };
            for (scratch_out, worst) in [
                (one.bootstrap(sk, &ct, &lut), &mut worst_one),
                (two.bootstrap(sk, &ct, &lut), &mut worst_two),
            ] {
                let err = decrypt_lwe_ciphertext(&key, &scratch_out).0.wrapping_sub(expect) as i64;
                assert!(err.unsigned_abs() < 1 << 56, "phase {phase:#x}: error {err}");
                *worst = (*worst).max(err.unsigned_abs());
            }
        }
        // the same noise distribution: worst cases within a factor of 4 of each other
        assert!(worst_two < 4 * worst_one && worst_one < 4 * worst_two, "{worst_one} {worst_two}");
    }

    /// The rotation by `X^a` and the decomposition: `a` and `a + N` differ by a sign, and a
    /// coefficient's digit times `2^(64 - b)` is within half a step of it.
    #[test]
    fn rotate_subtract_decompose_is_the_negacyclic_rotation() {
        let n = 8;
        let poly: Vec<u64> = (1..=n as u64).map(|v| v << 50).collect();
        let mut d = vec![0u64; n];
        rotate_subtract_decompose(&poly, 3, 23, &mut d);
        // coefficient 0 of poly X^3 is -poly[5]
        let expect = poly[5].wrapping_neg().wrapping_sub(poly[0]);
        assert_eq!(d[0] << 41, expect.wrapping_add(1 << 40) >> 41 << 41);
        let mut e = vec![0u64; n];
        rotate_subtract_decompose(&poly, 3 + n, 23, &mut e);
        let expect = poly[5].wrapping_sub(poly[0]);
        assert_eq!(e[0] << 41, expect.wrapping_add(1 << 40) >> 41 << 41);
        assert_eq!(d[4] << 41, poly[1].wrapping_sub(poly[4]).wrapping_add(1 << 40) >> 41 << 41);
    }
}

//! Polynomial arithmetic of the 128-bit domain in the Fourier domain, and result sanitization:
//! fresh encryptions of zero under the buyer's compact public key plus noise flooding (the
//! argument and its bound are in `eval/wide.rs`).
//!
//! A 128-bit polynomial is split into eight 16-bit limbs whose FFTs are taken once; multiplying
//! by a polynomial of small integers (weights, a binary vector) is then one forward FFT of the
//! small side and one inverse FFT per limb. Every limb product is an integer below
//! `2^16 * ||small||_1 <= 2^36` here, far inside what an f64 FFT of size 4096 computes exactly,
//! so the results are the same integers as a schoolbook product (unit tests compare against
//! tfhe's own convolution and sample extraction). tfhe computes the public-key product with
//! Karatsuba on 128-bit words: 3.5 ms at N = 4096.
//!
//! An encryption of zero is tfhe's compact-public-key encryption: `mask = A (*) r + e1`,
//! `body = <B, r> + e2`, fresh binary `r`, TUniform(24) `e1`, `e2`, where `(*)` is
//! [`slice_semi_reverse_negacyclic_convolution`](tfhe::core_crypto::algorithms::slice_algorithms::slice_semi_reverse_negacyclic_convolution),
//! i.e. the negacyclic product `A * rev(r)`.

use std::sync::OnceLock;
use std::time::Duration;

use rand::RngCore;
use tfhe::core_crypto::prelude::*;
use tfhe_fft::c64;
use tfhe_fft::unordered::{Method, Plan};

use crate::params::WIDE_NOISE_BOUND_LOG;

/// Limbs a 128-bit polynomial is split into.
const LIMBS: usize = 8;
/// Bits per limb.
const LIMB_BITS: u32 = 16;

/// FFTs of the eight 16-bit limbs of a 128-bit polynomial.
pub(crate) type Limbs = Vec<Vec<c64>>;

/// `x(X^-1)` in `Z[X]/(X^N + 1)`: `y[0] = x[0]`, `y[j] = -x[N - j]`. A ring automorphism and
/// an involution; sample extraction and tfhe's semi-reverse convolution are products seen
/// through it.
pub(crate) fn invert_x(x: &[u128], y: &mut [u128]) {
    let n = x.len();
    y[0] = x[0];
    for (j, v) in y.iter_mut().enumerate().skip(1) {
        *v = x[n - j].wrapping_neg();
    }
}

/// Plan and twisting factors of the negacyclic FFT of one polynomial size.
struct Tables {
    plan: Plan,
    /// `exp(i pi j / N)`, `j < N/2`.
    twist: Vec<c64>,
    /// `exp(-i pi j / N) / (N/2)`: untwisting and normalization of the inverse transform.
    untwist: Vec<c64>,
}

/// How the FFT plan is chosen: natively by timing every candidate for 10 ms (once per process);
/// in a browser a fixed plan, because timing the candidates there cost ~0.5 s on the first
/// encryption (with a coarse clock) for a transform that then takes ~12 ms either way.
fn plan_method() -> Method {
    if cfg!(target_arch = "wasm32") {
        Method::UserProvided { base_algo: tfhe_fft::ordered::FftAlgo::Dif4, base_n: 512 }
    } else {
        Method::Measure(Duration::from_millis(10))
    }
}

/// The tables for size `n`, built (and the plan measured) once per process.
fn tables(n: usize) -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    let t = TABLES.get_or_init(|| {
        let half = n / 2;
        let unit = std::f64::consts::PI / n as f64;
        let twist: Vec<c64> = (0..half)
            .map(|j| {
                let (im, re) = (j as f64 * unit).sin_cos();
                c64::new(re, im)
            })
            .collect();
        let untwist = twist.iter().map(|w| w.conj() / half as f64).collect();
        Tables { plan: Plan::new(half, plan_method()), twist, untwist }
    });
    debug_assert_eq!(t.twist.len() * 2, n);
    t
}

/// Per-thread FFT buffers for polynomials of the 128-bit domain (N = 4096): the negacyclic
/// transform folds `(p[j], p[j + N/2])` into one complex value, twists it by `exp(i pi j / N)`
/// and runs a complex FFT of size N/2, as tfhe's own transform does; the inverse untwists and
/// rounds every value to the nearest integer (exact while products stay below 2^52).
pub(crate) struct LimbFft {
    tables: &'static Tables,
    buffers: ComputationBuffers,
    n: usize,
    /// The Fourier accumulator, one polynomial per limb (reused: no allocation per product).
    acc: Limbs,
    buf: Vec<c64>,
}

impl LimbFft {
    /// Buffers for polynomials of size `n` (the 128-bit domain's N).
    pub(crate) fn new(n: usize) -> Self {
        let tables = tables(n);
        let mut buffers = ComputationBuffers::new();
        buffers.resize(tables.plan.fft_scratch().unaligned_bytes_required());
        let zero = c64::new(0.0, 0.0);
        Self { tables, buffers, n, acc: vec![vec![zero; n / 2]; LIMBS], buf: vec![zero; n / 2] }
    }

    /// Limb FFTs of a 128-bit polynomial.
    pub(crate) fn limbs(&mut self, p: &[u128]) -> Limbs {
        (0..LIMBS)
            .map(|k| {
                let shift = LIMB_BITS * k as u32;
                self.forward(|j| ((p[j] >> shift) & 0xFFFF) as f64);
                self.buf.clone()
            })
            .collect()
    }

    /// Start a new product sum.
    pub(crate) fn clear(&mut self) {
        for a in &mut self.acc {
            a.fill(c64::new(0.0, 0.0));
        }
    }

    /// `acc += big * small`, limb by limb, in the Fourier domain; `small(j)` is the `j`-th
    /// coefficient of a polynomial of small integers.
    pub(crate) fn mul_add(&mut self, big: &Limbs, small: impl Fn(usize) -> f64) {
        self.forward(small);
        for (a, l) in self.acc.iter_mut().zip(big) {
            for ((a, x), y) in a.iter_mut().zip(l).zip(&self.buf) {
                *a += x * y;
            }
        }
    }

    /// Back from the Fourier domain: `out = sum_k limb_k 2^(16 k)`.
    pub(crate) fn finish(&mut self, out: &mut [u128]) {
        out.fill(0);
        let (low, high) = out.split_at_mut(self.n / 2);
        for k in 0..LIMBS {
            self.buf.copy_from_slice(&self.acc[k]);
            self.tables.plan.inv(&mut self.buf, self.buffers.stack());
            let shift = LIMB_BITS * k as u32;
            for (((v, w), lo), hi) in
                self.buf.iter().zip(&self.tables.untwist).zip(low.iter_mut()).zip(high.iter_mut())
            {
                let v = v * w;
                *lo = lo.wrapping_add((round(v.re) as i128 as u128) << shift);
                *hi = hi.wrapping_add((round(v.im) as i128 as u128) << shift);
            }
        }
    }

    /// Negacyclic FFT of the polynomial `value(0..N)` into `buf`.
    fn forward(&mut self, value: impl Fn(usize) -> f64) {
        let half = self.n / 2;
        for (j, (b, w)) in self.buf.iter_mut().zip(&self.tables.twist).enumerate() {
            *b = c64::new(value(j), value(j + half)) * w;
        }
        self.tables.plan.fwd(&mut self.buf, self.buffers.stack());
    }
}

/// The buyer's compact public key of the 128-bit domain, with the limb FFTs of `A(X^-1)`.
pub(crate) struct SanitizeKey {
    pk: LweCompactPublicKeyOwned<u128>,
    limbs: Limbs,
}

/// The random part of one encryption of zero.
pub(crate) struct ZeroDraw {
    /// Binary vector `r`.
    pub(crate) r: Vec<u64>,
    /// Mask noise `e1`.
    pub(crate) e1: Vec<u128>,
    /// What the body gets: `<B, r> + e2 + flood`.
    pub(crate) body: u128,
}

impl SanitizeKey {
    /// Precompute the limb FFTs of `pk`'s mask, seen through `X -> X^-1`.
    pub(crate) fn new(pk: LweCompactPublicKeyOwned<u128>) -> Self {
        let mut f = LimbFft::new(pk.lwe_dimension().0);
        let mut inv = vec![0u128; pk.lwe_dimension().0];
        invert_x(pk.get_mask().as_ref(), &mut inv);
        let limbs = f.limbs(&inv);
        Self { pk, limbs }
    }
    /// Draw a fresh encryption of zero's randomness from `rng` (a CSPRNG seeded from the OS),
    /// with a flood uniform on `[-2^flood_log, 2^flood_log)` folded into the body term.
    pub(crate) fn draw(&self, flood_log: u32, rng: &mut impl RngCore) -> ZeroDraw {
        let n = self.pk.lwe_dimension().0;
        let mut r = vec![0u64; n];
        for chunk in r.chunks_mut(64) {
            let bits = rng.next_u64();
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = (bits >> j) & 1;
            }
        }
        // two TUniform(24) samples (26 bits each) per 64-bit draw
        let e1 = (0..n.div_ceil(2))
            .flat_map(|_| {
                let bits = rng.next_u64();
                [t_uniform(bits), t_uniform(bits >> 32)]
            })
            .take(n)
            .collect();
        let dot = self
            .pk
            .get_body()
            .as_ref()
            .iter()
            .zip(&r)
            .filter(|(_, r)| **r == 1)
            .fold(0u128, |acc, (b, _)| acc.wrapping_add(*b));
        let bits = u128::from(rng.next_u64()) | (u128::from(rng.next_u64()) << 64);
        let flood = (bits & ((1u128 << (flood_log + 1)) - 1)).wrapping_sub(1u128 << flood_log);
        let e2 = t_uniform(rng.next_u64());
        ZeroDraw { r, e1, body: dot.wrapping_add(e2).wrapping_add(flood) }
    }

    /// Add `A(X^-1) * rev(r)(X^-1)` to `f`'s accumulator: after [`LimbFft::finish`] and
    /// [`invert_x`], that is the encryption of zero's mask `A * rev(r)` (without `e1`).
    /// `rev(r)(X^-1)` has coefficients `r[N-1], -r[0], -r[1], ..., -r[N-2]`.
    pub(crate) fn mul_add(&self, draw: &ZeroDraw, f: &mut LimbFft) {
        let r = &draw.r;
        let n = r.len();
        f.mul_add(&self.limbs, |j| if j == 0 { r[n - 1] as f64 } else { -(r[j - 1] as f64) });
    }
}

/// Time `n` sanitizations on one thread (draw, Fourier product, mask noise): the marginal
/// cost sanitization adds to one result ciphertext.
pub(crate) fn bench(key: &SanitizeKey, n: usize) -> std::time::Duration {
    use rand::SeedableRng;
    let dim = key.pk.lwe_dimension().0;
    let mut f = LimbFft::new(dim);
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut mask = vec![0u128; dim];
    let start = std::time::Instant::now();
    for _ in 0..n {
        let draw = key.draw(100, &mut rng);
        key.mul_add(&draw, &mut f);
        for (m, e) in mask.iter_mut().zip(&draw.e1) {
            *m = m.wrapping_add(*e);
        }
    }
    start.elapsed() / n.max(1) as u32
}

/// Nearest integer of `x`, `|x| < 2^51` (ties to even): adding 1.5 * 2^52 leaves no fraction
/// bits, so the FPU's own rounding does it; `f64::round` is a libm call ten times slower.
fn round(x: f64) -> i64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    ((x + MAGIC) - MAGIC) as i64
}

/// TUniform(24) on the 128-bit torus from the low 26 bits of `bits`, sampled as tfhe samples
/// it: `[-2^24, 2^24]`, the two ends with half the probability of the others.
pub(crate) fn t_uniform(bits: u64) -> u128 {
    let b = WIDE_NOISE_BOUND_LOG;
    let v = bits & ((1 << (b + 2)) - 1);
    let v = (v >> 1) + (v & 1);
    (v as i64 - (1i64 << b)) as i128 as u128
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tfhe::core_crypto::algorithms::slice_algorithms::slice_semi_reverse_negacyclic_convolution;

    use super::*;

    /// The Fourier path gives exactly tfhe's semi-reverse negacyclic convolution.
    #[test]
    fn public_key_product_is_exact() {
        let n = 4096;
        let mut rng = StdRng::seed_from_u64(7);
        let mut pk =
            LweCompactPublicKey::new(0u128, LweDimension(n), CiphertextModulus::new_native());
        for v in pk.as_mut().iter_mut() {
            *v = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
        }
        let key = SanitizeKey::new(pk.clone());
        let mut f = LimbFft::new(n);
        let draw = key.draw(10, &mut rng);
        f.clear();
        key.mul_add(&draw, &mut f);
        let mut out = vec![0u128; n];
        f.finish(&mut out);
        let mut got = vec![0u128; n];
        invert_x(&out, &mut got);
        let r: Vec<u128> = draw.r.iter().map(|v| u128::from(*v)).collect();
        let mut expect = vec![0u128; n];
        slice_semi_reverse_negacyclic_convolution(&mut expect, pk.get_mask().as_ref(), &r);
        assert_eq!(got, expect);
    }

    /// TUniform(24): every value of `[-2^24, 2^24]` reachable, nothing outside.
    #[test]
    fn t_uniform_range() {
        let bound = 1i128 << WIDE_NOISE_BOUND_LOG;
        let (lo, hi) = (t_uniform(0) as i128, t_uniform((1 << 26) - 1) as i128);
        assert_eq!((lo, hi), (-bound, bound));
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..10_000).all(|_| (t_uniform(rng.next_u64()) as i128).abs() <= bound));
    }
}

//! Result sanitization in the 128-bit domain: fresh encryptions of zero under the buyer's
//! compact public key, and noise flooding (the argument and its bound are in `eval/wide.rs`).
//!
//! An encryption of zero is tfhe's compact-public-key encryption, `mask = A (*) r + e1`,
//! `body = <B, r> + e2` with a fresh binary `r` and TUniform(24) `e1`, `e2`, where `(*)` is the
//! semi-reverse negacyclic convolution of
//! [`slice_semi_reverse_negacyclic_convolution`](tfhe::core_crypto::algorithms::slice_algorithms::slice_semi_reverse_negacyclic_convolution).
//! tfhe computes that product with Karatsuba on 128-bit words (3.5 ms at N = 4096); here `A`
//! is split into eight 16-bit limbs whose FFTs are computed once per key, so each product is one
//! forward and eight inverse FFTs. Every limb product is an integer below `N * 2^16 = 2^28` in
//! magnitude, far inside the 53 bits an f64 FFT computes exactly, so the result is the same
//! integers (a unit test checks it against tfhe's own convolution).

use tfhe::core_crypto::commons::math::random::RandomGenerator;
use tfhe::core_crypto::fft_impl::fft64::c64;
use tfhe::core_crypto::fft_impl::fft64::math::fft::Fft;
use tfhe::core_crypto::fft_impl::fft64::math::polynomial::FourierPolynomial;
use tfhe::core_crypto::prelude::*;

use crate::params::WIDE_NOISE_BOUND_LOG;

/// Limbs `A` is split into.
const LIMBS: usize = 8;
/// Bits per limb.
const LIMB_BITS: u32 = 16;

/// The buyer's compact public key of the 128-bit domain with the FFTs of its mask's limbs.
pub(crate) struct SanitizeKey {
    pk: LweCompactPublicKeyOwned<u128>,
    /// FFT of each 16-bit limb of the mask `A` (N/2 complex values each).
    limbs: Vec<Vec<c64>>,
}

impl SanitizeKey {
    /// Precompute the limb FFTs of `pk`'s mask.
    pub(crate) fn new(pk: LweCompactPublicKeyOwned<u128>) -> Self {
        let n = pk.lwe_dimension().0;
        let mut s = Scratch::new(n);
        let mask = pk.get_mask();
        let limbs = (0..LIMBS)
            .map(|k| {
                let limb: Vec<u64> = mask
                    .as_ref()
                    .iter()
                    .map(|a| ((a >> (LIMB_BITS * k as u32)) & 0xFFFF) as u64)
                    .collect();
                s.forward(&limb, true)
            })
            .collect();
        Self { pk, limbs }
    }

    /// Bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.pk.as_ref().len() * 16 + self.limbs.iter().map(|l| l.len() * 16).sum::<usize>()
    }

    /// Add a fresh encryption of zero under the key and `flood`, uniform on
    /// `[-2^flood_log, 2^flood_log)`, to `ct`.
    pub(crate) fn sanitize(
        &self,
        ct: &mut LweCiphertextOwned<u128>,
        flood_log: u32,
        rng: &mut RandomGenerator<DefaultRandomGenerator>,
        scratch: &mut Scratch,
    ) {
        let n = self.pk.lwe_dimension().0;
        // fresh binary r, 64 bits per draw
        let mut r = vec![0u64; n];
        for chunk in r.chunks_mut(64) {
            let bits: u64 = rng.random_uniform();
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = (bits >> j) & 1;
            }
        }
        // mask += A (*) r: the negacyclic product of A and reverse(r), limb by limb
        let rev: Vec<u64> = r.iter().rev().copied().collect();
        let fr = scratch.forward(&rev, false);
        let (mask, body) = ct.get_mut_mask_and_body();
        let mask = mask.into_container();
        for (k, limb) in self.limbs.iter().enumerate() {
            let prod: Vec<c64> = limb.iter().zip(&fr).map(|(a, b)| a * b).collect();
            let out = scratch.backward(&prod);
            let shift = LIMB_BITS * k as u32;
            for (m, v) in mask.iter_mut().zip(&out) {
                *m = m.wrapping_add(((*v as i64) as i128 as u128) << shift);
            }
        }
        for m in mask.iter_mut() {
            *m = m.wrapping_add(t_uniform(rng));
        }
        // body += <B, r> + e2 + flood
        let dot = self
            .pk
            .get_body()
            .as_ref()
            .iter()
            .zip(&r)
            .filter(|(_, r)| **r == 1)
            .fold(0u128, |acc, (b, _)| acc.wrapping_add(*b));
        let bits: u128 = rng.random_uniform();
        let flood = (bits & ((1u128 << (flood_log + 1)) - 1)).wrapping_sub(1u128 << flood_log);
        *body.data = body.data.wrapping_add(dot).wrapping_add(t_uniform(rng)).wrapping_add(flood);
    }
}

/// TUniform(24) on the 128-bit torus, sampled as tfhe samples it.
fn t_uniform(rng: &mut RandomGenerator<DefaultRandomGenerator>) -> u128 {
    let b = WIDE_NOISE_BOUND_LOG;
    let v: u64 = rng.random_uniform::<u64>() & ((1 << (b + 2)) - 1);
    let v = (v >> 1) + (v & 1);
    (v as i64 - (1i64 << b)) as i128 as u128
}

/// Per-thread FFT plan and buffers.
pub(crate) struct Scratch {
    fft: Fft,
    buffers: ComputationBuffers,
    n: usize,
}

impl Scratch {
    /// Buffers for polynomials of size `n`.
    pub(crate) fn new(n: usize) -> Self {
        let fft = Fft::new(PolynomialSize(n));
        let mut buffers = ComputationBuffers::new();
        let view = fft.as_view();
        let req = view.forward_scratch().and(view.backward_scratch());
        buffers.resize(req.unaligned_bytes_required());
        Self { fft, buffers, n }
    }

    /// FFT of `p`, as torus elements (the key side, scaled by 2^-64 as tfhe's external product
    /// does) or as small integers (the random side); the backward transform of their product is
    /// then the integer product, rounded back to 64 bits.
    fn forward(&mut self, p: &[u64], torus: bool) -> Vec<c64> {
        let mut out = FourierPolynomial::new(PolynomialSize(self.n));
        let (fft, stack) = (self.fft.as_view(), self.buffers.stack());
        let poly = Polynomial::from_container(p);
        if torus {
            fft.forward_as_torus(out.as_mut_view(), poly, stack);
        } else {
            fft.forward_as_integer(out.as_mut_view(), poly, stack);
        }
        out.data.to_vec()
    }

    fn backward(&mut self, f: &[c64]) -> Vec<u64> {
        let mut out = vec![0u64; self.n];
        self.fft.as_view().backward_as_torus(
            Polynomial::from_container(out.as_mut_slice()),
            FourierPolynomial { data: f },
            self.buffers.stack(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use tfhe::core_crypto::algorithms::slice_algorithms::slice_semi_reverse_negacyclic_convolution;
    use tfhe_csprng::seeders::Seed;

    use super::*;

    /// The limb FFT computes exactly tfhe's semi-reverse negacyclic convolution.
    #[test]
    fn limb_fft_convolution_is_exact() {
        let n = 4096;
        let mut rng = RandomGenerator::<DefaultRandomGenerator>::new(Seed(7));
        let mut pk =
            LweCompactPublicKey::new(0u128, LweDimension(n), CiphertextModulus::new_native());
        for v in pk.as_mut().iter_mut() {
            *v = rng.random_uniform();
        }
        let key = SanitizeKey::new(pk.clone());
        let mut scratch = Scratch::new(n);
        let mut ct = LweCiphertext::new(0u128, LweSize(n + 1), CiphertextModulus::new_native());
        let mut rng2 = RandomGenerator::<DefaultRandomGenerator>::new(Seed(9));
        key.sanitize(&mut ct, 10, &mut rng2, &mut scratch);
        // replay the same draws to get r and the mask noise
        let mut replay = RandomGenerator::<DefaultRandomGenerator>::new(Seed(9));
        let mut r = vec![0u128; n];
        for chunk in r.chunks_mut(64) {
            let bits: u64 = replay.random_uniform();
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = u128::from((bits >> j) & 1);
            }
        }
        let mut expect = vec![0u128; n];
        slice_semi_reverse_negacyclic_convolution(&mut expect, pk.get_mask().as_ref(), &r);
        for e in expect.iter_mut() {
            *e = e.wrapping_add(t_uniform(&mut replay));
        }
        assert_eq!(ct.get_mask().as_ref(), expect.as_slice());
    }
}

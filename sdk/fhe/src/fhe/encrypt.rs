//! Buyer side: encrypt quantized rows into a compact [`EncryptedInput`].

use rand::RngCore;
use tfhe::core_crypto::prelude::*;

use super::codec::{EncryptedInput, InputChunk};
use super::keys::ClientKey;
use super::sanitize::{LimbFft, t_uniform};
use crate::compiled::PublicModel;
use crate::params::Params;
use crate::{Error, Result};

impl ClientKey {
    /// Quantize and encrypt float feature rows for `model` (its public interface: the buyer
    /// never needs the weights).
    pub fn encrypt_rows(&self, model: &PublicModel, rows: &[Vec<f64>]) -> Result<EncryptedInput> {
        let q = rows.iter().map(|r| model.schema.quantize(r)).collect::<Result<Vec<_>>>()?;
        self.encrypt_quantized(model, &q)
    }

    /// Encrypt already-quantized rows for `model`.
    pub(crate) fn encrypt_quantized(
        &self,
        model: &PublicModel,
        rows: &[Vec<u64>],
    ) -> Result<EncryptedInput> {
        if model.param_set != self.param_set() {
            return Err(Error::nonconformant(
                "client key",
                format!(
                    "key is for parameter set {}, model for {}",
                    self.param_set, model.param_set.0
                ),
            ));
        }
        let features = model.schema.len();
        if rows.is_empty() {
            return Err(Error::SchemaMismatch("no rows".into()));
        }
        let shift = u32::from(model.encoding.input_delta_log);
        let low = u32::from(model.encoding.low_bits);
        let per_row = features * model.encoding.values_per_feature();
        let mut values: Vec<u128> = Vec::with_capacity(rows.len() * per_row);
        for (r, row) in rows.iter().enumerate() {
            if row.len() != features {
                return Err(Error::SchemaMismatch(format!(
                    "row {r}: {} values for {features} features",
                    row.len()
                )));
            }
            for (q, f) in row.iter().zip(&model.schema.features) {
                if *q >= 1u64 << f.bits {
                    return Err(Error::SchemaMismatch(format!(
                        "{} is quantized to {} bits",
                        f.name, f.bits
                    )));
                }
            }
            if low == 0 {
                values.extend(row.iter().map(|q| u128::from(*q) << shift));
            } else {
                // high digits of the row, then its low digits
                values.extend(row.iter().map(|q| u128::from(*q >> low) << shift));
                values.extend(row.iter().map(|q| u128::from(*q & ((1 << low) - 1)) << shift));
            }
        }
        let p = Params::get(self.param_set())?;
        let wide = model.encoding.wide();
        let chunks = if wide {
            self.encrypt_values_wide(&p, &values)
        } else {
            let narrow: Vec<u64> = values.iter().map(|v| *v as u64).collect();
            self.encrypt_values(&p, &narrow)
        };
        Ok(EncryptedInput {
            param_set: self.param_set,
            rows: rows.len() as u32,
            features: per_row as u32,
            wide,
            chunks,
        })
    }

    /// Encrypt encoded plaintexts, N per seeded GLWE; keep the seed and the used bodies only.
    pub(crate) fn encrypt_values(&self, p: &Params, values: &[u64]) -> Vec<InputChunk> {
        let n = p.polynomial_size.0;
        let mut seeder = super::os_seeder();
        values
            .chunks(n)
            .map(|chunk| {
                let mut plain = PlaintextList::new(0u64, PlaintextCount(n));
                plain.as_mut()[..chunk.len()].copy_from_slice(chunk);
                let seed = seeder.seed();
                let mut ct = SeededGlweCiphertext::new(
                    0u64,
                    p.glwe_dimension.to_glwe_size(),
                    p.polynomial_size,
                    seed.into(),
                    p.modulus(),
                );
                encrypt_seeded_glwe_ciphertext(
                    &self.glwe,
                    &mut ct,
                    &plain,
                    p.glwe_noise,
                    seeder.as_mut(),
                );
                InputChunk { seed: seed.0, bodies: ct.get_body().as_ref()[..chunk.len()].to_vec() }
            })
            .collect()
    }

    /// Encrypt encoded plaintexts of the 128-bit domain, N = 4096 per seeded GLWE; each kept
    /// body is stored as two words (low, high).
    ///
    /// The mask is regenerated from the seed exactly as the evaluator will regenerate it; the
    /// body `A * S + M + E` takes its product in the Fourier domain (16-bit limbs, exact), not
    /// with tfhe's Karatsuba on 128-bit words (3.5 ms per chunk), and its TUniform(24) noise from
    /// a CSPRNG seeded by the OS.
    pub(crate) fn encrypt_values_wide(&self, p: &Params, values: &[u128]) -> Vec<InputChunk> {
        use rand::SeedableRng;
        let n = p.wide_polynomial_size.0;
        let key: Vec<f64> = self.wide_key().as_ref().iter().map(|b| *b as f64).collect();
        let mut seeder = super::os_seeder();
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut f = LimbFft::new(n);
        let mut product = vec![0u128; n];
        values
            .chunks(n)
            .map(|chunk| {
                let seed = seeder.seed();
                let glwe = SeededGlweCiphertext::new(
                    0u128,
                    GlweSize(2),
                    p.wide_polynomial_size,
                    seed.into(),
                    CiphertextModulus::new_native(),
                )
                .decompress_into_glwe_ciphertext();
                let limbs = f.limbs(glwe.get_mask().as_polynomial_list().get(0).as_ref());
                f.clear();
                f.mul_add(&limbs, |j| key[j]);
                f.finish(&mut product);
                let bodies = product
                    .iter()
                    .zip(chunk)
                    .map(|(a_s, m)| a_s.wrapping_add(*m).wrapping_add(t_uniform(rng.next_u64())))
                    .flat_map(|b| [b as u64, (b >> 64) as u64])
                    .collect();
                InputChunk { seed: seed.0, bodies }
            })
            .collect()
    }
}

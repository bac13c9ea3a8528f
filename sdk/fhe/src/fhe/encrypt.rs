//! Buyer side: encrypt quantized rows into a compact [`EncryptedInput`].

use tfhe::core_crypto::prelude::*;

use super::codec::{EncryptedInput, InputChunk};
use super::keys::ClientKey;
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
    pub fn encrypt_quantized(
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
        let mut values: Vec<u128> = Vec::with_capacity(rows.len() * features);
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
                values.push(u128::from(*q) << shift);
            }
        }
        let p = Params::get(self.param_set())?;
        let wide = model.encoding.wide;
        let chunks = if wide {
            self.encrypt_values_wide(&p, &values)
        } else {
            let narrow: Vec<u64> = values.iter().map(|v| *v as u64).collect();
            self.encrypt_values(&p, &narrow)
        };
        Ok(EncryptedInput {
            param_set: self.param_set,
            rows: rows.len() as u32,
            features: features as u32,
            wide,
            chunks,
        })
    }

    /// Encrypt encoded plaintexts, N per seeded GLWE; keep the seed and the used bodies only.
    pub(crate) fn encrypt_values(&self, p: &Params, values: &[u64]) -> Vec<InputChunk> {
        let n = p.polynomial_size.0;
        let mut seeder = new_seeder();
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
    pub(crate) fn encrypt_values_wide(&self, p: &Params, values: &[u128]) -> Vec<InputChunk> {
        let n = p.wide_polynomial_size.0;
        let key = self.wide_key();
        let mut seeder = new_seeder();
        values
            .chunks(n)
            .map(|chunk| {
                let mut plain = PlaintextList::new(0u128, PlaintextCount(n));
                plain.as_mut()[..chunk.len()].copy_from_slice(chunk);
                let seed = seeder.seed();
                let mut ct = SeededGlweCiphertext::new(
                    0u128,
                    GlweSize(2),
                    p.wide_polynomial_size,
                    seed.into(),
                    CiphertextModulus::new_native(),
                );
                encrypt_seeded_glwe_ciphertext(
                    &key,
                    &mut ct,
                    &plain,
                    p.wide_noise,
                    seeder.as_mut(),
                );
                let bodies = ct.get_body().as_ref()[..chunk.len()]
                    .iter()
                    .flat_map(|b| [*b as u64, (*b >> 64) as u64])
                    .collect();
                InputChunk { seed: seed.0, bodies }
            })
            .collect()
    }
}

//! Buyer side: decrypt an [`EncryptedResult`] into integer scores.

use super::codec::EncryptedResult;
use super::keys::ClientKey;
use crate::compiled::{PublicModel, decode_rounded};
use crate::params::Params;
use crate::{Error, Result};

impl ClientKey {
    /// Decrypt a result of `model`: `rows x outputs` integer scores (the values
    /// [`CompiledModel::eval_clear`](crate::CompiledModel::eval_clear) computes in the clear).
    pub fn decrypt(&self, model: &PublicModel, result: &EncryptedResult) -> Result<Vec<Vec<i64>>> {
        let p = Params::get(self.param_set())?;
        result.check(&p)?;
        // a washed output is one ciphertext per bit
        let bits = model.encoding.washed_bits();
        let per_row = model.outputs * bits.max(1);
        if result.outputs() != per_row {
            return Err(Error::nonconformant(
                "encrypted result",
                format!("{} ciphertexts per row, model has {per_row}", result.outputs()),
            ));
        }
        if result.log_modulus != model.encoding.output_log_modulus {
            return Err(Error::nonconformant(
                "encrypted result",
                "modulus does not match the model",
            ));
        }
        if result.wide != model.encoding.wide() {
            return Err(Error::nonconformant(
                "encrypted result",
                "computed in the other domain (64- vs 128-bit) than the model's",
            ));
        }
        // binary keys: the same 0/1 coefficients serve any modulus
        let key: Vec<u64> = if result.wide {
            self.wide_key().as_ref().iter().map(|b| *b as u64).collect()
        } else {
            self.glwe.as_ref().to_vec()
        };
        let torus_bits: i64 = if result.wide { 128 } else { 64 };
        let ell = u32::from(result.log_modulus);
        // output step at the switched modulus: 2^(output_delta_log - (torus_bits - ell))
        let step_log = i64::from(model.encoding.output_delta_log) - (torus_bits - i64::from(ell));
        if step_log < 1 {
            return Err(Error::nonconformant(
                "encrypted result",
                "modulus too small for the encoding",
            ));
        }
        let mask = if ell == 64 { u64::MAX } else { (1u64 << ell) - 1 };
        let scores: Vec<i64> = result
            .cts
            .iter()
            .map(|ct| {
                let words: Vec<u64> = ct.unpack::<u64>().collect();
                let (body, a) = words.split_last().unwrap_or((&0, &[]));
                let dot = a
                    .iter()
                    .zip(&key)
                    .fold(0u64, |acc, (a, s)| acc.wrapping_add(a.wrapping_mul(*s)));
                let phase = body.wrapping_sub(dot) & mask;
                if bits > 0 {
                    // a washed bit: +2^62 (set) or -2^62, each with less than 2^62 of noise
                    i64::from(phase >> (ell - 1) == 0)
                } else {
                    decode(phase, ell, step_log as u32)
                }
            })
            .collect();
        // a label is its index's bits, lowest first; a rounded score is read from its bits
        let values: Vec<i64> = match bits {
            0 => scores,
            _ if model.encoding.label() => scores
                .chunks(bits)
                .map(|b| b.iter().enumerate().map(|(m, v)| v << m).sum())
                .collect(),
            _ => scores
                .chunks(bits)
                .map(|b| decode_rounded(&b.iter().map(|v| *v == 1).collect::<Vec<_>>()))
                .collect(),
        };
        let center = &model.output_center;
        Ok(values
            .chunks(model.outputs)
            .map(|row| row.iter().zip(center).map(|(s, c)| s + c).collect())
            .collect())
    }
}

/// Round a phase on `Z_{2^ell}` to the nearest multiple of `2^step_log`, as a signed integer.
fn decode(phase: u64, ell: u32, step_log: u32) -> i64 {
    // sign-extend the ell-bit phase, then round
    let shifted = (phase << (64 - ell)) as i64 >> (64 - ell);
    let half = 1i64 << (step_log - 1);
    (shifted.wrapping_add(half)) >> step_log
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decode_rounds_signed() {
        assert_eq!(decode(5 << 10, 40, 10), 5);
        assert_eq!(decode((5 << 10) + 511, 40, 10), 5);
        assert_eq!(decode((5 << 10) + 513, 40, 10), 6);
        let minus3 = ((-3i64 << 10) as u64) & ((1 << 40) - 1);
        assert_eq!(decode(minus3, 40, 10), -3);
        assert_eq!(decode(minus3.wrapping_sub(100) & ((1 << 40) - 1), 40, 10), -3);
    }
}

//! Rounded-scores output: every score's window value `d = alpha * score + 16 - 32 c` floored
//! to `u = floor(d / 32)` in `[-16, 16)`, five bits that one table bootstrap each reads
//! (`fhe/eval/washed.rs`), every bit washed; decryption reads `u` back and adds the centre
//! `c`, so a result reveals the scores rounded to a 32nd of the window and nothing else.

use crate::compiled::mlp::MLP_FLOOR_BITS;

/// Bits of a rounded score (what one table bootstrap resolves: 4 bits and the sign).
pub const ROUNDED_BITS: usize = 5;

/// A window value's rounded value: `floor(d / 2^S)` as the exact floor computes it, wrapped to
/// `[-16, 16)` as the bit bootstraps read it (compilers keep every value inside the window).
pub(crate) fn rounded_of(d: i64) -> i64 {
    let half = 1i64 << (ROUNDED_BITS - 1);
    (d.div_euclid(1 << MLP_FLOOR_BITS) + half).rem_euclid(2 * half) - half
}

/// Whether the table that reads bit `j < 4` of a rounded score answers "set" at entry `e`
/// (entry `e` stands for `u = e` when `u >= 0`; the negacyclic table answers the opposite at
/// `e = u + 16` when `u < 0`, which [`decode_rounded`] undoes).
pub(crate) fn rounded_bit(e: usize, j: usize) -> bool {
    (e >> j) & 1 == 1
}

/// A rounded score from its decrypted bits, in the order the evaluator emits them: `bits[j]`
/// for `j < 4` from the tables of [`rounded_bit`], then the sign (`true` for `u >= 0`).
pub(crate) fn decode_rounded(bits: &[bool]) -> i64 {
    let half = 1i64 << (ROUNDED_BITS - 1);
    let non_negative = bits.get(ROUNDED_BITS - 1).copied().unwrap_or(false);
    let low = bits[..ROUNDED_BITS - 1]
        .iter()
        .enumerate()
        .map(|(j, b)| i64::from(*b == non_negative) << j)
        .sum::<i64>();
    if non_negative { low } else { low - half }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the bit bootstraps of a value `u` return (the negacyclic reading of the tables)
    /// decodes back to `u`, for every value.
    #[test]
    fn rounded_bits_decode_every_value() {
        for u in -16i64..16 {
            let e = if u >= 0 { u } else { u + 16 } as usize;
            let mut bits: Vec<bool> =
                (0..ROUNDED_BITS - 1).map(|j| rounded_bit(e, j) == (u >= 0)).collect();
            bits.push(u >= 0);
            assert_eq!(decode_rounded(&bits), u, "u = {u}");
        }
    }

    /// The floor rounds down in units of 32 and wraps to five signed bits.
    #[test]
    fn rounded_values_floor_and_wrap() {
        for (d, r) in [(0, 0), (31, 0), (32, 1), (-1, -1), (-32, -1), (-33, -2), (511, 15)] {
            assert_eq!(rounded_of(d), r, "d = {d}");
        }
        assert_eq!((rounded_of(-512), rounded_of(512)), (-16, -16));
    }
}

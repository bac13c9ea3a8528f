//! Input quantization: the public input schema buyers use to encode feature rows.
//!
//! Linear models quantize every feature uniformly between a calibrated `min` and `max` to `bits`
//! bits: `q = clamp(round((x - min) / step), 0, 2^bits - 1)` with
//! `step = (max - min) / (2^bits - 1)`. Tree ensembles, which only compare features against
//! thresholds, use quantile bins instead: `2^bits - 1` ascending `edges` at the calibration
//! data's quantiles, `q = #{edges < x}`, so every level holds about as many samples.
//! The schema is part of the public model card: it reveals per-feature ranges and quantiles of
//! the seller's calibration data, never weights or thresholds.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One feature's name and quantizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Feature name.
    pub name: String,
    /// Value mapped to 0.
    pub min: f64,
    /// Value mapped to `2^bits - 1`.
    pub max: f64,
    /// Bits per quantized value.
    pub bits: u8,
    /// Quantile bin edges (ascending, `2^bits - 1` of them); empty for uniform quantization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
}

impl FeatureSpec {
    /// Quantization step.
    pub fn step(&self) -> f64 {
        let levels = f64::from((1u32 << self.bits) - 1);
        if self.max > self.min { (self.max - self.min) / levels } else { 1.0 }
    }

    /// Quantize a value (clamped to the calibrated range).
    pub fn quantize(&self, x: f64) -> u64 {
        if !self.edges.is_empty() {
            return if x.is_nan() { 0 } else { self.edges.partition_point(|e| *e < x) as u64 };
        }
        let top = (1u64 << self.bits) - 1;
        let q = ((x - self.min) / self.step()).round();
        if q.is_nan() || q <= 0.0 {
            0
        } else if q >= top as f64 {
            top
        } else {
            q as u64
        }
    }

    /// The value a quantized level stands for (the middle of its bin for quantile bins).
    pub fn dequantize(&self, q: u64) -> f64 {
        if self.edges.is_empty() {
            return self.min + self.step() * q as f64;
        }
        let q = (q as usize).min(self.edges.len());
        let lo = if q == 0 { self.min.min(self.edges[0]) } else { self.edges[q - 1] };
        let hi = self.edges.get(q).copied().unwrap_or(self.max.max(lo));
        lo + (hi - lo) / 2.0
    }
}

/// The public description of a compiled model's input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSchema {
    /// Features in input order.
    pub features: Vec<FeatureSpec>,
}

impl InputSchema {
    /// Calibrate a uniform schema from data: per-feature min/max of the calibration rows.
    pub(crate) fn calibrate(names: &[String], rows: &[Vec<f64>], bits: u8) -> Result<Self> {
        Self::calibrate_with(names, rows, bits, |_| Vec::new())
    }

    /// Calibrate a quantile-bin schema: per feature, `2^bits - 1` edges halfway between the
    /// calibration values around each `k / 2^bits` quantile.
    pub fn calibrate_quantiles(names: &[String], rows: &[Vec<f64>], bits: u8) -> Result<Self> {
        Self::calibrate_with(names, rows, bits, |sorted| {
            let (n, levels) = (sorted.len(), 1usize << bits);
            (1..levels)
                .map(|k| {
                    let i = (k * n / levels).clamp(1, n - 1);
                    sorted[i - 1] + (sorted[i] - sorted[i - 1]) / 2.0
                })
                .collect()
        })
    }

    fn calibrate_with(
        names: &[String],
        rows: &[Vec<f64>],
        bits: u8,
        edges: impl Fn(&[f64]) -> Vec<f64>,
    ) -> Result<Self> {
        if rows.len() < 2 {
            return Err(Error::Quantization("need at least 2 calibration rows".into()));
        }
        if !(1..=16).contains(&bits) {
            return Err(Error::Quantization(format!("{bits} input bits")));
        }
        let features = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut column = rows
                    .iter()
                    .map(|r| {
                        r.get(i).copied().filter(|v| v.is_finite()).ok_or_else(|| {
                            Error::SchemaMismatch(format!(
                                "calibration row of {} values, or a non-finite {name}",
                                r.len()
                            ))
                        })
                    })
                    .collect::<Result<Vec<f64>>>()?;
                column.sort_by(f64::total_cmp);
                let (min, max) = (column[0], column[column.len() - 1]);
                Ok(FeatureSpec { name: name.clone(), min, max, bits, edges: edges(&column) })
            })
            .collect::<Result<_>>()?;
        Ok(Self { features })
    }

    /// Quantize one row.
    pub(crate) fn quantize(&self, row: &[f64]) -> Result<Vec<u64>> {
        self.check_len(row.len())?;
        if let Some(i) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::SchemaMismatch(format!(
                "feature {} is not a finite number",
                self.features[i].name
            )));
        }
        Ok(self.features.iter().zip(row).map(|(f, x)| f.quantize(*x)).collect())
    }

    /// Refuse a row of `values` values unless it has one per feature.
    pub(crate) fn check_len(&self, values: usize) -> Result<()> {
        if values != self.features.len() {
            return Err(Error::SchemaMismatch(format!(
                "{values} values for {} features",
                self.features.len()
            )));
        }
        Ok(())
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// True when there are no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

//! Cost model: what a compiled model costs before anything runs.
//!
//! The cost that matters is the number of programmable bootstraps. Expected latency is
//! `bootstraps x seconds_per_bootstrap / cores`, plus a small per-value linear term, but never
//! less than the bootstraps one row waits for in sequence (its critical path: a washed label is
//! at least seven bootstraps deep however many cores there are); washed bits add their
//! re-randomizations. Leveled models cost one mask regeneration per input chunk and one Fourier
//! product with sanitization per result. Each output mode compiles to its own program, so the
//! estimate of a model compiled for a mode is that mode's price. `seconds_per_bootstrap`
//! defaults to the figure measured on the reference 2-core machine (BENCHMARKS.md) and can be
//! re-measured with [`CostModel::measure`].

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::compiled::{CompiledModel, QProgram};
use crate::fhe::{ClientKey, ServerKey};
use crate::params::ParamSetId;
use crate::params::WASH_BOOTSTRAPS;

/// Machine-dependent constants of the cost model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// One bootstrap (key switch + blind rotation) on one core, seconds.
    pub seconds_per_bootstrap: f64,
    /// One multiply-accumulate of an input sample into an output (N + 1 words), seconds.
    pub seconds_per_mac: f64,
    /// One leveled result in the 128-bit domain: its Fourier product and sanitization, seconds.
    pub seconds_per_leveled_result: f64,
    /// One input chunk of the 128-bit domain (4096 values): mask regeneration and its limb
    /// transforms, seconds.
    pub seconds_per_leveled_chunk: f64,
    /// Cores evaluation spreads over.
    pub cores: usize,
    /// One re-randomization of a washed bit (a fresh encryption of zero under the buyer's
    /// 64-bit public key and the flood), seconds.
    #[serde(default = "default_rerandomization")]
    pub seconds_per_rerandomization: f64,
}

fn default_rerandomization() -> f64 {
    1.0e-3
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            seconds_per_bootstrap: 0.025,
            seconds_per_mac: 1.0e-6,
            seconds_per_leveled_result: 2.0e-4,
            seconds_per_leveled_chunk: 2.5e-4,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            seconds_per_rerandomization: default_rerandomization(),
        }
    }
}

/// Estimated cost of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Bootstraps per row.
    pub bootstraps_per_row: usize,
    /// Expected server latency for the given rows, seconds.
    pub expected_seconds: f64,
    /// Whether the buyer must provide an evaluation key.
    pub needs_evaluation_key: bool,
}

impl CostModel {
    /// Estimate the cost of evaluating `rows` rows of `model`.
    pub fn estimate(&self, model: &CompiledModel, rows: usize) -> Cost {
        let bootstraps = model.bootstraps_per_row();
        let cores = self.cores.max(1) as f64;
        let expected_seconds = if model.encoding.wide() {
            // leveled: regenerate and transform each input chunk, then one Fourier product
            // with sanitization per result, spread over the cores
            let values = rows * model.schema.len();
            let chunks = values.div_ceil(crate::params::WIDE_POLYNOMIAL_SIZE);
            let results = (model.n_outputs() * rows) as f64;
            chunks as f64 * self.seconds_per_leveled_chunk
                + results * self.seconds_per_leveled_result / cores.min(results)
        } else {
            // the linear glue between bootstraps
            let macs: usize = match &model.program {
                QProgram::Linear(l) => l.weights.len() * model.schema.len(),
                QProgram::Trees(t) => {
                    t.leaves.iter().map(|l| l.path.len() + t.constant.len()).sum()
                }
                QProgram::Mlp(m) => {
                    let w = m.widths();
                    w[0] * model.schema.len() + w.windows(2).map(|p| 2 * p[0] * p[1]).sum::<usize>()
                }
            };
            // a washed bit is re-randomized before each of its wash bootstraps and once after
            let rerandomizations =
                model.n_outputs() * model.encoding.washed_bits() * (WASH_BOOTSTRAPS + 1);
            let work = (bootstraps * rows) as f64 * self.seconds_per_bootstrap
                + (macs * rows) as f64 * self.seconds_per_mac
                + (rerandomizations * rows) as f64 * self.seconds_per_rerandomization;
            let path = model.bootstrap_depth() as f64 * self.seconds_per_bootstrap;
            (work / cores.min((bootstraps * rows).max(rows) as f64)).max(path)
        };
        Cost {
            bootstraps_per_row: bootstraps,
            expected_seconds,
            needs_evaluation_key: bootstraps > 0,
        }
    }

    /// Measure one bootstrap on this machine with a throwaway key (takes a few seconds).
    pub fn measure(param_set: ParamSetId) -> Result<Duration> {
        let client = ClientKey::generate(param_set)?;
        let server = ServerKey::expand(&client.evaluation_key()?)?;
        let start = Instant::now();
        let n = crate::fhe::bench_bootstraps(&client, &server, 8)?;
        Ok(start.elapsed() / n as u32)
    }
}

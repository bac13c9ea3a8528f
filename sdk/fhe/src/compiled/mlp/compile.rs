//! Quantization of ReLU networks into [`QMlp`]: per-neuron scales from calibration ranges,
//! integer first-layer weights, contribution tables between layers and to the scores.

use super::{
    MLP_ACC_BITS, MLP_FLOOR_BITS, MLP_INPUT_BITS, MLP_TABLE, QHidden, QMlp, floor_input_fits,
};
use crate::compiled::Readout;
use crate::compiled::window::label::class_labels;
use crate::compiled::window::{self, Values, combo_range};
use crate::compiled::{CompiledModel, Encoding, OutputMode, QLinear, QProgram};
use crate::model::{LinearModel, Mlp, Model, PostTransform, Task, linear};
use crate::params::{self, ParamSetId};
use crate::quant::InputSchema;
use crate::{Error, Result};

/// Per neuron: the scale that fits its calibration range `[lo, hi]` into the table window with
/// offset `K`, choosing `K` for the finest scale.
fn neuron_scale(lo: f64, hi: f64) -> (f64, i64) {
    let unit = f64::from(1u32 << MLP_FLOOR_BITS);
    let mut best = (0.0, 1);
    for k in 1..MLP_TABLE as i64 {
        let up =
            if hi > 0.0 { ((MLP_TABLE as i64 - k) as f64 * unit - 1.0) / hi } else { f64::MAX };
        let down = if lo < 0.0 { (k as f64 * unit) / -lo } else { f64::MAX };
        let a = up.min(down);
        if a > best.0 && a < f64::MAX {
            best = (a, k);
        }
    }
    if best.0 == 0.0 { (1.0, MLP_TABLE as i64 / 2) } else { best }
}

/// One hidden layer's quantizer: per neuron, its scale `alpha`, table offset `K` and the float
/// activation each table entry stands for.
struct Quantizer {
    alpha: Vec<f64>,
    offset: Vec<i64>,
    /// `act[h][u]`: the mean float activation of the calibration rows whose integer
    /// pre-activation lands in entry `u` (the middle of the entry's range where none does).
    act: Vec<[f64; MLP_TABLE]>,
}

impl Quantizer {
    /// Scales and offsets from float pre-activation ranges; entries stand for their middles.
    fn new(ranges: &[(f64, f64)]) -> Self {
        let unit = f64::from(1u32 << MLP_FLOOR_BITS);
        let (alpha, offset): (Vec<f64>, Vec<i64>) =
            ranges.iter().map(|(lo, hi)| neuron_scale(*lo, *hi)).unzip();
        let act = alpha
            .iter()
            .zip(&offset)
            .map(|(a, k)| {
                std::array::from_fn(|u| {
                    let t = u as f64 - *k as f64;
                    if t < 0.0 { 0.0 } else { (t + 0.5) * unit / a }
                })
            })
            .collect();
        Self { alpha, offset, act }
    }

    /// Each entry's activation as the mean of the float activations of the calibration rows
    /// landing in it: `z[r]` the integer pre-activations of row `r`, `float[r]` the float ones.
    fn fit(&mut self, z: &[Vec<i64>], float: &[&[f64]]) {
        let mut sums = vec![[(0.0, 0u32); MLP_TABLE]; self.alpha.len()];
        for (z, f) in z.iter().zip(float) {
            for (h, (z, f)) in z.iter().zip(*f).enumerate() {
                let u = z.div_euclid(1 << MLP_FLOOR_BITS) + self.offset[h];
                if let Some(s) = usize::try_from(u).ok().and_then(|u| sums[h].get_mut(u)) {
                    *s = (s.0 + f.max(0.0), s.1 + 1);
                }
            }
        }
        for (act, sums) in self.act.iter_mut().zip(&sums) {
            for (a, (sum, n)) in act.iter_mut().zip(sums) {
                if *n > 0 {
                    *a = sum / f64::from(*n);
                }
            }
        }
    }
}

/// Float pre-activations of every hidden layer on every calibration row: `[row][layer][neuron]`.
fn forward(hidden: &[LinearModel], calibration: &[Vec<f64>]) -> Vec<Vec<Vec<f64>>> {
    calibration
        .iter()
        .map(|row| {
            let mut x = row.clone();
            hidden
                .iter()
                .map(|l| {
                    let z = linear(l, &x);
                    x = z.iter().map(|z| z.max(0.0)).collect();
                    z
                })
                .collect()
        })
        .collect()
}

/// Per neuron of `layer`, its float pre-activation range `(lo, hi)` over the calibration rows.
fn range(floats: &[Vec<Vec<f64>>], layer: usize) -> Vec<(f64, f64)> {
    let mut r = vec![(f64::MAX, f64::MIN); floats.first().map_or(0, |f| f[layer].len())];
    for f in floats {
        for (r, z) in r.iter_mut().zip(&f[layer]) {
            *r = (r.0.min(*z), r.1.max(*z));
        }
    }
    r
}

/// The first hidden layer: integer weights over the quantized inputs.
fn first_layer(l1: &LinearModel, schema: &InputSchema, q: &Quantizer) -> Result<QLinear> {
    let mut weights = Vec::with_capacity(l1.weights.len());
    let mut bias = Vec::with_capacity(l1.weights.len());
    for (h, (w, b)) in l1.weights.iter().zip(&l1.bias).enumerate() {
        let a = q.alpha[h];
        // fold the input quantizers in: w x + b = (w step) q + (b + w min)
        let row: Vec<i64> = w
            .iter()
            .zip(&schema.features)
            .map(|(w, f)| (a * w * f.step()).round() as i64)
            .collect();
        let b = b + w.iter().zip(&schema.features).map(|(w, f)| w * f.min).sum::<f64>();
        bias.push((a * b).round() as i64);
        // the fresh input noise (|e| <= 2^17 per input) grows by sum |W| and is then scaled by
        // 2^(B + 1 - S) before the first bootstrap: keep it 2^4 below that bootstrap's 2^58 margin
        let l1_norm: u64 = row.iter().map(|w| w.unsigned_abs()).sum();
        let budget = 58 - 4 - params::GLWE_NOISE_BOUND_LOG - (MLP_ACC_BITS + 1 - MLP_FLOOR_BITS);
        if l1_norm > 1u64 << budget {
            return Err(Error::Quantization(format!(
                "hidden neuron {h}: weights sum to {l1_norm} after scaling to its calibration \
                 range (at most 2^{budget} fit the noise budget); is the neuron nearly constant?"
            )));
        }
        weights.push(row);
    }
    Ok(QLinear { weights, bias, center: Vec::new() })
}

/// A deeper hidden layer: tables of `W[j][h]` times the activations of the layer before.
fn deeper_layer(l: &LinearModel, before: &Quantizer, this: &Quantizer) -> Result<QHidden> {
    let n_prev = before.alpha.len();
    noise_check(n_prev)?;
    let tables = (0..n_prev)
        .map(|h| {
            (0..l.weights.len())
                .map(|j| {
                    (0..MLP_TABLE)
                        .map(|u| (this.alpha[j] * l.weights[j][h] * before.act[h][u]).round())
                        .map(|v| v as i64)
                        .collect()
                })
                .collect()
        })
        .collect();
    let bias = l.bias.iter().zip(&this.alpha).map(|(b, a)| (a * b).round() as i64).collect();
    Ok(QHidden { tables, bias, offset: this.offset.clone() })
}

/// The window layer of washed outputs (`compiled::window`): one neuron per window value, whose
/// pre-activation is that value's combination of the scores, `W[k][h]` times `h`'s activation
/// summed plus the bias; the values share one scale, set so that the exact range of every
/// combination that must fit the window (each value, or each difference of an argmax) over
/// every choice of table entries (plus rounding) does. Returns the layer, its scale and the
/// values' centres.
fn window_layer(
    out: &LinearModel,
    last: &Quantizer,
    values: &Values,
) -> Result<(QHidden, f64, Vec<i64>)> {
    let n_last = last.alpha.len();
    let n = values.rows.len();
    let combos = values.combos();
    // a combination sums the lookups of each value it takes
    let widest = combos.iter().map(|c| c.iter().filter(|v| **v != 0).count()).max().unwrap_or(1);
    noise_check(widest * n_last)?;
    let column = |h: usize| out.weights.iter().map(|w| w[h]).collect::<Vec<f64>>();
    let share = |k: usize, h: usize, u: usize| values.share(k, &column(h)) * last.act[h][u];
    // per last-layer neuron, what each of its table entries adds to every value
    let parts: Vec<Vec<Vec<f64>>> = (0..n_last)
        .map(|h| (0..MLP_TABLE).map(|u| (0..n).map(|k| share(k, h, u)).collect()).collect())
        .collect();
    let constants: Vec<f64> = (0..n).map(|k| values.of(k, &out.bias)).collect();
    let ranges: Vec<(f64, f64)> =
        combos.iter().map(|c| combo_range(c, &constants, &parts)).collect();
    // rounding moves each lookup by at most half a unit, and each constant by one
    let alpha = values.scale(&ranges, (widest * n_last) as f64 / 2.0 + 2.0 * widest as f64);
    let tables: Vec<Vec<Vec<i64>>> = parts
        .iter()
        .map(|entries| {
            (0..n)
                .map(|k| entries.iter().map(|e| (alpha * e[k]).round() as i64).collect())
                .collect()
        })
        .collect();
    // a rounded score's combination is the score itself: its range gives its centre
    let centres: Vec<i64> = (0..n).map(|k| values.centre(alpha, ranges[k])).collect();
    let bias: Vec<i64> =
        (0..n).map(|k| values.constant(alpha * constants[k], centres[k])).collect();
    let int_parts: Vec<Vec<Vec<i64>>> = tables
        .iter()
        .map(|t| (0..MLP_TABLE).map(|u| (0..n).map(|k| t[k][u]).collect()).collect())
        .collect();
    window::check_fits(&combos, &bias, &int_parts)?;
    Ok((QHidden { tables, bias, offset: vec![0; n] }, alpha, centres))
}

/// A layer fed by `n_prev` table bootstraps per neuron must keep their noise inside the floor's
/// margin ([`floor_input_fits`]).
fn noise_check(n_prev: usize) -> Result<()> {
    if !floor_input_fits(n_prev) {
        return Err(Error::Quantization(format!(
            "a hidden layer of {n_prev} neurons feeding another sums too much bootstrap noise"
        )));
    }
    Ok(())
}

pub(in crate::compiled) fn compile(
    model: &Model,
    mlp: &Mlp,
    calibration: &[Vec<f64>],
    threshold: f64,
    output: OutputMode,
) -> Result<CompiledModel> {
    let (out, hidden) = match mlp.layers.split_last() {
        Some((out, hidden)) if !hidden.is_empty() => (out, hidden),
        _ => return Err(Error::Unsupported("a network without a hidden layer".into())),
    };
    let schema = InputSchema::calibrate(&model.features, calibration, MLP_INPUT_BITS)?;
    let floats = forward(hidden, calibration);
    let layer_floats = |l: usize| floats.iter().map(|f| f[l].as_slice()).collect::<Vec<_>>();
    let mut quantizers: Vec<Quantizer> =
        (0..hidden.len()).map(|l| Quantizer::new(&range(&floats, l))).collect();
    let first = first_layer(&hidden[0], &schema, &quantizers[0])?;
    let mut z = calibration
        .iter()
        .map(|r| Ok(first.eval(&schema.quantize(r)?)))
        .collect::<Result<Vec<_>>>()?;
    quantizers[0].fit(&z, &layer_floats(0));
    let mut deeper = Vec::with_capacity(hidden.len() - 1);
    for l in 1..hidden.len() {
        let layer = deeper_layer(&hidden[l], &quantizers[l - 1], &quantizers[l])?;
        z = z.iter().map(|z| layer.eval(z, &quantizers[l - 1].offset)).collect();
        quantizers[l].fit(&z, &layer_floats(l));
        deeper.push(layer);
    }
    let last = &quantizers[quantizers.len() - 1];
    if output != OutputMode::Scores {
        let n_out = out.weights.len();
        let values = Values::new(output, n_out, threshold)?;
        let labels = if values.label() { Some(class_labels(model, n_out)?.to_vec()) } else { None };
        let (window, alpha, center) = window_layer(out, last, &values)?;
        let program = QMlp {
            hidden: first,
            offset: quantizers[0].offset.clone(),
            deeper,
            tables: Vec::new(),
            constant: Vec::new(),
            center,
            out_bits: 2,
            window: Some(window),
        };
        let unit = f64::from(1u32 << MLP_FLOOR_BITS);
        return Ok(CompiledModel {
            param_set: ParamSetId::default(),
            schema,
            post_transform: if values.label() { PostTransform::None } else { out.post_transform },
            scale: if values.label() { 1.0 } else { unit / alpha },
            threshold: if values.label() { 0.5 } else { threshold },
            task: labels
                .map_or_else(|| model.task.clone(), |labels| Task::Classification { labels }),
            encoding: window::encoding(output, 63 - MLP_ACC_BITS, 0, values.classes()),
            program: QProgram::Mlp(program),
        });
    }
    let n_last = last.alpha.len();
    let n_out = out.weights.len();
    // output precision: n_last summed bootstraps per score, 8-sigma margin, as for tree leaves
    let noise_log = params::PBS_NOISE_STD_LOG + 0.5 * (n_last.max(1) as f64).log2() + 3.0;
    let p = (62.0 - noise_log).floor() as i64;
    if p < 3 {
        return Err(Error::Quantization(format!(
            "{n_last} hidden neurons leave {p} bits of output precision"
        )));
    }
    let half = (1i64 << (p - 1)) - 1;
    // float contribution of neuron h to score k at table entry u
    let contribution = |h: usize, k: usize, u: usize| out.weights[k][h] * last.act[h][u];
    let width = (0..n_out)
        .map(|k| {
            (0..n_last)
                .map(|h| (0..MLP_TABLE).map(|u| contribution(h, k, u).abs()).fold(0.0, f64::max))
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    let mut scale =
        if width > 0.0 { width / (2 * half - n_last as i64 - 1).max(2) as f64 } else { 1.0 };
    for _ in 0..64 {
        let tables: Vec<Vec<Vec<i64>>> = (0..n_last)
            .map(|h| {
                (0..n_out)
                    .map(|k| {
                        (0..MLP_TABLE)
                            .map(|u| (contribution(h, k, u) / scale).round() as i64)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let constant: Vec<i64> = out.bias.iter().map(|b| (b / scale).round() as i64).collect();
        let mut program = QMlp {
            hidden: first.clone(),
            offset: quantizers[0].offset.clone(),
            deeper: deeper.clone(),
            tables,
            constant,
            center: vec![0; n_out],
            out_bits: p as u32,
            window: None,
        };
        let mut fits = true;
        for k in 0..n_out {
            let (lo, hi) = program.range(k);
            let c = lo + (hi - lo) / 2;
            program.center[k] = c;
            fits &= (hi - c).max(c - lo) <= half;
        }
        if fits {
            let extra = 64 - u64::from(params::POLYNOMIAL_SIZE as u32 + 1).leading_zeros();
            return Ok(CompiledModel {
                param_set: ParamSetId::default(),
                schema,
                task: model.task.clone(),
                post_transform: out.post_transform,
                scale,
                threshold,
                encoding: Encoding {
                    readout: Readout::Scores,
                    input_delta_log: (63 - MLP_ACC_BITS) as u8,
                    low_bits: 0,
                    output_delta_log: (64 - p) as u8,
                    output_log_modulus: (p as u32 + 1 + extra).min(64) as u8,
                },
                program: QProgram::Mlp(program),
            });
        }
        scale *= 1.05;
    }
    Err(Error::Quantization("could not fit the network's scores into the output precision".into()))
}

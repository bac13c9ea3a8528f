//! Compiled models: quantized integer programs with one clear evaluator (the reference) and the
//! encodings the encrypted evaluator uses. FHE evaluation must equal [`CompiledModel::eval_clear`]
//! on every sample.

mod digits;
mod linear;
mod mlp;
mod public;
mod shape;
mod trees;
mod window;

pub(crate) use digits::DigitTest;
pub use linear::QLinear;
pub use mlp::{MLP_ACC_BITS, MLP_FLOOR_BITS, MLP_INPUT_BITS, MLP_TABLE, QHidden, QMlp};
pub use public::{Decoded, PublicModel};
pub(crate) use trees::TreeWindow;
pub use trees::{Comparison, MAX_PATH, QLeaf, QTrees, TREE_INPUT_BITS, TREE_LOW_BITS};

pub(crate) use window::label::MAX_CLASSES;
pub(crate) use window::label::{argmax_of, index_bits, label_of};
pub use window::rounded::ROUNDED_BITS;
pub(crate) use window::rounded::{decode_rounded, rounded_bit, rounded_of};

use serde::{Deserialize, Serialize};

use crate::model::{Model, PostTransform, Program, Task, class_of};
use crate::params::ParamSetId;
use crate::quant::InputSchema;
use crate::{Error, Result};

/// What a compiled model's result holds, per row: the listing's output mode (defined once in
/// `modelmart-primitives`). Linear models compute scores in the 128-bit domain and sanitize them
/// by flooding; a bootstrapped model's scores are not sanitized (the card layer lists such a model
/// only rounded or label-only); rounded scores are [`ROUNDED_BITS`] washed bits each
/// (`compiled::rounded`); a label is the class decided under FHE, the bits of its index washed
/// (`compiled::window::label`).
pub use modelmart_primitives::OutputMode;

/// Options for compilation. Tree ensembles and networks take none but the output: their input
/// precision is fixed by their bootstrap encodings ([`TREE_INPUT_BITS`], [`MLP_INPUT_BITS`]) and
/// their output precision by the bootstrap noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Input bits for linear models' scores (no bootstrapping, so precision is cheap).
    pub linear_input_bits: u8,
    /// Weight bits for linear models' scores.
    pub linear_weight_bits: u8,
    /// What the result holds.
    pub output: OutputMode,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self { linear_input_bits: 10, linear_weight_bits: 10, output: OutputMode::Scores }
    }
}

impl CompileOptions {
    /// The default options with output `output`.
    pub fn with_output(output: OutputMode) -> Self {
        Self { output, ..Self::default() }
    }
}

/// The integer program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "family")]
pub enum QProgram {
    /// `acc = W q + B`: leveled, no bootstrapping.
    Linear(QLinear),
    /// Comparisons and leaf selection by programmable bootstrapping.
    Trees(QTrees),
    /// ReLU layers: exact floors and table lookups by programmable bootstrapping.
    Mlp(QMlp),
}

/// What a result holds and how it is sanitized: one of four readouts, so no combination of
/// flags can describe a result that is both washed and flooded, or a label with classes and no
/// label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readout {
    /// Every score on the 64-bit torus, as computed: a bootstrapped model's full scores, which
    /// are not sanitized (the listing layer never offers them; a leveled model compiled before
    /// sanitization reads as this too and is refused).
    Scores,
    /// A leveled model's scores in the 128-bit domain: inputs, evaluation and results on the
    /// 2^128 torus with N = 4096 (see [`crate::params`]), each result re-randomized and flooded.
    WideScores,
    /// Every score rounded to [`ROUNDED_BITS`] bits under FHE, each bit washed: it decrypts to
    /// the rounded score and reveals nothing else.
    Rounded,
    /// The predicted class per row as washed bits of its index: it decrypts to the class index
    /// and reveals nothing else about the model.
    Label {
        /// Classes of an argmax label (3 to 16); 0 for a binary one (a sign).
        classes: u8,
    },
}

/// How encrypted values are laid out on the torus, and what the result holds ([`Readout`]).
/// Serialized as it always was (flags `wide`, `label`, `classes`, `rounded`), so compiled
/// models and cards written before the enum read back unchanged; contradictory flags are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EncodingFlags", into = "EncodingFlags")]
pub struct Encoding {
    /// What the result holds.
    pub readout: Readout,
    /// Inputs are encrypted as `q * 2^input_delta_log`.
    pub input_delta_log: u8,
    /// When non-zero, every quantized feature `q` is sent as two digits, `q >> low_bits` and
    /// `q mod 2^low_bits`, each encrypted as `digit * 2^input_delta_log`: all high digits of a
    /// row first, then all low digits (tree models compare wider inputs than one bootstrap
    /// resolves this way, see `compiled::trees`).
    pub low_bits: u8,
    /// Output scores are `acc * 2^output_delta_log`.
    pub output_delta_log: u8,
    /// Results are modulus-switched to `2^output_log_modulus` before they are sent.
    pub output_log_modulus: u8,
}

/// [`Encoding`]'s wire form.
#[derive(Serialize, Deserialize)]
struct EncodingFlags {
    #[serde(default)]
    wide: bool,
    input_delta_log: u8,
    #[serde(default)]
    low_bits: u8,
    output_delta_log: u8,
    output_log_modulus: u8,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    label: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    classes: u8,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    rounded: bool,
}

impl TryFrom<EncodingFlags> for Encoding {
    type Error = String;
    fn try_from(f: EncodingFlags) -> std::result::Result<Self, String> {
        let readout = match (f.wide, f.label, f.rounded) {
            (false, false, false) if f.classes == 0 => Readout::Scores,
            (true, false, false) if f.classes == 0 => Readout::WideScores,
            (false, false, true) if f.classes == 0 => Readout::Rounded,
            (false, true, false) => Readout::Label { classes: f.classes },
            _ => {
                return Err(format!(
                    "contradictory encoding: wide {}, label {}, rounded {}, classes {}",
                    f.wide, f.label, f.rounded, f.classes
                ));
            }
        };
        Ok(Self {
            readout,
            input_delta_log: f.input_delta_log,
            low_bits: f.low_bits,
            output_delta_log: f.output_delta_log,
            output_log_modulus: f.output_log_modulus,
        })
    }
}

impl From<Encoding> for EncodingFlags {
    fn from(e: Encoding) -> Self {
        Self {
            wide: e.wide(),
            input_delta_log: e.input_delta_log,
            low_bits: e.low_bits,
            output_delta_log: e.output_delta_log,
            output_log_modulus: e.output_log_modulus,
            label: e.label(),
            classes: e.classes(),
            rounded: e.rounded(),
        }
    }
}

impl Encoding {
    /// A leveled model's results in the 128-bit domain.
    pub fn wide(&self) -> bool {
        self.readout == Readout::WideScores
    }

    /// A label-only result.
    pub fn label(&self) -> bool {
        matches!(self.readout, Readout::Label { .. })
    }

    /// A rounded-scores result.
    pub fn rounded(&self) -> bool {
        self.readout == Readout::Rounded
    }

    /// Classes of an argmax label (3 to 16); 0 otherwise.
    pub fn classes(&self) -> u8 {
        match self.readout {
            Readout::Label { classes } => classes,
            _ => 0,
        }
    }

    /// Washed bits per output: a label's index bits, [`ROUNDED_BITS`] for a rounded score, none
    /// when outputs are returned as computed.
    pub fn washed_bits(&self) -> usize {
        match self.readout {
            Readout::Label { classes } => window::label::index_bits(usize::from(classes).max(2)),
            Readout::Rounded => ROUNDED_BITS,
            Readout::Scores | Readout::WideScores => 0,
        }
    }

    /// What the result holds.
    pub fn output(&self) -> OutputMode {
        match self.readout {
            Readout::Label { .. } => OutputMode::LabelOnly,
            Readout::Rounded => OutputMode::RoundedScores,
            Readout::Scores | Readout::WideScores => OutputMode::Scores,
        }
    }

    /// Encrypted values per feature: 2 when features are split into digits, else 1.
    pub(crate) fn values_per_feature(&self) -> usize {
        if self.low_bits > 0 { 2 } else { 1 }
    }
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// A model compiled for one FHE parameter set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompiledModel {
    /// Parameter set the model runs under.
    pub param_set: ParamSetId,
    /// Public input schema (names, ranges, quantizers).
    pub schema: InputSchema,
    /// Classification labels or regression.
    pub task: Task,
    /// Post transform applied to dequantized scores.
    pub post_transform: PostTransform,
    /// Score dequantization: `score = scale * acc`.
    pub scale: f64,
    /// For single-score binary classification: class 1 when `score > threshold`.
    pub threshold: f64,
    /// Torus encodings.
    pub encoding: Encoding,
    /// The integer program.
    pub program: QProgram,
}

impl CompiledModel {
    /// Quantize and compile a float model using calibration rows (typically the training set).
    pub fn compile(model: &Model, calibration: &[Vec<f64>], opts: CompileOptions) -> Result<Self> {
        model.validate()?;
        let threshold = model.binary_threshold();
        match (&model.program, opts.output) {
            (Program::Mlp(m), _) => mlp::compile(model, m, calibration, threshold, opts.output),
            (Program::Linear(l), OutputMode::Scores) => {
                linear::compile(model, l, calibration, opts, threshold)
            }
            (Program::Trees(t), OutputMode::Scores) => {
                trees::compile(model, t, calibration, threshold)
            }
            (Program::Linear(l), OutputMode::LabelOnly) => {
                window::compile_linear_label(model, l, calibration, threshold)
            }
            (Program::Linear(l), OutputMode::RoundedScores) => {
                window::compile_linear_rounded(model, l, calibration, threshold)
            }
            (Program::Trees(t), output) => {
                window::compile_trees(model, t, calibration, threshold, output)
            }
        }
    }

    /// Number of outputs per row: scores, or one class for a label-only model.
    pub fn n_outputs(&self) -> usize {
        if self.encoding.label() {
            return 1;
        }
        self.window_values()
    }

    /// Values the program computes per row: its scores, or a label's window values (one
    /// decision, or one score per class for an argmax).
    pub(crate) fn window_values(&self) -> usize {
        match &self.program {
            QProgram::Linear(l) => l.weights.len(),
            QProgram::Trees(t) => t.constant.len(),
            QProgram::Mlp(m) => m.window.as_ref().map_or(m.constant.len(), |w| w.bias.len()),
        }
    }

    /// Reference evaluation on one quantized row: the integer scores FHE must reproduce (for
    /// a label-only model, the class its decision value stands for).
    pub fn eval_clear(&self, q: &[u64]) -> Result<Vec<i64>> {
        self.schema.check_len(q.len())?;
        let out = match &self.program {
            QProgram::Linear(l) => l.eval(q),
            QProgram::Trees(t) => t.eval(q),
            QProgram::Mlp(m) => m.eval(q),
        };
        Ok(match self.encoding.output() {
            OutputMode::LabelOnly if self.encoding.classes() > 2 => vec![argmax_of(&out)],
            OutputMode::LabelOnly => vec![label_of(out[0])],
            OutputMode::RoundedScores => {
                out.iter().zip(self.output_center()).map(|(d, c)| rounded_of(*d) + c).collect()
            }
            OutputMode::Scores => out,
        })
    }

    /// Quantize a float row and evaluate it in the clear.
    pub fn predict_clear(&self, x: &[f64]) -> Result<Vec<i64>> {
        self.eval_clear(&self.schema.quantize(x)?)
    }

    /// Per-output value the encrypted scores are offset by (decryption adds it back).
    pub(crate) fn output_center(&self) -> Vec<i64> {
        if self.encoding.label() {
            return vec![0];
        }
        match &self.program {
            QProgram::Linear(l) if self.encoding.rounded() => l.center.clone(),
            QProgram::Linear(l) => vec![0; l.weights.len()],
            QProgram::Trees(t) => t.center.clone(),
            QProgram::Mlp(m) => m.center.clone(),
        }
    }

    /// Dequantized scores.
    pub fn dequantize(&self, acc: &[i64]) -> Vec<f64> {
        dequantize(acc, self.scale)
    }

    /// Predicted class index from integer scores (a label-only result is the index itself).
    pub fn class_of(&self, acc: &[i64]) -> usize {
        class_of_result(&self.encoding, acc, self.scale, self.threshold)
    }

    /// Number of programmable bootstraps one row costs.
    pub fn bootstraps_per_row(&self) -> usize {
        let washed = self.encoding.washed_bits() > 0;
        let own = match &self.program {
            QProgram::Linear(_) => 0,
            QProgram::Trees(t) => t.bootstraps(self.encoding.low_bits, washed),
            QProgram::Mlp(m) => m.bootstraps(),
        };
        // each window value's floor, bits and washes
        own + if washed {
            window::washed_bootstraps(
                self.window_values(),
                self.encoding.label(),
                self.encoding.classes(),
            )
        } else {
            0
        }
    }

    /// Bootstraps one row waits for in sequence (its critical path): each family's own levels,
    /// then, for washed outputs, the floor's two, the bit's one and the wash's.
    pub fn bootstrap_depth(&self) -> usize {
        let washed = self.encoding.washed_bits() > 0;
        let own = match &self.program {
            QProgram::Linear(_) => 0,
            QProgram::Trees(t) => {
                // comparisons (digit tests, then the combining sign), then the leaf tests
                let combined = self.encoding.low_bits > 0
                    && t.digit_plan(self.encoding.low_bits)
                        .tests
                        .iter()
                        .any(|d| matches!(d, DigitTest::Combined { .. }));
                // an index-planned tree's table reads wait for its indicators
                let indexed = washed
                    && t.window_plan().iter().any(|(_, p)| matches!(p, TreeWindow::Index(_)));
                1 + usize::from(combined) + usize::from(!t.leaves.is_empty()) + usize::from(indexed)
            }
            // per hidden layer its floor's two levels and the lookups feeding the next layer
            QProgram::Mlp(m) => 3 * m.widths().len(),
        };
        own + if washed { window::washed_depth(self.encoding.classes()) } else { 0 }
    }

    /// Whether evaluation needs the buyer's evaluation key (bootstrapping).
    pub fn needs_evaluation_key(&self) -> bool {
        self.bootstraps_per_row() > 0
    }

    /// Refuse a model this engine no longer evaluates: a linear model compiled for the 64-bit
    /// torus, from before results were sanitized (its results could not be).
    pub(crate) fn check_domain(&self) -> Result<()> {
        if matches!(self.program, QProgram::Linear(_))
            && !self.encoding.wide()
            && self.encoding.washed_bits() == 0
        {
            return Err(Error::Unsupported(
                "a linear model compiled for the 64-bit torus (before sanitized results): \
                 recompile it"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Serialize the compiled model (it is the payload a sealed model carries).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Serialization(e.to_string()))
    }

    /// Parse a compiled model; one this engine no longer evaluates is refused
    /// (`CompiledModel::check_domain`), and so is one whose program does not fit its own
    /// sizes (an index out of range, a table of the wrong length).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let model: Self =
            serde_json::from_slice(bytes).map_err(|e| Error::Serialization(e.to_string()))?;
        model.check_domain()?;
        shape::check(&model)?;
        Ok(model)
    }
}

/// The breast-cancer logistic regression fixture, compiled on its training split (unit tests).
#[cfg(test)]
pub(crate) fn fixture_logreg() -> (CompiledModel, crate::Dataset) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let onnx = std::fs::read(format!("{dir}/models/logreg_breast_cancer.onnx")).unwrap();
    let train = crate::Dataset::load(format!("{dir}/data/breast_cancer_train.csv")).unwrap();
    let model = crate::onnx::import_onnx(&onnx).unwrap();
    let compiled = CompiledModel::compile(&model, &train.x, CompileOptions::default()).unwrap();
    (compiled, train)
}

/// The class of one row's decrypted values, shared by [`CompiledModel`] and [`PublicModel`]: a
/// label-only result is the class index; scores are dequantized and compared.
pub(crate) fn class_of_result(enc: &Encoding, acc: &[i64], scale: f64, threshold: f64) -> usize {
    if enc.label() {
        return acc.first().map_or(0, |c| usize::try_from(*c).unwrap_or(0));
    }
    class_of(&dequantize(acc, scale), threshold)
}

/// `score = scale * acc`, shared by [`CompiledModel`] and [`PublicModel`].
pub(crate) fn dequantize(acc: &[i64], scale: f64) -> Vec<f64> {
    acc.iter().map(|a| *a as f64 * scale).collect()
}

/// Bits needed to hold signed values in `[lo, hi]` (two's complement width).
pub(crate) fn signed_bits(lo: i64, hi: i64) -> u32 {
    let m = lo.unsigned_abs().max(hi.unsigned_abs());
    64 - m.leading_zeros() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiled models and cards keep the flag form they were written in; contradictory flags
    /// (both washed and flooded, classes without a label) are refused when read.
    #[test]
    fn encodings_read_and_write_the_flag_form() {
        let base = r#""input_delta_log":40,"output_delta_log":40,"output_log_modulus":64"#;
        let cases = [
            ("", Readout::Scores),
            (r#","wide":true"#, Readout::WideScores),
            (r#","rounded":true"#, Readout::Rounded),
            (r#","label":true"#, Readout::Label { classes: 0 }),
            (r#","label":true,"classes":10"#, Readout::Label { classes: 10 }),
        ];
        for (flags, readout) in cases {
            let json = format!("{{{base}{flags}}}");
            let e: Encoding = serde_json::from_str(&json).unwrap();
            assert_eq!(e.readout, readout, "{json}");
            let back: Encoding = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
            assert_eq!(back, e);
        }
        for flags in
            [r#","wide":true,"label":true"#, r#","label":true,"rounded":true"#, r#","classes":3"#]
        {
            let json = format!("{{{base}{flags}}}");
            assert!(serde_json::from_str::<Encoding>(&json).is_err(), "{json} accepted");
        }
    }
}

//! `modelmart-fhe predict`: the clear quantized model's answers for rows of a CSV — exactly what
//! an encrypted evaluation of the same compiled model decrypts to (a seller's check, and the
//! reference the browser tests compare decrypted predictions with).

use std::path::PathBuf;

use modelmart_fhe::{CompileOptions, CompiledModel, Dataset, model::Task, onnx::import_onnx};
use serde_json::json;

/// Arguments of `predict`.
#[derive(clap::Args)]
pub(crate) struct PredictArgs {
    /// ONNX model file.
    #[arg(long)]
    onnx: PathBuf,
    /// Training CSV the model is compiled (calibrated) on, header + target as last column.
    #[arg(long)]
    train: PathBuf,
    /// CSV of the rows to predict (same columns).
    #[arg(long)]
    csv: PathBuf,
    /// Predict only the first N rows (0 = all).
    #[arg(long, default_value_t = 0)]
    rows: usize,
    /// What results hold: every score, rounded scores or the class (as a listing's output).
    #[arg(long, value_enum, default_value = "scores")]
    output: crate::measure::OutputArg,
}

/// One JSON line per row: integer scores, dequantized scores, label.
pub(crate) fn predict(args: &PredictArgs) -> eyre::Result<()> {
    let model = import_onnx(&std::fs::read(&args.onnx)?)?;
    let train = Dataset::load(&args.train)?;
    let data = Dataset::load(&args.csv)?;
    let opts = CompileOptions::with_output(args.output.into());
    let compiled = CompiledModel::compile(&model, &train.x, opts)?;
    let n = if args.rows == 0 { data.x.len() } else { args.rows.min(data.x.len()) };
    for (i, x) in data.x[..n].iter().enumerate() {
        let raw = compiled.predict_clear(x)?;
        let label = match &compiled.task {
            Task::Classification { labels } => labels.get(compiled.class_of(&raw)).cloned(),
            Task::Regression => None,
        };
        println!(
            "{}",
            json!({ "row": i, "raw": raw, "scores": compiled.dequantize(&raw), "label": label })
        );
    }
    Ok(())
}

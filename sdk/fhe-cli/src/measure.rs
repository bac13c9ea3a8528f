//! Measure one model: keygen, sizes, encrypt/server/decrypt medians, bootstraps, accuracies,
//! and FHE-vs-clear agreement on the test split.

use std::path::PathBuf;
use std::time::Instant;

use eyre::{Context, bail};
use modelmart_fhe::model::Task;
use modelmart_fhe::{
    ClientKey, CompileOptions, CompiledModel, Dataset, EncryptedInput, EncryptedResult, Evaluator,
    OutputMode, ServerKey, cost::CostModel, onnx::import_onnx, params::ParamSetId,
};
use serde_json::json;

/// The benchmark table: (fixture model, dataset).
const TABLE: &[(&str, &str)] = &[
    ("logreg_breast_cancer", "breast_cancer"),
    ("logreg_digits", "digits"),
    ("ridge_diabetes", "diabetes"),
    ("svm_breast_cancer", "breast_cancer"),
    ("tree5_breast_cancer", "breast_cancer"),
    ("rf10d4_breast_cancer", "breast_cancer"),
    ("xgb20d3_breast_cancer", "breast_cancer"),
    ("mlp30_16_2_breast_cancer", "breast_cancer"),
    ("mlp30_16_8_2_breast_cancer", "breast_cancer"),
    ("tree4_diabetes", "diabetes"),
    ("gbr20d3_diabetes", "diabetes"),
];

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// Only these models (comma-separated fixture names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Samples for the timing medians.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Test rows checked for FHE == clear agreement (0 = the whole test split).
    #[arg(long, default_value_t = 0)]
    agreement_rows: usize,
    /// What results hold: every score, rounded scores (washed bits) or the class (its index's
    /// washed bits).
    #[arg(long, value_enum, default_value = "scores")]
    output: OutputArg,
}

/// `--output` of `modelmart-fhe bench`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum OutputArg {
    /// Every score.
    Scores,
    /// Scores rounded to 5 bits under FHE, each bit washed.
    Rounded,
    /// The class (a sign, or an argmax among up to 16 classes), its index bits washed.
    Label,
}

impl From<OutputArg> for OutputMode {
    fn from(o: OutputArg) -> Self {
        match o {
            OutputArg::Scores => OutputMode::Scores,
            OutputArg::Rounded => OutputMode::RoundedScores,
            OutputArg::Label => OutputMode::LabelOnly,
        }
    }
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// ONNX model file.
    #[arg(long)]
    onnx: PathBuf,
    /// Training CSV (calibration), header + target as last column.
    #[arg(long)]
    train: PathBuf,
    /// Test CSV.
    #[arg(long)]
    test: PathBuf,
    /// Samples for the timing medians.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Test rows checked for agreement (0 = all).
    #[arg(long, default_value_t = 0)]
    agreement_rows: usize,
}

pub(crate) fn bench(args: &BenchArgs) -> eyre::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fhe/fixtures");
    for (name, data) in TABLE {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        let line = measure(
            name,
            &dir.join(format!("models/{name}.onnx")),
            &dir.join(format!("data/{data}_train.csv")),
            &dir.join(format!("data/{data}_test.csv")),
            args.samples,
            args.agreement_rows,
            args.output.into(),
        )?;
        println!("{line}");
    }
    Ok(())
}

pub(crate) fn run(args: &RunArgs) -> eyre::Result<()> {
    let name = args.onnx.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let line = measure(
        &name,
        &args.onnx,
        &args.train,
        &args.test,
        args.samples,
        args.agreement_rows,
        OutputMode::Scores,
    )?;
    println!("{line}");
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn measure(
    name: &str,
    onnx: &std::path::Path,
    train: &std::path::Path,
    test: &std::path::Path,
    samples: usize,
    agreement_rows: usize,
    output: OutputMode,
) -> eyre::Result<serde_json::Value> {
    let bytes = std::fs::read(onnx).wrap_err_with(|| format!("reading {}", onnx.display()))?;
    let mut model = import_onnx(&bytes)?;
    let (train, test) = (Dataset::load(train)?, Dataset::load(test)?);
    if train.names.len() != model.n_features() {
        bail!(
            "{} has {} features, the model takes {}",
            name,
            train.names.len(),
            model.n_features()
        );
    }
    model.features = train.names.clone();
    let opts = CompileOptions::with_output(output);
    let compiled = CompiledModel::compile(&model, &train.x, opts)?;
    let classification = matches!(model.task, Task::Classification { .. });

    // float and quantized quality on the whole test split
    let float_scores: Vec<Vec<f64>> = test.x.iter().map(|x| model.scores(x)).collect();
    let clear: Vec<Vec<i64>> =
        test.x.iter().map(|x| compiled.predict_clear(x)).collect::<Result<_, _>>()?;
    let quality = |pred: &dyn Fn(usize) -> f64| -> f64 {
        if classification {
            (0..test.y.len()).filter(|i| pred(*i) == test.y[*i]).count() as f64
                / test.y.len() as f64
        } else {
            let mean = test.y.iter().sum::<f64>() / test.y.len() as f64;
            let ss_tot: f64 = test.y.iter().map(|y| (y - mean).powi(2)).sum();
            let ss_res: f64 = (0..test.y.len()).map(|i| (test.y[i] - pred(i)).powi(2)).sum();
            1.0 - ss_res / ss_tot
        }
    };
    let float_quality = quality(&|i| {
        if classification { model.class_of(&float_scores[i]) as f64 } else { float_scores[i][0] }
    });
    let quant_quality = quality(&|i| {
        if classification {
            compiled.class_of(&clear[i]) as f64
        } else {
            compiled.dequantize(&clear[i])[0]
        }
    });
    let (lo, hi) = test.y.iter().fold((f64::MAX, f64::MIN), |(l, h), y| (l.min(*y), h.max(*y)));
    let max_dequant_err = (0..test.y.len())
        .map(|i| (compiled.dequantize(&clear[i])[0] - float_scores[i][0]).abs())
        .fold(0f64, f64::max);

    // keys
    let t = Instant::now();
    let client = ClientKey::generate(compiled.param_set)?;
    // bootstrapped models need the bootstrap keys, leveled ones the sanitization public key
    let bytes = client.key_for(&compiled.public())?.to_bytes()?;
    let eval_key_bytes = bytes.len();
    let server = ServerKey::expand(&modelmart_fhe::EvaluationKey::from_bytes(&bytes)?)?;
    let keygen_s = t.elapsed().as_secs_f64();
    let evaluator = Evaluator::new(&compiled, Some(&server))?;
    let public = compiled.public(); // all the buyer's side sees

    // per-row timing medians
    let (mut enc, mut srv, mut dec) = (Vec::new(), Vec::new(), Vec::new());
    let timed = samples.min(test.x.len());
    let (mut in_bytes, mut out_bytes) = (0, 0);
    for (i, (row, want)) in test.x.iter().zip(&clear).take(timed).enumerate() {
        let t = Instant::now();
        let input = client.encrypt_rows(&public, std::slice::from_ref(row))?.to_bytes()?;
        enc.push(t.elapsed().as_secs_f64() * 1e3);
        in_bytes = input.len();
        let t = Instant::now();
        let parsed = EncryptedInput::from_bytes(&input)?;
        let (result, _) = evaluator.evaluate(&parsed, 1)?;
        let result = result.to_bytes()?;
        srv.push(t.elapsed().as_secs_f64() * 1e3);
        out_bytes = result.len();
        let t = Instant::now();
        let scores = client.decrypt(&public, &EncryptedResult::from_bytes(&result)?)?;
        dec.push(t.elapsed().as_secs_f64() * 1e3);
        if scores[0] != *want {
            bail!("{name}: FHE != clear on test row {i}: {:?} vs {want:?}", scores[0]);
        }
    }

    // agreement on the test split, evaluated as batches
    let n = if agreement_rows == 0 { test.x.len() } else { agreement_rows.min(test.x.len()) };
    let mut agree = 0;
    for start in (0..n).step_by(64) {
        let end = (start + 64).min(n);
        let input = client.encrypt_rows(&public, &test.x[start..end])?;
        let (result, _) = evaluator.evaluate(&input, 64)?;
        let scores = client.decrypt(&public, &result)?;
        agree += scores.iter().zip(&clear[start..end]).filter(|(a, b)| a == b).count();
    }
    // FHE must reproduce the clear quantized model exactly: anything less is an engine bug
    if agree != n {
        bail!("{name}: FHE agrees with the clear model on only {agree} of {n} test rows");
    }
    let cost = CostModel::default().estimate(&compiled, 1);
    // what sanitization adds to each leveled result, or washing to a bit (one thread)
    let sanitize_ms = if compiled.encoding.washed_bits() > 0 {
        let (wash, _) = modelmart_fhe::fhe::bench_wash(&client, &server, 5, false)?;
        json!(round(wash.as_secs_f64() * 1e3, 1))
    } else {
        match server.has_public_key().then_some(&server) {
            Some(s) => {
                json!(round(modelmart_fhe::fhe::bench_sanitize(s, 200)?.as_secs_f64() * 1e3, 3))
            }
            None => serde_json::Value::Null,
        }
    };
    // the engine's own floor: bootstraps x one bootstrap on one core / cores
    let floor_ms = if compiled.bootstraps_per_row() > 0 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        json!(round(compiled.bootstraps_per_row() as f64 * one_bootstrap_ms()? / cores, 1))
    } else {
        serde_json::Value::Null
    };
    Ok(json!({
        "model": name,
        "output": compiled.encoding.output().name(),
        "washed_bits_per_row": compiled.n_outputs() * compiled.encoding.washed_bits(),
        "task": if classification { "classification" } else { "regression" },
        "features": model.n_features(),
        "keygen_s": round(keygen_s, 3),
        "evaluation_key_bytes": eval_key_bytes,
        "input_bytes": in_bytes,
        "output_bytes": out_bytes,
        "encrypt_ms": round(median(enc), 3),
        "server_ms": round(median(srv), 3),
        "decrypt_ms": round(median(dec), 3),
        "bootstraps": compiled.bootstraps_per_row(),
        "expected_server_ms": round(cost.expected_seconds * 1e3, 1),
        "one_bootstrap_ms": ONE_BOOTSTRAP_MS.get().map(|v| round(*v, 2)),
        "floor_ms": floor_ms,
        "sanitize_ms_per_result": sanitize_ms,
        "metric": if classification { "accuracy" } else { "r2" },
        "float": round(float_quality, 4),
        "quantized": round(quant_quality, 4),
        "max_dequant_error_pct_of_range": if classification { serde_json::Value::Null } else { json!(round(100.0 * max_dequant_err / (hi - lo), 3)) },
        "fhe_agreement": round(agree as f64 / n as f64, 4),
        "agreement_rows": n,
        "samples": timed,
    }))
}

static ONE_BOOTSTRAP_MS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

/// One bootstrap on one core of this machine, measured once per run (the median of 5
/// measurements of 8 bootstraps each, so one slow moment does not set the floor).
fn one_bootstrap_ms() -> eyre::Result<f64> {
    if let Some(v) = ONE_BOOTSTRAP_MS.get() {
        return Ok(*v);
    }
    let runs = (0..5)
        .map(|_| Ok(CostModel::measure(ParamSetId(1))?.as_secs_f64() * 1e3))
        .collect::<eyre::Result<Vec<f64>>>()?;
    Ok(*ONE_BOOTSTRAP_MS.get_or_init(|| median(runs)))
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

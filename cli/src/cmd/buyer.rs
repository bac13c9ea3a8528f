//! `modelmart buyer`: create keys, run an inference (the whole path with progress), or its steps.

use std::path::PathBuf;

use alloy::primitives::U256;
use eyre::WrapErr;
use modelmart_fhe::{Dataset, params::ParamSetId};
use modelmart_sdk::{
    Buyer, BuyerKeys, JobId, ModelId, ModelInfo, Payment, Prediction, RequestedJob,
    blobs::BlobClient,
};
use serde_json::json;

use super::chain::ChainOpts;
use crate::output::Output;

/// Where the buyer's keys are. The passphrase comes from `MODELMART_PASSPHRASE` or, on a
/// terminal, a prompt that does not echo: never from the command line, where other users of
/// the machine see it in the process list and the shell keeps it in its history.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct KeyOpts {
    /// Key file (the client key, encrypted; the evaluation and public keys are kept next to it).
    #[arg(long, env = "MODELMART_KEYS", default_value = ".modelmart/buyer.key", global = true)]
    keys: PathBuf,
}

impl KeyOpts {
    fn passphrase(&self) -> eyre::Result<String> {
        if let Ok(p) = std::env::var("MODELMART_PASSPHRASE") {
            return Ok(p);
        }
        crate::output::prompt_secret(&format!("passphrase of {}: ", self.keys.display())).map_err(
            |e| {
                eyre::eyre!(
                    "the key file needs its passphrase: set MODELMART_PASSPHRASE or run on a \
                     terminal ({e})"
                )
            },
        )
    }
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum BuyerCmd {
    /// Create the key file (or check an existing one opens).
    Keygen {
        #[command(flatten)]
        keys: KeyOpts,
        /// FHE parameter set.
        #[arg(long, default_value_t = 1)]
        param_set: u16,
    },
    /// Encrypt rows, pay, wait for the job, decrypt and decode (`--no-wait`: stop after paying).
    Infer(Box<InferArgs>),
    /// Wait for a job requested earlier, then download, verify, decrypt and decode its result.
    Result {
        /// Listing id.
        #[arg(long)]
        model: ModelId,
        /// Job id.
        #[arg(long)]
        job: JobId,
        /// Block to search for the job's end from (the request's block; 0 searches all).
        #[arg(long, default_value_t = 0)]
        from_block: u64,
        #[command(flatten)]
        keys: KeyOpts,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

/// What to infer on, and how to pay.
#[derive(Debug, clap::Args)]
pub(crate) struct InferArgs {
    /// Listing id.
    #[arg(long)]
    model: ModelId,
    /// A CSV file of rows (header of feature names; a trailing label column is ignored).
    #[arg(long, conflicts_with = "row")]
    csv: Option<PathBuf>,
    /// Only the first N rows of the CSV.
    #[arg(long)]
    rows: Option<usize>,
    /// One row as comma-separated numbers, in the card's feature order.
    #[arg(long)]
    row: Option<String>,
    /// `auto`, `permit` or `approve` (ERC-20 listings).
    #[arg(long, default_value = "auto")]
    payment: String,
    /// Stop once the job is paid for and print it; fetch the result later with `buyer result`.
    #[arg(long)]
    no_wait: bool,
    /// Refuse to pay more than this in total (token units); default the current quote.
    #[arg(long)]
    max_price: Option<U256>,
    #[command(flatten)]
    keys: KeyOpts,
    #[command(flatten)]
    chain: ChainOpts,
}

fn payment(s: &str) -> eyre::Result<Payment> {
    Ok(match s {
        "auto" => Payment::Auto,
        "permit" => Payment::Permit,
        "approve" => Payment::Approve,
        other => eyre::bail!("--payment must be auto, permit or approve, not `{other}`"),
    })
}

fn read_rows(
    csv: Option<PathBuf>,
    row: Option<String>,
    limit: Option<usize>,
    features: usize,
) -> eyre::Result<Vec<Vec<f64>>> {
    let mut rows = match (csv, row) {
        (Some(path), _) => {
            let d = Dataset::load(&path)?;
            d.x
        }
        (None, Some(r)) => vec![
            r.split(',')
                .map(|v| v.trim().parse::<f64>().wrap_err_with(|| format!("`{v}` is not a number")))
                .collect::<eyre::Result<_>>()?,
        ],
        (None, None) => eyre::bail!("give --csv FILE or --row v1,v2,..."),
    };
    if let Some(n) = limit {
        rows.truncate(n);
    }
    for (i, r) in rows.iter_mut().enumerate() {
        eyre::ensure!(
            r.len() >= features,
            "row {i} has {} values, the model takes {features}",
            r.len()
        );
        r.truncate(features);
    }
    Ok(rows)
}

pub(crate) async fn run(cmd: BuyerCmd, out: &Output) -> eyre::Result<()> {
    match cmd {
        BuyerCmd::Keygen { keys, param_set } => {
            let step = out.step("generating keys");
            let k =
                BuyerKeys::load_or_create(&keys.keys, &keys.passphrase()?, ParamSetId(param_set))?;
            step.finish_and_clear();
            out.result(json!({ "keys": keys.keys, "param_set": k.client().param_set().0 }), || {
                format!("keys ready in {} (parameter set {})", keys.keys.display(), param_set)
            });
        }
        BuyerCmd::Infer(a) => {
            let InferArgs { model, csv, rows, row, payment: pay, no_wait, max_price, keys, chain } =
                *a;
            let pay = payment(&pay)?;
            let chain = chain.connect().await?;
            let step = out.step("loading the model card");
            let info = ModelInfo::fetch(&chain, &BlobClient::new()?, model).await?;
            step.finish_and_clear();
            let rows = read_rows(csv, row, rows, info.card.model.schema.len())?;
            let step = out.step("opening keys");
            let k = BuyerKeys::load_or_create(
                &keys.keys,
                &keys.passphrase()?,
                info.card.model.param_set,
            )?;
            let mut buyer = Buyer::new(chain, k)?;
            step.set_message(if info.card.model.needs_evaluation_key() {
                "registering the evaluation key"
            } else {
                "registering the public key results are sanitized with"
            });
            let key = buyer.ensure_key(&info).await?;
            step.set_message(format!("encrypting and uploading {} rows", rows.len()));
            let input = buyer.upload_rows(&info, &rows).await?;
            step.set_message("paying and requesting");
            let job = buyer.request(&info, input, key, rows.len() as u32, max_price, pay).await?;
            if no_wait {
                step.finish_and_clear();
                out.result(
                    json!({ "job_id": job.job_id, "block": job.block, "price": job.price.to_string(), "deadline": job.deadline }),
                    || format!("job {} requested in block {} (paid {}, deadline {}); fetch it with: modelmart buyer result --model {model} --job {} --from-block {}", job.job_id, job.block, job.price, job.deadline, job.job_id, job.block),
                );
                return Ok(());
            }
            step.set_message(format!("waiting for job {}", job.job_id));
            let p = buyer.result(&info, &job).await?;
            step.finish_and_clear();
            print_prediction(out, &p);
        }
        BuyerCmd::Result { model, job, from_block, keys, chain } => {
            let chain = chain.connect().await?;
            let info = ModelInfo::fetch(&chain, &BlobClient::new()?, model).await?;
            let k = BuyerKeys::load(&keys.keys, &keys.passphrase()?)?;
            let buyer = Buyer::new(chain, k)?;
            let step = out.step(&format!("waiting for job {job}"));
            let requested =
                RequestedJob { job_id: job, block: from_block, price: U256::ZERO, deadline: 0 };
            let p = buyer.result(&info, &requested).await?;
            step.finish_and_clear();
            print_prediction(out, &p);
        }
    }
    Ok(())
}

fn print_prediction(out: &Output, p: &Prediction) {
    out.result(
        json!({ "job_id": p.job_id, "result_hash": p.result_hash.to_string(),
                "labels": p.labels, "scores": p.scores, "unit": p.unit, "raw": p.raw }),
        || {
            let mut s = format!("job {} — result {}\n", p.job_id, p.result_hash);
            for (i, sc) in p.scores.iter().enumerate() {
                let label = p
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(i))
                    .map(|l| format!("{l}  "))
                    .unwrap_or_default();
                match (&p.labels, sc.as_slice()) {
                    // a regression model's one value, with its unit
                    (None, [value]) => {
                        let unit = p.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
                        s.push_str(&format!("  row {i}: {value:.4}{unit}\n"));
                    }
                    // a label-only listing returns the class and no score
                    (Some(_), []) => s.push_str(&format!("  row {i}: {}\n", label.trim_end())),
                    _ => s.push_str(&format!("  row {i}: {label}scores {sc:?}\n")),
                }
            }
            s.trim_end().to_owned()
        },
    );
}

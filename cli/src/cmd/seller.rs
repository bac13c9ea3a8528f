//! `modelmart seller`: publish a model (compile, card, seal, list, wait for the operator),
//! reprice, pause/resume, delist, earnings and withdrawal.

use std::{path::PathBuf, time::Duration};

use alloy::primitives::Address;
use modelmart_fhe::{Dataset, onnx::import_onnx};
use modelmart_sdk::card::{ListingSpec, OutputMode};
use modelmart_sdk::{ModelId, Seller, Terms};
use serde_json::json;

use super::{
    chain::{ChainOpts, token},
    dev::demo,
};
use crate::output::Output;

/// `modelmart seller publish`: the model, its card and its listing terms.
#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    /// The model (ONNX from scikit-learn, XGBoost or PyTorch).
    #[arg(long)]
    onnx: PathBuf,
    /// Training data CSV (calibration; header = feature names; last column = label).
    #[arg(long)]
    train: PathBuf,
    /// Test data CSV (the card's accuracy figures).
    #[arg(long)]
    test: PathBuf,
    /// Card name.
    #[arg(long)]
    name: String,
    /// Card description.
    #[arg(long, default_value = "")]
    description: String,
    /// Unit of a regression model's predicted value (shown with it), e.g. `mmHg`.
    #[arg(long, default_value = "")]
    unit: String,
    /// The operator that will host it.
    #[arg(long)]
    operator: Address,
    /// Payment token address, or `native`.
    #[arg(long, default_value = "native")]
    token: String,
    /// Seller's price per row (token units).
    #[arg(long)]
    price: u128,
    /// Operator's fee per row (token units).
    #[arg(long)]
    fee: u128,
    /// Most rows per job.
    #[arg(long, default_value_t = 64)]
    max_rows: u32,
    /// Seconds the operator has to answer a job.
    #[arg(long, default_value_t = 600)]
    deadline: u32,
    /// Test rows to check under FHE for the card.
    #[arg(long, default_value_t = 4)]
    fhe_rows: usize,
    /// What a result reveals: every score (linear models), scores rounded to 5 bits, or only the
    /// class (classifiers of up to 16 classes); each sanitized so it reveals nothing else about
    /// the model.
    #[arg(long, value_parser = parse_output, default_value = "scores")]
    output: OutputMode,
    #[command(flatten)]
    chain: ChainOpts,
}

/// `--output` of `modelmart seller publish`: a mode's name, with `-` or `_`.
fn parse_output(s: &str) -> Result<OutputMode, String> {
    s.replace('-', "_").parse().map_err(|e: modelmart_sdk::primitives::Error| e.to_string())
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum SellerCmd {
    /// Compile an ONNX model on training data, publish its card, seal it to the operator, list it.
    Publish(Box<PublishArgs>),
    /// Change the price per row (pending jobs keep theirs).
    Reprice {
        /// Listing id.
        id: ModelId,
        /// New seller price per row.
        price: u128,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Stop new jobs for a while.
    Pause {
        /// Listing id.
        id: ModelId,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Take jobs again.
    Resume {
        /// Listing id.
        id: ModelId,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Delist for good (pending jobs still settle).
    Delist {
        /// Listing id.
        id: ModelId,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Withdrawable earnings in a token.
    Earnings {
        /// Token address or `native`.
        #[arg(long, default_value = "native")]
        token: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Withdraw all earnings in a token.
    Withdraw {
        /// Token address or `native`.
        #[arg(long, default_value = "native")]
        token: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

pub(crate) async fn run(cmd: SellerCmd, out: &Output) -> eyre::Result<()> {
    let done = |what: &str, id: ModelId| {
        out.result(json!({ "model_id": id, "done": what }), || format!("model {id}: {what}"))
    };
    match cmd {
        SellerCmd::Publish(args) => {
            let PublishArgs {
                onnx,
                train,
                test,
                name,
                description,
                unit,
                operator,
                token: t,
                price,
                fee,
                max_rows,
                deadline,
                fhe_rows,
                output,
                chain,
            } = *args;
            let step = out.step("compiling and measuring");
            let model = import_onnx(&std::fs::read(&onnx)?)?;
            let (train, test) = (Dataset::load(&train)?, Dataset::load(&test)?);
            let spec = ListingSpec {
                name: &name,
                description: &description,
                unit: &unit,
                output_mode: output,
                fhe_rows,
            };
            let d = demo::prepare(model, &train, test, &spec)?;
            let seller = Seller::new(chain.connect().await?)?;
            let terms = Terms {
                operator,
                token: token(&t)?,
                price_per_row: price,
                operator_fee_per_row: fee,
                max_rows,
                job_deadline: deadline,
            };
            step.set_message("uploading, sealing and listing");
            let p = seller.publish(&d.compiled, &d.card, &terms).await?;
            step.set_message(format!("waiting for the operator to accept model {}", p.model_id));
            seller.wait_accepted(p.model_id, Duration::from_secs(300)).await?;
            step.finish_and_clear();
            out.result(
                json!({ "model_id": p.model_id, "card_hash": p.card_hash.to_string(), "sealed_hash": p.sealed_hash.to_string(), "accuracy": d.card.accuracy }),
                || format!("model {} listed and accepted (card {}, {} {:.3})", p.model_id, p.card_hash, d.card.accuracy.metric, d.card.accuracy.quantized),
            );
        }
        SellerCmd::Reprice { id, price, chain } => {
            Seller::new(chain.connect().await?)?.reprice(id, price).await?;
            done("repriced", id);
        }
        SellerCmd::Pause { id, chain } => {
            Seller::new(chain.connect().await?)?.set_paused(id, true).await?;
            done("paused", id);
        }
        SellerCmd::Resume { id, chain } => {
            Seller::new(chain.connect().await?)?.set_paused(id, false).await?;
            done("resumed", id);
        }
        SellerCmd::Delist { id, chain } => {
            Seller::new(chain.connect().await?)?.delist(id).await?;
            done("delisted", id);
        }
        SellerCmd::Earnings { token: t, chain } => {
            let amount = Seller::new(chain.connect().await?)?.earnings(token(&t)?).await?;
            out.result(json!({ "token": t, "amount": amount.to_string() }), || {
                format!("{amount} withdrawable ({t})")
            });
        }
        SellerCmd::Withdraw { token: t, chain } => {
            let amount = Seller::new(chain.connect().await?)?.withdraw(token(&t)?).await?;
            out.result(json!({ "token": t, "amount": amount.to_string() }), || {
                format!("withdrew {amount} ({t})")
            });
        }
    }
    Ok(())
}

//! `modelmart operator`: register, set terms, update, stake, unbond, retire a listing, withdraw
//! fees, show the record.

use std::path::PathBuf;

use alloy::primitives::{Address, U256};
use modelmart_coprocessor::service::load_x25519;
use modelmart_sdk::{ModelId, Operator, reasons};
use serde_json::json;

use super::chain::{ChainOpts, token};
use crate::output::Output;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum OperatorCmd {
    /// Register with an endpoint, the coprocessor's X25519 key and a stake (wei).
    Register {
        /// Public base URL of the coprocessor (blob endpoint).
        #[arg(long)]
        endpoint: String,
        /// The coprocessor's data folder (its `x25519.key` is read, or created).
        #[arg(long, default_value = ".modelmart/coprocessor")]
        data_dir: PathBuf,
        /// Stake in wei.
        #[arg(long)]
        stake: U256,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Show, or set, the terms listings and requests must meet (unset flags keep their value).
    Terms {
        /// Lowest operator fee per row a listing may name (token units).
        #[arg(long)]
        min_fee_per_row: Option<u128>,
        /// Shortest job deadline a listing may name, seconds (60 or more).
        #[arg(long)]
        min_job_deadline: Option<u32>,
        /// Largest rows per job a listing may allow.
        #[arg(long)]
        max_rows_per_job: Option<u32>,
        /// Rows this operator takes per clock hour over all its listings.
        #[arg(long)]
        max_rows_per_hour: Option<u32>,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Stop serving an accepted listing for good (pending jobs still settle).
    Retire {
        /// The listing.
        model_id: ModelId,
        /// Reason code shown to the seller.
        #[arg(long, default_value_t = reasons::MODEL_UNAVAILABLE)]
        reason: u16,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Change the endpoint (and re-announce the X25519 key).
    Update {
        /// New endpoint.
        #[arg(long)]
        endpoint: String,
        /// The coprocessor's data folder.
        #[arg(long, default_value = ".modelmart/coprocessor")]
        data_dir: PathBuf,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Add stake (wei).
    Stake {
        /// Amount in wei.
        amount: U256,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Start leaving: no new listings or jobs.
    Unbond {
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Stop leaving.
    CancelUnbond {
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Leave after the unbonding delay; the stake becomes withdrawable.
    Exit {
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Withdraw fees (or the returned stake) in a token.
    Withdraw {
        /// Token address or `native`.
        #[arg(long, default_value = "native")]
        token: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Show an operator's record (default: this account).
    Info {
        /// The operator.
        address: Option<Address>,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

pub(crate) async fn run(cmd: OperatorCmd, out: &Output) -> eyre::Result<()> {
    let done = |what: &str| out.result(json!({ "done": what }), || what.to_owned());
    match cmd {
        OperatorCmd::Register { endpoint, data_dir, stake, chain } => {
            let key = load_x25519(None, &data_dir)?;
            Operator::new(chain.connect().await?)
                .register(&endpoint, key.public_bytes(), stake)
                .await?;
            done("registered");
        }
        OperatorCmd::Terms {
            min_fee_per_row,
            min_job_deadline,
            max_rows_per_job,
            max_rows_per_hour,
            chain,
        } => {
            let op = Operator::new(chain.connect().await?);
            let (mut t, used) = op.terms(op.chain().account()).await?;
            let changes = [
                min_fee_per_row.map(|v| t.min_fee_per_row = v),
                min_job_deadline.map(|v| t.min_job_deadline = v),
                max_rows_per_job.map(|v| t.max_rows_per_job = v),
                max_rows_per_hour.map(|v| t.max_rows_per_hour = v),
            ];
            if changes.iter().any(Option::is_some) {
                op.set_terms(&t).await?;
            }
            out.result(
                json!({ "min_fee_per_row": t.min_fee_per_row.to_string(), "min_job_deadline": t.min_job_deadline, "max_rows_per_job": t.max_rows_per_job, "max_rows_per_hour": t.max_rows_per_hour, "rows_this_hour": used }),
                || {
                    format!(
                        "fee >= {} per row, deadline >= {} s, <= {} rows per job, {} rows per hour ({used} taken this hour)",
                        t.min_fee_per_row, t.min_job_deadline, t.max_rows_per_job, t.max_rows_per_hour
                    )
                },
            );
        }
        OperatorCmd::Retire { model_id, reason, chain } => {
            Operator::new(chain.connect().await?).retire(model_id, reason).await?;
            done("listing retired");
        }
        OperatorCmd::Update { endpoint, data_dir, chain } => {
            let key = load_x25519(None, &data_dir)?;
            Operator::new(chain.connect().await?).update(&endpoint, key.public_bytes()).await?;
            done("updated");
        }
        OperatorCmd::Stake { amount, chain } => {
            Operator::new(chain.connect().await?).add_stake(amount).await?;
            done("stake added");
        }
        OperatorCmd::Unbond { chain } => {
            Operator::new(chain.connect().await?).start_unbonding().await?;
            done("unbonding started");
        }
        OperatorCmd::CancelUnbond { chain } => {
            Operator::new(chain.connect().await?).cancel_unbonding().await?;
            done("unbonding cancelled");
        }
        OperatorCmd::Exit { chain } => {
            Operator::new(chain.connect().await?).complete_unbonding().await?;
            done("exited; stake withdrawable");
        }
        OperatorCmd::Withdraw { token: t, chain } => {
            let amount = Operator::new(chain.connect().await?).withdraw(token(&t)?).await?;
            out.result(json!({ "token": t, "amount": amount.to_string() }), || {
                format!("withdrew {amount} ({t})")
            });
        }
        OperatorCmd::Info { address, chain } => {
            let op = Operator::new(chain.connect().await?);
            let who = address.unwrap_or_else(|| op.chain().account());
            let i = op.info(who).await?;
            out.result(
                json!({ "operator": who.to_string(), "status": i.status, "stake": i.stake.to_string(), "unlock_at": i.unlock_at.to_string(), "endpoint": i.endpoint, "x25519_key": i.x25519_key.to_string() }),
                || format!("{who}: {} stake {} endpoint {}", i.status, i.stake, i.endpoint),
            );
        }
    }
    Ok(())
}

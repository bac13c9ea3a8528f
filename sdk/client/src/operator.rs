//! The operator's chain actions: register with an endpoint, X25519 key and stake; set the terms
//! it serves under; update; add stake; unbond; accept, decline or retire listings; post results
//! or reject jobs; withdraw fees.
//! The coprocessor drives the per-job actions; the CLI the rest.

use alloy::primitives::{Address, B256, U256, aliases::U96};
use modelmart_bindings::IModelMarket;
use modelmart_primitives::{JobId, ModelId, OperatorStatus};

use crate::{Chain, Error, Result, chain::rpc};

/// An operator account.
#[derive(Clone, Debug)]
pub struct Operator {
    chain: Chain,
}

/// An operator's on-chain record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorInfo {
    /// Its status on chain.
    pub status: OperatorStatus,
    /// Stake held.
    pub stake: U256,
    /// When unbonding ends (0 if not unbonding).
    pub unlock_at: U256,
    /// X25519 key models are sealed to.
    pub x25519_key: B256,
    /// Blob and status endpoint.
    pub endpoint: String,
}

/// The terms an operator serves under (enforced on chain by `listModel` and `requestJob`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatorTerms {
    /// Lowest operator fee per row a listing may name (token units).
    pub min_fee_per_row: u128,
    /// Shortest job deadline a listing may name, seconds (at least 60).
    pub min_job_deadline: u32,
    /// Largest `max_rows` a listing may name.
    pub max_rows_per_job: u32,
    /// Rows taken per clock hour over all listings (`u32::MAX`: no cap).
    pub max_rows_per_hour: u32,
}

impl Operator {
    /// An operator signing with `chain`'s account.
    pub fn new(chain: Chain) -> Self {
        Self { chain }
    }

    /// The chain connection.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The on-chain record of `operator`.
    pub async fn info(&self, operator: Address) -> Result<OperatorInfo> {
        let r = self.chain.market().getOperator(operator).call().await.map_err(rpc)?;
        Ok(OperatorInfo {
            status: OperatorStatus::from_code(r.status)?,
            stake: r.stake,
            unlock_at: r.unlockAt,
            x25519_key: r.x25519Key,
            endpoint: r.endpoint,
        })
    }

    /// Register with `endpoint`, the X25519 public key and `stake` (native coin).
    pub async fn register(&self, endpoint: &str, x25519: [u8; 32], stake: U256) -> Result<()> {
        let call =
            self.chain.market().registerOperator(endpoint.into(), B256::from(x25519)).value(stake);
        self.chain.send("registerOperator", call).await.map(drop)
    }

    /// Change endpoint or X25519 key.
    pub async fn update(&self, endpoint: &str, x25519: [u8; 32]) -> Result<()> {
        let call = self.chain.market().updateOperator(endpoint.into(), B256::from(x25519));
        self.chain.send("updateOperator", call).await.map(drop)
    }

    /// Add stake.
    pub async fn add_stake(&self, amount: U256) -> Result<()> {
        self.chain.send("addStake", self.chain.market().addStake().value(amount)).await.map(drop)
    }

    /// Start leaving (no new listings or jobs).
    pub async fn start_unbonding(&self) -> Result<()> {
        self.chain.send("startUnbonding", self.chain.market().startUnbonding()).await.map(drop)
    }

    /// Stop leaving.
    pub async fn cancel_unbonding(&self) -> Result<()> {
        self.chain.send("cancelUnbonding", self.chain.market().cancelUnbonding()).await.map(drop)
    }

    /// Leave after the unbonding delay; the stake becomes withdrawable (native coin).
    pub async fn complete_unbonding(&self) -> Result<()> {
        self.chain
            .send("completeUnbonding", self.chain.market().completeUnbonding())
            .await
            .map(drop)
    }

    /// The terms `operator` serves under, and the rows requested from it this hour.
    pub async fn terms(&self, operator: Address) -> Result<(OperatorTerms, u64)> {
        let r = self.chain.market().getOperatorTerms(operator).call().await.map_err(rpc)?;
        let t = r.terms;
        Ok((
            OperatorTerms {
                min_fee_per_row: t.minFeePerRow.to(),
                min_job_deadline: t.minJobDeadline,
                max_rows_per_job: t.maxRowsPerJob,
                max_rows_per_hour: t.maxRowsPerHour,
            },
            r.rowsThisHour.saturating_to(),
        ))
    }

    /// Set the terms this operator serves under.
    pub async fn set_terms(&self, t: &OperatorTerms) -> Result<()> {
        let fee = U96::try_from(t.min_fee_per_row).map_err(|_| {
            Error::Invalid(format!(
                "minimum fee per row {} does not fit 96 bits",
                t.min_fee_per_row
            ))
        })?;
        let call = self.chain.market().setOperatorTerms(IModelMarket::OperatorTerms {
            minFeePerRow: fee,
            minJobDeadline: t.min_job_deadline,
            maxRowsPerJob: t.max_rows_per_job,
            maxRowsPerHour: t.max_rows_per_hour,
        });
        self.chain.send("setOperatorTerms", call).await.map(drop)
    }

    /// Stop serving an accepted listing for good, with a reason code (pending jobs still settle).
    pub async fn retire(&self, model_id: ModelId, reason: u16) -> Result<()> {
        let call = self.chain.market().retireModel(model_id.to_u256(), reason);
        self.chain.send("retireModel", call).await.map(drop)
    }

    /// Accept a listing sealed to this operator.
    pub async fn accept(&self, model_id: ModelId) -> Result<()> {
        self.chain
            .send("acceptModel", self.chain.market().acceptModel(model_id.to_u256()))
            .await
            .map(drop)
    }

    /// Decline a listing with a reason code ([`crate::reasons`]).
    pub async fn decline(&self, model_id: ModelId, reason: u16) -> Result<()> {
        let call = self.chain.market().declineModel(model_id.to_u256(), reason);
        self.chain.send("declineModel", call).await.map(drop)
    }

    /// Post a job's result commitment.
    pub async fn submit_result(&self, job_id: JobId, result_hash: B256) -> Result<()> {
        let call = self.chain.market().submitResult(job_id.to_u256(), result_hash);
        self.chain.send("submitResult", call).await.map(drop)
    }

    /// Reject a job with a reason code ([`crate::reasons`]); the buyer is refunded.
    pub async fn reject(&self, job_id: JobId, reason: u16) -> Result<()> {
        let call = self.chain.market().rejectJob(job_id.to_u256(), reason);
        self.chain.send("rejectJob", call).await.map(drop)
    }

    /// Withdraw fees (or returned stake) in `token`; returns the amount.
    pub async fn withdraw(&self, token: Address) -> Result<U256> {
        self.chain.withdraw(token).await
    }
}

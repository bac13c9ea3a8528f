//! The marketplace's state as the indexer keeps it: one struct per state table.
//!
//! Amounts are decimal strings (they are `uint256` on chain), addresses and hashes lowercase
//! `0x`-hex, times Unix seconds. These structs are also the API's response bodies.

use serde::Serialize;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use crate::{
    Result,
    db::{
        sql::Val,
        table::{Entity, int, opt_int, opt_text, text},
    },
};

/// A coprocessor operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Operator {
    /// The operator's address.
    pub address: String,
    /// Base URL of its blob and status API.
    pub endpoint: String,
    /// X25519 public key sellers seal models to (hex).
    pub x25519_key: String,
    /// Native-coin stake (wei, decimal).
    pub stake: String,
    /// `active`, `unbonding` or `exited`.
    pub status: String,
    /// When unbonding, the time from which the stake can be released.
    pub unlock_at: Option<i64>,
    /// Total stake slashed for expired jobs (wei, decimal).
    pub slashed_total: String,
    /// Block time of its registration.
    pub registered_at: i64,
    /// Lowest operator fee per row a listing may name (token units, decimal).
    pub min_fee_per_row: String,
    /// Shortest job deadline a listing may name, in seconds.
    pub min_job_deadline: i64,
    /// Largest `max_rows` a listing may name.
    pub max_rows_per_job: i64,
    /// Rows the operator takes per clock hour over all its listings (4294967295: no cap).
    pub max_rows_per_hour: i64,
}

impl Entity for Operator {
    const TABLE: &'static str = "operators";
    const KEY: &'static [&'static str] = &["address"];
    const COLUMNS: &'static [&'static str] = &[
        "address",
        "endpoint",
        "x25519_key",
        "stake",
        "status",
        "unlock_at",
        "slashed_total",
        "registered_at",
        "min_fee_per_row",
        "min_job_deadline",
        "max_rows_per_job",
        "max_rows_per_hour",
    ];
    fn key(&self) -> Vec<Val> {
        vec![self.address.clone().into()]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            self.address.clone().into(),
            self.endpoint.clone().into(),
            self.x25519_key.clone().into(),
            self.stake.clone().into(),
            self.status.clone().into(),
            self.unlock_at.into(),
            self.slashed_total.clone().into(),
            self.registered_at.into(),
            self.min_fee_per_row.clone().into(),
            self.min_job_deadline.into(),
            self.max_rows_per_job.into(),
            self.max_rows_per_hour.into(),
        ]
    }
    fn from_row(r: &AnyRow) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            address: text(r, t, "address")?,
            endpoint: text(r, t, "endpoint")?,
            x25519_key: text(r, t, "x25519_key")?,
            stake: text(r, t, "stake")?,
            status: text(r, t, "status")?,
            unlock_at: opt_int(r, t, "unlock_at")?,
            slashed_total: text(r, t, "slashed_total")?,
            registered_at: int(r, t, "registered_at")?,
            min_fee_per_row: text(r, t, "min_fee_per_row")?,
            min_job_deadline: int(r, t, "min_job_deadline")?,
            max_rows_per_job: int(r, t, "max_rows_per_job")?,
            max_rows_per_hour: int(r, t, "max_rows_per_hour")?,
        })
    }
}

/// A model listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Model {
    /// Listing id.
    pub model_id: i64,
    /// The seller.
    pub seller: String,
    /// The operator hosting the sealed model.
    pub operator: String,
    /// Payment token (`0x000…0` for the native coin).
    pub token: String,
    /// Seller's share per row (token units, decimal).
    pub price_per_row: String,
    /// Operator's fee per row (token units, decimal).
    pub operator_fee_per_row: String,
    /// SHA-256 of the public model card blob.
    pub card_hash: String,
    /// SHA-256 of the sealed model blob.
    pub sealed_model_hash: String,
    /// FHE parameter-set id.
    pub param_set: i64,
    /// Maximum rows per job.
    pub max_rows: i64,
    /// Seconds the operator has to answer a job.
    pub job_deadline: i64,
    /// What a result reveals: 0 scores, 1 rounded scores, 2 label only.
    pub output_mode: i64,
    /// `proposed`, `active`, `paused`, `delisted` or `declined`.
    pub status: String,
    /// The operator's reason code when it declined or retired the listing.
    pub decline_reason: Option<i64>,
    /// Block time of the listing.
    pub listed_at: i64,
}

impl Entity for Model {
    const TABLE: &'static str = "models";
    const KEY: &'static [&'static str] = &["model_id"];
    const COLUMNS: &'static [&'static str] = &[
        "model_id",
        "seller",
        "operator",
        "token",
        "price_per_row",
        "operator_fee_per_row",
        "card_hash",
        "sealed_model_hash",
        "param_set",
        "max_rows",
        "job_deadline",
        "output_mode",
        "status",
        "decline_reason",
        "listed_at",
    ];
    fn key(&self) -> Vec<Val> {
        vec![self.model_id.into()]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            self.model_id.into(),
            self.seller.clone().into(),
            self.operator.clone().into(),
            self.token.clone().into(),
            self.price_per_row.clone().into(),
            self.operator_fee_per_row.clone().into(),
            self.card_hash.clone().into(),
            self.sealed_model_hash.clone().into(),
            self.param_set.into(),
            self.max_rows.into(),
            self.job_deadline.into(),
            self.output_mode.into(),
            self.status.clone().into(),
            self.decline_reason.into(),
            self.listed_at.into(),
        ]
    }
    fn from_row(r: &AnyRow) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            model_id: int(r, t, "model_id")?,
            seller: text(r, t, "seller")?,
            operator: text(r, t, "operator")?,
            token: text(r, t, "token")?,
            price_per_row: text(r, t, "price_per_row")?,
            operator_fee_per_row: text(r, t, "operator_fee_per_row")?,
            card_hash: text(r, t, "card_hash")?,
            sealed_model_hash: text(r, t, "sealed_model_hash")?,
            param_set: int(r, t, "param_set")?,
            max_rows: int(r, t, "max_rows")?,
            job_deadline: int(r, t, "job_deadline")?,
            output_mode: int(r, t, "output_mode")?,
            status: text(r, t, "status")?,
            decline_reason: opt_int(r, t, "decline_reason")?,
            listed_at: int(r, t, "listed_at")?,
        })
    }
}

/// A buyer's registered evaluation key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EvalKey {
    /// SHA-256 of the key blob.
    pub key_hash: String,
    /// The buyer.
    pub owner: String,
    /// FHE parameter-set id.
    pub param_set: i64,
    /// `active` or `revoked`.
    pub status: String,
    /// Block time of the registration.
    pub registered_at: i64,
}

impl Entity for EvalKey {
    const TABLE: &'static str = "keys";
    const KEY: &'static [&'static str] = &["owner", "key_hash"];
    const COLUMNS: &'static [&'static str] =
        &["key_hash", "owner", "param_set", "status", "registered_at"];
    fn key(&self) -> Vec<Val> {
        vec![self.owner.clone().into(), self.key_hash.clone().into()]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            self.key_hash.clone().into(),
            self.owner.clone().into(),
            self.param_set.into(),
            self.status.clone().into(),
            self.registered_at.into(),
        ]
    }
    fn from_row(r: &AnyRow) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            key_hash: text(r, t, "key_hash")?,
            owner: text(r, t, "owner")?,
            param_set: int(r, t, "param_set")?,
            status: text(r, t, "status")?,
            registered_at: int(r, t, "registered_at")?,
        })
    }
}

/// An inference job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Job {
    /// Job id.
    pub job_id: i64,
    /// The listing it runs.
    pub model_id: i64,
    /// The buyer.
    pub buyer: String,
    /// The model's seller.
    pub seller: String,
    /// The operator that must answer.
    pub operator: String,
    /// Payment token.
    pub token: String,
    /// SHA-256 of the encrypted input blob.
    pub input_hash: String,
    /// SHA-256 of the evaluation-key blob.
    pub key_hash: String,
    /// Number of input rows.
    pub rows: i64,
    /// Escrowed seller share.
    pub seller_amount: String,
    /// Escrowed operator share.
    pub operator_amount: String,
    /// Time after which the job can be refunded.
    pub deadline: i64,
    /// `requested`, `completed`, `rejected` or `expired`.
    pub status: String,
    /// SHA-256 of the encrypted result blob, once completed.
    pub result_hash: Option<String>,
    /// The operator's reason code, when rejected.
    pub reason: Option<i64>,
    /// Net amount paid to the seller.
    pub seller_paid: Option<String>,
    /// Net amount paid to the operator.
    pub operator_paid: Option<String>,
    /// Protocol fee taken.
    pub protocol_fee: Option<String>,
    /// Amount refunded to the buyer (rejected or expired).
    pub refund: Option<String>,
    /// Stake slashed from the operator (expired): to the buyer up to the job's native escrow, the rest to the treasury.
    pub slashed: Option<String>,
    /// Block time of the request.
    pub requested_at: i64,
    /// Block time of the settlement.
    pub settled_at: Option<i64>,
}

impl Entity for Job {
    const TABLE: &'static str = "jobs";
    const KEY: &'static [&'static str] = &["job_id"];
    const COLUMNS: &'static [&'static str] = &[
        "job_id",
        "model_id",
        "buyer",
        "seller",
        "operator",
        "token",
        "input_hash",
        "key_hash",
        "rows_count",
        "seller_amount",
        "operator_amount",
        "deadline",
        "status",
        "result_hash",
        "reason",
        "seller_paid",
        "operator_paid",
        "protocol_fee",
        "refund",
        "slashed",
        "requested_at",
        "settled_at",
    ];
    fn key(&self) -> Vec<Val> {
        vec![self.job_id.into()]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            self.job_id.into(),
            self.model_id.into(),
            self.buyer.clone().into(),
            self.seller.clone().into(),
            self.operator.clone().into(),
            self.token.clone().into(),
            self.input_hash.clone().into(),
            self.key_hash.clone().into(),
            self.rows.into(),
            self.seller_amount.clone().into(),
            self.operator_amount.clone().into(),
            self.deadline.into(),
            self.status.clone().into(),
            self.result_hash.clone().into(),
            self.reason.into(),
            self.seller_paid.clone().into(),
            self.operator_paid.clone().into(),
            self.protocol_fee.clone().into(),
            self.refund.clone().into(),
            self.slashed.clone().into(),
            self.requested_at.into(),
            self.settled_at.into(),
        ]
    }
    fn from_row(r: &AnyRow) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            job_id: int(r, t, "job_id")?,
            model_id: int(r, t, "model_id")?,
            buyer: text(r, t, "buyer")?,
            seller: text(r, t, "seller")?,
            operator: text(r, t, "operator")?,
            token: text(r, t, "token")?,
            input_hash: text(r, t, "input_hash")?,
            key_hash: text(r, t, "key_hash")?,
            rows: int(r, t, "rows_count")?,
            seller_amount: text(r, t, "seller_amount")?,
            operator_amount: text(r, t, "operator_amount")?,
            deadline: int(r, t, "deadline")?,
            status: text(r, t, "status")?,
            result_hash: opt_text(r, t, "result_hash")?,
            reason: opt_int(r, t, "reason")?,
            seller_paid: opt_text(r, t, "seller_paid")?,
            operator_paid: opt_text(r, t, "operator_paid")?,
            protocol_fee: opt_text(r, t, "protocol_fee")?,
            refund: opt_text(r, t, "refund")?,
            slashed: opt_text(r, t, "slashed")?,
            requested_at: int(r, t, "requested_at")?,
            settled_at: opt_int(r, t, "settled_at")?,
        })
    }
}

/// An account's withdrawable balance of one token inside the marketplace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Balance {
    /// The account.
    pub account: String,
    /// The token (`0x000…0` for the native coin).
    pub token: String,
    /// Withdrawable now (decimal).
    pub balance: String,
    /// Everything ever credited (decimal).
    pub credited_total: String,
    /// Everything ever withdrawn (decimal).
    pub withdrawn_total: String,
}

impl Entity for Balance {
    const TABLE: &'static str = "balances";
    const KEY: &'static [&'static str] = &["account", "token"];
    const COLUMNS: &'static [&'static str] =
        &["account", "token", "balance", "credited_total", "withdrawn_total"];
    fn key(&self) -> Vec<Val> {
        vec![self.account.clone().into(), self.token.clone().into()]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            self.account.clone().into(),
            self.token.clone().into(),
            self.balance.clone().into(),
            self.credited_total.clone().into(),
            self.withdrawn_total.clone().into(),
        ]
    }
    fn from_row(r: &AnyRow) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            account: text(r, t, "account")?,
            token: text(r, t, "token")?,
            balance: text(r, t, "balance")?,
            credited_total: text(r, t, "credited_total")?,
            withdrawn_total: text(r, t, "withdrawn_total")?,
        })
    }
}

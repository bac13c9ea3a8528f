//! The API's answers in the protocol's types.

use alloy::primitives::{Address, B256, U256};
use modelmart_primitives::{JobId, JobStatus, ModelId, ModelStatus, OperatorStatus};
use serde::{Deserialize, Deserializer};

fn amount<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<U256, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(|_| serde::de::Error::custom(format!("`{s}` is not an amount")))
}

fn opt_amount<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<U256>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| s.parse().map_err(|_| serde::de::Error::custom(format!("`{s}` is not an amount"))))
        .transpose()
}

/// A page of a list; pass `next_cursor` back as `cursor` for the next one.
#[derive(Clone, Debug, Deserialize)]
pub struct Page<T> {
    /// The items, in the requested order.
    pub items: Vec<T>,
    /// Absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A listing's terms as the index holds them.
#[derive(Clone, Debug, Deserialize)]
pub struct Listing {
    /// Its id.
    pub model_id: ModelId,
    /// Who listed it.
    pub seller: Address,
    /// Who runs it.
    pub operator: Address,
    /// The payment token (`Address::ZERO`: the native coin).
    pub token: Address,
    /// The seller's price per row, in the token's smallest unit.
    #[serde(deserialize_with = "amount")]
    pub price_per_row: U256,
    /// The operator's fee per row.
    #[serde(deserialize_with = "amount")]
    pub operator_fee_per_row: U256,
    /// SHA-256 of its model card.
    pub card_hash: B256,
    /// SHA-256 of the sealed model.
    pub sealed_model_hash: B256,
    /// FHE parameter set.
    pub param_set: u32,
    /// Most rows per job.
    pub max_rows: u64,
    /// Seconds the operator has to answer a job.
    pub job_deadline: u64,
    /// What a result holds (`modelmart_primitives::OutputMode` code).
    pub output_mode: u8,
    /// Where it stands.
    pub status: ModelStatus,
    /// Why its operator declined it (a reason code), when it did.
    #[serde(default)]
    pub decline_reason: Option<u16>,
    /// Unix time it was listed.
    pub listed_at: i64,
}

/// Served jobs and outcomes of a listing or an operator.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct JobStats {
    /// Jobs requested.
    pub jobs_total: u64,
    /// Jobs answered.
    pub jobs_completed: u64,
    /// Completed share of the ended jobs.
    pub success_rate: f64,
    /// Median seconds from request to result.
    #[serde(default)]
    pub median_latency_s: Option<f64>,
}

/// A listing with its card's name and its figures (`GET /v1/models`).
#[derive(Clone, Debug, Deserialize)]
pub struct ModelSummary {
    /// The terms.
    #[serde(flatten)]
    pub listing: Listing,
    /// The card's name, once the indexer fetched and verified the card.
    #[serde(default)]
    pub name: Option<String>,
    /// The card's task.
    #[serde(default)]
    pub task: Option<String>,
    /// Its figures.
    pub stats: JobStats,
}

/// A listing in full (`GET /v1/models/{id}`).
#[derive(Clone, Debug, Deserialize)]
pub struct ModelDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: ModelSummary,
    /// The card, verified against `card_hash` by the indexer (check it again before trusting).
    #[serde(default)]
    pub card: Option<serde_json::Value>,
    /// Where the card is served.
    #[serde(default)]
    pub card_url: Option<String>,
}

/// A job as the index holds it.
#[derive(Clone, Debug, Deserialize)]
pub struct IndexedJob {
    /// Its id.
    pub job_id: JobId,
    /// The listing.
    pub model_id: ModelId,
    /// Who paid.
    pub buyer: Address,
    /// The listing's seller.
    pub seller: Address,
    /// The listing's operator.
    pub operator: Address,
    /// The payment token.
    pub token: Address,
    /// SHA-256 of the encrypted input.
    pub input_hash: B256,
    /// SHA-256 of the evaluation key used.
    pub key_hash: B256,
    /// Rows.
    pub rows: u64,
    /// Escrowed for the seller.
    #[serde(deserialize_with = "amount")]
    pub seller_amount: U256,
    /// Escrowed for the operator.
    #[serde(deserialize_with = "amount")]
    pub operator_amount: U256,
    /// Unix time by which it must be answered.
    pub deadline: i64,
    /// Where it stands.
    pub status: JobStatus,
    /// SHA-256 of the encrypted result, once posted.
    #[serde(default)]
    pub result_hash: Option<B256>,
    /// The operator's reason code, when it rejected the job.
    #[serde(default)]
    pub reason: Option<u16>,
    /// What the buyer got back, when refunded.
    #[serde(default, deserialize_with = "opt_amount")]
    pub refund: Option<U256>,
    /// Unix time of the request.
    pub requested_at: i64,
    /// Unix time it ended.
    #[serde(default)]
    pub settled_at: Option<i64>,
}

/// One version of a row: the event that made it.
#[derive(Clone, Debug, Deserialize)]
pub struct Change {
    /// The event's name.
    pub event: String,
    /// The status it left.
    pub status: String,
    /// Its block.
    pub block_number: u64,
    /// Its transaction.
    pub tx_hash: B256,
}

/// A job with every status it went through (`GET /v1/jobs/{id}`).
#[derive(Clone, Debug, Deserialize)]
pub struct JobDetail {
    /// The job now.
    #[serde(flatten)]
    pub job: IndexedJob,
    /// Every version, oldest first.
    pub history: Vec<Change>,
}

/// An operator with its figures (`GET /v1/operators`).
#[derive(Clone, Debug, Deserialize)]
pub struct OperatorSummary {
    /// Its address.
    pub address: Address,
    /// Its blob endpoint.
    pub endpoint: String,
    /// Its stake.
    #[serde(deserialize_with = "amount")]
    pub stake: U256,
    /// Where it stands.
    pub status: OperatorStatus,
    /// Active listings it runs.
    pub active_models: u64,
    /// Its figures.
    pub stats: JobStats,
}

/// A withdrawable balance inside the market (`GET /v1/balances`).
#[derive(Clone, Debug, Deserialize)]
pub struct Balance {
    /// Whose.
    pub account: Address,
    /// Which token.
    pub token: Address,
    /// Withdrawable now.
    #[serde(deserialize_with = "amount")]
    pub balance: U256,
    /// Credited ever.
    #[serde(deserialize_with = "amount")]
    pub credited_total: U256,
    /// Withdrawn ever.
    #[serde(deserialize_with = "amount")]
    pub withdrawn_total: U256,
}

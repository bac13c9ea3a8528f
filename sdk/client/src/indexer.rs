//! A typed client of the indexer's HTTP API (`indexer/openapi.json`, v1): keyless reads of
//! listings, operators, jobs and balances, with the protocol's own types (addresses, amounts,
//! hashes, ids and statuses) instead of strings. Fields the API adds within 1.x are ignored.
//!
//! ```no_run
//! # async fn run() -> modelmart_sdk::Result<()> {
//! use modelmart_sdk::indexer::{Indexer, JobQuery, ModelQuery};
//! let index = Indexer::new("http://127.0.0.1:8600");
//! for m in index.models(&ModelQuery::active()).await?.items {
//!     println!("{} {:?}: {} per row", m.listing.model_id, m.name, m.listing.price_per_row);
//! }
//! let done = index.jobs(&JobQuery { status: Some(modelmart_sdk::JobStatus::Completed), ..Default::default() }).await?;
//! println!("{} completed jobs on this page", done.items.len());
//! # Ok(()) }
//! ```
//!
//! It reads what the index says, which trails the chain by its confirmations: anything that
//! moves money is decided on the chain ([`crate::Chain`]), not on these answers.

use alloy::primitives::{Address, B256, U256};
use modelmart_primitives::{JobId, JobStatus, ModelId, ModelStatus, OperatorStatus};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use crate::{Error, Result};

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

/// How to sort the model list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModelSort {
    /// Newest listing first.
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Most jobs first.
    Jobs,
    /// Highest success rate first.
    SuccessRate,
    /// Cheapest per row first.
    Price,
}

impl ModelSort {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Jobs => "jobs",
            Self::SuccessRate => "success_rate",
            Self::Price => "price",
        }
    }
}

/// Filters of the model list (all optional).
#[derive(Clone, Debug, Default)]
pub struct ModelQuery {
    /// Search in name, task and description.
    pub q: Option<String>,
    /// Only listings in this status.
    pub status: Option<ModelStatus>,
    /// Only this seller's.
    pub seller: Option<Address>,
    /// Only this operator's.
    pub operator: Option<Address>,
    /// Sort order.
    pub sort: ModelSort,
    /// Page size (1 to 500).
    pub limit: Option<u16>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ModelQuery {
    /// Active listings, newest first.
    pub fn active() -> Self {
        Self { status: Some(ModelStatus::Active), ..Self::default() }
    }
}

/// Filters of the job list (all optional).
#[derive(Clone, Debug, Default)]
pub struct JobQuery {
    /// Only this buyer's.
    pub buyer: Option<Address>,
    /// Only this seller's.
    pub seller: Option<Address>,
    /// Only this operator's.
    pub operator: Option<Address>,
    /// Only this listing's.
    pub model_id: Option<ModelId>,
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Page size (1 to 500).
    pub limit: Option<u16>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The indexer at one base URL.
#[derive(Clone, Debug)]
pub struct Indexer {
    http: reqwest::Client,
    base: String,
}

impl Indexer {
    /// The indexer at `base` (e.g. `http://127.0.0.1:8600`).
    pub fn new(base: impl Into<String>) -> Self {
        Self { http: reqwest::Client::new(), base: base.into().trim_end_matches('/').to_owned() }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let what = format!("GET {path}");
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .map_err(|e| Error::Indexer(format!("{what}: {e}")))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| Error::Indexer(format!("{what}: {e}")))?;
        if !status.is_success() {
            // problem details (RFC 9457): the detail in words, the code to match on
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let detail = problem["detail"].as_str().unwrap_or("no detail").to_owned();
            return Err(if status == reqwest::StatusCode::NOT_FOUND {
                Error::NotFound(detail)
            } else {
                let code = problem["code"].as_str().unwrap_or("unknown");
                Error::Indexer(format!("{what}: {status} {code}: {detail}"))
            });
        }
        serde_json::from_slice(&body)
            .map_err(|e| Error::Indexer(format!("{what}: unexpected answer: {e}")))
    }

    /// Listings with their figures.
    pub async fn models(&self, q: &ModelQuery) -> Result<Page<ModelSummary>> {
        let mut p = vec![("sort", q.sort.as_str().to_owned())];
        push(&mut p, "q", q.q.clone());
        push(&mut p, "status", q.status.map(|s| s.as_str().to_owned()));
        push(&mut p, "seller", q.seller.map(|a| a.to_string()));
        push(&mut p, "operator", q.operator.map(|a| a.to_string()));
        push(&mut p, "limit", q.limit.map(|l| l.to_string()));
        push(&mut p, "cursor", q.cursor.clone());
        self.get("/v1/models", &p).await
    }

    /// One listing in full.
    pub async fn model(&self, id: ModelId) -> Result<ModelDetail> {
        self.get(&format!("/v1/models/{}", id.get()), &[]).await
    }

    /// Jobs, newest first.
    pub async fn jobs(&self, q: &JobQuery) -> Result<Page<IndexedJob>> {
        let mut p = Vec::new();
        push(&mut p, "buyer", q.buyer.map(|a| a.to_string()));
        push(&mut p, "seller", q.seller.map(|a| a.to_string()));
        push(&mut p, "operator", q.operator.map(|a| a.to_string()));
        push(&mut p, "model_id", q.model_id.map(|m| m.get().to_string()));
        push(&mut p, "status", q.status.map(|s| s.as_str().to_owned()));
        push(&mut p, "limit", q.limit.map(|l| l.to_string()));
        push(&mut p, "cursor", q.cursor.clone());
        self.get("/v1/jobs", &p).await
    }

    /// One job with its history.
    pub async fn job(&self, id: JobId) -> Result<JobDetail> {
        self.get(&format!("/v1/jobs/{}", id.get()), &[]).await
    }

    /// Operators with their figures.
    pub async fn operators(&self, status: Option<OperatorStatus>) -> Result<Vec<OperatorSummary>> {
        let mut p = Vec::new();
        push(&mut p, "status", status.map(|s| s.as_str().to_owned()));
        self.get("/v1/operators", &p).await
    }

    /// `account`'s withdrawable balances inside the market.
    pub async fn balances(&self, account: Address) -> Result<Page<Balance>> {
        self.get("/v1/balances", &[("account", account.to_string())]).await
    }
}

fn push(p: &mut Vec<(&'static str, String)>, name: &'static str, v: Option<String>) {
    if let Some(v) = v {
        p.push((name, v));
    }
}

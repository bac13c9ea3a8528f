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

mod stream;
mod types;

use alloy::primitives::Address;
pub use modelmart_primitives::ModelSort;
use modelmart_primitives::{JobId, JobStatus, ModelId, ModelStatus, OperatorStatus};
use serde::de::DeserializeOwned;

pub use stream::{StreamFilter, Update};
pub use types::{
    Balance, Change, IndexedJob, JobDetail, JobStats, Listing, ModelDetail, ModelSummary,
    OperatorSummary, Page,
};

use crate::{Error, Result};

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
            return Err(refused(&what, status, &body));
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

    /// The live stream of updates matching `filter`: a job's status changes as they are indexed
    /// (`StreamFilter { job_id: Some(id), .. }` follows one job), listings' changes, rollbacks.
    /// It ends when the connection does; reconnect and re-read on [`Update::Lagged`] or
    /// [`Update::Rollback`].
    pub async fn stream(
        &self,
        filter: &StreamFilter,
    ) -> Result<impl futures_util::Stream<Item = Result<Update>> + Send + use<>> {
        let what = "GET /v1/stream";
        let res = self
            .http
            .get(format!("{}/v1/stream", self.base))
            .query(&filter.query())
            .send()
            .await
            .map_err(|e| Error::Indexer(format!("{what}: {e}")))?;
        if !res.status().is_success() {
            let status = res.status();
            return Err(refused(what, status, &res.bytes().await.unwrap_or_default()));
        }
        Ok(stream::updates(res))
    }

    /// `account`'s withdrawable balances inside the market.
    pub async fn balances(&self, account: Address) -> Result<Page<Balance>> {
        self.get("/v1/balances", &[("account", account.to_string())]).await
    }
}

/// A refusal in words: the problem details' (RFC 9457) detail, and the code to match on.
fn refused(what: &str, status: reqwest::StatusCode, body: &[u8]) -> Error {
    let problem: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let detail = problem["detail"].as_str().unwrap_or("no detail").to_owned();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Error::NotFound(detail);
    }
    let code = problem["code"].as_str().unwrap_or("unknown");
    Error::Indexer(format!("{what}: {status} {code}: {detail}"))
}

fn push(p: &mut Vec<(&'static str, String)>, name: &'static str, v: Option<String>) {
    if let Some(v) = v {
        p.push((name, v));
    }
}

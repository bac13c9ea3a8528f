//! Jobs, evaluation keys and balances: keyset-paginated lists and lookups.

use alloy::primitives::{Address, B256};
use axum::{
    Json,
    extract::{Path, Query},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, St};
use modelmart_primitives::JobStatus;

use crate::{
    Balance, EvalKey, Job,
    db::{Change, Page, sql::Val},
};

/// An id parameter (a listing or job id: 0 to 2^63 − 1), or why it is refused.
pub(crate) fn id_param(name: &str, id: i64) -> Result<i64, ApiError> {
    if id < 0 {
        return Err(ApiError::bad_request(format!("`{name}` must be 0 or more, got {id}")));
    }
    Ok(id)
}

/// Normalize an address parameter to lowercase hex, or explain what is wrong with it.
pub(crate) fn addr_param(name: &str, v: &str) -> Result<String, ApiError> {
    v.parse::<Address>().map(|a| format!("{a:#x}")).map_err(|_| {
        ApiError::bad_request(format!("`{name}` must be a 0x-prefixed 20-byte address, got `{v}`"))
    })
}

/// The given address parameters, normalized, as `(column, lowercase hex)` pairs.
pub(crate) fn addr_params<'a>(
    params: &[(&'a str, &Option<String>)],
) -> Result<Vec<(&'a str, String)>, ApiError> {
    params
        .iter()
        .filter_map(|(col, v)| v.as_deref().map(|v| Ok((*col, addr_param(col, v)?))))
        .collect()
}

/// Page size: 1–500, default 50.
pub(crate) fn limit_param(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(l) if (1..=500).contains(&l) => Ok(l),
        Some(l) => {
            Err(ApiError::bad_request(format!("`limit` must be between 1 and 500, got {l}")))
        }
    }
}

fn cursor_param(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid cursor `{c}`")))
        })
        .transpose()
}

/// Filters of the job list (all optional, combined with AND).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Buyer address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub buyer: Option<String>,
    /// Seller address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub seller: Option<String>,
    /// Operator address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub operator: Option<String>,
    /// Listing id.
    #[param(minimum = 0)]
    pub model_id: Option<i64>,
    /// Only jobs in this status.
    #[param(inline)]
    pub status: Option<JobStatus>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", params(JobQuery),
    responses((status = 200, body = Page<Job>), (status = 400, body = ApiError)))]
pub(crate) async fn list_jobs(
    state: St,
    Query(q): Query<JobQuery>,
) -> Result<Json<Page<Job>>, ApiError> {
    let mut filters: Vec<_> =
        addr_params(&[("buyer", &q.buyer), ("seller", &q.seller), ("operator", &q.operator)])?
            .into_iter()
            .map(|(c, v)| (c, Val::Text(v)))
            .collect();
    if let Some(m) = q.model_id {
        filters.push(("model_id", Val::Int(id_param("model_id", m)?)));
    }
    if let Some(s) = q.status {
        filters.push(("status", Val::Text(s.as_str().to_owned())));
    }
    let page = state
        .db
        .current::<Job>(
            &filters,
            "job_id",
            cursor_param(q.cursor.as_deref())?,
            true,
            limit_param(q.limit)?,
        )
        .await?;
    Ok(Json(page))
}

/// A job with every status it went through.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobDetail {
    /// The job now.
    #[serde(flatten)]
    pub job: Job,
    /// Every version, oldest first (`requested`, then how it settled).
    pub history: Vec<Change>,
}

/// One job.
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = i64, Path, minimum = 0, description = "Job id")),
    responses((status = 200, body = JobDetail), (status = 404, body = ApiError)))]
pub(crate) async fn get_job(state: St, Path(id): Path<i64>) -> Result<Json<JobDetail>, ApiError> {
    let (job, history) = state.jobs.get(id_param("id", id)?).await?;
    let job = job.ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    Ok(Json(JobDetail { job, history }))
}

/// Filters of the key list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    /// Owner (buyer) address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub owner: Option<String>,
    /// A key's SHA-256 (0x-hex).
    #[param(pattern = "^0x[0-9a-fA-F]{64}$")]
    pub key_hash: Option<String>,
    /// Only keys in this status.
    #[param(inline)]
    pub status: Option<KeyStatus>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Lifecycle of an evaluation key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Registered: jobs may use it.
    Active,
    /// Revoked by its owner.
    Revoked,
}

impl KeyStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// Evaluation keys, most recently changed first.
#[utoipa::path(get, path = "/v1/keys", params(KeyQuery),
    responses((status = 200, body = Page<EvalKey>), (status = 400, body = ApiError)))]
pub(crate) async fn list_keys(
    state: St,
    Query(q): Query<KeyQuery>,
) -> Result<Json<Page<EvalKey>>, ApiError> {
    let mut filters = Vec::new();
    if let Some(o) = &q.owner {
        filters.push(("owner", Val::Text(addr_param("owner", o)?)));
    }
    if let Some(h) = &q.key_hash {
        let h = h.parse::<B256>().map_err(|_| {
            ApiError::bad_request(format!("`key_hash` must be 0x-prefixed 32-byte hex, got `{h}`"))
        })?;
        filters.push(("key_hash", Val::Text(format!("{h:#x}"))));
    }
    if let Some(s) = q.status {
        filters.push(("status", Val::Text(s.as_str().to_owned())));
    }
    let page = state
        .db
        .current::<EvalKey>(
            &filters,
            "vid",
            cursor_param(q.cursor.as_deref())?,
            true,
            limit_param(q.limit)?,
        )
        .await?;
    Ok(Json(page))
}

/// Filters of the balance list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// Account address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub account: Option<String>,
    /// Token address (`0x0000000000000000000000000000000000000000` for native).
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub token: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Withdrawable balances inside the marketplace, most recently changed first.
#[utoipa::path(get, path = "/v1/balances", params(BalanceQuery),
    responses((status = 200, body = Page<Balance>), (status = 400, body = ApiError)))]
pub(crate) async fn list_balances(
    state: St,
    Query(q): Query<BalanceQuery>,
) -> Result<Json<Page<Balance>>, ApiError> {
    let filters: Vec<_> = addr_params(&[("account", &q.account), ("token", &q.token)])?
        .into_iter()
        .map(|(c, v)| (c, Val::Text(v)))
        .collect();
    let page = state
        .db
        .current::<Balance>(
            &filters,
            "vid",
            cursor_param(q.cursor.as_deref())?,
            true,
            limit_param(q.limit)?,
        )
        .await?;
    Ok(Json(page))
}

//! Models and operators, with their live statistics.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, Query},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiError, St,
    query::{addr_param, limit_param},
};
use crate::{
    Model, Operator,
    db::{Change, Page, sql::Val},
    stats::JobStats,
};

/// A listing with its operator's health and its live figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelSummary {
    /// The listing.
    #[serde(flatten)]
    pub model: Model,
    /// Status of the operator hosting it (`active`, `unbonding`, `exited`).
    pub operator_status: Option<String>,
    /// Jobs served, success rate, median latency, earnings.
    pub stats: JobStats,
}

/// A listing in full: summary, operator, where to fetch the card, and every change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDetail {
    /// Listing, operator health and statistics.
    #[serde(flatten)]
    pub summary: ModelSummary,
    /// The operator hosting the model.
    pub operator_info: Option<Operator>,
    /// Where the public model card blob is served (verify its SHA-256 against `card_hash`).
    pub card_url: Option<String>,
    /// Every version of the listing, oldest first.
    pub history: Vec<Change>,
}

/// An operator with its service figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorSummary {
    /// The operator.
    #[serde(flatten)]
    pub operator: Operator,
    /// Listings it hosts that buyers can use now.
    pub active_models: u64,
    /// Jobs served, success rate (its SLA), median latency, fees earned.
    pub stats: JobStats,
}

/// How to sort the model list.
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelSort {
    /// Newest listing first (default).
    #[default]
    Newest,
    /// Oldest listing first.
    Oldest,
    /// Most jobs first.
    Jobs,
    /// Highest success rate first.
    SuccessRate,
    /// Cheapest per row (seller price + operator fee) first.
    Price,
}

/// Filters of the model list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelQuery {
    /// `proposed`, `active`, `paused`, `delisted` or `declined`.
    pub status: Option<String>,
    /// Seller address.
    pub seller: Option<String>,
    /// Operator address.
    pub operator: Option<String>,
    /// Payment token address (`0x0000000000000000000000000000000000000000` for native).
    pub token: Option<String>,
    /// Sort order.
    pub sort: Option<ModelSort>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn price(m: &Model) -> alloy::primitives::U256 {
    crate::apply::parse_amount(&m.price_per_row)
        .saturating_add(crate::apply::parse_amount(&m.operator_fee_per_row))
}

/// List models with live statistics.
#[utoipa::path(get, path = "/v1/models", params(ModelQuery),
    responses((status = 200, body = Page<ModelSummary>), (status = 400, body = ApiError)))]
pub(crate) async fn list_models(
    state: St,
    Query(q): Query<ModelQuery>,
) -> Result<Json<Page<ModelSummary>>, ApiError> {
    let limit = limit_param(q.limit)?;
    let offset: usize = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse().map_err(|_| ApiError::bad_request(format!("invalid cursor `{c}`")))?,
    };
    let mut filters = Vec::new();
    if let Some(s) = &q.status {
        filters.push(("status", Val::Text(s.clone())));
    }
    for (col, v) in [("seller", &q.seller), ("operator", &q.operator), ("token", &q.token)] {
        if let Some(v) = v {
            filters.push((col, Val::Text(addr_param(col, v)?)));
        }
    }
    let models: Vec<Model> = state.db.all_current(&filters).await?;
    let operators: HashMap<String, String> = state
        .db
        .all_current::<Operator>(&[])
        .await?
        .into_iter()
        .map(|o| (o.address, o.status))
        .collect();
    let stats = state.stats();
    let mut items: Vec<ModelSummary> = models
        .into_iter()
        .map(|m| ModelSummary {
            operator_status: operators.get(&m.operator).cloned(),
            stats: stats.models.get(&m.model_id).cloned().unwrap_or_default(),
            model: m,
        })
        .collect();
    match q.sort.unwrap_or_default() {
        ModelSort::Newest => items.sort_by_key(|m| std::cmp::Reverse(m.model.model_id)),
        ModelSort::Oldest => items.sort_by_key(|m| m.model.model_id),
        ModelSort::Jobs => items.sort_by(|a, b| {
            b.stats
                .jobs_total
                .cmp(&a.stats.jobs_total)
                .then(a.model.model_id.cmp(&b.model.model_id))
        }),
        ModelSort::SuccessRate => items.sort_by(|a, b| {
            b.stats
                .success_rate
                .total_cmp(&a.stats.success_rate)
                .then(a.model.model_id.cmp(&b.model.model_id))
        }),
        ModelSort::Price => items.sort_by(|a, b| {
            price(&a.model).cmp(&price(&b.model)).then(a.model.model_id.cmp(&b.model.model_id))
        }),
    }
    let total = items.len();
    let page: Vec<_> = items.into_iter().skip(offset).take(limit as usize).collect();
    let end = offset + page.len();
    Ok(Json(Page { items: page, next_cursor: (end < total).then(|| end.to_string()) }))
}

/// One model in full.
#[utoipa::path(get, path = "/v1/models/{id}", params(("id" = i64, Path, description = "Listing id")),
    responses((status = 200, body = ModelDetail), (status = 404, body = ApiError)))]
pub(crate) async fn get_model(
    state: St,
    Path(id): Path<i64>,
) -> Result<Json<ModelDetail>, ApiError> {
    let model = state
        .db
        .all_current::<Model>(&[("model_id", Val::Int(id))])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("no model {id}")))?;
    let operator = state
        .db
        .all_current::<Operator>(&[("address", Val::Text(model.operator.clone()))])
        .await?
        .pop();
    let history = state.db.history("models", "model_id", Val::Int(id)).await?;
    let card_url = operator
        .as_ref()
        .map(|o| format!("{}/v1/blobs/{}", o.endpoint.trim_end_matches('/'), model.card_hash));
    let stats = state.stats().models.get(&id).cloned().unwrap_or_default();
    Ok(Json(ModelDetail {
        summary: ModelSummary {
            operator_status: operator.as_ref().map(|o| o.status.clone()),
            stats,
            model,
        },
        operator_info: operator,
        card_url,
        history,
    }))
}

/// Filters of the operator list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperatorQuery {
    /// `active`, `unbonding` or `exited`.
    pub status: Option<String>,
}

async fn summaries(
    state: &super::ApiState,
    filters: &[(&str, Val)],
) -> Result<Vec<OperatorSummary>, ApiError> {
    let operators: Vec<Operator> = state.db.all_current(filters).await?;
    let active: Vec<Model> =
        state.db.all_current(&[("status", Val::Text("active".into()))]).await?;
    let stats = state.stats();
    Ok(operators
        .into_iter()
        .map(|o| OperatorSummary {
            active_models: active.iter().filter(|m| m.operator == o.address).count() as u64,
            stats: stats.operators.get(&o.address).cloned().unwrap_or_default(),
            operator: o,
        })
        .collect())
}

/// List operators with their service figures.
#[utoipa::path(get, path = "/v1/operators", params(OperatorQuery),
    responses((status = 200, body = Vec<OperatorSummary>)))]
pub(crate) async fn list_operators(
    state: St,
    Query(q): Query<OperatorQuery>,
) -> Result<Json<Vec<OperatorSummary>>, ApiError> {
    let filters: Vec<_> = q.status.map(|s| ("status", Val::Text(s))).into_iter().collect();
    let mut list = summaries(&state, &filters).await?;
    list.sort_by(|a, b| a.operator.address.cmp(&b.operator.address));
    Ok(Json(list))
}

/// One operator.
#[utoipa::path(get, path = "/v1/operators/{address}", params(("address" = String, Path, description = "Operator address")),
    responses((status = 200, body = OperatorSummary), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(crate) async fn get_operator(
    state: St,
    Path(address): Path<String>,
) -> Result<Json<OperatorSummary>, ApiError> {
    let a = addr_param("address", &address)?;
    summaries(&state, &[("address", Val::Text(a))])
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no operator {address}")))
}

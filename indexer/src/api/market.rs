//! Models and operators, with their live statistics.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, Query},
    http::header,
    response::{IntoResponse, Response},
};
use modelmart_primitives::{ModelSort, ModelStatus, OperatorStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiError, Snapshot, St,
    query::{addr_param, addr_params, limit_param},
};
use crate::{
    Db, Model, Operator,
    db::{Change, Page, sql::Val},
    probe::{EndpointHealth, Probe},
    stats::{JobStats, Stats},
};

/// A listing with its operator's health and its live figures.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ModelSummary {
    /// The listing.
    #[serde(flatten)]
    pub model: Model,
    /// Model name, from the verified card (absent until the card is fetched).
    pub name: Option<String>,
    /// Task (e.g. `classification`), from the verified card.
    pub task: Option<String>,
    /// Status of the operator hosting it (`active`, `unbonding`, `exited`).
    pub operator_status: Option<String>,
    /// Last check of the operator's endpoint.
    pub operator_health: Option<EndpointHealth>,
    /// Jobs served, success rate, median latency, earnings.
    pub stats: JobStats,
    /// Lowercase name + task + description, for `q`.
    #[serde(skip)]
    pub(crate) search_text: String,
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
    /// The card, once fetched and verified against `card_hash`.
    pub card: Option<serde_json::Value>,
    /// Why the card is not available yet, if a fetch failed (unreachable, hash mismatch, …).
    pub card_error: Option<String>,
    /// Every version of the listing, oldest first.
    pub history: Vec<Change>,
}

/// An operator with its service figures.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OperatorSummary {
    /// The operator.
    #[serde(flatten)]
    pub operator: Operator,
    /// Listings it hosts that buyers can use now.
    pub active_models: u64,
    /// Last check of its endpoint.
    pub health: Option<EndpointHealth>,
    /// Jobs served, success rate (its SLA), median latency, fees earned.
    pub stats: JobStats,
}

/// Longest search text `q` accepted.
const MAX_SEARCH_CHARS: usize = 100;

/// Filters of the model list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelQuery {
    /// Search in the card's name, task and description (case-insensitive; at most 100
    /// characters).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Only listings in this status.
    #[param(inline)]
    pub status: Option<ModelStatus>,
    /// Seller address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub seller: Option<String>,
    /// Operator address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub operator: Option<String>,
    /// Payment token address (`0x0000000000000000000000000000000000000000` for native).
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub token: Option<String>,
    /// Sort order (default `newest`).
    #[param(inline)]
    pub sort: Option<ModelSort>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
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
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot();
    if q.is_default() && !snapshot.default_models.is_empty() {
        // The dApp's landing query: served as bytes serialized when the index last moved.
        return Ok(([(header::CONTENT_TYPE, "application/json")], snapshot.default_models.clone())
            .into_response());
    }
    Ok(Json(model_page(&snapshot, &q)?).into_response())
}

impl ModelQuery {
    fn is_default(&self) -> bool {
        self.q.is_none()
            && self.status.is_none()
            && self.seller.is_none()
            && self.operator.is_none()
            && self.token.is_none()
            && self.sort.is_none()
            && self.limit.is_none()
            && self.cursor.is_none()
    }
}

/// Filter, sort and paginate the snapshot's models.
pub(crate) fn model_page(
    snapshot: &Snapshot,
    q: &ModelQuery,
) -> Result<Page<ModelSummary>, ApiError> {
    let limit = limit_param(q.limit)?;
    let offset: usize = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse().map_err(|_| ApiError::bad_request(format!("invalid cursor `{c}`")))?,
    };
    let want =
        addr_params(&[("seller", &q.seller), ("operator", &q.operator), ("token", &q.token)])?;
    if q.q.as_ref().is_some_and(|n| n.chars().count() > MAX_SEARCH_CHARS) {
        return Err(ApiError::bad_request(format!("q: at most {MAX_SEARCH_CHARS} characters")));
    }
    let needle = q.q.as_ref().map(|n| n.to_lowercase());
    let mut items: Vec<&ModelSummary> = snapshot
        .models
        .iter()
        .filter(|m| q.status.is_none_or(|s| m.model.status == s.as_str()))
        .filter(|m| needle.as_ref().is_none_or(|n| m.search_text.contains(n.as_str())))
        .filter(|m| {
            want.iter().all(|(col, v)| match *col {
                "seller" => &m.model.seller == v,
                "operator" => &m.model.operator == v,
                _ => &m.model.token == v,
            })
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
    let page: Vec<_> = items.into_iter().skip(offset).take(limit as usize).cloned().collect();
    let end = offset + page.len();
    Ok(Page { items: page, next_cursor: (end < total).then(|| end.to_string()) })
}

/// One model in full.
#[utoipa::path(get, path = "/v1/models/{id}", params(("id" = i64, Path, minimum = 0, description = "Listing id")),
    responses((status = 200, body = ModelDetail), (status = 404, body = ApiError)))]
pub(crate) async fn get_model(
    state: St,
    Path(id): Path<i64>,
) -> Result<Json<ModelDetail>, ApiError> {
    let id = super::query::id_param("id", id)?;
    let (model, history) = state.db.versions::<Model>("model_id", id).await?;
    let model = model.ok_or_else(|| ApiError::not_found(format!("no model {id}")))?;
    let operator = state
        .db
        .all_current::<Operator>(&[("address", Val::Text(model.operator.clone()))])
        .await?
        .pop();
    let card_url = operator
        .as_ref()
        .map(|o| format!("{}/v1/blobs/{}", o.endpoint.trim_end_matches('/'), model.card_hash));
    let snapshot = state.snapshot();
    let mut summary =
        snapshot.models.iter().find(|m| m.model.model_id == id).cloned().unwrap_or_else(|| {
            ModelSummary {
                name: None,
                task: None,
                operator_status: None,
                operator_health: state.probe.health().get(&model.operator).cloned(),
                stats: snapshot.stats.models.get(&id).cloned().unwrap_or_default(),
                model: model.clone(),
                search_text: String::new(),
            }
        });
    summary.model = model; // the database is fresher than the snapshot
    summary.operator_status = operator.as_ref().map(|o| o.status.clone());
    let card = state.db.card(&summary.model.card_hash).await?;
    let card_error =
        if card.is_none() { state.probe.card_error(&summary.model.card_hash) } else { None };
    Ok(Json(ModelDetail { summary, operator_info: operator, card_url, card, card_error, history }))
}

/// Filters of the operator list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperatorQuery {
    /// Only operators in this status.
    #[param(inline)]
    pub status: Option<OperatorStatus>,
}

/// Every current model and operator with their statistics (for the snapshot).
pub(crate) async fn summaries(
    db: &Db,
    stats: &Stats,
    probe: &Probe,
) -> crate::Result<(Vec<ModelSummary>, Vec<OperatorSummary>)> {
    let models: Vec<Model> = db.all_current(&[]).await?;
    let cards = db.cards().await?;
    let health = probe.health();
    let mut operators: Vec<Operator> = db.all_current(&[]).await?;
    operators.sort_by(|a, b| a.address.cmp(&b.address));
    let status: HashMap<&str, &str> =
        operators.iter().map(|o| (o.address.as_str(), o.status.as_str())).collect();
    let model_list = models
        .iter()
        .map(|m| {
            let card = cards.get(&m.card_hash);
            let field = |k: &str| card.and_then(|c| c[k].as_str()).map(str::to_owned);
            let (name, task) = (field("name"), field("task"));
            let search_text = [name.clone(), task.clone(), field("description")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            ModelSummary {
                name,
                task,
                operator_status: status.get(m.operator.as_str()).map(|s| (*s).to_owned()),
                operator_health: health.get(&m.operator).cloned(),
                stats: stats.models.get(&m.model_id).cloned().unwrap_or_default(),
                model: m.clone(),
                search_text,
            }
        })
        .collect();
    let operator_list = operators
        .iter()
        .map(|o| OperatorSummary {
            active_models: models
                .iter()
                .filter(|m| m.operator == o.address && m.status == "active")
                .count() as u64,
            health: health.get(&o.address).cloned(),
            stats: stats.operators.get(&o.address).cloned().unwrap_or_default(),
            operator: o.clone(),
        })
        .collect();
    Ok((model_list, operator_list))
}

/// List operators with their service figures.
#[utoipa::path(get, path = "/v1/operators", params(OperatorQuery),
    responses((status = 200, body = Vec<OperatorSummary>)))]
pub(crate) async fn list_operators(
    state: St,
    Query(q): Query<OperatorQuery>,
) -> Result<Json<Vec<OperatorSummary>>, ApiError> {
    let snapshot = state.snapshot();
    let list = snapshot
        .operators
        .iter()
        .filter(|o| q.status.is_none_or(|s| o.operator.status == s.as_str()))
        .cloned()
        .collect();
    Ok(Json(list))
}

/// One operator.
#[utoipa::path(get, path = "/v1/operators/{address}", params(("address" = String, Path, pattern = "^0x[0-9a-fA-F]{40}$", description = "Operator address")),
    responses((status = 200, body = OperatorSummary), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(crate) async fn get_operator(
    state: St,
    Path(address): Path<String>,
) -> Result<Json<OperatorSummary>, ApiError> {
    let a = addr_param("address", &address)?;
    let operator = state
        .db
        .all_current::<Operator>(&[("address", Val::Text(a.clone()))])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("no operator {address}")))?;
    let snapshot = state.snapshot();
    let listed = snapshot
        .models
        .iter()
        .filter(|m| m.model.operator == a && m.model.status == "active")
        .count();
    Ok(Json(OperatorSummary {
        active_models: listed as u64,
        health: state.probe.health().get(&a).cloned(),
        stats: snapshot.stats.operators.get(&a).cloned().unwrap_or_default(),
        operator,
    }))
}

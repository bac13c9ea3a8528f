//! The live stream of updates (Server-Sent Events) and `/healthz`.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::Query,
    response::sse::{Event, KeepAlive, Sse},
};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiError, St,
    query::{addr_param, id_param},
};
use crate::{Status, Update, db::Cursor};
use modelmart_service::{Health, HealthStatus};

/// Which updates a stream client wants (all when empty).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only this job.
    #[param(minimum = 0)]
    pub job_id: Option<i64>,
    /// Only this listing (its status and its jobs).
    #[param(minimum = 0)]
    pub model_id: Option<i64>,
    /// Only this buyer's jobs.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub buyer: Option<String>,
    /// Only this operator's jobs.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub operator: Option<String>,
}

fn wanted(q: &StreamQuery, buyer: Option<&str>, operator: Option<&str>, u: &Update) -> bool {
    match u {
        Update::Rollback { .. } => true,
        Update::Model { model_id, .. } => {
            q.job_id.is_none()
                && buyer.is_none()
                && operator.is_none()
                && q.model_id.is_none_or(|m| m == *model_id)
        }
        Update::Job { job_id, model_id, buyer: b, operator: o, .. } => {
            q.job_id.is_none_or(|j| j == *job_id)
                && q.model_id.is_none_or(|m| m == *model_id)
                && buyer.is_none_or(|x| x == b)
                && operator.is_none_or(|x| x == o)
        }
    }
}

/// Live job and listing updates as Server-Sent Events. Each event's `event` field is `job`,
/// `model` or `rollback` and its data the JSON [`Update`]; `lagged` means the client fell behind
/// and should re-read what it shows.
#[utoipa::path(get, path = "/v1/stream", params(StreamQuery),
    responses((status = 200, description = "text/event-stream of Update", body = Update, content_type = "text/event-stream"),
              (status = 400, body = ApiError),
              (status = 503, description = "too many live streams open; try again later", body = ApiError)))]
pub(crate) async fn stream(
    state: St,
    Query(q): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    for (name, id) in [("job_id", q.job_id), ("model_id", q.model_id)] {
        id.map(|id| id_param(name, id)).transpose()?;
    }
    let buyer = q.buyer.as_deref().map(|b| addr_param("buyer", b)).transpose()?;
    let operator = q.operator.as_deref().map(|o| addr_param("operator", o)).transpose()?;
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        metrics::counter!("modelmart_indexer_streams_refused_total").increment(1);
        return Err(ApiError::unavailable("too many live streams open; try again later"));
    };
    let rx = state.updates.subscribe();
    // the permit lives as long as the stream: a closed connection frees its place
    let events = BroadcastStream::new(rx).filter_map(move |item| {
        let _held = &permit;
        let out = match item {
            Ok(u) if wanted(&q, buyer.as_deref(), operator.as_deref(), &u) => {
                let kind = match &u {
                    Update::Job { .. } => "job",
                    Update::Model { .. } => "model",
                    Update::Rollback { .. } => "rollback",
                };
                Event::default().event(kind).json_data(&u).ok()
            }
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Some(Event::default().event("lagged").data(n.to_string()))
            }
        };
        std::future::ready(out.map(Ok))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Health of the index: the cursor, the follower's lag and its last error.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct IndexHealth {
    /// Where the index stands (absent when the database does not answer).
    pub cursor: Option<Cursor>,
    /// The follower's state, when it runs in this process.
    pub follower: Option<Status>,
    /// Events the database refused for good, left out of the index and recorded with the
    /// database's words (table `skipped_events`); 0 on a healthy index.
    pub skipped_events: i64,
    /// Why the service is down (the database's error), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `/healthz` body (for the API document): `status` beside the index's fields.
#[derive(ToSchema)]
#[schema(as = Health)]
#[allow(dead_code)] // only its schema is used; the handler answers `Health<IndexHealth>`
pub struct HealthDoc {
    /// `ok`; `degraded` while the follower is failing; `down` (503) when the database does not
    /// answer.
    status: HealthStatus,
    #[serde(flatten)]
    index: IndexHealth,
}

/// Liveness and lag: 200 `ok` or `degraded` while the database answers (even while the node is
/// failing: the API still serves the index), 503 `down` when it does not.
#[utoipa::path(get, path = "/healthz",
    responses((status = 200, body = HealthDoc), (status = 503, body = HealthDoc)))]
pub(crate) async fn healthz(state: St) -> Health<IndexHealth> {
    let follower = state.status.as_ref().and_then(|s| s.lock().ok().map(|s| s.clone()));
    let failing = follower.as_ref().is_some_and(|f| f.failures > 0);
    let read = async {
        Ok::<_, modelmart_index::Error>((
            state.db.cursor().await?,
            state.db.skipped_events().await?,
        ))
    };
    match read.await {
        Ok((cursor, skipped_events)) => Health {
            status: HealthStatus::degraded_if(failing),
            detail: IndexHealth { cursor, follower, skipped_events, error: None },
        },
        Err(e) => Health {
            status: HealthStatus::Down,
            detail: IndexHealth {
                follower,
                error: Some(modelmart_primitives::redact::urls(&e.to_string())),
                ..IndexHealth::default()
            },
        },
    }
}

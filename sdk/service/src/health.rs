//! The one `/healthz` answer every service gives: a [`HealthStatus`] that load balancers and
//! orchestrators read from the HTTP status (200 while the service can do its work, 503 when it
//! cannot), and the service's own details beside it in the JSON body.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// How a service is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything it depends on answers.
    Ok,
    /// It serves, but something it depends on is failing (its last error says what).
    Degraded,
    /// It cannot do its work (its database does not answer): answered 503.
    Down,
}

impl HealthStatus {
    /// `Degraded` when `failing`, else `Ok`.
    pub fn degraded_if(failing: bool) -> Self {
        if failing { Self::Degraded } else { Self::Ok }
    }

    /// The HTTP status: 503 only when down.
    pub fn code(self) -> StatusCode {
        match self {
            Self::Ok | Self::Degraded => StatusCode::OK,
            Self::Down => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A `/healthz` body: `{"status": …, …details}`.
#[derive(Clone, Debug, Serialize)]
pub struct Health<T> {
    /// The verdict.
    pub status: HealthStatus,
    /// The service's own fields, flattened beside `status`.
    #[serde(flatten)]
    pub detail: T,
}

impl<T: Serialize> IntoResponse for Health<T> {
    fn into_response(self) -> Response {
        (self.status.code(), Json(self)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_down_is_unavailable_and_the_body_is_flat() -> Result<(), serde_json::Error> {
        assert_eq!(HealthStatus::degraded_if(true).code(), StatusCode::OK);
        assert_eq!(HealthStatus::degraded_if(false), HealthStatus::Ok);
        let down =
            Health { status: HealthStatus::Down, detail: serde_json::json!({"queue": "gone"}) };
        assert_eq!(serde_json::to_string(&down)?, r#"{"status":"down","queue":"gone"}"#);
        assert_eq!(down.into_response().status(), StatusCode::SERVICE_UNAVAILABLE);
        Ok(())
    }
}

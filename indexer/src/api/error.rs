//! API errors: a status code and a message, as JSON.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer: `{"error": "…"}` with a 4xx/5xx status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// What went wrong, in words.
    pub error: String,
    #[serde(skip)]
    status: u16,
}

impl ApiError {
    /// 400 with a message.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self { error: msg.into(), status: 400 }
    }

    /// 503 with a message: the service is at a limit; try again later.
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self { error: msg.into(), status: 503 }
    }

    /// 404 with a message.
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self { error: msg.into(), status: 404 }
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        tracing::error!(target: super::TARGET, error = %e, "query failed");
        Self { error: "the index database is unavailable; try again".into(), status: 503 }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self)).into_response()
    }
}

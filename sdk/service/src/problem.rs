//! Errors in one shape for every service's HTTP API: RFC 9457 problem details
//! (`application/problem+json`) with a stable `code`, whoever raised them — a handler, a
//! parameter that does not parse, an unknown route or method, a body too large, a request that
//! timed out ([`problems`] rewrites the framework's plain-text answers).

use axum::{
    Json,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The header carrying a service's API version (semver, the `info.version` of its spec).
pub const API_VERSION_HEADER: &str = "modelmart-api-version";

/// What kind of error, stable across versions: match on this, not on `detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// A parameter is missing, malformed or out of range (400); `detail` names it.
    BadRequest,
    /// No such route, or no such object (404).
    NotFound,
    /// The route exists but not for this method (405).
    MethodNotAllowed,
    /// Not allowed for anyone (403), e.g. uploading a kind only the operator writes.
    Forbidden,
    /// The request took longer than the server allows (408).
    Timeout,
    /// The request body is larger than the server accepts (413).
    PayloadTooLarge,
    /// The request is well-formed but its content is wrong (422), e.g. bytes whose hash is not
    /// the one named.
    Unprocessable,
    /// The server has no room to store it (507); try again later.
    InsufficientStorage,
    /// The service is at a limit or its database does not answer (503); try again later.
    Unavailable,
    /// Anything else.
    Internal,
}

impl ProblemCode {
    /// The code as it is written in answers.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Forbidden => "forbidden",
            Self::Timeout => "timeout",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unprocessable => "unprocessable",
            Self::InsufficientStorage => "insufficient_storage",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The code of an error answer with `status`.
    pub fn of(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::UNPROCESSABLE_ENTITY => Self::Unprocessable,
            StatusCode::INSUFFICIENT_STORAGE => Self::InsufficientStorage,
            StatusCode::REQUEST_TIMEOUT => Self::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            s if s.is_client_error() => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

/// An error answer (RFC 9457): `{"type", "title", "status", "detail", "code"}`, served as
/// `application/problem+json` with the same status.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct Problem {
    /// `urn:modelmart:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, in words (not stable: match on `code`).
    pub detail: String,
    /// What kind of error.
    pub code: ProblemCode,
}

impl Problem {
    /// An error with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let code = ProblemCode::of(status);
        let kind = format!("urn:modelmart:problem:{}", code.as_str());
        Self {
            kind,
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code,
        }
    }

    /// 400 with a message.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, msg)
    }

    /// 503 with a message: the service is at a limit; try again later.
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, msg)
    }

    /// 404 with a message.
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, msg)
    }
}

impl From<modelmart_index::Error> for Problem {
    fn from(e: modelmart_index::Error) -> Self {
        tracing::error!(target: "modelmart::service", error = %e, "query failed");
        Self::unavailable("the index database is unavailable; try again")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, Json(self)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

/// Largest framework error text carried into `detail`.
const MAX_DETAIL: usize = 1_024;

/// Middleware: an error answer that is not JSON (the framework's own: a query or path that does
/// not parse, 404 of an unknown route, 405, 408, 413) becomes a problem with the framework's words
/// as `detail`.
pub async fn problems(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let res = next.run(req).await;
    let status = res.status();
    let allow = res.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with(PROBLEM_JSON));
    if (status.is_client_error() || status.is_server_error()) && !json {
        let text = match axum::body::to_bytes(res.into_body(), MAX_DETAIL).await {
            Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
            Err(_) => String::new(),
        };
        let detail = match (status, text.is_empty()) {
            (_, false) => text,
            (StatusCode::NOT_FOUND, true) => format!("nothing at {path}"),
            (StatusCode::METHOD_NOT_ALLOWED, true) => format!(
                "{path} does not answer {method} (it answers {})",
                allow.as_deref().unwrap_or("other methods")
            ),
            (s, true) => s.canonical_reason().unwrap_or("error").to_owned(),
        };
        Problem::new(status, detail).into_response()
    } else {
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_has_the_rfc_9457_fields_and_a_stable_code() -> Result<(), serde_json::Error> {
        let e = serde_json::to_value(Problem::bad_request("`limit` must be between 1 and 500"))?;
        assert_eq!(e["type"], "urn:modelmart:problem:bad_request");
        assert_eq!((e["title"].as_str(), e["status"].as_u64()), (Some("Bad Request"), Some(400)));
        assert_eq!(e["code"], "bad_request");
        assert_eq!(ProblemCode::of(StatusCode::REQUEST_TIMEOUT), ProblemCode::Timeout);
        assert_eq!(ProblemCode::of(StatusCode::IM_A_TEAPOT), ProblemCode::BadRequest);
        assert_eq!(ProblemCode::of(StatusCode::BAD_GATEWAY), ProblemCode::Internal);
        for code in [ProblemCode::InsufficientStorage, ProblemCode::MethodNotAllowed] {
            assert_eq!(serde_json::to_value(code)?, code.as_str(), "one spelling");
        }
        Ok(())
    }
}

//! The indexer's errors are the services' problem details ([`modelmart_service::Problem`]); this
//! adds the API version every answer carries.

use axum::{extract::Request, http::HeaderValue, middleware::Next, response::Response};
pub use modelmart_service::{
    PROBLEM_JSON, Problem as ApiError, ProblemCode, problem::API_VERSION_HEADER,
};

/// The API's version, in the OpenAPI document and in every answer's `modelmart-api-version`
/// header. Within 1.x fields, parameters, enum values and endpoints may be added; none is
/// removed or changes meaning.
pub const API_VERSION: &str = "1.0.0";

/// Middleware: the framework's own errors as problems, and the version on every answer.
pub(crate) async fn problems(req: Request, next: Next) -> Response {
    let mut res = modelmart_service::problem::problems(req, next).await;
    res.headers_mut().insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
    res
}

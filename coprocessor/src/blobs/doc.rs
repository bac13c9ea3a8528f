//! The OpenAPI document of the operator's endpoint (blobs and `/healthz`), committed as
//! `coprocessor/openapi.json` and checked for drift by a test.

use utoipa::OpenApi;

use super::{http, store::Stored};

/// The operator endpoint's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ModelMart operator endpoint",
        version = "1.0.0",
        description = "Content-addressed blobs (model cards, sealed models, evaluation keys, \
                       encrypted inputs and results) and the operator's health. Errors are RFC \
                       9457 problem details (`application/problem+json`) with a stable `code`."
    ),
    paths(http::put_blob, http::get_blob, http::head_blob, crate::service::healthz),
    components(schemas(Stored, modelmart_service::Problem))
)]
pub struct BlobApi;

//! The OpenAPI document: generated from the handlers, then completed with what every operation
//! shares — the version, the error answers each can give (problem details), the version header.

use utoipa::{
    Modify, OpenApi,
    openapi::{self, Content, Ref, RefOr, ResponseBuilder, header::HeaderBuilder, path::Operation},
};

use super::{API_VERSION, API_VERSION_HEADER, ApiError, PROBLEM_JSON, market, query, stream};
use crate::Update;

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ModelMart indexer API",
        description = "Marketplace state from chain events: models, operators, jobs, keys, \
                       balances. Errors are RFC 9457 problem details (`application/problem+json`) \
                       with a stable `code`. Within 1.x, fields, parameters, enum values and \
                       endpoints may be added; none is removed or changes meaning."
    ),
    paths(
        market::list_models,
        market::get_model,
        market::list_operators,
        market::get_operator,
        query::list_jobs,
        query::get_job,
        query::list_keys,
        query::list_balances,
        stream::stream,
        stream::healthz,
    ),
    components(schemas(Update, ApiError, crate::probe::EndpointHealth)),
    modifiers(&Contract)
)]
pub struct ApiDoc;

/// What every operation shares, added to the generated document.
struct Contract;

impl Modify for Contract {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        doc.info.version = API_VERSION.to_owned();
        for (path, item) in doc.paths.paths.iter_mut() {
            let Some(op) = item.get.as_mut() else { continue };
            complete(path, op);
        }
    }
}

fn problem(description: &str) -> RefOr<openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))))
        .build()
        .into()
}

/// The error answers `op` can give beyond its own, error bodies as problem details, and the
/// version header on every answer.
fn complete(path: &str, op: &mut Operation) {
    let responses = &mut op.responses.responses;
    let problem_ref = RefOr::Ref(Ref::from_schema_name("Problem"));
    for response in responses.values_mut() {
        if let RefOr::T(r) = response
            && let Some(c) = r.content.shift_remove("application/json")
        {
            let is_problem = c.schema.as_ref() == Some(&problem_ref);
            r.content.insert(if is_problem { PROBLEM_JSON } else { "application/json" }.into(), c);
        }
    }
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if has_params {
        responses.entry("400".into()).or_insert_with(|| {
            problem("a parameter is malformed, out of range or not one of the allowed values")
        });
    }
    if path != "/v1/stream" {
        responses
            .entry("408".into())
            .or_insert_with(|| problem("the request took longer than the server allows"));
    }
    responses
        .entry("413".into())
        .or_insert_with(|| problem("the request carries a body larger than 16 KiB"));
    responses
        .entry("503".into())
        .or_insert_with(|| problem("the index database does not answer; try again"));
    let header = HeaderBuilder::new()
        .schema(openapi::ObjectBuilder::new().schema_type(openapi::Type::String))
        .description(Some("The API version (semver)"))
        .build();
    for response in responses.values_mut() {
        if let RefOr::T(r) = response {
            r.headers.insert(API_VERSION_HEADER.into(), header.clone());
        }
    }
}

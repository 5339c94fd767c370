//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the routes' annotations
//! and the types' schemas: it cannot drift from what the server does.

use std::sync::LazyLock;

use tollgate_api_types::ErrorBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::routes;

/// What a read answers when it does not succeed.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum ReadRefusals {
    /// A query parameter does not parse; `field` names it.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No valid bearer token.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// No such thing.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// A store is unreachable for now: try again.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What a write answers when it does not succeed.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum WriteRefusals {
    /// The body does not parse; `field` names what.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No valid bearer token.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// Signed in without the group the route needs; the message names it.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such thing.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The rules refuse (the message says why: an author approving their own model), or
    /// another write came first.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The document is invalid; the message names the line or the field.
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// A store is unreachable for now: try again.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Every route but health, the document and the upload PUT takes a bearer token.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "On AWS, a Cognito token (API Gateway's JWT authorizer checks it); on a \
                         laptop, one that `tollgate token --as USER` prints.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollgate API",
        description = "The one front door to Tollgate: datasets and their reports, pipelines, \
                       runs, models and the evidence on them, approvals and the audit trail. \
                       Every signed-in user reads; group `editors` uploads, applies contracts and \
                       pipelines and requests runs; group `approvers` approves, rejects, promotes \
                       and rolls back. Lists are paged: `?limit=N&cursor=C` answers \
                       `{\"items\": [...], \"next\": C-or-null}`. Every refusal is \
                       `{\"error\": {\"code\", \"message\", \"field\"}}`."
    ),
    paths(
        routes::health, routes::me,
        routes::datasets, routes::dataset, routes::versions, routes::version, routes::uploads,
        routes::contract, routes::apply_contract,
        routes::pipelines, routes::apply_pipeline, routes::pipeline,
        routes::runs, routes::request_run, routes::run,
        routes::models, routes::model_versions, routes::model_version, routes::lineage,
        routes::monitoring, routes::approve, routes::reject, routes::promote, routes::rollback,
        routes::approvals, routes::audit, routes::upload_url, routes::upload,
        routes::local_sign_in,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "datasets", description = "Versions, validation reports, profiles, drift, contracts, uploads"),
        (name = "pipelines", description = "What to train on which dataset, and how"),
        (name = "runs", description = "Tuning runs and their trials"),
        (name = "models", description = "Versions, test reports, lineage, monitoring, decisions"),
        (name = "audit", description = "Every decision, who made it and when"),
        (name = "system", description = "Health and who the caller is"),
    )
)]
struct ApiDoc;

/// The document, built once.
pub(crate) static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serializes")
});

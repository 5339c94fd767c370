//! The API function: Tollgate's one HTTP API ([`tollgate_api`]) on Lambda, behind an API
//! Gateway HTTP API whose JWT authorizer has checked the caller's token. The same router as
//! `tollgate up`; only who the caller is comes from elsewhere: the authorizer's claims
//! (`requestContext.authorizer.jwt.claims`), never a header this function would have to trust.
//!
//! # Environment
//!
//! `TOLLGATE_BUCKET`, `TOLLGATE_TABLE`, `TOLLGATE_EVENT_BUS` (see `tollgate-lambda`),
//! `TOLLGATE_KMS_KEY` (objects written; default SSE-S3), `TOLLGATE_ACTOR_CLAIM` (the claim that
//! names the caller; default `email`, which must come with `email_verified`; `sub` names
//! people by their provider's id instead). When `TOLLGATE_MODEL_REGISTRY_PREFIX` is set, every stage
//! change is mirrored into the SageMaker Model Registry, in the model package group
//! `<prefix><model>`, naming `TOLLGATE_INFERENCE_IMAGE` (default: the training image).
//! `TOLLGATE_MIN_APPROVALS` (default 1) is the fewest approvals production takes, whatever a
//! pipeline's `[promotion] approvals` says (the environment's floor: 2 in prod).

use std::sync::Arc;

use lambda_http::request::RequestContext;
use tollgate_api::{Api, ApiError, Authenticator, Identity, Uploads};
use tollgate_app::App;
use tollgate_aws::{AwsConfig, SageMakerRegistry};
use tollgate_domain::UserId;
use tollgate_lambda::{Common, ConfigError, env};

/// Who the authorizer's claims say the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaims {
    /// The claim that names the caller (`email`, `cognito:username`, `sub`).
    pub actor_claim: String,
}

impl JwtClaims {
    pub fn from_env() -> Self {
        Self {
            actor_claim: env::optional("TOLLGATE_ACTOR_CLAIM").unwrap_or_else(|| "email".into()),
        }
    }
}

impl Authenticator for JwtClaims {
    fn identify(&self, parts: &lambda_http::http::request::Parts) -> Result<Identity, ApiError> {
        let claims = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        };
        let claims = claims.ok_or_else(|| {
            ApiError::Unauthenticated(
                "no verified token: sign in, and call through the API's authorizer".into(),
            )
        })?;
        let user = claims
            .get(&self.actor_claim)
            .and_then(|a| UserId::parse(a).ok())
            .ok_or_else(|| {
                ApiError::Unauthenticated(format!(
                    "the token has no {} claim to name the caller",
                    self.actor_claim
                ))
            })?;
        // An address the provider has not verified names whoever typed it: with e-mail as the
        // name of people, only a verified one is someone (Cognito's ID token says
        // `email_verified`, which the authorizer passes on as the text "true").
        if self.actor_claim == "email"
            && claims.get("email_verified").map(|v| v.trim()) != Some("true")
        {
            return Err(ApiError::Unauthenticated(format!(
                "the token's email {user} is not verified (email_verified is not true): verify \
                 it with the identity provider, then sign in again"
            )));
        }
        Ok(Identity {
            user,
            groups: claims
                .get("cognito:groups")
                .map(|g| groups(g))
                .unwrap_or_default(),
        })
    }
}

/// The groups of a `cognito:groups` claim as API Gateway passes it: `[a b]` (its rendering of a
/// list), or a JSON list. Group names hold no spaces; a comma is part of a name, never a split.
pub fn groups(claim: &str) -> Vec<String> {
    let claim = claim.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(claim) {
        return list;
    }
    claim
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The application on this stack's bucket, table and bus.
pub fn app(aws: &AwsConfig, common: &Common) -> Result<App, ConfigError> {
    Ok(App::new(common.ports(aws)?))
}

/// The application as the environment configures it: the deployment's floor of approvals, and
/// the model registry when asked.
pub fn app_from_env(aws: &AwsConfig, common: &Common) -> Result<App, ConfigError> {
    let floor: std::num::NonZeroU32 =
        env::parsed("TOLLGATE_MIN_APPROVALS", std::num::NonZeroU32::MIN)?;
    let app = app(aws, common)?.with_min_approvals(floor.get());
    let Some(prefix) = env::optional("TOLLGATE_MODEL_REGISTRY_PREFIX") else {
        return Ok(app);
    };
    let mut registry = SageMakerRegistry::new(aws, prefix);
    if let Some(image) = env::optional("TOLLGATE_INFERENCE_IMAGE") {
        registry = registry.with_inference_image(image);
    }
    Ok(app.with_registry(Arc::new(registry)))
}

/// The API's router on `app`, the caller named by the authorizer's claims.
pub fn router(app: App, claims: JwtClaims) -> tollgate_api::Router {
    Api::new(app, Arc::new(claims), Uploads::Store).router()
}

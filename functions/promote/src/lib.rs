//! The promote function: a person's request about a model version, over API Gateway (an HTTP
//! API whose JWT authorizer checked the caller's token), decided by the promotion rules
//! ([`Promote`]) and written as one conditional transition with its audit events.
//!
//! | route | body |
//! | --- | --- |
//! | `POST /models/{model}/versions/{version}/approve` | `{"comment": "..."}` (optional) |
//! | `POST /models/{model}/versions/{version}/reject` | `{"comment": "..."}` (required) |
//! | `POST /models/{model}/versions/{version}/promote` | `{"to": "staging" \| "production"}` |
//! | `POST /models/{model}/rollback` | `{"comment": "..."}` (optional) |
//!
//! The actor is the token's `TOLLGATE_ACTOR_CLAIM` claim (default `email`), never a field of the
//! request. A call without a verified token is `401`; a caller outside the
//! `TOLLGATE_APPROVER_GROUP` group (default `approvers`, from `cognito:groups`) is `403`; a
//! request the rules refuse (an author approving their own model, say) is `409` with the reason,
//! and changes nothing. Done is `200` with the stage changes made.
//!
//! When `TOLLGATE_MODEL_REGISTRY_PREFIX` is set, every stage change is mirrored into the
//! SageMaker Model Registry, in the model package group `<prefix><model>`.
//!
//! # Environment
//!
//! `TOLLGATE_BUCKET`, `TOLLGATE_TABLE`, `TOLLGATE_EVENT_BUS` (see `tollgate-lambda`), the three
//! above, `TOLLGATE_KMS_KEY` (objects written; default SSE-S3), and
//! `TOLLGATE_INFERENCE_IMAGE` (the image a registry entry names; default: the training image).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use serde::Deserialize;
use tollgate_aws::{AwsConfig, SageMakerRegistry};
use tollgate_domain::promotion::Request;
use tollgate_domain::{ModelStage, UserId};
use tollgate_lambda::{Common, ConfigError, Error, LambdaEvent, env};
use tollgate_promote::{Outcome, Promote, Refusal};

/// Who may call, and how they are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The claim that names the caller (`email`, `cognito:username`, `sub`).
    pub actor_claim: String,
    /// The group (in `cognito:groups`) whose members may approve, reject, promote, roll back.
    pub approver_group: String,
}

impl Access {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            actor_claim: env::optional("TOLLGATE_ACTOR_CLAIM").unwrap_or_else(|| "email".into()),
            approver_group: env::optional("TOLLGATE_APPROVER_GROUP")
                .unwrap_or_else(|| "approvers".into()),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Function {
    promote: Promote,
    access: Access,
}

/// A request's body; every field optional here, required by the route that needs it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    comment: Option<String>,
    to: Option<String>,
}

/// An HTTP answer: the status and a JSON body.
fn respond(status: i64, body: serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers.insert(
        "content-type",
        "application/json".parse().expect("a valid header value"),
    );
    response.body = Some(Body::Text(body.to_string()));
    response
}

fn refuse(status: i64, reason: impl Into<String>) -> ApiGatewayV2httpResponse {
    respond(
        status,
        serde_json::json!({ "status": "refused", "reason": reason.into() }),
    )
}

/// The groups of a JWT's `cognito:groups` claim, which API Gateway passes as `[a b]`.
fn groups(claims: &HashMap<String, String>) -> Vec<String> {
    claims
        .get("cognito:groups")
        .map(|g| {
            g.trim_matches(|c| c == '[' || c == ']')
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Function {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let common = Common::from_env()?;
        let aws = tollgate_aws::sdk_config(None).await;
        let mut function = Self::new(&aws, &common, Access::from_env()?)?;
        if let Some(prefix) = env::optional("TOLLGATE_MODEL_REGISTRY_PREFIX") {
            let mut registry = SageMakerRegistry::new(&aws, prefix);
            if let Some(image) = env::optional("TOLLGATE_INFERENCE_IMAGE") {
                registry = registry.with_inference_image(image);
            }
            function.promote = function.promote.with_registry(Arc::new(registry));
        }
        Ok(function)
    }

    pub fn new(aws: &AwsConfig, common: &Common, access: Access) -> Result<Self, ConfigError> {
        let ports = common.ports(aws);
        Ok(Self {
            promote: Promote::new(
                ports.blobs,
                ports.catalog,
                ports.bus,
                Arc::new(tollgate_domain::ports::SystemClock),
                common.data_bucket()?,
            ),
            access,
        })
    }

    /// Mirrors stage changes into `registry` too.
    pub fn with_registry(
        mut self,
        registry: Arc<dyn tollgate_domain::ports::ModelRegistry>,
    ) -> Self {
        self.promote = self.promote.with_registry(registry);
        self
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayV2httpRequest>,
    ) -> Result<ApiGatewayV2httpResponse, Error> {
        let request = event.payload;
        let claims = request
            .request_context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims);
        let Some(claims) = claims else {
            return Ok(refuse(
                401,
                "no verified token: sign in, and call through the API's authorizer",
            ));
        };
        let Some(actor) = claims
            .get(&self.access.actor_claim)
            .and_then(|a| UserId::parse(a).ok())
        else {
            return Ok(refuse(
                401,
                format!(
                    "the token has no {} claim to name the caller",
                    self.access.actor_claim
                ),
            ));
        };
        if !groups(claims).contains(&self.access.approver_group) {
            return Ok(refuse(
                403,
                format!(
                    "{actor} is not in the {} group, whose members may change a model's stage",
                    self.access.approver_group
                ),
            ));
        }
        let (model, parsed) = match Self::request(&request) {
            Ok(r) => r,
            Err(reason) => return Ok(refuse(400, reason)),
        };
        tracing::info!(%actor, model, request = ?parsed, "promotion request");
        match self.promote.request(&model, &parsed, &actor).await {
            Ok(Outcome::Done(changes)) => Ok(respond(
                200,
                serde_json::json!({ "status": "done", "model": model, "changes": changes }),
            )),
            Ok(Outcome::Refused(refusal @ Refusal::NoSuchModel(_))) => {
                Ok(refuse(404, refusal.to_string()))
            }
            Ok(Outcome::Refused(refusal)) => Ok(refuse(409, refusal.to_string())),
            Err(e) if e.is_retryable() => {
                tracing::warn!(model, error = %e, "promotion failed; the caller may retry");
                Ok(refuse(503, format!("try again: {e}")))
            }
            Err(e) => {
                tracing::error!(model, error = %e, "promotion failed");
                Ok(refuse(500, e.to_string()))
            }
        }
    }

    /// The model and the domain request a route and its body name.
    fn request(request: &ApiGatewayV2httpRequest) -> Result<(String, Request), String> {
        let method = request.request_context.http.method.as_str();
        if method != "POST" {
            return Err(format!("{method} is not a promotion request: use POST"));
        }
        let path = request
            .raw_path
            .as_deref()
            .or(request.request_context.http.path.as_deref())
            .unwrap_or_default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let body: RequestBody = match request.body.as_deref().filter(|b| !b.trim().is_empty()) {
            None => RequestBody::default(),
            Some(text) => serde_json::from_str(text).map_err(|e| format!("the body: {e}"))?,
        };
        let version = |raw: &str| {
            raw.parse::<u32>()
                .map_err(|_| format!("{raw:?} is not a version number"))
        };
        let parsed = match segments.as_slice() {
            ["models", model, "rollback"] => (
                (*model).to_owned(),
                Request::Rollback {
                    comment: body.comment,
                },
            ),
            ["models", model, "versions", v, action] => {
                let version = version(v)?;
                let request = match *action {
                    "approve" => Request::Approve {
                        version,
                        comment: body.comment,
                    },
                    "reject" => Request::Reject {
                        version,
                        comment: body
                            .comment
                            .filter(|c| !c.trim().is_empty())
                            .ok_or("a rejection needs a comment that says why")?,
                    },
                    "promote" => Request::Promote {
                        version,
                        to: match body.to.as_deref() {
                            Some("staging") => ModelStage::Staging,
                            Some("production") => ModelStage::Production,
                            other => {
                                return Err(format!(
                                    "\"to\" must be \"staging\" or \"production\", not {other:?}"
                                ));
                            }
                        },
                    },
                    other => return Err(format!("no such action {other:?}")),
                };
                ((*model).to_owned(), request)
            }
            _ => return Err(format!("no route {path:?}")),
        };
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_read_as_api_gateway_flattens_them() {
        let claims = HashMap::from([("cognito:groups".to_owned(), "[approvers risk]".to_owned())]);
        assert_eq!(groups(&claims), ["approvers", "risk"]);
        assert!(groups(&HashMap::new()).is_empty());
    }
}

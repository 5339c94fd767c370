//! The deploy handler: the model in production, brought into service on its endpoint.
//!
//! It runs on two kinds of event, and does the same on both: one step of the reconciliation
//! [`tollgate_domain::deploy::decide`] chooses, from the production version (the catalog), the
//! pipeline's `[deploy]` settings, the endpoint (the [`Hosting`] port) and the deployment record.
//!
//! - `ModelStageChanged` into or out of production (an approval, a rollback): create the
//!   endpoint, or update it blue/green, or wait for the change in flight to finish;
//! - the endpoint's own state change (SageMaker's "SageMaker Endpoint State Change"): record the
//!   version in service, or the failure, or the rollback SageMaker made when an alarm fired, and
//!   start the next deployment if production changed meanwhile.
//!
//! Each write of the record is conditional on the revision read, with its audit event
//! (`deployment.started`, `deployment.succeeded`, `deployment.failed`,
//! `deployment.rolled_back`), and announced as `DeploymentChanged`. A duplicate or late event
//! decides again on the state of the moment and repeats nothing; a lost race decides again.

use std::sync::Arc;

use tollgate_domain::deploy::{
    DeployKind, Deployment, DeploymentStatus, Desired, Endpoint, Step, decide,
};
use tollgate_domain::ports::{Catalog, Clock, EventBus, Hosting, Ports, Release};
use tollgate_domain::{AuditEvent, Event, ModelStage, PortError, UserId};

const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("model {0}'s endpoint: other writes kept winning")]
    Contended(String),
}

impl DeployError {
    /// Whether the same event may succeed if delivered again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Port(e) => e.is_retryable(),
            Self::Contended(_) => true,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The endpoint was asked to serve a version (created, or updated blue/green).
    Started(Deployment),
    /// The endpoint serves the production version; recorded.
    InService(Deployment),
    /// The deployment failed or was rolled back; recorded.
    Failed(Deployment),
    /// The endpoint is changing; its next state change brings the next step.
    Waiting(String),
    /// Nothing to do, and why.
    Nothing(String),
}

#[derive(Debug, Clone)]
pub struct Deploy {
    catalog: Arc<dyn Catalog>,
    bus: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    hosting: Arc<dyn Hosting>,
}

impl Deploy {
    pub fn new(ports: &Ports, hosting: Arc<dyn Hosting>) -> Self {
        Self {
            catalog: ports.catalog.clone(),
            bus: ports.bus.clone(),
            clock: ports.clock.clone(),
            hosting,
        }
    }

    /// The step a Tollgate event calls for: a change of production deploys; others are not
    /// this handler's.
    pub async fn handle(&self, event: &Event) -> Result<Option<Outcome>, DeployError> {
        match event {
            Event::ModelStageChanged {
                model, from, to, ..
            } if *to == ModelStage::Production || *from == ModelStage::Production => {
                self.reconcile(model).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The step an endpoint's state change calls for: the model whose endpoint it is, found by
    /// name, is reconciled.
    pub async fn endpoint_changed(&self, endpoint: &str) -> Result<Outcome, DeployError> {
        let model = self
            .catalog
            .models()
            .await?
            .into_iter()
            .map(|m| m.model)
            .find(|m| self.hosting.endpoint_name(m) == endpoint);
        match model {
            Some(model) => self.reconcile(&model).await,
            None => Ok(Outcome::Nothing(format!(
                "endpoint {endpoint} serves no model of this deployment"
            ))),
        }
    }

    /// One step towards serving `model`'s production version.
    pub async fn reconcile(&self, model: &str) -> Result<Outcome, DeployError> {
        for _ in 0..MAX_ATTEMPTS {
            match self.step(model).await {
                Err(PortError::Conflict(why)) => {
                    tracing::info!(model, %why, "deciding again on a fresh read");
                }
                other => return Ok(other?),
            }
        }
        Err(DeployError::Contended(model.to_owned()))
    }

    async fn step(&self, model: &str) -> Result<Outcome, PortError> {
        let Some(state) = self.catalog.model_state(model).await? else {
            return Ok(Outcome::Nothing(format!("there is no model {model}")));
        };
        let Some(production) = state
            .versions
            .iter()
            .find(|v| v.stage == ModelStage::Production)
        else {
            return Ok(Outcome::Nothing(format!(
                "model {model} has no version in production"
            )));
        };
        let version = self
            .catalog
            .model_version(model, production.version)
            .await?
            .ok_or_else(|| PortError::NotFound(format!("model {model} v{}", production.version)))?;
        let Some(pipeline) = self.catalog.pipeline(model, None).await? else {
            return Ok(Outcome::Nothing(format!("model {model} has no pipeline")));
        };
        let pipeline = pipeline.pipeline;
        if pipeline.deploy.kind == DeployKind::None {
            return Ok(Outcome::Nothing(format!(
                "pipeline {model} deploys nowhere ([deploy] kind = \"none\")"
            )));
        }
        let Some(image) = pipeline.serving_image() else {
            return Ok(Outcome::Nothing(format!(
                "pipeline {model} names no serving image"
            )));
        };
        let release = Release {
            model: model.to_owned(),
            version: version.version,
            image: image.to_owned(),
            artifact: version.artifact.clone(),
            settings: pipeline.deploy.clone(),
        };
        let desired = Desired {
            version: release.version,
            config: self.hosting.config_name(&release),
        };
        let name = self.hosting.endpoint_name(model);
        let endpoint = self.hosting.describe(&name).await?;
        let record = self.catalog.deployment(model).await?;
        // Who put this version in production: the actor of the deployment it starts.
        let actor = state
            .history
            .iter()
            .rev()
            .find(|c| c.version == release.version && c.to == ModelStage::Production)
            .map_or_else(
                || UserId::parse("tollgate").expect("a valid user name"),
                |c| c.actor.clone(),
            );

        let step = decide(&desired, endpoint.as_ref(), record.as_ref());
        tracing::info!(model, version = release.version, ?step, "deploy step");
        let now = self.clock.now();
        // A step that starts a deployment begins a record; one that settles or fails it keeps
        // what the deployment of this config began with.
        let begun = record.as_ref().filter(|r| r.config == desired.config);
        let next = |status, reason: Option<String>, started: bool| Deployment {
            model: model.to_owned(),
            endpoint: name.clone(),
            version: release.version,
            config: desired.config.clone(),
            status,
            previous: match (started, begun) {
                (true, _) => previous_version(endpoint.as_ref(), record.as_ref()),
                (false, b) => b.and_then(|r| r.previous),
            },
            reason,
            actor: match begun {
                Some(r) if !started => r.actor.clone(),
                _ => actor.clone(),
            },
            started_at: match begun {
                Some(r) if !started => r.started_at,
                _ => now,
            },
            updated_at: now,
            revision: record.as_ref().map_or(1, |r| r.revision + 1),
        };
        let (deployment, action) = match step {
            Step::Wait(why) => return Ok(Outcome::Waiting(why)),
            Step::Nothing(why) => return Ok(Outcome::Nothing(why)),
            Step::Create | Step::Update => {
                self.hosting.prepare(&release).await?;
                if step == Step::Create {
                    self.hosting.create(&release).await?;
                } else {
                    self.hosting.update(&release).await?;
                }
                (
                    next(DeploymentStatus::Deploying, None, true),
                    "deployment.started",
                )
            }
            Step::Settled => (
                next(DeploymentStatus::InService, None, false),
                "deployment.succeeded",
            ),
            Step::RolledBack(why) => (
                next(DeploymentStatus::Failed, Some(why), false),
                "deployment.rolled_back",
            ),
            Step::Failed(why) => (
                next(DeploymentStatus::Failed, Some(why), false),
                "deployment.failed",
            ),
        };
        let audit = audit_of(&deployment, action, now);
        self.catalog.save_deployment(&deployment, &[audit]).await?;
        let event = Event::DeploymentChanged {
            model: deployment.model.clone(),
            version: deployment.version,
            endpoint: deployment.endpoint.clone(),
            status: deployment.status,
            reason: deployment.reason.clone(),
        };
        // The record is the truth; a lost announcement is logged, not retried into a second
        // deployment.
        if let Err(e) = self.bus.publish(&event).await {
            tracing::warn!(error = %e, model, "announcing the deployment failed");
        }
        Ok(match deployment.status {
            DeploymentStatus::Deploying => Outcome::Started(deployment),
            DeploymentStatus::InService => Outcome::InService(deployment),
            DeploymentStatus::Failed => Outcome::Failed(deployment),
        })
    }
}

/// The version the endpoint serves before a deployment, as far as the record knows it: the
/// recorded version if the endpoint is on its config, or, after a failure or rollback, what
/// that deployment was replacing.
fn previous_version(endpoint: Option<&Endpoint>, record: Option<&Deployment>) -> Option<u32> {
    let (endpoint, record) = (endpoint?, record?);
    match record.status {
        DeploymentStatus::Failed => record.previous,
        _ if record.config == endpoint.config => Some(record.version),
        _ => None,
    }
}

fn audit_of(d: &Deployment, action: &str, at: jiff::Timestamp) -> AuditEvent {
    let actor = if action == "deployment.started" {
        d.actor.clone()
    } else {
        UserId::parse("sagemaker").expect("a valid user name")
    };
    let mut event = AuditEvent::new(
        at,
        actor,
        action,
        format!("model/{}/v{}", d.model, d.version),
    );
    event.from = d.previous.map(|v| format!("v{v}"));
    event.to = Some(d.endpoint.clone());
    event.comment = d.reason.clone();
    event.details = serde_json::json!({
        "endpoint": d.endpoint,
        "config": d.config,
        "status": d.status.as_str(),
    });
    event
}

//! The promote handler: a person's request about a model version (promote, approve, reject,
//! roll back), decided by the pure promotion rules (`tollgate_domain::promotion`) under the
//! pipeline's policy, written as one conditional transition with its audit events, then
//! announced (`ModelStageChanged`) and, when production changed, the production pointer
//! (`models/<name>/production.json`: version, artifact, test report) rewritten.
//!
//! A lost race is decided again on the new state; a refusal changes nothing but the audit trail
//! (`model.<verb>.refused`, with who asked and why) and says why.

use std::sync::Arc;

use bytes::Bytes;
use tollgate_domain::ports::{BlobStore, Catalog, Clock, EventBus, ModelRegistry, Ports};
use tollgate_domain::promotion::{self, Decision, Request, StageChange};
use tollgate_domain::{BlobKey, BucketName, Event, ModelStage, PortError, UserId};

const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("{0}: other writes kept winning")]
    Contended(String),
}

impl PromoteError {
    /// Whether the same request may succeed if made again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Port(e) => e.is_retryable(),
            Self::Contended(_) => true,
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The stage changes it made.
    Done(Vec<StageChange>),
    /// It had landed already (the same request from the same person, or a rollback of the same
    /// version by anyone): the changes made then. Nothing changed now.
    Repeated(Vec<StageChange>),
    /// Nothing changed; why, for the user.
    Refused(Refusal),
}

/// Why a request changed nothing. Each edge maps the kind (an HTTP status, an exit code) and
/// shows the message as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The model has no version at all.
    #[error("there is no model {0:?}")]
    NoSuchModel(String),
    /// The model's pipeline is gone, so there is no policy to decide by.
    #[error("model {0} has no pipeline")]
    NoPipeline(String),
    /// The promotion rules said no (the author approving, an expired report, ...).
    #[error("{0}")]
    Rules(String),
}

#[derive(Debug, Clone)]
pub struct Promote {
    blobs: Arc<dyn BlobStore>,
    catalog: Arc<dyn Catalog>,
    bus: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    data_bucket: BucketName,
    registry: Option<Arc<dyn ModelRegistry>>,
    min_approvals: u32,
}

impl Promote {
    pub fn new(ports: &Ports) -> Self {
        Self {
            blobs: ports.blobs.clone(),
            catalog: ports.catalog.clone(),
            bus: ports.bus.clone(),
            clock: ports.clock.clone(),
            data_bucket: ports.data_bucket.clone(),
            registry: None,
            min_approvals: 1,
        }
    }

    /// Production needs at least `approvals` approvals, whatever a pipeline says (a deployment's
    /// floor: `TOLLGATE_MIN_APPROVALS`).
    pub fn with_min_approvals(mut self, approvals: u32) -> Self {
        self.min_approvals = approvals;
        self
    }

    /// Mirrors every stage change into `registry` (the SageMaker Model Registry) as well.
    pub fn with_registry(mut self, registry: Arc<dyn ModelRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Brings the registry's entries of the versions `changes` moved in line with the catalog.
    /// The catalog is the record: a registry that fails is reported in the audit trail and
    /// the logs, and the next change of the version mirrors it again.
    async fn mirror(&self, model: &str, changes: &[StageChange]) -> Result<(), PromoteError> {
        let Some(registry) = &self.registry else {
            return Ok(());
        };
        for change in changes {
            let Some(version) = self.catalog.model_version(model, change.version).await? else {
                continue;
            };
            if let Err(e) = registry.mirror(&version).await {
                tracing::error!(
                    model,
                    version = change.version,
                    "mirroring to the model registry: {e}"
                );
                let audit = tollgate_domain::AuditEvent::new(
                    self.clock.now(),
                    change.actor.clone(),
                    "model.registry.failed",
                    promotion::subject(model, change.version),
                )
                .details(serde_json::json!({ "error": e.to_string() }));
                self.catalog.append_audit(audit).await?;
            }
        }
        Ok(())
    }

    pub async fn request(
        &self,
        model: &str,
        request: &Request,
        actor: &UserId,
    ) -> Result<Outcome, PromoteError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(state) = self.catalog.model_state(model).await? else {
                return Ok(Outcome::Refused(Refusal::NoSuchModel(model.to_owned())));
            };
            if !state.is_consistent() {
                tracing::debug!(model, "read between a transition's halves; reading again");
                continue;
            }
            let Some(pipeline) = self.catalog.pipeline(model, None).await? else {
                return Ok(Outcome::Refused(Refusal::NoPipeline(model.to_owned())));
            };
            let policy = pipeline.pipeline.promotion.at_least(self.min_approvals);
            let now = self.clock.now();
            let transition = match promotion::decide(&state, &policy, request, actor, now) {
                Decision::Refused(reason) => {
                    let audit = promotion::refusal(model, request, actor, now, &reason);
                    self.catalog.append_audit(audit).await?;
                    return Ok(Outcome::Refused(Refusal::Rules(reason)));
                }
                Decision::Apply(t) => t,
                Decision::Done(changes) => {
                    // A repeat of what landed: the first may have stopped between its commit
                    // and what follows it (the client asks again after an error), so that is
                    // done again; the pointer is rewritten from the catalog, the events go
                    // out at least once.
                    let first = changes
                        .first()
                        .and_then(|c| state.history.iter().position(|h| h == c))
                        .unwrap_or_default();
                    self.announce(model, first as u64, &changes).await?;
                    return Ok(Outcome::Repeated(changes));
                }
            };
            match self.catalog.apply_transition(&transition).await {
                Ok(()) => {}
                Err(PortError::Conflict(why)) => {
                    tracing::debug!(model, "a transition lost a race ({why}); deciding again");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            self.announce(model, transition.history_len as u64, &transition.history)
                .await?;
            return Ok(Outcome::Done(transition.history));
        }
        Err(PromoteError::Contended(format!("{model}: {request:?}")))
    }

    /// What follows a committed transition whose history entries start at `first_position`:
    /// the production pointer when production changed, `ModelStageChanged` for each change,
    /// the registry's mirror; then each change's outbox entry is cleared. Anything that writes
    /// a transition calls it after the commit; what a crash leaves undone,
    /// [`Promote::announce_owed`] finishes.
    pub async fn announce(
        &self,
        model: &str,
        first_position: u64,
        changes: &[StageChange],
    ) -> Result<(), PromoteError> {
        self.after_commit(model, changes).await?;
        for position in (first_position..).take(changes.len()) {
            self.catalog.mark_announced(model, position).await?;
        }
        Ok(())
    }

    /// Announces the stage changes a crash left owed (committed, never announced, no one asking
    /// again): those older than `older_than` (a younger one may be in the hands of a live
    /// request), in history order. Safe anywhere, any number of times: events go out at least
    /// once and their consumers take a repeat as a no-op. A model that fails is logged and
    /// left for the next sweep; the others go on. Returns how many were announced.
    pub async fn announce_owed(
        &self,
        older_than: std::time::Duration,
    ) -> Result<usize, PromoteError> {
        let cutoff = self
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::try_from(older_than).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::MIN);
        let mut failed: Vec<String> = Vec::new();
        let mut announced = 0;
        for owed in self.catalog.unannounced_changes().await? {
            if owed.change.at > cutoff || failed.contains(&owed.model) {
                continue;
            }
            tracing::warn!(
                model = owed.model,
                version = owed.change.version,
                "announcing a stage change a previous attempt left unannounced"
            );
            let one = std::slice::from_ref(&owed.change);
            match self.announce(&owed.model, owed.position, one).await {
                Ok(()) => announced += 1,
                Err(e) => {
                    tracing::warn!(model = owed.model, "could not announce it yet: {e}");
                    // Later changes of this model wait, so they are announced in order.
                    failed.push(owed.model);
                }
            }
        }
        Ok(announced)
    }

    async fn after_commit(&self, model: &str, changes: &[StageChange]) -> Result<(), PromoteError> {
        if changes
            .iter()
            .any(|c| c.to == ModelStage::Production || c.from == ModelStage::Production)
        {
            self.write_production_pointer(model).await?;
        }
        for change in changes {
            self.bus
                .publish(&Event::ModelStageChanged {
                    model: model.to_owned(),
                    version: change.version,
                    from: change.from,
                    to: change.to,
                    actor: change.actor.clone(),
                })
                .await?;
        }
        self.mirror(model, changes).await
    }

    /// Rewrites `models/<name>/production.json` when it does not name the version the catalog
    /// has in production (a decision that stopped between its commit and the pointer, with no
    /// one asking again): whether it had to. Run on a schedule, by the monitor.
    pub async fn reconcile_production_pointer(&self, model: &str) -> Result<bool, PromoteError> {
        let state = self.catalog.model_state(model).await?.unwrap_or_default();
        let expected = state.in_production().map(|v| v.version);
        let key = BlobKey::parse(&format!("models/{model}/production.json"))
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        let pointed = match self.blobs.get(&self.data_bucket, &key).await {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .map(|v| v["version"].as_u64().and_then(|n| u32::try_from(n).ok())),
            Err(PortError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        // No pointer and nothing in production agree; anything else must name the same version.
        let agrees = match pointed {
            Some(version) => version == expected,
            None => expected.is_none(),
        };
        if agrees {
            return Ok(false);
        }
        tracing::warn!(
            model,
            ?expected,
            "the production pointer disagreed with the catalog"
        );
        self.write_production_pointer(model).await?;
        Ok(true)
    }

    /// `models/<name>/production.json`, from the catalog's state: the version in production,
    /// its artifact and test report (or `null` when none is).
    pub async fn write_production_pointer(&self, model: &str) -> Result<(), PromoteError> {
        let state = self.catalog.model_state(model).await?.unwrap_or_default();
        let pointer = match state.in_production() {
            Some(p) => match self.catalog.model_version(model, p.version).await? {
                Some(v) => serde_json::json!({
                    "model": model,
                    "version": v.version,
                    "artifact": v.artifact,
                    "test_report": v.test_report.map(|r| r.to_string()),
                    "dataset": v.dataset,
                    "dataset_version": v.dataset_version,
                    "content_hash": v.content_hash,
                    "since": state.history.iter().rev().find(|c| c.version == v.version && c.to == ModelStage::Production).map(|c| c.at),
                }),
                None => serde_json::Value::Null,
            },
            None => serde_json::Value::Null,
        };
        let key = BlobKey::parse(&format!("models/{model}/production.json"))
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        let body = serde_json::to_vec_pretty(&pointer).expect("a pointer always encodes");
        self.blobs
            .put(&self.data_bucket, &key, Bytes::from(body))
            .await?;
        Ok(())
    }
}
